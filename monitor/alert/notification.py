"""A notification: what one receiver is told about one group of alerts at one moment."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.vocab.alerts import MODEL, Alert
from monitor.vocab.audit import DAEMON, AuditEvent, AuditKind


@dataclass(frozen=True, slots=True)
class Notification:
    """One group's alerts for one receiver: the firing ones and those resolved since the last
    notification (Alertmanager's grouped notification)."""

    receiver: str
    #: Stable id of the group (route and group-by label values): PagerDuty's ``dedup_key``.
    group_key: str
    #: The group's label values (those of the route's ``group_by``).
    group_labels: dict[str, str]
    firing: tuple[Alert, ...]
    resolved: tuple[Alert, ...]
    #: A test message sent by ``driftwatch alerts test``: says so in its title.
    test: bool = False

    @property
    def status(self) -> str:
        """``firing`` while any alert fires, else ``resolved``."""
        return "firing" if self.firing else "resolved"

    def audit(self, ts: float, error: str | None = None) -> list[AuditEvent]:
        """The trail's record of this notification, one event per model it spoke of: sent, or
        (``error`` given) failed for good this round."""
        models = sorted({a.labels.get(MODEL, "") for a in (*self.firing, *self.resolved)} - {""})
        details = {"receiver": self.receiver, "group_key": self.group_key}
        kind: AuditKind
        if error is None:
            kind, what = "notification_sent", f"notified {self.receiver}"
        else:
            kind, what = "notification_failed", f"could not notify {self.receiver}: {error}"
            details["error"] = error
        counts = f" ({len(self.firing)} firing, {len(self.resolved)} resolved)"
        return [AuditEvent(ts, kind, m, DAEMON, what + counts, dict(details)) for m in models]
