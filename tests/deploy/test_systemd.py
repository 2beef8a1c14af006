"""The systemd units of ``deploy/systemd``: valid for systemd itself, hardened, and slow enough to
stop that the daemon's graceful stop is never cut short by SIGKILL.

``systemd-analyze verify`` parses them as systemd would (no systemd needs to be running); it only
warns about an unknown key or an unparsable value, so any output fails the test, and a broken
unit is shown to produce some. ``systemd-analyze security --offline`` rates their hardening.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import RuntimeSettings
from monitor.runtime.signals import DEFAULT_TIMEOUT_SECONDS
from tests.support import ROOT

UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
#: Where the units expect driftwatch (the README's install); replaced by this venv's for verify,
#: which checks that ExecStart's program exists.
INSTALLED = "/opt/driftwatch/bin/driftwatch"
#: The highest `systemd-analyze security` exposure accepted (0 best, 10 worst; "OK" is below 2).
MAX_EXPOSURE = 2.0


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (deploy/local/bootstrap)")
    return path


def settings(unit: Path) -> dict[str, list[str]]:
    """Every ``Key=value`` of a unit, a key repeated keeping all its values."""
    out: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def runnable(unit: Path, folder: Path) -> Path:
    """A copy of ``unit`` in ``folder`` whose ExecStart runs this environment's driftwatch."""
    copy = folder / unit.name
    copy.write_text(
        unit.read_text().replace(INSTALLED, str(Path(sys.executable).parent / "driftwatch"))
    )
    return copy


def verify(unit: Path) -> str:
    """What ``systemd-analyze verify`` says about ``unit`` (empty: nothing to fix)."""
    result = subprocess.run(
        [systemd_analyze(), "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    return (result.stdout + result.stderr).strip() or ("" if result.returncode == 0 else "failed")


def test_there_is_a_unit_for_the_daemon_and_the_dashboard() -> None:
    commands = {unit.name: settings(unit)["ExecStart"][0].split()[1] for unit in UNITS}
    assert commands == {"driftwatch.service": "run", "driftwatch-dashboard.service": "dashboard"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_systemd_accepts_the_unit(unit: Path, tmp_path: Path) -> None:
    assert settings(unit)["ExecStart"][0].startswith(INSTALLED)
    assert verify(runnable(unit, tmp_path)) == ""


@pytest.mark.parametrize(
    ("line", "broken"),
    [
        ("Restart=on-failure", "Restart=sometimes"),
        ("NoNewPrivileges=yes", "NoNewPrivilege=yes"),
        ("TimeoutStopSec=45s", "TimeoutStopSec=soon"),
    ],
)
def test_verify_reports_a_broken_unit(line: str, broken: str, tmp_path: Path) -> None:
    unit = runnable(UNITS[0], tmp_path)
    text = unit.read_text()
    assert line in text
    unit.write_text(text.replace(line, broken))
    assert verify(unit) != ""


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_the_stop_timeout_outlasts_the_daemons_graceful_stop(unit: Path) -> None:
    values = settings(unit)
    assert RuntimeSettings().shutdown_timeout_seconds == DEFAULT_TIMEOUT_SECONDS
    (timeout,) = values["TimeoutStopSec"]
    seconds = re.fullmatch(r"(\d+)s", timeout)
    assert seconds, f"TimeoutStopSec={timeout}: write whole seconds, e.g. 45s"
    assert int(seconds[1]) > DEFAULT_TIMEOUT_SECONDS, "raise TimeoutStopSec above the stop bound"
    assert values["KillSignal"] == ["SIGTERM"]
    assert values["Restart"] == ["on-failure"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_the_unit_is_hardened_and_gets_its_secrets_as_credentials(
    unit: Path, tmp_path: Path
) -> None:
    values = settings(unit)
    for key, value in {
        "DynamicUser": "yes",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert values.get(key) == [value], key
    assert values["ConfigurationDirectory"] == ["driftwatch"]
    assert values["StateDirectory"]
    credentials = [v.split(":")[0] for v in values["LoadCredential"]]
    assert "redis-password" in credentials
    # The config names the credential by its path under $CREDENTIALS_DIRECTORY.
    assert f"/run/credentials/{unit.name}/redis-password" in unit.read_text()
    result = subprocess.run(
        [
            systemd_analyze(),
            "security",
            "--offline=yes",
            f"--threshold={int(MAX_EXPOSURE * 10)}",
            str(runnable(unit, tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-400:] + result.stderr
