"""Receivers against real servers on localhost: apprise ``json://`` to an HTTP server, apprise
``mailto://`` to an SMTP server (aiosmtpd), PagerDuty Events v2 to an HTTP endpoint. Credentials
never show in a ``repr``, an error or a log line."""

from __future__ import annotations

import email
import email.policy
import logging
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.alert.delivery import deliver
from monitor.alert.receivers import AppriseReceiver, DeliveryError, PagerDutyReceiver
from monitor.errors import ConfigError
from tests.monitor.alert.support import (
    PASSWORD,
    ROUTING_KEY,
    TOKEN,
    Endpoint,
    free_port,
    notification,
    secrets_absent,
    serving,
)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with serving(Endpoint()) as e:
        yield e


def no_wait(_: float) -> None:
    """``sleep`` for retries whose waits the test does not measure."""


# --- apprise --------------------------------------------------------------------------------


def test_apprise_json_delivers_title_body_and_type_to_every_destination(endpoint: Endpoint) -> None:
    with serving(Endpoint()) as other:
        receiver = AppriseReceiver(
            "team-fraud", [f"json://{endpoint.address}/hook", f"json://{other.address}/other"]
        )
        receiver.send(notification(), "[CRITICAL] fraud-detector: feature drift: amount", "b\nc")
        receiver.send(notification(resolved=True), "[RESOLVED] x", "done")
        assert [p for p, _ in other.requests] == ["/other", "/other"]
    assert [p for p, _ in endpoint.requests] == ["/hook", "/hook"]
    first, second = endpoint.bodies()
    assert (first["title"], first["message"], first["type"]) == (
        "[CRITICAL] fraud-detector: feature drift: amount",
        "b\nc",
        "failure",
    )
    assert (second["title"], second["type"]) == ("[RESOLVED] x", "success")


def test_a_failing_destination_is_named_by_index_and_only_it_is_retried(endpoint: Endpoint) -> None:
    with serving(Endpoint(statuses=[500])) as flaky:
        receiver = AppriseReceiver(
            "ops", [f"json://{endpoint.address}/a", f"json://{flaky.address}/b/{TOKEN}"]
        )
        note = notification()
        with pytest.raises(DeliveryError) as failed:
            receiver.send(note, "t", "b")
        assert failed.value.retryable
        assert "ops[1]" in str(failed.value) and "ops[0]" not in str(failed.value)
        secrets_absent(str(failed.value), TOKEN, flaky.address)
        receiver.send(note, "t", "b")  # the retry: only ops[1] was missing it
        assert (len(endpoint.requests), len(flaky.requests)) == (1, 2)
        receiver.send(notification(), "t", "b")  # a new notification, same words: to both
        assert (len(endpoint.requests), len(flaky.requests)) == (2, 3)


def test_apprise_read_timeout_bounds_a_hanging_destination() -> None:
    with serving(Endpoint(hold=threading.Event())) as hanging:
        receiver = AppriseReceiver("slow", [f"json://{hanging.address}/"], read_timeout=0.5)
        with pytest.raises(DeliveryError, match=r"slow\[0\]"):
            receiver.send(notification(), "t", "b")
        assert len(hanging.requests) == 1  # it was reached, then abandoned after rto


def test_an_unloadable_apprise_url_is_a_config_error_without_the_url() -> None:
    with pytest.raises(ConfigError) as bad:
        AppriseReceiver("ops", ["json://127.0.0.1:8/", f"nosuchservice://{TOKEN}"])
    assert bad.value.key == "receivers.ops.urls[1]"
    secrets_absent(str(bad.value), TOKEN)


def test_apprise_secrets_stay_out_of_repr_errors_and_logs(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # apprise logs request URLs at DEBUG
    dead = f"json://user:{PASSWORD}@127.0.0.1:{free_port()}/hook/{TOKEN}"
    live = f"json://user:{PASSWORD}@{endpoint.address}/hook/{TOKEN}?+X-Token={TOKEN}x"
    receiver = AppriseReceiver("team-fraud", [live, dead])
    with pytest.raises(DeliveryError) as failed:
        receiver.send(notification(), "t", "b")
    assert endpoint.requests[0][0] == f"/hook/{TOKEN}"  # the token did reach the destination
    outcome = deliver(receiver, notification(), "t", "b", deadline_seconds=0.0, sleep=no_wait)
    assert not outcome.sent
    for text in (repr(receiver), str(failed.value), outcome.error, caplog.text):
        secrets_absent(text, TOKEN, PASSWORD)
    assert "team-fraud[1]" in outcome.error
    assert "apprise" in caplog.text.lower()  # apprise did log, masked


def test_apprise_mailto_reaches_a_local_smtp_server() -> None:
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        pytest.fail(
            "aiosmtpd is not installed in this venv, so apprise's mailto:// cannot be tested "
            "against a real SMTP server: add aiosmtpd to the dev extra and reinstall "
            "(pip install -e '.[dev]')"
        )
    received: list[Any] = []

    class Inbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        receiver = AppriseReceiver(
            "mail",
            [
                f"mailto://127.0.0.1:{port}?from=driftwatch@example.com&to=oncall@example.com"
                "&mode=insecure"
            ],
        )
        receiver.send(notification(), "[CRITICAL] fraud-detector: feature drift: amount", "l1\nl2")
    finally:
        controller.stop()
    (envelope,) = received
    assert envelope.rcpt_tos == ["oncall@example.com"]
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert mail["Subject"] == "[CRITICAL] fraud-detector: feature drift: amount"
    assert mail.get_content().splitlines() == ["l1", "l2"]


# --- PagerDuty ------------------------------------------------------------------------------


def pagerduty(endpoint: Endpoint, **kwargs: Any) -> PagerDutyReceiver:
    return PagerDutyReceiver(
        "pd", ROUTING_KEY, url=f"http://{endpoint.address}/v2/enqueue", **kwargs
    )


def test_pagerduty_triggers_then_resolves_with_the_group_key_as_dedup_key() -> None:
    with serving(Endpoint(default=202)) as pd:
        receiver = pagerduty(pd)
        receiver.send(notification(group="route/fraud"), "[CRITICAL] t", "body text")
        receiver.send(notification(group="route/fraud", resolved=True), "[RESOLVED] t", "over")
    trigger, resolve = pd.bodies()
    assert [p for p, _ in pd.requests] == ["/v2/enqueue", "/v2/enqueue"]
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"] == "route/fraud"
    assert trigger["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["summary"] == "[CRITICAL] t"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "driftwatch"
    assert trigger["payload"]["custom_details"]["body"] == "body text"
    assert resolve["payload"]["summary"] == "[RESOLVED] t"


def test_pagerduty_warning_maps_to_warning() -> None:
    with serving(Endpoint(default=202)) as pd:
        pagerduty(pd).send(notification(severity="warning"), "t", "b")
    assert pd.bodies()[0]["payload"]["severity"] == "warning"


def test_pagerduty_429_is_retried_until_accepted() -> None:
    with serving(Endpoint(statuses=[429, 503], default=202)) as pd:
        outcome = deliver(pagerduty(pd), notification(), "t", "b", deadline_seconds=60,
                          sleep=no_wait, rng=random.Random(1))  # fmt: skip
    assert (outcome.sent, outcome.attempts, len(pd.requests)) == (True, 3, 3)
    assert "HTTP 503" in outcome.error  # the last failure before the success, for the history


def test_pagerduty_400_is_not_retried_and_its_error_hides_the_routing_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with serving(Endpoint(default=400)) as pd:  # the server echoes the event, routing key too
        receiver = pagerduty(pd)
        outcome = deliver(receiver, notification(), "t", "b", deadline_seconds=60, sleep=no_wait)
    assert (outcome.sent, outcome.attempts, len(pd.requests)) == (False, 1, 1)
    assert "HTTP 400" in outcome.error and "answered" in outcome.error
    for text in (repr(receiver), outcome.error, caplog.text):
        secrets_absent(text, ROUTING_KEY)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (502, True), (429, True), (404, False), (302, False), (200, False)],
)
def test_pagerduty_status_classes(status: int, retryable: bool) -> None:
    with serving(Endpoint(default=status)) as pd, pytest.raises(DeliveryError) as failed:
        pagerduty(pd).send(notification(), "t", "b")
    assert failed.value.retryable is retryable
    assert f"HTTP {status}" in str(failed.value)


def test_pagerduty_unreachable_or_hanging_endpoints_are_retryable() -> None:
    dead = PagerDutyReceiver("pd", ROUTING_KEY, url=f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(DeliveryError) as refused:
        dead.send(notification(), "t", "b")
    assert refused.value.retryable and "pd" in str(refused.value)
    hold = threading.Event()
    with serving(Endpoint(hold=hold)) as hanging, pytest.raises(DeliveryError) as timed_out:
        pagerduty(hanging, timeout=0.3).send(notification(), "t", "b")
    assert timed_out.value.retryable and "timed out" in str(timed_out.value)


def test_an_empty_routing_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="routing_key"):
        PagerDutyReceiver("pd", "")
