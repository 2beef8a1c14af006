"""The daemon's lifecycle: start, loop, drain, stop.

1. Connect to Redis and Kafka, failing at start-up with a message that says what to check.
2. Serve ``/healthz``, ``/readyz`` and ``/metrics``; start the window evaluator thread.
3. Run the poll loop until SIGTERM or SIGINT.
4. Drain: the batch in hand is checkpointed, offsets are copied to Kafka, the consumer leaves its
   group (so its partitions move at once), the dead-letter producer flushes. A second SIGINT, or
   a drain longer than ``runtime.shutdown_timeout_seconds``, exits at once — safe, because
   Redis holds every checkpoint and an unfinished batch is simply replayed by the next owner.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
from types import FrameType

import redis
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from monitor.config import Settings
from monitor.errors import DriftwatchError
from monitor.ingest.batch import BatchProcessor
from monitor.ingest.consumer import Ingestor
from monitor.ingest.deadletter import DeadLetterSink
from monitor.runtime.evaluator import WindowEvaluator
from monitor.runtime.health import HealthServer
from monitor.runtime.metrics import Metrics, PendingJoins
from monitor.store.client import connect
from monitor.store.query import Query

log = logging.getLogger(__name__)


class Daemon:
    """One Driftwatch process: a member of the consumer group writing to the shared Redis."""

    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.metrics = Metrics(registry or CollectorRegistry())
        # Step 1
        self._redis = connect(settings.redis)
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise DriftwatchError(
                f"Redis at {settings.redis.url} did not answer ({exc}); start it "
                "(`driftwatch services up` for a local one) or fix redis.url"
            ) from exc
        self.metrics.registry.register(PendingJoins(Query(self._redis, settings).ingest))
        servers = ", ".join(settings.kafka.bootstrap_servers)
        try:
            self._sink = DeadLetterSink(settings.kafka)
            processor = BatchProcessor(settings, self._redis, self._sink, self.metrics)
            self.ingestor = Ingestor(settings, processor, self.metrics)
        except KafkaError as exc:
            raise DriftwatchError(
                f"no Kafka broker at {servers} answered ({exc}); start it or fix "
                "kafka.bootstrap_servers (and the security settings)"
            ) from exc
        self.evaluator = WindowEvaluator(settings, self._redis)
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
        self._evaluator_thread.start()
        log.info(
            "driftwatch started: group=%s topics=%s,%s",
            self.settings.kafka.group_id,
            self.settings.kafka.predictions_topic,
            self.settings.kafka.outcomes_topic,
        )
        _tune_gc()
        try:
            self.ingestor.run(self.stop_event)  # Step 3
        finally:
            self._drain()  # Step 4
        return 0

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.stop_event.is_set():
            if signum == signal.SIGINT:  # a person pressing Ctrl-C twice means "now"
                log.warning("second SIGINT: exiting now; the next owner replays the open batch")
                os._exit(1)
            return  # repeated SIGTERM (e.g. sent to the whole process group): already draining
        log.info("%s received: finishing the current batch", name)
        self.stop_event.set()
        timeout = self.settings.runtime.shutdown_timeout_seconds
        watchdog = threading.Timer(timeout, self._drain_timed_out, args=(timeout,))
        watchdog.daemon = True
        watchdog.start()

    def _drain_timed_out(self, timeout: float) -> None:
        log.warning("drain exceeded %.0fs: exiting; the next owner replays the open batch", timeout)
        os._exit(1)

    def _drain(self) -> None:
        self.stop_event.set()
        self._evaluator_thread.join(timeout=10)
        self.ingestor.close()
        self._sink.close()
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
            len(self.ingestor.state.claims),
        )

    def _ready(self) -> tuple[bool, str]:
        state = self.ingestor.state
        if state.outage:
            return False, f"{state.outage} unavailable, consumption paused: {state.outage_detail}"
        if not state.joined:
            return False, "not yet assigned by the consumer group"
        return True, f"{len(state.claims)} partitions"


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
