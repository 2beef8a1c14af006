"""The poll loop: a queue per partition, one batch in flight per partition, retry on outages.

One iteration of :meth:`Ingestor.run`:

1. Drain rebalance changes: drop revoked partitions with what they had queued, queue assigned
   ones for claiming.
2. Settle finished batches: advance their partition, or after an outage put the batch back at
   the head of its queue and hold consumption.
3. Claim queued partitions (new epoch in Redis) and seek each to its stored offset.
4. Dispatch: every claimed partition with queued records and no batch in flight hands up to
   ``ingest.max_batch_records`` of them to the worker pool as one batch.
5. Poll (``max_records``) and queue the records, unless the queues are full or a dependency is
   down: then wait for a batch to finish instead, polling one record a second only to stay in
   the group (backpressure without ``pause()``, whose resume can leave a partition stalled in
   kafka-python 3.0.12: parked fetched data is only restored while no other data is in line).
6. Every few seconds: sweep idle partitions, commit offsets to Kafka (advisory, for lag
   tooling), update the lag gauges.

Polling goes on while batches are applied, so the Kafka client's work overlaps ours and Redis',
and records arriving during a batch make the next one larger: batches grow with load, which
amortises each batch's fixed cost exactly when throughput matters.

While Redis or the dead-letter topic is unavailable nothing new is fetched but the loop keeps
polling now and then, so the member stays in its group (no ``max_poll_interval_ms`` trip), and
the failed batch is retried with exponential backoff; nothing is skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError

from monitor.config import Settings
from monitor.errors import FencedError, SinkUnavailableError, StoreUnavailableError
from monitor.events import Record
from monitor.ingest.batch import BatchProcessor
from monitor.ingest.rebalance import RebalanceLog
from monitor.runtime.metrics import Metrics
from monitor.store.checkpoint import Claim

log = logging.getLogger(__name__)

#: Longest wait in poll while idle: bounds how late a stop request or a maintenance tick is noticed.
POLL_TIMEOUT_MS = 500
#: Wait in poll while batches are in flight or queued: how soon a finished batch is followed up.
BUSY_POLL_TIMEOUT_MS = 5
#: Records queued over all partitions, in batches, before polling stops: bounds memory.
QUEUED_BATCHES_LIMIT = 4
#: While polling is held back, wait this long at most for a batch to finish ...
HOLD_WAIT_SECONDS = 0.05
#: ... and poll one record this often to stay in the group and hear of rebalances.
LIVENESS_POLL_SECONDS = 1.0
#: Housekeeping period: offsets to Kafka, gauges, sweeps of idle partitions.
MAINTENANCE_SECONDS = 5.0
#: Backoff after an outage, doubling up to the maximum: gentle on a restarting Redis or broker.
BACKOFF_INITIAL_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 10.0
#: Worker threads applying batches: enough to keep Redis and the Python thread both busy.
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
class InFlight:
    """A batch handed to the worker pool."""

    claim: Claim
    records: list[Record]
    future: Future[Exception | None]


@dataclass(slots=True)
class LoopState:
    """What this instance owns right now; read by the health endpoint."""

    claims: dict[TopicPartition, Claim] = field(default_factory=dict)
    unclaimed: set[TopicPartition] = field(default_factory=set)
    #: Records fetched but not yet applied, in offset order, per claimed partition.
    queued: dict[TopicPartition, list[Record]] = field(default_factory=dict)
    in_flight: dict[TopicPartition, InFlight] = field(default_factory=dict)
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    last_batch: dict[TopicPartition, float] = field(default_factory=dict)
    last_iteration: float = 0.0
    outage: str = ""
    #: The outage's latest error, for ``/readyz``: on-call reads what to do there.
    outage_detail: str = ""
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
        self._batch_max = settings.ingest.max_batch_records
        self._rebalance = RebalanceLog()
        self._pool = ThreadPoolExecutor(PARALLEL_BATCHES, thread_name_prefix="batch")
        self._backoff = Backoff()
        self._last_poll = 0.0
        self.state = LoopState()
        k = settings.kafka
        self._consumer = consumer_factory(
            **k.client_kwargs(),
            group_id=k.group_id,
            enable_auto_commit=False,
            auto_offset_reset=settings.ingest.start_from,
            max_poll_records=k.max_poll_records,
            session_timeout_ms=k.session_timeout_ms,
            max_poll_interval_ms=k.max_poll_interval_ms,
            heartbeat_interval_ms=max(100, k.session_timeout_ms // 3),
        )
        self._consumer.subscribe([k.predictions_topic, k.outcomes_topic], listener=self._rebalance)

    def run(self, stop: threading.Event) -> None:
        """The loop; returns after ``stop`` is set and the batches in hand are checkpointed."""
        next_maintenance = time.monotonic() + MAINTENANCE_SECONDS
        while not stop.is_set():
            now = time.monotonic()
            self.state.last_iteration = now
            self._apply_rebalance()  # Step 1
            self._settle_finished()  # Step 2
            if self._backoff.due(now):
                self._claim_unclaimed()  # Step 3
                self._dispatch()  # Step 4
            self._poll()  # Step 5
            if now >= next_maintenance:  # Step 6
                self._maintain()
                next_maintenance = now + MAINTENANCE_SECONDS
        self._finish()
        self._commit(sync=True)

    def close(self) -> None:
        """Leave the group promptly so the partitions move to another instance."""
        self._pool.shutdown(wait=True)
        try:
            self._consumer.close(autocommit=False)
        except KafkaError as exc:
            log.warning("closing the consumer failed (%s); the group will time us out", exc)

    def _finish(self) -> None:
        """On stop: settle the batches in flight, then apply what is queued, once."""
        for batch in list(self.state.in_flight.values()):
            batch.future.result()
        self._settle_finished()
        if not self.state.outage:
            self._dispatch()
            for batch in list(self.state.in_flight.values()):
                batch.future.result()
            self._settle_finished()

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
        """Forget a partition; a batch of it still in flight is fenced or already applied."""
        claim = self.state.claims.pop(tp, None)
        if claim is not None:
            self._processor.detectors.forget(claim.keys)
        self.state.unclaimed.discard(tp)
        self.state.queued.pop(tp, None)
        self.state.next_offsets.pop(tp, None)
        self.state.last_batch.pop(tp, None)

    # Step 2 ------------------------------------------------------------------------------
    def _settle_finished(self) -> None:
        for tp, batch in list(self.state.in_flight.items()):
            if batch.future.done():
                del self.state.in_flight[tp]
                self._settle(tp, batch, batch.future.result())

    def _settle(self, tp: TopicPartition, batch: InFlight, error: Exception | None) -> None:
        if self.state.claims.get(tp) is not batch.claim:
            return  # revoked (and maybe claimed again) meanwhile: the result is not ours to use
        if isinstance(error, FencedError):
            log.warning("%s; dropping the partition (its new owner continues exactly)", error)
            self._metrics.fenced.inc()
            self._drop(tp)
        elif error is not None:  # put it back at the head of the queue, retry after backoff
            self.state.queued[tp] = batch.records + self.state.queued.get(tp, [])
            self._outage(_dependency(error), error)
        else:
            self.state.next_offsets[tp] = batch.records[-1][0] + 1
            self.state.last_batch[tp] = time.monotonic()
            if not self.state.in_flight and self.state.outage:
                self._recovered()

    def _recovered(self) -> None:
        log.info("recovered from %s outage; resuming consumption", self.state.outage)
        self.state.outage = self.state.outage_detail = ""
        self._backoff.reset()

    def _outage(self, dependency: str, exc: Exception) -> None:
        """Hold consumption and back off; queued batches stay in memory until they apply."""
        self._metrics.outages.labels(dependency).inc()
        if not self.state.outage:
            log.warning(
                "%s unavailable (%s); pausing consumption, no event is lost or skipped",
                dependency, exc,
            )  # fmt: skip
        self.state.outage, self.state.outage_detail = dependency, str(exc)
        self._backoff.failed(time.monotonic())

    # Step 3 ------------------------------------------------------------------------------
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

    # Step 4 ------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Partitions are independent (shared state goes through the checkpoint script), so
        their batches run side by side: one batch's Python work overlaps another's Redis time."""
        if self.state.outage:
            if self.state.in_flight:
                return  # retry one batch at a time until the dependency is back
            if not self.state.queued:
                self._recovered()  # nothing failed is waiting: the outage was noticed elsewhere
        for tp, queue in list(self.state.queued.items()):
            if tp in self.state.in_flight:
                continue
            records, rest = queue[: self._batch_max], queue[self._batch_max :]
            if rest:
                self.state.queued[tp] = rest
            else:
                del self.state.queued[tp]
            claim = self.state.claims[tp]
            future = self._pool.submit(self._attempt, claim, records)
            self.state.in_flight[tp] = InFlight(claim, records, future)
            if self.state.outage:
                return

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

    # Step 5 ------------------------------------------------------------------------------
    def _poll(self) -> None:
        max_records = None
        if self.state.outage or self._queued() >= QUEUED_BATCHES_LIMIT * self._batch_max:
            self._hold()
            if time.monotonic() - self._last_poll < LIVENESS_POLL_SECONDS:
                return
            max_records = 1
        busy = bool(self.state.in_flight or self.state.queued)
        try:
            polled = self._consumer.poll(
                timeout_ms=0 if max_records else BUSY_POLL_TIMEOUT_MS if busy else POLL_TIMEOUT_MS,
                max_records=max_records,
            )
        except KafkaError as exc:
            self._outage("kafka", exc)
            return
        self._last_poll = time.monotonic()
        for tp, messages in polled.items():
            if tp in self.state.claims:  # else not claimed yet: the claim seeks where to start
                self.state.queued.setdefault(tp, []).extend(
                    [(m.offset, m.key, m.value) for m in messages]
                )

    def _queued(self) -> int:
        return sum(map(len, self.state.queued.values()))

    def _hold(self) -> None:
        """Wait (briefly) for a batch in flight to finish, or for the outage's backoff."""
        futures = [batch.future for batch in self.state.in_flight.values()]
        if futures:
            wait(futures, timeout=HOLD_WAIT_SECONDS, return_when=FIRST_COMPLETED)
        else:
            time.sleep(HOLD_WAIT_SECONDS)

    # Step 6 ------------------------------------------------------------------------------
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
            # Lag counts from the applied offset: fetched records still queued are not done.
            try:
                high = self._consumer.highwater(tp)
                applied = self.state.next_offsets.get(tp)
                if applied is None:
                    applied = self._consumer.position(tp, timeout_ms=0)
            except KafkaError:
                continue
            if high is not None and applied is not None:
                self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(high - applied)

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
