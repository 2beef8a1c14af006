"""Step 6 of the evaluator round: send the notifications that are due, log them once delivered.

The decisions are ``monitor/alert/pipeline.py``'s (route, group, inhibit, silence, wait, dedup);
this module does the I/O around them. Sends run on a small pool (``Dispatcher``), so a slow or
dead receiver never holds the evaluator, ingestion or other receivers. A notification is written
to the notification log only after a receiver (or its fallback) took it, under the round's fence:
a crash in between, or a lease lost meanwhile, leaves it due, and the next round — here or on the
lease's next holder — sends it again. A group whose delivery gave up is tried again after its
route's ``group_interval``, not every round.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import redis

from monitor.alert import message
from monitor.alert.delivery import Delivery, Dispatcher, send_with_fallback
from monitor.alert.notification import Notification
from monitor.alert.pipeline import Due, groups, plan
from monitor.alert.receivers import AppriseReceiver, DeliveryError, PagerDutyReceiver, Receiver
from monitor.alert.route import Route, routing_tree
from monitor.config import AlertingSettings, ReceiverSettings
from monitor.errors import FencedError
from monitor.metrics import Metrics
from monitor.store.audit import AuditLog
from monitor.store.keys import Keys
from monitor.store.lease import Fence
from monitor.store.nflog import NotificationLog
from monitor.vocab.alerts import Alert
from monitor.vocab.audit import AuditEvent
from monitor.vocab.silences import Silence

log = logging.getLogger(__name__)


class Notifier:
    """Notifies the receivers of one deployment (``[alerting]``)."""

    def __init__(
        self,
        alerting: AlertingSettings,
        link_base: str,
        client: redis.Redis,
        keys: Keys,
        audit: AuditLog,
        metrics: Metrics | None = None,
    ) -> None:
        self._alerting = alerting
        self._audit = audit
        self._link_base = link_base
        self._tree = routing_tree(alerting.route)
        self._receivers = {
            r.name: receiver_of(r, f"alerting.receivers[{i}]")
            for i, r in enumerate(alerting.receivers)
        }
        self._settings = {r.name: r for r in alerting.receivers}
        self._intervals = {t.name: t for t in alerting.time_intervals}
        self._log = NotificationLog(client, keys)
        self._metrics = metrics
        self._dispatcher: Dispatcher[None] = Dispatcher()
        #: (receiver, group key) → when its delivery last gave up: retried a group_interval on.
        self._gave_up: dict[tuple[str, str], float] = {}
        self._keep = 2 * max(_repeat_intervals(self._tree))

    def run_once(
        self,
        fence: Fence,
        alerts: Mapping[str, Mapping[str, Alert]],
        silences: Sequence[Silence],
        now: float,
    ) -> int:
        """Submit every notification due now; returns how many were submitted."""
        every = [a for by_fp in alerts.values() for a in by_fp.values()]
        firing = [a for a in every if a.state == "firing"]
        logs = {name: self._log.entries(name) for name in self._settings}
        found = groups(self._tree, every)
        submitted = 0
        for group in found:
            name = group.route.opts.receiver
            receiver = self._receivers.get(name)
            if receiver is None:  # a receiver without destinations discards, as "null" does
                continue
            failed = self._gave_up.get((name, group.key))
            if failed is not None and now < failed + group.route.opts.group_interval_seconds:
                continue
            due = plan(
                group,
                logs[name].get(group.key),
                send_resolved=self._settings[name].send_resolved,
                firing_elsewhere=firing,
                inhibit_rules=self._alerting.inhibit_rules,
                silences=silences,
                now=now,
                time_intervals=self._intervals,
            )
            if due is None:
                continue
            if due.log_only:
                self._log.record(fence, name, group.key, due.entry)
                continue
            deadline = group.route.opts.group_interval_seconds
            if self._submit(fence, receiver, due, deadline, now):
                submitted += 1
        live = {group.key for group in found}
        for name, entries in logs.items():
            # Entries live 2 × repeat_interval (design §6): by then a still-firing group was
            # repeated, and a group that ended needs no memory of what it was told.
            stale = [
                k for k, e in entries.items() if k not in live and e.sent_at < now - self._keep
            ]
            self._log.drop(fence, name, stale)
        return submitted

    def wait(self, timeout: float) -> bool:
        """Wait until no send is in flight; False if some still are after ``timeout``."""
        return self._dispatcher.wait(timeout)

    def close(self, timeout: float) -> None:
        self._dispatcher.close(timeout)

    def _submit(
        self, fence: Fence, receiver: Receiver, due: Due, deadline: float, now: float
    ) -> bool:
        """Hand one notification to the pool; ``deadline``: its route's ``group_interval``, so a
        retry never runs into the group's next notification."""
        settings = self._settings[receiver.name]
        fallback = self._receivers.get(settings.fallback) if settings.fallback else None
        title, body = message.render(due.notification, self._link_base)

        def send() -> None:
            # Logged before the send's slot is free again, so no later round sees the group as
            # neither being sent nor told.
            try:
                delivery = send_with_fallback(
                    receiver, fallback, due.notification, title, body, deadline_seconds=deadline
                )
            except Exception:  # a bug in a receiver: never silently dropped, tried again later
                log.exception(
                    "notifying %s of group %s failed", receiver.name, due.notification.group_key
                )
                self._gave_up[receiver.name, due.notification.group_key] = now
                return
            self._settle(fence, due, delivery, now)

        return self._dispatcher.submit(receiver.name, due.notification.group_key, send) is not None

    def _settle(self, fence: Fence, due: Due, delivery: Delivery, now: float) -> None:
        n = due.notification
        self._count(n, delivery)
        if not delivery.sent:
            log.warning(
                "notifying %s of group %s gave up: %s", n.receiver, n.group_key,
                delivery.primary.error,
            )  # fmt: skip
            self._gave_up[n.receiver, n.group_key] = now
            self._file(fence, n.audit(now, delivery.primary.error))
            return
        self._gave_up.pop((n.receiver, n.group_key), None)
        try:
            self._log.record(fence, n.receiver, n.group_key, due.entry)
        except (FencedError, redis.RedisError) as exc:  # due again next round: at least once
            log.warning("notification of group %s sent but not logged (%s)", n.group_key, exc)
            return
        self._file(fence, n.audit(now))

    def _file(self, fence: Fence, events: list[AuditEvent]) -> None:
        """Into the models' trails; a trail entry lost to a lost lease is only logged."""
        try:
            self._audit.append_fenced(fence, events)
        except (FencedError, redis.RedisError) as exc:
            log.warning("notification not filed in the audit trail (%s)", exc)

    def _count(self, n: Notification, delivery: Delivery) -> None:
        if self._metrics is None:
            return
        result = "sent" if delivery.primary.sent else "fallback" if delivery.sent else "failed"
        self._metrics.notifications.labels(n.receiver, result).inc()


def _repeat_intervals(route: Route) -> list[float]:
    return [
        route.opts.repeat_interval_seconds,
        *(x for r in route.routes for x in _repeat_intervals(r)),
    ]


def receiver_of(settings: ReceiverSettings, key: str) -> Receiver | None:
    """All destinations of a configured receiver as one (None: it has none)."""
    members: list[Receiver] = []
    urls = [s.reveal() or "" for s in settings.apprise_urls]
    if urls:
        members.append(AppriseReceiver(settings.name, urls, config_key=f"{key}.apprise_urls"))
    if settings.pagerduty_routing_key:
        members.append(
            PagerDutyReceiver(
                settings.name,
                settings.pagerduty_routing_key.reveal() or "",
                url=settings.pagerduty_url,
                config_key=f"{key}.pagerduty_routing_key",
            )
        )
    if not members:
        return None
    return members[0] if len(members) == 1 else _AllOf(settings.name, members)


class _AllOf:
    """A receiver with several destinations: each is sent to; any failure fails the send, and
    a retry is safe — apprise remembers which URLs took it, PagerDuty dedups by ``dedup_key``."""

    def __init__(self, name: str, members: Sequence[Receiver]) -> None:
        self._name = name
        self._members = members

    @property
    def name(self) -> str:
        return self._name

    def send(self, notification: Notification, title: str, body: str) -> None:
        errors: list[DeliveryError] = []
        for member in self._members:
            try:
                member.send(notification, title, body)
            except DeliveryError as exc:
                errors.append(exc)
        if errors:
            retryable = any(e.retryable for e in errors)
            raise DeliveryError("; ".join(str(e) for e in errors), retryable=retryable)
