"""Rules turn a model's evidence into three-valued signals, one per alert identity."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from monitor.alert.rules import Evidence, Signal, signals
from monitor.config import ModelSettings
from monitor.config.rules import DEFAULT_RULES, RuleSettings
from monitor.errors import ConfigError
from monitor.vocab.counts import IngestCounts
from monitor.vocab.retrain import RetrainRequest, RetrainState
from monitor.vocab.verdicts import Severity, Status, Verdict, WindowEvaluation

MODEL = ModelSettings(name="m", owner="fraud-team", task="binary", features={"a": "numeric"})
T0 = 1_800_000_000


def verdict(feature: str, severity: Severity, statistic: str = "psi") -> Verdict:
    status: Status = "drift"
    if severity in ("ok", "insufficient"):
        status = "ok" if severity == "ok" else "insufficient"
    return Verdict("m", feature, statistic, 0.3, 0.1, 0.001, 500, status, severity, T0, "r1",
                   0.01, ("why",))  # fmt: skip


def evaluation(**lists: list[Verdict]) -> WindowEvaluation:
    return WindowEvaluation(
        model="m", window_start=T0, version="v7", reference="r1", n=900, n_labelled=0,
        evaluated_at=T0 + 4000.0, dead_letters={"bad_json": 100}, **lists,
    )  # fmt: skip


def evidence(judged: WindowEvaluation | None = None, **counts: Any) -> Evidence:
    return Evidence(MODEL, T0 + 4000.0, 3600, judged, IngestCounts(**counts))


def by_feature(found: list[Signal]) -> dict[str, bool | None]:
    return {s.labels.get("feature", ""): s.breach for s in found}


DRIFT = evaluation(verdicts=[
    verdict("a", "critical"), verdict("b", "warning"), verdict("c", "ok"),
    verdict("d", "insufficient"), verdict("__prediction__", "critical"),
    verdict("__model__", "critical"),
])  # fmt: skip


def test_a_critical_rule_fires_on_critical_clears_on_ok_and_holds_otherwise() -> None:
    found = list(signals(RuleSettings("feature_drift"), evidence(DRIFT)))
    assert by_feature(found) == {"a": True, "b": None, "c": False, "d": None}
    a = found[0]
    assert a.labels == {"alertname": "FeatureDrift", "model": "m", "severity": "critical",
                        "owner": "fraud-team", "feature": "a"}  # fmt: skip
    assert a.annotations["version"] == "v7" and a.annotations["n"] == "500"
    assert a.window_start == T0


def test_a_warning_rule_fires_on_warnings_too_and_outputs_have_their_own_rule() -> None:
    warning = RuleSettings("feature_drift", severity="warning")
    assert by_feature(list(signals(warning, evidence(DRIFT))))["b"] is True
    outputs = by_feature(list(signals(RuleSettings("prediction_drift"), evidence(DRIFT))))
    assert outputs == {"__prediction__": True}


def test_an_estimated_degradation_alerts_until_the_labels_judge_that_metric() -> None:
    """Before labels the estimate speaks; once a metric's realized verdict exists it takes
    precedence, so the estimated alert of that metric clears (and the performance rule decides)."""
    rule = RuleSettings("estimated_performance")
    estimated = [verdict("__estimated__", "critical", "accuracy"),
                 verdict("__estimated__", "ok", "roc_auc")]  # fmt: skip
    no_labels = evaluation(
        estimated_verdicts=estimated,
        performance_verdicts=[verdict("__performance__", "insufficient", "accuracy")],
    )
    found = list(signals(rule, evidence(no_labels)))
    assert by_feature(found) == {"accuracy": True, "roc_auc": False}
    assert found[0].labels["alertname"] == "EstimatedPerformanceDegraded"
    assert "estimated before labels" in found[0].annotations["summary"]
    labelled = evaluation(
        estimated_verdicts=estimated,
        performance_verdicts=[verdict("__performance__", "ok", "accuracy")],
    )
    assert by_feature(list(signals(rule, evidence(labelled)))) == {
        "accuracy": False, "roc_auc": False}  # fmt: skip
    assert by_feature(list(signals(RuleSettings("performance"), evidence(no_labels)))) == {
        "accuracy": None}  # fmt: skip


def test_performance_alerts_per_metric_and_quality_per_feature_on_its_worst_rate() -> None:
    ev = evaluation(
        performance_verdicts=[verdict("__performance__", "critical", "accuracy"),
                              verdict("__performance__", "ok", "roc_auc")],
        quality_verdicts=[verdict("a", "ok", "missing_rate"),
                          verdict("a", "critical", "type_error_rate"),
                          verdict("b", "ok", "missing_rate")],
    )  # fmt: skip
    assert by_feature(list(signals(RuleSettings("performance"), evidence(ev)))) == {
        "accuracy": True, "roc_auc": False}  # fmt: skip
    quality = list(signals(RuleSettings("data_quality"), evidence(ev)))
    assert by_feature(quality) == {"a": True, "b": False}
    assert quality[0].annotations["statistic"] == "type_error_rate"


def test_without_a_judged_window_verdict_rules_say_nothing() -> None:
    assert list(signals(RuleSettings("feature_drift"), evidence(None))) == []


@pytest.mark.parametrize(
    ("counts", "expected"),
    [({"joined": 40, "expired_predictions": 60}, True),  # 0.40 < fire 0.5
     ({"joined": 55, "expired_predictions": 45}, None),  # between fire and clear: hold
     ({"joined": 70, "expired_predictions": 30}, False),  # 0.70 >= clear 0.6
     ({"predictions": 100}, None)],  # nothing settled yet
)  # fmt: skip
def test_label_coverage_has_hysteresis(counts: dict[str, int], expected: bool | None) -> None:
    (found,) = signals(RuleSettings("label_coverage"), evidence(**counts))
    assert found.breach is expected


def test_stale_data_counts_windows_without_traffic() -> None:
    rule = RuleSettings("stale_data")
    (stale,) = signals(rule, evidence(last_event_ts=T0 + 4000.0 - 4 * 3600))
    (fresh,) = signals(rule, evidence(last_event_ts=T0 + 4000.0 - 60))
    (never,) = signals(rule, evidence())
    assert (stale.breach, fresh.breach, never.breach) == (True, False, None)


def test_dead_letter_rate_is_a_share_of_the_window_arrivals() -> None:
    (found,) = signals(RuleSettings("dead_letters"), evidence(DRIFT))
    assert found.breach is True and math.isclose(float(found.annotations["value"]), 0.1)
    assert found.window_start == T0


def test_a_rule_for_other_models_says_nothing() -> None:
    assert list(signals(RuleSettings("feature_drift", models=("other",)), evidence(DRIFT))) == []


def test_the_default_rules_are_valid_and_rule_mistakes_name_key_and_fix() -> None:
    for i, rule in enumerate(DEFAULT_RULES):
        rule.validate(f"alerting.rules[{i}]", frozenset({"m"}))
    mistakes = [
        (RuleSettings("feature_drift", for_windows=0), "for_windows"),
        (RuleSettings("feature_drift", fire=0.2), "fire"),
        (RuleSettings("label_coverage", fire=0.5, clear=0.4), "clear"),
        (RuleSettings("stale_data", fire=3, clear=5), "clear"),
        (RuleSettings("feature_drift", models=("nope",)), "models"),
        (RuleSettings("feature_drift", keep_firing_for_seconds=-1), "keep_firing_for_seconds"),
    ]
    for rule, key in mistakes:
        with pytest.raises(ConfigError) as err:
            rule.validate("alerting.rules[0]", frozenset({"m"}))
        assert err.value.key == f"alerting.rules[0].{key}"


def test_a_failed_retraining_request_fires_until_a_newer_one_is_delivered_or_rejected() -> None:
    rule = RuleSettings("retrain_failed", severity="warning")

    def newest(state: RetrainState | None) -> bool | None:
        request = None
        if state is not None:
            request = RetrainRequest("retrain:m:1", "m", "p", "airflow", state, T0, "driftwatch",
                                     "why", "{}", attempts=3, last_error="HTTP 403")  # fmt: skip
        (signal,) = signals(rule, dataclasses.replace(evidence(), retraining=request))
        assert signal.labels["alertname"] == "RetrainingFailed"
        if signal.breach:
            assert "HTTP 403" in signal.annotations["description"]
        return signal.breach

    assert newest("failed") is True
    assert [newest(s) for s in ("delivered", "rejected")] == [False, False]
    assert [newest(s) for s in (None, "queued", "awaiting_approval")] == [None, None, None]


def test_stale_data_goes_by_ingestion_and_waits_a_window_after_a_restart() -> None:
    """A backlog being replayed has old event times but was ingested just now: not stale. Right
    after the evaluator (re)started, ingestion first catches up: nothing to say yet."""
    rule = RuleSettings("stale_data")
    now = T0 + 4000.0
    replay = evidence(last_event_ts=now - 30 * 24 * 3600, last_seen=now - 5)
    (signal,) = signals(rule, replay)
    assert signal.breach is False
    stopped = evidence(last_event_ts=now - 4 * 3600, last_seen=now - 4 * 3600)
    assert next(signals(rule, stopped)).breach is True
    restarted = dataclasses.replace(stopped, evaluating_since=now - 600)
    assert next(signals(rule, restarted)).breach is None  # within its first window (3600 s)
    later = dataclasses.replace(stopped, evaluating_since=now - 3600)
    assert next(signals(rule, later)).breach is True
