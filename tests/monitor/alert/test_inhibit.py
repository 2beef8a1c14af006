"""Inhibition: firing sources mute matching targets that share the ``equal`` labels."""

from __future__ import annotations

from monitor.alert.inhibit import not_inhibited
from monitor.config import DEFAULT_INHIBIT_RULES
from monitor.vocab.alerts import Alert


def alert(name: str, model: str, severity: str = "critical", feature: str = "") -> Alert:
    labels = {"alertname": name, "model": model, "severity": severity, "owner": "o"}
    if feature:
        labels["feature"] = feature
    return Alert(labels, {}, "firing")


def test_stale_data_mutes_drift_of_its_own_model_only() -> None:
    stale = alert("StaleData", "m")
    drift_m, drift_n = alert("FeatureDrift", "m", feature="a"), alert("FeatureDrift", "n")
    kept = not_inhibited(
        [drift_m, drift_n, stale], [stale, drift_m, drift_n], DEFAULT_INHIBIT_RULES
    )
    assert kept == [drift_n, stale]


def test_critical_mutes_the_warning_of_the_same_thing_only_while_it_fires() -> None:
    critical = alert("FeatureDrift", "m", feature="a")
    warning = alert("FeatureDrift", "m", "warning", feature="a")
    other = alert("FeatureDrift", "m", "warning", feature="b")
    rules = DEFAULT_INHIBIT_RULES
    assert not_inhibited([warning, other], [critical], rules) == [other]
    assert not_inhibited([warning], [], rules) == [warning]  # no firing source


def test_an_alert_never_inhibits_itself() -> None:
    stale = alert("StaleData", "m", "warning")
    rules = DEFAULT_INHIBIT_RULES
    assert not_inhibited([stale], [stale], rules) == [stale]
