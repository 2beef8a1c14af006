"""Runs the checks side by side, each bounded in time, and hands on findings as they come.

The config is checked first (nothing else can be without it); then Kafka, Redis, the targets
and the clock run in threads of their own. A check still running at :data:`DEADLINE_SECONDS`
is reported failed and left behind (its thread is a daemon thread), so the doctor answers in
about the longest client timeout (3 s) when everything is down, and never hangs.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from monitor.config import Settings
from monitor.doctor.clock import check_clock
from monitor.doctor.config_file import check_config
from monitor.doctor.findings import Emit, Finding, fail
from monitor.doctor.kafka import check_kafka
from monitor.doctor.redis import check_redis
from monitor.doctor.targets import check_targets

#: The longest any check may run: above every client timeout in the checks (≤ 3 s each, a few
#: in sequence), well below what an operator waits for.
DEADLINE_SECONDS = 12.0

Check = Callable[[Settings, Emit], None]

#: Every check after the config's, by the prefix its findings carry.
CHECKS: dict[str, Check] = {
    "kafka": check_kafka,
    "redis": check_redis,
    "targets": check_targets,
    "clock": check_clock,
}


def diagnose(
    path: Path,
    emit: Emit,
    checks: dict[str, Check] = CHECKS,
    deadline_seconds: float = DEADLINE_SECONDS,
) -> list[Finding]:
    """Every finding about the deployment ``path`` configures, each passed to ``emit`` (on the
    calling thread) as soon as it is known; returned in that order."""
    findings: list[Finding] = []

    def record(finding: Finding) -> None:
        findings.append(finding)
        emit(finding)

    settings = check_config(path, record)
    if settings is None:
        return findings
    done = object()
    arrivals: queue.Queue[tuple[str, object]] = queue.Queue()
    for name, check in checks.items():
        threading.Thread(
            target=_run,
            args=(name, check, settings, arrivals, done),
            name=f"doctor-{name}",
            daemon=True,
        ).start()
    running = set(checks)
    deadline = time.monotonic() + deadline_seconds
    while running:
        try:
            name, item = arrivals.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if item is done:
            running.discard(name)
        elif isinstance(item, Finding):
            record(item)
    for name in sorted(running):
        record(
            fail(
                name,
                f"the check did not finish within {deadline_seconds:g} s",
                "a dependency accepts connections but does not answer: see its log",
            )
        )
    return findings


def _run(
    name: str,
    check: Check,
    settings: Settings,
    arrivals: queue.Queue[tuple[str, object]],
    done: object,
) -> None:
    """One check in its thread; a bug in it is a finding, never a lost thread."""
    try:
        check(settings, lambda finding: arrivals.put((name, finding)))
    except Exception as exc:  # the loop boundary: report, never crash the other checks
        arrivals.put(
            (
                name,
                fail(
                    name,
                    f"the check itself failed: {type(exc).__name__}: {exc}",
                    "report this as a bug",
                ),
            )
        )
    finally:
        arrivals.put((name, done))
