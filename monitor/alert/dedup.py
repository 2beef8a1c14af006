"""Whether a group's receiver needs a notification now: the notification log decides.

Alertmanager's ``DedupStage.needsUpdate``, reason for reason: the first firing alerts of a group
are sent; later, only new firing alerts, newly resolved ones (with ``send_resolved``), the
resolution of the whole group, or ``repeat_interval`` elapsed. The reasons form a closed list,
used as a metric label.
"""

from __future__ import annotations

from collections.abc import Set
from enum import StrEnum

from monitor.vocab.alerts import LogEntry


class Reason(StrEnum):
    FIRST = "first_notification"
    NEW_ALERTS = "new_alerts_in_group"
    ALL_RESOLVED = "all_alerts_resolved"
    NEW_RESOLVED = "new_resolved_alerts"
    REPEAT = "repeat_interval_elapsed"
    NONE = "do_not_notify"


def needs_update(
    entry: LogEntry | None,
    firing: Set[str],
    resolved: Set[str],
    *,
    send_resolved: bool,
    repeat_seconds: float,
    now: float,
) -> Reason:
    """Why to notify (or :attr:`Reason.NONE`), given what the receiver was last told."""
    if entry is None:
        return Reason.FIRST if firing else Reason.NONE
    if not firing <= set(entry.firing):
        # After a notification that resolved everything, the group starts afresh.
        return Reason.FIRST if not entry.firing else Reason.NEW_ALERTS
    if not firing:
        # Resolved alerts the receiver never heard firing are not news.
        return Reason.ALL_RESOLVED if entry.firing else Reason.NONE
    if send_resolved and not resolved <= set(entry.resolved):
        return Reason.NEW_RESOLVED
    if entry.sent_at < now - repeat_seconds:
        return Reason.REPEAT
    return Reason.NONE
