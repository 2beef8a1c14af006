"""Every Prometheus metric of the daemon, and nowhere else.

Built on an injected registry (tests pass their own) so two daemons in one test process, or a test
and a daemon, never share counters. Labels stay bounded: configured model names (unknown models
are ``_unknown``), closed reason lists, topic and partition numbers — never ids or values.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.config import ModelSettings
from monitor.vocab.counts import IngestCounts

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
        self.expired = Counter(
            "driftwatch_join_expired_total",
            "Pending records whose label horizon passed unpaired, by kind.",
            ["kind"],
            registry=registry,
        )


class _ModelCounts(Protocol):
    @property
    def model(self) -> ModelSettings: ...

    @property
    def counts(self) -> IngestCounts: ...


class PendingReading(Protocol):
    """The latest group-wide reading of the ingest counters (``monitor/runtime/probe.py`` takes
    it in a thread of its own) and when it was taken (``time.monotonic()``; None: not yet)."""

    @property
    def pending_rows(self) -> Sequence[_ModelCounts]: ...

    @property
    def pending_at(self) -> float | None: ...


class PendingJoins(Collector):
    """``driftwatch_pending_joins{model,kind}``: predictions waiting for their outcome and early
    outcomes waiting for their prediction, over the whole consumer group, and
    ``driftwatch_pending_joins_age_seconds``, how old that reading is.

    Every valid prediction either pairs, waits or expires, so pending = predictions − joined −
    expired (outcomes alike), from the mergeable counters. The probe thread reads them from Redis
    (:mod:`monitor.runtime.probe`); a scrape only copies the last reading, so it never waits on
    Redis. Every instance reports the same group-wide figure: aggregate with ``max``, not ``sum``.
    """

    NAME = "driftwatch_pending_joins"
    HELP = "Join records waiting for their other side, group-wide, by model and kind."
    AGE = "driftwatch_pending_joins_age_seconds"
    AGE_HELP = "Seconds since driftwatch_pending_joins was read from Redis."

    def __init__(self, probe: PendingReading) -> None:
        self._probe = probe

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(self.NAME, self.HELP, labels=["model", "kind"])
        yield GaugeMetricFamily(self.AGE, self.AGE_HELP)

    def collect(self) -> Iterator[Metric]:
        rows, at = self._probe.pending_rows, self._probe.pending_at
        if at is None:
            return  # never read yet: no figure rather than a wrong one
        family = GaugeMetricFamily(self.NAME, self.HELP, labels=["model", "kind"])
        for row in rows:
            family.add_metric([row.model.name, "prediction"], row.counts.pending_predictions)
            family.add_metric([row.model.name, "outcome"], row.counts.pending_outcomes)
        yield family
        yield GaugeMetricFamily(self.AGE, self.AGE_HELP, value=time.monotonic() - at)
