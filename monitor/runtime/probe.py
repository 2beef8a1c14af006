"""Dependency checks and the Redis-backed gauges, refreshed in threads of their own.

``/healthz``, ``/readyz`` and ``/metrics`` answer from memory, so a hung Redis or a dead broker
can never hold a probe or a scrape. Every :data:`PROBE_SECONDS` one thread pings Redis and
another asks Kafka for its cluster description (a real request, so a broker that accepts
connections but does not answer — stopped, overloaded — counts as down), each call bounded by
:data:`PROBE_TIMEOUT_SECONDS`; a check still running after that counts as failed, whatever the
client library does meanwhile. The Redis thread also reads every configured model's status and
alerts every :data:`PENDING_SECONDS`: the pending joins and the model gauges of
:mod:`monitor.metrics` serve that reading. ``/readyz`` thus turns 503 within about
``PROBE_SECONDS + PROBE_TIMEOUT_SECONDS`` of a dependency stopping to answer, even while no
traffic flows, and says which.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from kafka import KafkaAdminClient

from monitor.config import KafkaSettings
from monitor.ingest.clients import RECONNECT_BACKOFF_MAX_MS, refusal
from monitor.store.query import ModelStatus, Query
from monitor.vocab.alerts import Alert
from monitor.vocab.incidents import MTTR_DAYS, MeanTimes, incidents, mean_times

log = logging.getLogger(__name__)

#: How often the dependencies are checked: bounds how late /readyz notices an outage.
PROBE_SECONDS = 2.0
#: How long one check may take: a dependency that has not answered by then counts as down.
PROBE_TIMEOUT_SECONDS = 1.5
#: How often the Redis-fed gauges are refreshed: a read over every partition's counters and
#: every model's newest evaluations and alerts.
PENDING_SECONDS = 10.0
#: How often the incident timings (MTTR) are recomputed from the audit trails.
INCIDENT_SECONDS = 300.0
#: How far back the trails are read for them: the longest MTTR span, plus 30 days for the
#: incidents that ended inside it but began before (longer ones count from the lookback).
INCIDENT_LOOKBACK_DAYS = max(MTTR_DAYS) + 30


@dataclass(frozen=True, slots=True)
class ModelReading:
    """Every configured model's status and alerts (by model, then fingerprint) as read at ``at``
    (``time.monotonic()``), and its incident timings by (model, days): one object, so a scrape
    never sees half of two readings."""

    rows: list[ModelStatus]
    alerts: dict[str, dict[str, Alert]]
    at: float
    incident_times: dict[tuple[str, int], MeanTimes] = field(default_factory=dict)

    @classmethod
    def read(cls, query: Query) -> ModelReading:
        """Six round trips, whatever the number of models."""
        return cls(query.status(), query.alerts(), time.monotonic())


class ModelReader:
    """Takes the probe's readings; the incident timings (a read of each model's audit trail
    over :data:`INCIDENT_LOOKBACK_DAYS`) only every :data:`INCIDENT_SECONDS`, since they change
    only when an incident ends."""

    def __init__(self, query: Query, models: list[str]) -> None:
        self._query = query
        self._models = models
        self._times: dict[tuple[str, int], MeanTimes] = {}
        self._next = 0.0

    def __call__(self) -> ModelReading:
        reading = ModelReading.read(self._query)
        if reading.at >= self._next:
            now = time.time()
            since = now - INCIDENT_LOOKBACK_DAYS * 86_400
            times = {}
            for model in self._models:
                found = incidents(self._query.history(model, since=since))
                for days in MTTR_DAYS:
                    times[model, days] = mean_times(found, now, days)
            self._times, self._next = times, reading.at + INCIDENT_SECONDS
        return dataclasses.replace(reading, incident_times=self._times)


@dataclass(slots=True)
class Watch:
    """One dependency's checks: the last answer, and a check still waiting for one."""

    name: str
    check: Callable[[], str]
    error: str = ""
    running_since: float | None = None

    @property
    def problem(self) -> str:
        """Why the dependency counts as down now ("" when it answered last time, in time)."""
        since = self.running_since
        if since is not None and time.monotonic() - since > PROBE_TIMEOUT_SECONDS:
            return f"{self.name} not answering for {time.monotonic() - since:.0f}s"
        return self.error

    def once(self) -> None:
        self.running_since = time.monotonic()
        try:
            self.error = self.check()
        finally:
            self.running_since = None


class DependencyProbe:
    """Checks Redis and Kafka in daemon threads; readers get the last results."""

    def __init__(
        self,
        client: redis.Redis,
        kafka: KafkaSettings,
        read: Callable[[], ModelReading],
    ) -> None:
        self._redis = client
        self._kafka = kafka
        self._admin: Any = None
        self._read = read
        self.redis = Watch("redis", self._ping_redis)
        self.kafka = Watch("kafka", self._ask_kafka)
        #: The last reading behind the Redis-fed gauges (None: not read yet).
        self.reading: ModelReading | None = None
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(self.redis, True), daemon=True),
            threading.Thread(target=self._run, args=(self.kafka, False), daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._admin is not None:
            self._admin.close()

    def check_once(self) -> None:
        """Check both dependencies now (the threads do this every PROBE_SECONDS)."""
        self.redis.once()
        self.kafka.once()

    def _run(self, watch: Watch, reads_models: bool) -> None:
        next_reading = 0.0
        while not self._stop.is_set():
            watch.once()
            now = time.monotonic()
            if reads_models and now >= next_reading and not watch.error:
                self.read_models()
                next_reading = now + PENDING_SECONDS
            self._stop.wait(PROBE_SECONDS)

    def _ping_redis(self) -> str:
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            return f"redis unreachable: {exc}"
        return ""

    def _ask_kafka(self) -> str:
        timeout_ms = int(PROBE_TIMEOUT_SECONDS * 1000)
        try:
            if self._admin is None:
                self._admin = KafkaAdminClient(
                    **self._kafka.client_kwargs(),
                    request_timeout_ms=timeout_ms,
                    bootstrap_timeout_ms=timeout_ms,
                    reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
                )
            self._admin.describe_cluster()
        except Exception as exc:  # whatever fails, the probe reports it and lives on
            refused = refusal(exc, self._kafka)  # credentials rotated under a running daemon
            return str(refused) if refused else f"kafka unreachable: {type(exc).__name__}: {exc}"
        return ""

    def read_models(self) -> None:
        """Take a new reading (the Redis thread does every PENDING_SECONDS); on failure the last
        one stays, and its age, which the gauges report, grows."""
        try:
            self.reading = self._read()
        except redis.RedisError as exc:
            log.debug("model gauges not read: %s", exc)
        except Exception:  # a bug must not end the thread that also watches Redis for /readyz
            log.warning("model gauges not read", exc_info=True)
