"""Every Prometheus metric of the daemon, and nowhere else.

Built on an injected registry (tests pass their own) so two daemons in one test process, or a test
and a daemon, never share counters. Labels stay bounded: configured model names (unknown models
are ``_unknown``) and features, closed lists (reasons, statistics, metrics, alert names, states),
topic and partition numbers — never ids, versions or values.
"""

from __future__ import annotations

import collections
import math
import time
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.config import JUDGEABLE_METRICS, ModelSettings
from monitor.vocab.alerts import ALERTNAME, SEVERITY, Alert
from monitor.vocab.counts import IngestCounts
from monitor.vocab.incidents import MeanTimes
from monitor.vocab.verdicts import OUTPUTS, Health, HealthStatus, WindowEvaluation

#: Batch work is milliseconds; a batch near a second means the loop is in trouble.
_BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The daemon's metrics, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events = Counter(
            "driftwatch_events_total",
            "Events consumed, by topic kind, model and result (valid, or dead: dead-lettered).",
            ["kind", "model", "result"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "driftwatch_dead_letters_total",
            "Events sent to the dead-letter topic, by model and reason.",
            ["model", "reason"],
            registry=registry,
        )
        self.joined = Counter(
            "driftwatch_joined_total",
            "Prediction-outcome pairs formed.",
            ["model"],
            registry=registry,
        )
        self.batch_duration = Histogram(
            "driftwatch_batch_duration_seconds",
            "Time to process one partition batch, decode to checkpoint.",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.redis_write = Histogram(
            "driftwatch_redis_write_seconds",
            "Time of the atomic checkpoint script per batch.",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "driftwatch_consumer_lag_records",
            "Records between the high watermark and this instance's position.",
            ["topic", "partition"],
            registry=registry,
        )
        self.partitions_owned = Gauge(
            "driftwatch_partitions_owned", "Partitions claimed by this instance.", registry=registry
        )
        self.batches = Counter(
            "driftwatch_batches_total",
            "Batches by result: applied, replayed (already applied), conflict (join replanned), "
            "overlap, gap and claim_lost (Redis disagreed with this instance: claimed again).",
            ["result"],
            registry=registry,
        )
        self.fenced = Counter(
            "driftwatch_fenced_total",
            "Partitions dropped because a newer owner claimed them.",
            registry=registry,
        )
        self.outages = Counter(
            "driftwatch_dependency_errors_total",
            "Failed batch attempts by cause (redis, kafka, internal); the batch is retried.",
            ["dependency"],
            registry=registry,
        )
        self.resume_gaps = Counter(
            "driftwatch_resume_gaps_total",
            "Times Kafka's log missed the offset a partition is read from, by topic and cause: "
            "deleted (retention or compaction removed records before they were read; they are "
            "not counted) or truncated (the broker lost records already read: Redis' offset is "
            "rewound to where the log diverges and the new records there are counted). The log "
            "names the partition and offsets.",
            ["topic", "cause"],
            registry=registry,
        )
        self.resyncs = Counter(
            "driftwatch_resyncs_total",
            "Partitions claimed again because Redis' stored offset disagreed with this "
            "instance's position, by kind: overlap, gap, claim_lost (gap and claim_lost mean "
            "Redis lost acknowledged writes).",
            ["kind"],
            registry=registry,
        )
        self.notifications = Counter(
            "driftwatch_notifications_total",
            "Notifications handed to receivers, by receiver and result: sent, fallback (the "
            "receiver gave up, its fallback took it), failed (nobody took it; due again later).",
            ["receiver", "result"],
            registry=registry,
        )
        self.retrain_attempts = Counter(
            "driftwatch_retrain_attempts_total",
            "Retraining request delivery attempts, by target and result: delivered, retry (a "
            "network error, timeout, 408, 429 or 5xx: tried again later), rejected (refused "
            "for good: the request is dead-lettered and its owner told).",
            ["target", "result"],
            registry=registry,
        )
        self.expired = Counter(
            "driftwatch_join_expired_total",
            "Pending records whose label horizon passed unpaired, by kind.",
            ["kind"],
            registry=registry,
        )


class ModelState(Protocol):
    """What the gauges read of one configured model (a ``ModelStatus`` of
    ``monitor/store/query.py``): its ingest totals, health and newest judged evaluation."""

    @property
    def model(self) -> ModelSettings: ...

    @property
    def counts(self) -> IngestCounts: ...

    @property
    def health(self) -> Health | None: ...

    @property
    def latest(self) -> WindowEvaluation | None: ...


class Reading(Protocol):
    """One group-wide reading of every configured model and of its alerts (by model, then
    fingerprint), and when it was taken (``time.monotonic()``)."""

    @property
    def rows(self) -> Sequence[ModelState]: ...

    @property
    def alerts(self) -> Mapping[str, Mapping[str, Alert]]: ...

    @property
    def at(self) -> float: ...

    @property
    def incident_times(self) -> Mapping[tuple[str, int], MeanTimes]: ...


class ProbeReading(Protocol):
    """What reads Redis for the gauges, in a thread of its own (``monitor/runtime/probe.py``):
    its last reading, None before the first."""

    @property
    def reading(self) -> Reading | None: ...


@dataclass(frozen=True, slots=True)
class _Gauge:
    """A gauge family served from a reading: its name, help and label names."""

    name: str
    help: str
    labels: tuple[str, ...] = ()

    def family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self.name, self.help, labels=self.labels)


#: One sample: its family, its label values (in the family's order) and its value.
_Sample = tuple[_Gauge, tuple[str, ...], float]


class _FromReading(Collector):
    """Gauges copied from the probe's last reading, and how old that reading is.

    The probe thread reads Redis; a scrape only copies, so it never waits on Redis, and while
    Redis is unreachable it serves the last reading with a growing age. Before the first reading
    it serves nothing: no figure rather than a wrong one. Every instance reports the same
    group-wide figures: aggregate them with ``max``, not ``sum``.
    """

    GAUGES: tuple[_Gauge, ...]
    AGE: _Gauge

    def __init__(self, probe: ProbeReading) -> None:
        self._probe = probe

    def describe(self) -> Iterator[Metric]:
        for gauge in (*self.GAUGES, self.AGE):
            yield gauge.family()

    def collect(self) -> Iterator[Metric]:
        reading = self._probe.reading
        if reading is None:
            return
        families = {gauge: gauge.family() for gauge in self.GAUGES}
        for gauge, labels, value in self._samples(reading):
            families[gauge].add_metric(labels, value)
        yield from families.values()
        yield GaugeMetricFamily(self.AGE.name, self.AGE.help, value=time.monotonic() - reading.at)

    @abstractmethod
    def _samples(self, reading: Reading) -> Iterator[_Sample]:
        """The samples of ``reading``, each in one of :attr:`GAUGES`."""


class PendingJoins(_FromReading):
    """``driftwatch_pending_joins{model,kind}``: predictions waiting for their outcome and early
    outcomes waiting for their prediction, over the whole consumer group, and
    ``driftwatch_pending_joins_age_seconds``, how old that reading is.

    Every valid prediction either pairs, waits or expires, so pending = predictions − joined −
    expired (outcomes alike), from the mergeable counters.
    """

    PENDING = _Gauge(
        "driftwatch_pending_joins",
        "Join records waiting for their other side, group-wide, by model and kind.",
        ("model", "kind"),
    )
    GAUGES = (PENDING,)
    AGE = _Gauge(
        "driftwatch_pending_joins_age_seconds",
        "Seconds since driftwatch_pending_joins was read from Redis.",
    )

    def _samples(self, reading: Reading) -> Iterator[_Sample]:
        for row in reading.rows:
            yield self.PENDING, (row.model.name, "prediction"), row.counts.pending_predictions
            yield self.PENDING, (row.model.name, "outcome"), row.counts.pending_outcomes


#: ``driftwatch_model_health`` by health, ordered by urgency (``>= 1``: WARN or worse); a model
#: not evaluated yet counts as INSUFFICIENT DATA.
HEALTH_VALUES: dict[HealthStatus, int] = {
    "INSUFFICIENT DATA": -1,
    "OK": 0,
    "WARN": 1,
    "CRITICAL": 2,
}
#: Statistics of the feature and output drift verdicts that are exported (``stats/verdict.py``
#: judges by PSI): a closed list, so a new statistic is a deliberate change of cardinality.
DRIFT_STATISTICS = ("psi",)


class ModelMetrics(_FromReading):
    """Each configured model's health, verdicts, label coverage and alerts as gauges, for teams
    that alert with Prometheus and Alertmanager and chart with Grafana, beside or instead of
    Driftwatch's own routing (``driftwatch_model_metrics_age_seconds``: the reading's age).

    Drift statistics, thresholds and performance come from the model's newest judged window, as
    ``driftwatch status`` shows it. A verdict with too little data to judge (and a NaN value)
    gives no sample rather than NaN: a rule comparing a statistic with its threshold then neither
    fires nor resolves on noise — Driftwatch's own rules treat INSUFFICIENT DATA the same way.
    Labels are bounded by the configuration and closed lists: models, their features and
    outputs, :data:`DRIFT_STATISTICS`, ``JUDGEABLE_METRICS``, alert names, severities and
    states; never a model version, an id or a value.
    """

    HEALTH = _Gauge(
        "driftwatch_model_health",
        "Model health: 0 OK, 1 WARN, 2 CRITICAL, -1 INSUFFICIENT DATA or not evaluated yet.",
        ("model",),
    )
    STATISTIC = _Gauge(
        "driftwatch_feature_drift_statistic",
        "Drift statistic of a feature or output in the model's newest judged window.",
        ("model", "feature", "statistic"),
    )
    THRESHOLD = _Gauge(
        "driftwatch_feature_drift_threshold",
        "Threshold the drift statistic had to exceed at that window's size.",
        ("model", "feature", "statistic"),
    )
    PERFORMANCE = _Gauge(
        "driftwatch_model_performance",
        "Performance metric of the model's newest judged window, where labels sufficed to judge.",
        ("model", "metric"),
    )
    ESTIMATED = _Gauge(
        "driftwatch_model_estimated_performance",
        "Performance metric estimated from the scores of the model's newest judged window, "
        "before labels (binary classifiers whose reference calibrates their scores).",
        ("model", "metric", "bound"),
    )
    REFERENCE = _Gauge(
        "driftwatch_model_reference_performance",
        "Performance metric on the reference that window was compared with.",
        ("model", "metric"),
    )
    COVERAGE = _Gauge(
        "driftwatch_label_coverage_ratio",
        "Share of the model's predictions that received their outcome, group-wide.",
        ("model",),
    )
    ALERTS = _Gauge(
        "driftwatch_alerts",
        "Driftwatch's alerts by model, alert name, severity and state (pending, firing, resolved).",
        ("model", "alertname", "severity", "state"),
    )
    INCIDENTS = _Gauge(
        "driftwatch_model_incidents",
        "Incidents (first firing alert to last resolve) that ended in the last `days` days.",
        ("model", "days"),
    )
    MTTD = _Gauge(
        "driftwatch_model_mean_time_to_detect_seconds",
        "Mean seconds from the first window that showed a problem to its first alert firing, "
        "over the incidents that ended in the last `days` days.",
        ("model", "days"),
    )
    MTTA = _Gauge(
        "driftwatch_model_mean_time_to_acknowledge_seconds",
        "Mean seconds from the problem's first window to a silence or a retraining approval, "
        "over the acknowledged incidents that ended in the last `days` days.",
        ("model", "days"),
    )
    MTTR = _Gauge(
        "driftwatch_model_mttr_seconds",
        "Mean time to recover: seconds from the problem's first window to the resolve of the "
        "incident's last alert, over the incidents that ended in the last `days` days.",
        ("model", "days"),
    )
    GAUGES = (
        HEALTH, STATISTIC, THRESHOLD, PERFORMANCE, ESTIMATED, REFERENCE, COVERAGE, ALERTS,
        INCIDENTS, MTTD, MTTA, MTTR,
    )  # fmt: skip
    AGE = _Gauge(
        "driftwatch_model_metrics_age_seconds",
        "Seconds since the model gauges (health, drift, performance, label coverage, alerts) "
        "were read from Redis.",
    )

    def _samples(self, reading: Reading) -> Iterator[_Sample]:
        for row in reading.rows:
            name = row.model.name
            health: HealthStatus = row.health.status if row.health else "INSUFFICIENT DATA"
            yield self.HEALTH, (name,), HEALTH_VALUES[health]
            if row.counts.label_coverage is not None:
                yield self.COVERAGE, (name,), row.counts.label_coverage
            if row.latest is not None:
                yield from self._judged(row.model, row.latest)
            states = collections.Counter(
                (alert.labels.get(ALERTNAME, ""), alert.labels.get(SEVERITY, ""), alert.state)
                for alert in reading.alerts.get(name, {}).values()
            )
            for (alertname, severity, state), count in states.items():
                yield self.ALERTS, (name, alertname, severity, state), count
        for (name, days), times in reading.incident_times.items():
            labels = (name, str(days))
            yield self.INCIDENTS, labels, times.incidents
            for gauge, value in ((self.MTTD, times.detect), (self.MTTA, times.acknowledge),
                                 (self.MTTR, times.recover)):  # fmt: skip
                if value is not None:
                    yield gauge, labels, value

    def _judged(self, model: ModelSettings, ev: WindowEvaluation) -> Iterator[_Sample]:
        """Drift and performance samples of a window's judged verdicts, within the bounds."""
        streams = {*model.features, *OUTPUTS}
        for v in ev.verdicts:
            bounded = v.feature in streams and v.statistic in DRIFT_STATISTICS
            if bounded and v.status != "insufficient":
                labels = (model.name, v.feature, v.statistic)
                yield from _finite(self.STATISTIC, labels, v.value)
                yield from _finite(self.THRESHOLD, labels, v.threshold)
        metrics = JUDGEABLE_METRICS[model.task]
        for v in ev.performance_verdicts:
            if v.status != "insufficient" and v.statistic in metrics:
                yield from _finite(self.PERFORMANCE, (model.name, v.statistic), v.value)
        for metric, value in ev.estimated_performance.items():
            low, high = ev.estimated_bands.get(metric, (math.nan, math.nan))
            for bound, x in (("estimate", value), ("low", low), ("high", high)):
                yield from _finite(self.ESTIMATED, (model.name, metric, bound), x)
        for metric, value in ev.reference_performance.items():
            if metric in metrics:
                yield from _finite(self.REFERENCE, (model.name, metric), value)


def _finite(gauge: _Gauge, labels: tuple[str, ...], value: float) -> Iterator[_Sample]:
    """The sample, unless its value is NaN or infinite: absent is clearer to a rule than NaN."""
    if math.isfinite(value):
        yield gauge, labels, value
