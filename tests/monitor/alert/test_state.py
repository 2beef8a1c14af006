"""The alert state machine: pending, firing, resolved; insufficient data changes nothing."""

from __future__ import annotations

from monitor.alert.rules import Signal
from monitor.alert.state import step
from monitor.config.rules import RuleSettings
from monitor.vocab.alerts import Alert

LABELS = {"alertname": "FeatureDrift", "model": "m", "severity": "critical", "owner": "o"}
T0 = 1_800_000_000.0


def signal(breach: bool | None, window: int | None = None) -> Signal:
    return Signal(dict(LABELS), breach, {"summary": "s"}, window)


def test_a_breach_fires_after_for_windows_distinct_windows() -> None:
    rule = RuleSettings("feature_drift", for_windows=2)
    alert = step(None, signal(True, 0), rule, T0)
    assert alert is not None and alert.state == "pending" and alert.active_since == T0
    again = step(alert, signal(True, 0), rule, T0 + 60)  # the same window re-evaluated
    assert again is not None and (again.state, again.breaches) == ("pending", 1)
    fired = step(again, signal(True, 3600), rule, T0 + 3660)
    assert fired is not None and (fired.state, fired.fired_at) == ("firing", T0 + 3660)
    assert fired.active_since == T0


def test_for_seconds_holds_a_breach_before_firing() -> None:
    rule = RuleSettings("change_point", for_seconds=300.0)
    alert = step(None, signal(True), rule, T0)
    alert = step(alert, signal(True), rule, T0 + 100)
    assert alert is not None and alert.state == "pending"
    alert = step(alert, signal(True), rule, T0 + 400)
    assert alert is not None and alert.state == "firing"


def test_a_pending_alert_that_clears_never_existed() -> None:
    rule = RuleSettings("feature_drift", for_windows=2)
    pending = step(None, signal(True, 0), rule, T0)
    assert step(pending, signal(False, 3600), rule, T0 + 3600) is None
    assert step(None, signal(False, 0), rule, T0) is None


def test_no_evidence_neither_fires_nor_resolves() -> None:
    rule = RuleSettings("feature_drift", for_windows=2)
    pending = step(None, signal(True, 0), rule, T0)
    assert step(pending, signal(None, 3600), rule, T0 + 3600) == pending
    firing = step(None, signal(True, 0), RuleSettings("feature_drift"), T0)
    assert firing is not None and firing.state == "firing"
    assert step(firing, signal(None, 3600), rule, T0 + 3600) == firing
    assert step(None, signal(None), rule, T0) is None


def test_keep_firing_for_absorbs_a_short_clear_then_resolves() -> None:
    rule = RuleSettings("feature_drift", keep_firing_for_seconds=600.0)
    firing = step(None, signal(True, 0), rule, T0)
    held = step(firing, signal(False, 3600), rule, T0 + 300)
    assert held is not None and held.state == "firing"
    resolved = step(held, signal(False, 7200), rule, T0 + 700)
    assert resolved is not None and resolved.state == "resolved"
    assert (resolved.fired_at, resolved.resolved_at) == (T0, T0 + 700)
    assert step(resolved, signal(False, 10800), rule, T0 + 800) == resolved


def test_a_breach_after_resolving_is_a_new_incident() -> None:
    rule = RuleSettings("feature_drift")
    resolved = step(step(None, signal(True, 0), rule, T0), signal(False, 3600), rule, T0 + 3600)
    assert resolved is not None and resolved.state == "resolved"
    again = step(resolved, signal(True, 7200), rule, T0 + 7200)
    assert isinstance(again, Alert) and again.state == "firing"
    assert (again.active_since, again.fired_at, again.resolved_at) == (T0 + 7200, T0 + 7200, None)
