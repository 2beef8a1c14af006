"""The runner: config first, then every check side by side, none allowed to hang the doctor."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from monitor.config import Settings
from monitor.doctor.findings import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, Emit, Status, exit_code, ok
from monitor.doctor.runner import diagnose

MINIMAL = """
[[models]]
name = "m"
owner = "o"
task = "binary"
features = { a = "numeric" }
"""


def test_a_hung_check_is_reported_failed_at_the_deadline_while_the_others_report(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL)
    release = threading.Event()

    def hangs(settings: Settings, emit: Emit) -> None:
        release.wait(10)

    def answers(settings: Settings, emit: Emit) -> None:
        emit(ok("quick", "answered"))

    seen: list[str] = []
    started = time.monotonic()
    findings = diagnose(
        path, lambda f: seen.append(f.check), {"hung": hangs, "quick": answers}, 0.5
    )
    release.set()
    assert time.monotonic() - started < 2
    assert seen == ["config", "quick", "hung"]
    hung = findings[-1]
    assert hung.status is Status.FAIL and "did not finish within 0.5 s" in hung.found
    assert exit_code(findings) == EXIT_FAILED


def test_an_invalid_config_stops_before_any_check_with_the_config_exit_code(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL.replace("owner", "ownr"))
    called: list[str] = []
    findings = diagnose(path, lambda f: None, {"x": lambda s, e: called.append("x")})
    assert called == []
    assert [f.status for f in findings] == [Status.FAIL, Status.FAIL]  # unknown + missing key
    assert "models[0] (m).ownr: unknown key" in findings[0].found
    assert findings[0].fix == "rename it to owner"
    assert exit_code(findings) == EXIT_CONFIG


def test_a_broken_check_is_a_finding_and_warnings_do_not_fail(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL)

    def broken(settings: Settings, emit: Emit) -> None:
        raise RuntimeError("boom")

    findings = diagnose(path, lambda f: None, {"broken": broken})
    assert findings[-1].found == "the check itself failed: RuntimeError: boom"
    assert exit_code(findings[:1]) == EXIT_OK
