"""One evaluation of a model's alert rules: its evidence in, its alerts' new states out.

An alert that no configured rule could make any more (the config changed: a rule removed, a
severity or owner changed, a feature dropped) is resolved at once — a firing one with a resolve
that says why, a pending one silently — rather than left firing with nothing to clear it; the
alert with the new labels, if any, starts its own life.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec

from monitor.alert.rules import Evidence, could_say, signals
from monitor.alert.state import step
from monitor.config.rules import RuleSettings
from monitor.vocab.alerts import Alert, fingerprint

#: A resolved alert is kept this long (``driftwatch alerts list`` shows it; the notification
#: pipeline sends its resolve well within it), then forgotten.
RESOLVED_KEPT_SECONDS = 86_400.0


def evaluate(
    rules: Sequence[RuleSettings], evidence: Evidence, current: Mapping[str, Alert]
) -> tuple[list[Alert], list[str]]:
    """The alerts whose state changed, and the fingerprints to forget: a pending alert that
    cleared, a resolved one older than :data:`RESOLVED_KEPT_SECONDS`. An alert no rule speaks of
    this time keeps its state."""
    changed: list[Alert] = []
    gone = [
        key
        for key, alert in current.items()
        if alert.resolved_at is not None
        and alert.state == "resolved"
        and evidence.now - alert.resolved_at > RESOLVED_KEPT_SECONDS
    ]
    for rule in rules:
        for signal in signals(rule, evidence):
            key = fingerprint(signal.labels)
            before = current.get(key)
            after = step(before, signal, rule, evidence.now)
            if after is None:
                if before is not None and key not in gone:
                    gone.append(key)
            elif after != before:
                changed.append(after)
    for key, alert in current.items():
        if alert.state in ("pending", "firing") and not any(
            could_say(rule, evidence.model, alert.labels) for rule in rules
        ):
            if alert.state == "pending":
                gone.append(key)
            else:
                changed.append(_orphaned(alert, evidence.now))
    return changed, gone


def incident_start(previous: float | None, alerts: Iterable[Alert]) -> float | None:
    """When the model's current incident began, given its alerts as they are now: it runs from
    its first alert firing while none was to the resolve of its last, so it keeps its start
    while any alert fires, however the firing ones take over from each other (None: none
    fires)."""
    fired = [a.fired_at for a in alerts if a.state == "firing" and a.fired_at is not None]
    if not fired:
        return None
    return previous if previous is not None else min(fired)


def _orphaned(alert: Alert, now: float) -> Alert:
    """A firing alert whose rule no longer applies, resolved now with the reason."""
    notes = {**alert.annotations, "description": _ORPHANED}
    return msgspec.structs.replace(
        alert, state="resolved", resolved_at=now, breaches=0, annotations=notes
    )


_ORPHANED = (
    "resolved because no configured rule makes this alert any more "
    "(its rule, severity, owner or feature changed in the config)"
)
