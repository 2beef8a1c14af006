"""Inhibition: an alert that explains others mutes them (Alertmanager's inhibit rules).

A target alert is muted while some *firing* source alert, other than itself, matches the rule's
source matchers and has the same values of the rule's ``equal`` labels (a label both lack counts
as equal). No traffic (``StaleData``) explains a model's drift; a critical alert makes the
warning of the same thing redundant.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.config import InhibitRuleSettings
from monitor.vocab.alerts import Alert
from monitor.vocab.matchers import Matcher, matches_all


def not_inhibited(
    alerts: Sequence[Alert], firing: Sequence[Alert], rules: Sequence[InhibitRuleSettings]
) -> list[Alert]:
    """``alerts`` less those some firing alert inhibits."""
    parsed = [
        (
            [Matcher.parse(m) for m in rule.source_matchers],
            [Matcher.parse(m) for m in rule.target_matchers],
            rule.equal,
        )
        for rule in rules
    ]

    def inhibited(target: Alert) -> bool:
        for sources, targets, equal in parsed:
            if not matches_all(targets, target.labels):
                continue
            for source in firing:
                if (
                    source.fingerprint != target.fingerprint
                    and matches_all(sources, source.labels)
                    and all(source.labels.get(n, "") == target.labels.get(n, "") for n in equal)
                ):
                    return True
        return False

    return [a for a in alerts if not inhibited(a)]
