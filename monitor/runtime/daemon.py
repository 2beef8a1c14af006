"""The daemon's lifecycle: start, loop, drain, stop.

1. Connect to Redis and Kafka, failing at start-up with a message that says what to check (a
   refused password or right is not retried: :class:`~monitor.errors.AccessRefusedError`).
2. Serve ``/healthz``, ``/readyz`` and ``/metrics``; start the dependency probe and the window
   evaluator threads.
3. Run the poll loop until ``stop_event`` is set (SIGTERM or SIGINT, :mod:`monitor.runtime.signals`,
   possibly already during step 1: then the loop does not start).
4. Drain: the batch in hand is checkpointed, offsets are copied to Kafka, the consumer leaves its
   group (so its partitions move at once), the dead-letter producer flushes.
"""

from __future__ import annotations

import gc
import logging
import threading

from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from monitor.config import Settings, masked_url
from monitor.errors import DriftwatchError
from monitor.ingest.batch import BatchProcessor
from monitor.ingest.consumer import Ingestor
from monitor.ingest.deadletter import DeadLetterSink
from monitor.metrics import Metrics, ModelMetrics, PendingJoins
from monitor.runtime.evaluator import WindowEvaluator
from monitor.runtime.health import HealthServer
from monitor.runtime.probe import PROBE_TIMEOUT_SECONDS, DependencyProbe, ModelReader
from monitor.store import layout
from monitor.store.client import check_access, check_rights, connect
from monitor.store.keys import Keys
from monitor.store.query import Query

log = logging.getLogger(__name__)


class Daemon:
    """One Driftwatch process: a member of the consumer group writing to the shared Redis."""

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        *,
        stop_event: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.stop_event = stop_event or threading.Event()
        self.metrics = Metrics(registry or CollectorRegistry())
        # Step 1
        self._redis = connect(settings.redis)
        # A wrong password or missing rights stop the daemon here, in one line: no wait mends
        # them, and the loop would otherwise wait on them for ever.
        check_access(self._redis, settings.redis)
        check_rights(self._redis, settings.redis, Keys(settings.redis.key_prefix).parts)
        layout.check(self._redis, settings.redis, mark=True)
        probe_client = connect(
            settings.redis, timeout_seconds=PROBE_TIMEOUT_SECONDS, retry_connection_errors=0
        )
        read = ModelReader(Query(probe_client, settings), [m.name for m in settings.models])
        self.probe = DependencyProbe(probe_client, settings.kafka, read)
        self.metrics.registry.register(PendingJoins(self.probe))
        self.metrics.registry.register(ModelMetrics(self.probe))
        servers = ", ".join(settings.kafka.bootstrap_servers)
        try:
            self._sink = DeadLetterSink(settings.kafka)
            processor = BatchProcessor(settings, self._redis, self._sink, self.metrics)
            self.ingestor = Ingestor(settings.kafka, settings.ingest, processor, self.metrics)
        except KafkaError as exc:
            raise DriftwatchError(
                f"no Kafka broker at {servers} answered ({exc}); start it or fix "
                "kafka.bootstrap_servers (and the security settings)"
            ) from exc
        self.evaluator = WindowEvaluator(settings, self._redis, self.metrics)
        self._evaluator_thread = threading.Thread(
            target=self.evaluator.run, args=(self.stop_event,), name="evaluator", daemon=True
        )
        rt = settings.runtime
        self.health = HealthServer(
            rt.http_host,
            rt.http_port,
            self.metrics.registry,
            lambda: self.ingestor.state.last_iteration,
            self._ready,
        )

    def run(self) -> int:
        """Steps 2–4; returns the process exit code."""
        self.health.start()  # Step 2
        self.probe.start()
        self._evaluator_thread.start()
        log.info(
            "driftwatch started: group=%s topics=%s,%s redis=%s",
            self.settings.kafka.group_id,
            self.settings.kafka.predictions_topic,
            self.settings.kafka.outcomes_topic,
            masked_url(self.settings.redis.url),
        )
        _tune_gc()
        if self.stop_event.is_set():
            log.info("stop requested during start-up: stopping before consuming anything")
        try:
            self.ingestor.run(self.stop_event)  # Step 3
        finally:
            self._drain()  # Step 4
        return 0

    def _drain(self) -> None:
        self.stop_event.set()
        self._evaluator_thread.join(timeout=10)
        self.ingestor.close()
        self._sink.close()
        self.probe.stop()
        self.health.stop()
        processed = sum(
            s.value
            for metric in self.metrics.events.collect()
            for s in metric.samples
            if s.name.endswith("_total")
        )
        log.info(
            "driftwatch stopped: %d events processed, %d partitions released",
            processed,
            len(self.ingestor.state.owned),
        )

    def _ready(self) -> tuple[bool, str]:
        """From memory only: the loop's outage state and the probe's last checks."""
        state = self.ingestor.state
        if state.outage:
            return False, f"{state.outage} unavailable, consumption paused: {state.outage_detail}"
        for watch in (self.probe.redis, self.probe.kafka):
            if watch.problem:
                return False, watch.problem
        if not state.joined:
            return False, "not yet assigned by the consumer group"
        return True, f"{len(state.owned)} partitions"


def _tune_gc() -> None:
    """Keep the cyclic garbage collector off the hot path.

    Each batch allocates hundreds of thousands of short-lived, acyclic objects (decoded events,
    feature rows), which with the default thresholds (700, 10, 10) trigger a young collection
    every few hundred events and repeatedly rescan the long-lived start-up objects (config,
    reference profiles, modules). Freezing what exists after start-up and raising the young
    threshold cut the daemon's CPU per event by about a fifth in ``benchmarks/ingest.py``; memory
    stays bounded because reference counting, not the collector, frees almost everything.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1_000)
