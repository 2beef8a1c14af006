"""The model gauges of ``/metrics``: written through the real stores, read by the probe, scraped.

A scrape copies the probe's last reading: these tests take one reading from a real Redis, check
every sample of the exposition exactly (so a NaN, an unjudged verdict or an unbounded label that
slipped through fails them), then make Redis unreachable and check that the scrape still answers
the same figures, with a growing age.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor import config
from monitor.config import KafkaSettings, RedisSettings
from monitor.metrics import ModelMetrics, PendingJoins
from monitor.runtime.probe import DependencyProbe, ModelReader, ModelReading
from monitor.store.alerts import AlertStore
from monitor.store.audit import AuditLog
from monitor.store.checkpoint import Checkpoint
from monitor.store.client import connect
from monitor.store.evaluations import EvaluationStore
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.query import Query
from monitor.vocab.alerts import Alert, AlertState
from monitor.vocab.audit import alert_fired, alert_resolved, silence_created
from monitor.vocab.effects import (
    EXPIRED_PREDICTIONS,
    JOINED,
    OUTCOMES,
    PREDICTIONS,
    Effects,
    window_id,
)
from monitor.vocab.silences import Silence
from monitor.vocab.verdicts import (
    DECISION,
    MODEL,
    PERFORMANCE,
    PREDICTION,
    Health,
    Severity,
    Status,
    Verdict,
    WindowEvaluation,
)

T0 = 1_800_000_000
NAN = math.nan
#: A sample as compared here: (name, sorted label pairs).
Key = tuple[str, tuple[tuple[str, str], ...]]


def verdict(
    feature: str, statistic: str, value: float, threshold: float, status: Status, start: int
) -> Verdict:
    severity: Severity = "insufficient" if status == "insufficient" else "ok"
    return Verdict(
        "m", feature, statistic, value, threshold, None, 500, status, severity, start, "r1", 0.01
    )


def evaluation(start: int, psi_a: float, judged: bool = True) -> WindowEvaluation:
    """Model "m"'s window at ``start``: every kind of verdict the gauges must take or leave."""
    drift: Status = "drift" if judged else "insufficient"
    ok: Status = "ok" if judged else "insufficient"
    return WindowEvaluation(
        model="m",
        window_start=start,
        version="v1",
        reference="r1",
        n=500,
        n_labelled=300,
        evaluated_at=float(start + 7200),
        verdicts=[
            verdict("a", "psi", psi_a, 0.12, drift, start),
            verdict("b", "psi", 0.03, NAN, ok, start),  # a NaN threshold: no sample
            verdict(PREDICTION, "psi", 0.01, 0.05, ok, start),
            verdict(DECISION, "psi", 0.5, 0.1, "insufficient", start),  # too few values
            verdict("gone", "psi", 0.9, 0.1, drift, start),  # a feature no longer configured
            verdict(MODEL, "drift_share", 0.5, 0.5, drift, start),  # not a feature
        ],
        performance_verdicts=[
            verdict(PERFORMANCE, "accuracy", 0.8125, NAN, "ok", start),
            verdict(PERFORMANCE, "roc_auc", 0.7, NAN, "insufficient", start),  # too few labels
            verdict(PERFORMANCE, "f1", NAN, NAN, "ok", start),
            verdict(PERFORMANCE, "r2", 0.3, NAN, "ok", start),  # not a judgeable metric
        ],
        performance={"accuracy": 0.8125, "roc_auc": 0.7, "f1": NAN, "r2": 0.3},
        reference_performance={"accuracy": 0.875, "roc_auc": 0.9, "f1": NAN, "r2": 0.5},
        estimated_performance={"accuracy": 0.79, "roc_auc": NAN},  # NaN: no sample
        estimated_bands={"accuracy": (0.77, 0.81), "roc_auc": (NAN, NAN)},
    )


def alert(
    feature: str, state: AlertState, alertname: str = "FeatureDrift", severity: str = "critical"
) -> Alert:
    labels = {"alertname": alertname, "model": "m", "severity": severity, "owner": "o",
              "feature": feature}  # fmt: skip
    return Alert(labels, {"summary": alertname}, state, 1.0)


@pytest.fixture
def settings(key_prefix: str, redis_url: str) -> config.Settings:
    return config.parse(
        {
            "redis": {"url": redis_url, "key_prefix": key_prefix},
            "models": [
                {"name": "m", "owner": "o", "task": "binary",
                 "features": {"a": "numeric", "b": "categorical"}},
                {"name": "idle", "owner": "o", "task": "regression",
                 "features": {"x": "numeric"}},
            ],
        }
    )  # fmt: skip


@pytest.fixture
def stored(settings: config.Settings, redis_client: redis.Redis) -> None:
    """Model "m": counters, three evaluated windows (the newest too small to judge), CRITICAL
    health and four alerts, each through the store that writes it in the daemon. Model "idle":
    nothing at all."""
    keys = Keys(settings.redis.key_prefix)
    checkpoint = Checkpoint(redis_client, keys, settings.kafka.group_id)
    changes = Effects()
    counters = changes.counters["m"]
    counters[PREDICTIONS], counters[OUTCOMES], counters[JOINED] = 16, 6, 4
    counters[EXPIRED_PREDICTIONS] = 6  # coverage 4 of the 10 settled; 6 still pending
    checkpoint.apply(checkpoint.claim("t", 0), 0, 1, changes, int(time.time() * 1000), fresh=True)

    fence = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "a", 10_000).hold()
    assert fence is not None
    evaluations = EvaluationStore(redis_client, keys, retention_ms=86_400_000)
    windows = [(T0, 0.99, True), (T0 + 3600, 0.42, True), (T0 + 7200, 0.77, False)]
    for start, psi_a, judged in windows:
        wid = window_id(start, "v1", "r1")
        evaluations.save(fence, evaluation(start, psi_a, judged), wid, f"m:{wid}", 0.0)
    evaluations.save_health(fence, Health("m", "CRITICAL", ["a drifted"], T0 + 3600, 0.0))
    firing = [alert("a", "firing"), alert("b", "firing"), alert(PREDICTION, "pending")]
    resolved = alert("", "resolved", "LabelCoverageLow", "warning")
    AlertStore(redis_client, keys).save(fence, "m", [*firing, resolved], [], None)


def samples(registry: CollectorRegistry) -> dict[Key, float]:
    """Every sample of one scrape, by name and labels."""
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def key(name: str, **labels: str) -> Key:
    return name, tuple(sorted(labels.items()))


#: Everything the model gauges must say of the stored state, and nothing more.
EXPECTED = {
    key("driftwatch_model_health", model="m"): 2.0,
    key("driftwatch_model_health", model="idle"): -1.0,
    key("driftwatch_label_coverage_ratio", model="m"): 0.4,
    # The newest judged window (T0 + 1h), not the newer unjudged one nor the older one.
    key("driftwatch_feature_drift_statistic", model="m", feature="a", statistic="psi"): 0.42,
    key("driftwatch_feature_drift_threshold", model="m", feature="a", statistic="psi"): 0.12,
    key("driftwatch_feature_drift_statistic", model="m", feature="b", statistic="psi"): 0.03,
    key("driftwatch_feature_drift_statistic", model="m", feature=PREDICTION, statistic="psi"): 0.01,
    key("driftwatch_feature_drift_threshold", model="m", feature=PREDICTION, statistic="psi"): 0.05,
    key("driftwatch_model_performance", model="m", metric="accuracy"): 0.8125,
    key(
        "driftwatch_model_estimated_performance", model="m", metric="accuracy", bound="estimate"
    ): 0.79,
    key("driftwatch_model_estimated_performance", model="m", metric="accuracy", bound="low"): 0.77,
    key("driftwatch_model_estimated_performance", model="m", metric="accuracy", bound="high"): 0.81,
    key("driftwatch_model_reference_performance", model="m", metric="accuracy"): 0.875,
    key("driftwatch_model_reference_performance", model="m", metric="roc_auc"): 0.9,
    key(
        "driftwatch_alerts",
        model="m",
        alertname="FeatureDrift",
        severity="critical",
        state="firing",
    ): 2.0,
    key(
        "driftwatch_alerts",
        model="m",
        alertname="FeatureDrift",
        severity="critical",
        state="pending",
    ): 1.0,
    key(
        "driftwatch_alerts",
        model="m",
        alertname="LabelCoverageLow",
        severity="warning",
        state="resolved",
    ): 1.0,
    key("driftwatch_pending_joins", model="m", kind="prediction"): 6.0,
    key("driftwatch_pending_joins", model="m", kind="outcome"): 2.0,
    key("driftwatch_pending_joins", model="idle", kind="prediction"): 0.0,
    key("driftwatch_pending_joins", model="idle", kind="outcome"): 0.0,
}
AGES = ("driftwatch_model_metrics_age_seconds", "driftwatch_pending_joins_age_seconds")


@pytest.mark.usefixtures("stored")
def test_the_gauges_serve_the_last_reading_even_while_redis_is_unreachable(
    settings: config.Settings,
    redis_client: redis.Redis,
    free_port_factory: Callable[[int], list[int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = RedisSettings(url=f"redis://127.0.0.1:{free_port_factory(1)[0]}/0")
    dead = connect(closed, timeout_seconds=1, retry_connection_errors=0)
    queries = [Query(redis_client, settings)]
    probe = DependencyProbe(redis_client, KafkaSettings(), lambda: ModelReading.read(queries[-1]))
    registry = CollectorRegistry()
    registry.register(PendingJoins(probe))
    registry.register(ModelMetrics(probe))
    assert samples(registry) == {}  # not read yet: no figure rather than a wrong one

    probe.read_models()
    first = probe.reading
    scraped = samples(registry)
    ages = {name: scraped.pop((name, ())) for name in AGES}
    assert scraped == EXPECTED
    assert all(0.0 <= age < 5.0 for age in ages.values())

    queries.append(Query(dead, settings))  # Redis no longer answers the probe
    time.sleep(0.2)
    with caplog.at_level(logging.DEBUG, logger="monitor.runtime.probe"):
        probe.read_models()
    assert probe.reading is first
    # An outage is /readyz's news, not a warning every 10 s.
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    started = time.monotonic()
    scraped = samples(registry)
    assert time.monotonic() - started < 0.5
    later = {name: scraped.pop((name, ())) for name in AGES}
    assert scraped == EXPECTED
    assert all(later[name] >= ages[name] + 0.2 for name in AGES)


def test_a_reading_that_fails_on_a_bug_keeps_the_last_one_and_says_so(
    redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """An undecodable blob (a bug) must neither end the thread that also watches Redis for
    /readyz nor pass unnoticed."""

    def undecodable() -> ModelReading:
        raise ValueError("not MessagePack")

    probe = DependencyProbe(redis_client, KafkaSettings(), undecodable)
    last = probe.reading = ModelReading([], {}, time.monotonic())
    with caplog.at_level(logging.WARNING, logger="monitor.runtime.probe"):
        probe.read_models()
    assert probe.reading is last
    assert [r.getMessage() for r in caplog.records] == ["model gauges not read"]


def test_incident_timings_come_from_the_audit_trail(
    settings: config.Settings, redis_client: redis.Redis
) -> None:
    """One incident of "m" that ended an hour ago: detected 10 min after its first window,
    silenced 20 min in, resolved 70 min in; "idle" had none (its counts are 0, no means)."""
    keys = Keys(settings.redis.key_prefix)
    trail = AuditLog(redis_client, keys, 400)
    began = time.time() - 3 * 3600
    labels = {"alertname": "FeatureDrift", "model": "m", "severity": "critical", "owner": "o",
              "feature": "a"}  # fmt: skip
    fired = Alert(labels, {}, "firing", began + 600, began + 600, began + 600, 1)
    resolved = Alert(labels, {}, "resolved", began + 600, began + 600, resolved_at=began + 4200)
    muted = Silence.new(['model="m"'], 3600, "ana", "looking", began + 1200)
    for event in (alert_fired(fired, began + 600, began), silence_created(muted, "m"),
                  alert_resolved(resolved, began + 4200)):  # fmt: skip
        trail.append(event)
    probe = DependencyProbe(
        redis_client, KafkaSettings(), ModelReader(Query(redis_client, settings), ["m", "idle"])
    )
    registry = CollectorRegistry()
    registry.register(ModelMetrics(probe))
    probe.read_models()
    found = {k: v for k, v in samples(registry).items() if "incident" in k[0] or "mean" in k[0]
             or "mttr" in k[0]}  # fmt: skip
    expected: dict[Key, float] = {}
    for days in ("30", "90"):
        expected[("driftwatch_model_incidents", (("days", days), ("model", "m")))] = 1
        expected[("driftwatch_model_incidents", (("days", days), ("model", "idle")))] = 0
        m = (("days", days), ("model", "m"))
        expected[("driftwatch_model_mean_time_to_detect_seconds", m)] = 600
        expected[("driftwatch_model_mean_time_to_acknowledge_seconds", m)] = 1200
        expected[("driftwatch_model_mttr_seconds", m)] = 4200
    assert found == pytest.approx(expected)
