"""From alerts to the notifications due now: grouping, then one small stage after another.

Alertmanager's notification pipeline (design §6), per group and receiver, in its order::

    route + group → time intervals → inhibit → silence → wait (group_wait / group_interval)
    → dedup → send → log

Every stage but sending is here, as plain functions of the alerts, the notification log and the
clock, so a round can be replayed in a test; ``monitor/runtime/notifier.py`` sends what
:func:`plan` returns and records it in the log only after the receiver accepted it. Because the
decision is made again from the alerts and the log every round, a notification that was due when
an instance crashed is simply due again for its successor: the alerts and the log are the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from monitor.alert.dedup import Reason, needs_update
from monitor.alert.inhibit import not_inhibited
from monitor.alert.notification import Notification
from monitor.alert.route import Route, group_key, group_labels
from monitor.alert.silence import unsilenced
from monitor.config import InhibitRuleSettings, TimeIntervalSettings
from monitor.vocab.alerts import Alert, LogEntry
from monitor.vocab.silences import Silence


@dataclass(frozen=True, slots=True)
class Group:
    """The alerts one route handles that share its ``group_by`` label values."""

    route: Route
    key: str
    labels: dict[str, str]
    alerts: tuple[Alert, ...]


@dataclass(frozen=True, slots=True)
class Due:
    """A notification due now, with the log entry to record once it was delivered."""

    notification: Notification
    reason: Reason
    entry: LogEntry

    @property
    def log_only(self) -> bool:
        """Nothing to send, only to log: the group resolved and its receiver does not want
        resolves (Alertmanager logs it all the same, so a new firing starts a fresh group)."""
        return not self.notification.firing and not self.notification.resolved


def groups(tree: Route, alerts: Iterable[Alert]) -> list[Group]:
    """Route every firing or resolved alert (pending ones are nobody's business yet) and group
    it at each route that handles it."""
    found: dict[str, tuple[Route, dict[str, str], list[Alert]]] = {}
    for alert in alerts:
        if alert.state not in ("firing", "resolved"):
            continue
        for route in tree.match(alert.labels):
            key = group_key(route, alert.labels)
            found.setdefault(key, (route, group_labels(route, alert.labels), []))[2].append(alert)
    return [Group(r, key, labels, tuple(a)) for key, (r, labels, a) in sorted(found.items())]


def plan(
    group: Group,
    entry: LogEntry | None,
    *,
    send_resolved: bool,
    firing_elsewhere: Sequence[Alert],
    inhibit_rules: Sequence[InhibitRuleSettings],
    silences: Sequence[Silence],
    now: float,
    time_intervals: Mapping[str, TimeIntervalSettings] | None = None,
) -> Due | None:
    """The group's notification to its route's receiver if one is due now, else None.

    ``entry``: what the receiver was last told of this group; ``firing_elsewhere``: every firing
    alert of the deployment (an inhibiting alert may belong to another group);
    ``time_intervals``: the configured ones by name, for the route's ``mute_time_intervals``.
    """
    intervals = time_intervals or {}
    if any(intervals[name].active(now) for name in group.route.mute_time_intervals):
        return None  # muted: told once the interval ends, if still due
    live = unsilenced(group.alerts, silences, now)
    firing = not_inhibited(
        [a for a in live if a.state == "firing"], firing_elsewhere, inhibit_rules
    )
    heard = set(entry.firing) if entry is not None else set()
    resolved = [a for a in live if a.state == "resolved" and a.fingerprint in heard]
    if not firing and not resolved:
        return None  # everything muted (or never told): nothing to say
    if not _waited(group, firing, entry, now):
        return None
    fired = {a.fingerprint for a in firing}
    ended = {a.fingerprint for a in resolved}
    reason = needs_update(
        entry,
        fired,
        ended,
        send_resolved=send_resolved,
        repeat_seconds=group.route.opts.repeat_interval_seconds,
        now=now,
    )
    if reason is Reason.NONE:
        return None
    notification = Notification(
        receiver=group.route.opts.receiver,
        group_key=group.key,
        group_labels=group.labels,
        firing=tuple(firing),
        resolved=tuple(resolved) if send_resolved else (),
    )
    return Due(notification, reason, LogEntry(sorted(fired), sorted(ended), now))


def _waited(group: Group, firing: Sequence[Alert], entry: LogEntry | None, now: float) -> bool:
    """``group_wait`` before a new group's first notification (more alerts may join it), then
    ``group_interval`` between two notifications of the group. A group whose last notification
    resolved everything starts afresh, as Alertmanager drops a group once all of it resolved."""
    opts = group.route.opts
    if entry is None or not entry.firing:
        started = min((a.fired_at or now for a in firing), default=now)
        return now >= started + opts.group_wait_seconds
    return now >= entry.sent_at + opts.group_interval_seconds
