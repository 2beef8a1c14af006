"""The poll loop: batches per partition, claims on assignment, pause and retry on outages.

One iteration of :meth:`Ingestor.run`:

1. Drain rebalance changes: drop revoked partitions, queue assigned ones for claiming.
2. Claim queued partitions (new epoch in Redis) and seek each to its stored offset.
3. Retry batches blocked by an outage, once their backoff has passed.
4. Poll (``max_records``) and process each claimed partition's records as one batch.
5. Every few seconds: sweep idle partitions, commit offsets to Kafka (advisory, for lag
   tooling), update lag and pending gauges.

While Redis or the dead-letter topic is unavailable every partition is paused but the loop keeps
polling, so the member stays in its group (no ``max_poll_interval_ms`` trip) and the blocked batch
is retried with exponential backoff; nothing is skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError

from monitor.config import Settings
from monitor.errors import FencedError, SinkUnavailableError, StoreUnavailableError
from monitor.ingest.batch import BatchProcessor, Record
from monitor.ingest.rebalance import RebalanceLog
from monitor.runtime.metrics import Metrics
from monitor.store.checkpoint import Claim

log = logging.getLogger(__name__)

#: Longest wait in poll: bounds how late a stop request or a maintenance tick is noticed.
POLL_TIMEOUT_MS = 500
#: Housekeeping period: offsets to Kafka, gauges, sweeps of idle partitions.
MAINTENANCE_SECONDS = 5.0
#: Backoff after an outage, doubling up to the maximum: gentle on a restarting Redis or broker.
BACKOFF_INITIAL_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 10.0
#: Partition batches processed at once: enough to keep Redis and the Python thread both busy.
PARALLEL_BATCHES = 4


@dataclass(slots=True)
class Backoff:
    """Exponential backoff; ``due`` says whether the next attempt may run now."""

    delay: float = 0.0
    next_attempt: float = 0.0

    def failed(self, now: float) -> None:
        self.delay = min(BACKOFF_MAX_SECONDS, max(BACKOFF_INITIAL_SECONDS, self.delay * 2))
        self.next_attempt = now + self.delay

    def reset(self) -> None:
        self.delay = 0.0
        self.next_attempt = 0.0

    def due(self, now: float) -> bool:
        return now >= self.next_attempt


@dataclass(slots=True)
class LoopState:
    """What this instance owns right now; read by the health endpoint."""

    claims: dict[TopicPartition, Claim] = field(default_factory=dict)
    unclaimed: set[TopicPartition] = field(default_factory=set)
    blocked: dict[TopicPartition, list[Record]] = field(default_factory=dict)
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    last_batch: dict[TopicPartition, float] = field(default_factory=dict)
    last_iteration: float = 0.0
    outage: str = ""
    #: True once the group assigned this member (possibly nothing: more members than partitions).
    joined: bool = False


class Ingestor:
    """Runs the consumer group member until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        processor: BatchProcessor,
        metrics: Metrics,
        *,
        consumer_factory: Callable[..., KafkaConsumer] = KafkaConsumer,
    ) -> None:
        self._settings = settings
        self._processor = processor
        self._metrics = metrics
        self._rebalance = RebalanceLog()
        self._pool = ThreadPoolExecutor(PARALLEL_BATCHES, thread_name_prefix="batch")
        self._backoff = Backoff()
        self.state = LoopState()
        k = settings.kafka
        self._consumer = consumer_factory(
            **k.client_kwargs(),
            group_id=k.group_id,
            enable_auto_commit=False,
            auto_offset_reset=settings.ingest.start_from,
            max_poll_records=k.max_poll_records,
            session_timeout_ms=k.session_timeout_ms,
            heartbeat_interval_ms=max(100, k.session_timeout_ms // 3),
        )
        self._consumer.subscribe([k.predictions_topic, k.outcomes_topic], listener=self._rebalance)

    def run(self, stop: threading.Event) -> None:
        """The loop; returns after ``stop`` is set and the current batch is checkpointed."""
        next_maintenance = time.monotonic() + MAINTENANCE_SECONDS
        while not stop.is_set():
            now = time.monotonic()
            self.state.last_iteration = now
            self._apply_rebalance()  # Step 1
            if self._backoff.due(now):
                self._claim_unclaimed()  # Step 2
                self._retry_blocked()  # Step 3
            self._poll_and_process()  # Step 4
            if now >= next_maintenance:  # Step 5
                self._maintain()
                next_maintenance = now + MAINTENANCE_SECONDS
        self._commit(sync=True)

    def close(self) -> None:
        """Leave the group promptly so the partitions move to another instance."""
        self._pool.shutdown(wait=True)
        try:
            self._consumer.close(autocommit=False)
        except KafkaError as exc:
            log.warning("closing the consumer failed (%s); the group will time us out", exc)

    # Step 1 ------------------------------------------------------------------------------
    def _apply_rebalance(self) -> None:
        for change in self._rebalance.drain():
            if change.action == "revoke":
                for tp in change.partitions:
                    self._drop(tp)
                log.info("revoked %s", _names(change.partitions))
            else:
                self.state.joined = True
                self.state.unclaimed.update(change.partitions)
                log.info("assigned %s", _names(change.partitions))
        self._metrics.partitions_owned.set(len(self.state.claims))

    def _drop(self, tp: TopicPartition) -> None:
        claim = self.state.claims.pop(tp, None)
        if claim is not None:
            self._processor.detectors.forget(claim.keys)
        self.state.unclaimed.discard(tp)
        self.state.blocked.pop(tp, None)
        self.state.next_offsets.pop(tp, None)
        self.state.last_batch.pop(tp, None)

    # Step 2 ------------------------------------------------------------------------------
    def _claim_unclaimed(self) -> None:
        for tp in sorted(self.state.unclaimed):
            try:
                claim = self._processor.checkpoint.claim(tp.topic, tp.partition)
            except StoreUnavailableError as exc:
                self._outage("redis", exc)
                return
            self.state.unclaimed.discard(tp)
            if tp not in self._consumer.assignment():
                continue  # revoked meanwhile; the change is drained next iteration
            if claim.next_offset is None:
                if self._settings.ingest.start_from == "earliest":
                    self._consumer.seek_to_beginning(tp)
                else:
                    self._consumer.seek_to_end(tp)
            else:
                self._consumer.seek(tp, claim.next_offset)
                self.state.next_offsets[tp] = claim.next_offset
            self._processor.detectors.forget(claim.keys)  # reload what the last owner left
            self.state.claims[tp] = claim
            log.info(
                "claimed %s[%d] epoch=%d offset=%s",
                tp.topic, tp.partition, claim.epoch, claim.next_offset,
            )  # fmt: skip
        self._metrics.partitions_owned.set(len(self.state.claims))

    # Step 3 ------------------------------------------------------------------------------
    def _retry_blocked(self) -> None:
        for tp, records in list(self.state.blocked.items()):
            if not self._run_batch(tp, records):
                return
            del self.state.blocked[tp]
        if not self.state.blocked and self.state.outage:
            log.info("recovered from %s outage; resuming consumption", self.state.outage)
            self.state.outage = ""
            self._backoff.reset()
            self._consumer.resume(*self._consumer.paused())

    # Step 4 ------------------------------------------------------------------------------
    def _poll_and_process(self) -> None:
        try:
            polled = self._consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
        except KafkaError as exc:
            self._outage("kafka", exc)
            time.sleep(self._backoff.delay)
            return
        work: list[tuple[TopicPartition, list[Record]]] = []
        for tp, messages in polled.items():
            records: list[Record] = [(m.offset, m.key, m.value) for m in messages]
            if tp not in self.state.claims or tp in self.state.blocked or self.state.outage:
                if tp in self.state.claims:
                    # Fetched while paused or blocked: rewind so none is skipped.
                    self._consumer.seek(tp, records[0][0])
                continue
            work.append((tp, records))
        # Partitions are independent (all shared state goes through the checkpoint script), so
        # their batches run side by side: one batch's Python work overlaps another's Redis time.
        claims = [self.state.claims[tp] for tp, _ in work]
        outcomes = self._pool.map(self._attempt, claims, [records for _, records in work])
        for (tp, records), error in zip(work, outcomes, strict=True):
            if not self._settle(tp, records, error) and tp in self.state.claims:
                self.state.blocked[tp] = records

    def _attempt(self, claim: Claim, records: list[Record]) -> Exception | None:
        """Run in a worker thread; the loop thread settles the result."""
        try:
            self._processor.process(claim, records)
        except (FencedError, StoreUnavailableError, SinkUnavailableError) as exc:
            return exc
        except Exception as exc:  # a bug, not bad input: keep the batch, log, back off, retry
            log.exception(
                "batch of %s[%d] at offset %d failed; it is retried, nothing is skipped",
                claim.topic, claim.partition, records[0][0],
            )  # fmt: skip
            return exc
        return None

    def _run_batch(self, tp: TopicPartition, records: list[Record]) -> bool:
        """Process one batch in the loop thread; False when it must be retried later."""
        claim = self.state.claims.get(tp)
        if claim is None:
            return True
        return self._settle(tp, records, self._attempt(claim, records))

    def _settle(self, tp: TopicPartition, records: list[Record], error: Exception | None) -> bool:
        """Record a batch's result; False when it must be retried after an outage."""
        if isinstance(error, FencedError):
            log.warning("%s; dropping the partition (its new owner continues exactly)", error)
            self._metrics.fenced.inc()
            self._consumer.pause(tp)
            self._drop(tp)
            return True
        if error is not None:
            self._outage(_dependency(error), error)
            return False
        self.state.next_offsets[tp] = records[-1][0] + 1
        self.state.last_batch[tp] = time.monotonic()
        return True

    def _outage(self, dependency: str, exc: Exception) -> None:
        """Pause everything and back off; the blocked batch stays in memory until it applies."""
        self._metrics.outages.labels(dependency).inc()
        if not self.state.outage:
            log.warning(
                "%s unavailable (%s); pausing consumption, no event is lost or skipped",
                dependency, exc,
            )  # fmt: skip
        self.state.outage = dependency
        self._backoff.failed(time.monotonic())
        claimed = [tp for tp in self._consumer.assignment() if tp in self.state.claims]
        if claimed:
            self._consumer.pause(*claimed)

    # Step 5 ------------------------------------------------------------------------------
    def _maintain(self) -> None:
        if self.state.outage:
            return
        now = time.monotonic()
        for tp, claim in list(self.state.claims.items()):
            if now - self.state.last_batch.get(tp, 0.0) < MAINTENANCE_SECONDS:
                continue
            try:
                self._processor.sweep(claim)
            except FencedError:
                self._metrics.fenced.inc()
                self._drop(tp)
            except StoreUnavailableError as exc:
                self._outage("redis", exc)
                return
        self._commit(sync=False)
        for tp in self.state.claims:
            try:
                high = self._consumer.highwater(tp)
                position = self._consumer.position(tp, timeout_ms=0)
            except KafkaError:
                continue
            if high is not None and position is not None:
                self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(high - position)

    def _commit(self, *, sync: bool) -> None:
        """Copy Redis checkpoints to Kafka so lag tools see progress (never read back)."""
        offsets = {
            tp: OffsetAndMetadata(offset, "", -1)
            for tp, offset in self.state.next_offsets.items()
            if tp in self.state.claims
        }
        if not offsets:
            return
        try:
            if sync:
                self._consumer.commit(offsets)
            else:
                self._consumer.commit_async(offsets)
        except KafkaError as exc:
            log.info("advisory offset commit failed (%s); Redis holds the checkpoint", exc)


def _dependency(error: Exception) -> str:
    """The metric label of what failed: a dependency, or our own code."""
    if isinstance(error, StoreUnavailableError):
        return "redis"
    if isinstance(error, SinkUnavailableError):
        return "kafka"
    return "internal"


def _names(partitions: tuple[TopicPartition, ...]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions))
