"""One evaluation of a model's alert rules: its evidence in, its alerts' new states out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from monitor.alert.rules import Evidence, signals
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
    return changed, gone
