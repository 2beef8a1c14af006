"""Receivers and retraining targets: reachable or not, with nothing sent and no secret shown."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.doctor.findings import Finding, Status
from monitor.doctor.targets import _apprise, check_targets
from tests.monitor.doctor.support import TARGETS, collect, settings_of


def test_a_closed_receiver_port_fails_and_a_listening_target_passes_with_nothing_sent(
    write_config: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    closed_port: int,
) -> None:
    with socket.socket() as target:
        target.bind(("127.0.0.1", 0))
        target.listen(1)
        port = target.getsockname()[1]
        monkeypatch.setenv("DW_DOCTOR_HOOK", f"json://127.0.0.1:{closed_port}/hook?token=s3cret")
        path = write_config(extra=TARGETS.format(port=port))
        found = collect(check_targets, settings_of(path))
        connection, _ = target.accept()  # the doctor connected ...
        with connection:
            connection.settimeout(0.5)
            assert connection.recv(100) == b""  # ... and closed without writing a byte
    receiver = found["alerting.receivers[0] (owners).apprise_urls[0]"]
    assert receiver.status is Status.FAIL
    assert (
        receiver.found == f"json:// to 127.0.0.1:{closed_port}: cannot connect (Connection refused)"
    )
    assert f"start the receiver at 127.0.0.1:{closed_port}" in receiver.fix
    assert "s3cret" not in receiver.found + receiver.fix
    hook = found["retraining.targets[0] (hook).url"]
    assert hook.status is Status.OK, hook


SLACK = (
    "slack://T1/B1/tokentoken",
    "slack:// via hooks.slack.com:443",
    "hooks.slack.com",
    443,
    True,
)
JSONS = (
    "jsons://hooks.example.com/x?token=t",
    "jsons:// to hooks.example.com:443",
    "hooks.example.com",
    443,
    True,
)
MAILTO = ("mailto://me@example.com?smtp=smtp.example.com&port=2525&pass=pw",
          "mailto:// via SMTP smtp.example.com:2525", "smtp.example.com", 2525, False)  # fmt: skip


@pytest.mark.parametrize(("url", "shown", "host", "port", "tls"), [SLACK, JSONS, MAILTO])
def test_apprise_urls_reduce_to_the_host_apprise_would_reach_without_their_secrets(
    url: str, shown: str, host: str, port: int, tls: bool
) -> None:
    dest = _apprise("k", url)
    assert not isinstance(dest, Finding)
    assert (dest.shown, dest.host, dest.port, dest.tls) == (shown, host, port, tls)


def test_a_plugin_naming_no_host_warns_without_guessing_from_its_token() -> None:
    finding = _apprise("k", "opsgenie://apikey-secret")
    assert isinstance(finding, Finding) and finding.status is Status.WARN
    assert "not checked" in finding.found and "alerts test" in finding.fix
    assert "apikey-secret" not in finding.found + finding.fix


def test_a_url_apprise_cannot_read_fails_without_showing_it() -> None:
    finding = _apprise("k", "nosuchscheme://secret-token@host")
    assert isinstance(finding, Finding) and finding.status is Status.FAIL
    assert "secret-token" not in finding.found + finding.fix
