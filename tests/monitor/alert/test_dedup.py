"""The notification log's verdict, case by case as Alertmanager's DedupStage."""

from __future__ import annotations

import pytest

from monitor.alert.dedup import Reason, needs_update
from monitor.vocab.alerts import LogEntry

NOW = 10_000.0
REPEAT = 4 * 3600.0


@pytest.mark.parametrize(
    ("entry", "firing", "resolved", "send_resolved", "expected"),
    [
        (None, {"a"}, set(), True, Reason.FIRST),
        (None, set(), {"a"}, True, Reason.NONE),  # resolved before anyone heard of it
        (LogEntry(["a"], [], NOW - 60), {"a", "b"}, set(), True, Reason.NEW_ALERTS),
        (LogEntry([], ["a"], NOW - 60), {"a"}, set(), True, Reason.FIRST),  # fired again
        (LogEntry(["a"], [], NOW - 60), set(), {"a"}, False, Reason.ALL_RESOLVED),
        (LogEntry([], ["a"], NOW - 60), set(), {"a"}, True, Reason.NONE),
        (LogEntry(["a", "b"], [], NOW - 60), {"a"}, {"b"}, True, Reason.NEW_RESOLVED),
        (LogEntry(["a", "b"], [], NOW - 60), {"a"}, {"b"}, False, Reason.NONE),
        (LogEntry(["a"], [], NOW - REPEAT - 1), {"a"}, set(), True, Reason.REPEAT),
        (LogEntry(["a"], [], NOW - REPEAT + 1), {"a"}, set(), True, Reason.NONE),
    ],
)
def test_needs_update(
    entry: LogEntry | None,
    firing: set[str],
    resolved: set[str],
    send_resolved: bool,
    expected: Reason,
) -> None:
    reason = needs_update(
        entry, firing, resolved, send_resolved=send_resolved, repeat_seconds=REPEAT, now=NOW
    )
    assert reason is expected
