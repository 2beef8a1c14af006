"""The poll loop: a queue per partition, one batch in flight per partition, retries that settle.

One iteration of :meth:`Ingestor.run`:

1. Drain rebalance changes: drop revoked partitions with what they had queued, queue assigned
   ones for claiming.
2. Settle finished batches (:meth:`Ingestor._settle`):
   - applied (or already applied exactly up to its end): the partition's position moves to the
     batch's end;
   - Redis' stored offset disagrees with the position (overlap, gap, lost claim): claim the
     partition again, which seeks to the stored offset and discards what was queued;
   - fenced: drop the partition (its new owner continues);
   - Redis or the dead-letter topic unavailable: keep the batch to retry *as it was* and hold
     consumption everywhere, with backoff;
   - any other failure: the batch is split in halves, retried half by half, until the record
     that fails alone is found; failing alone twice, it is dead-lettered as ``unprocessable``.
     Only that partition waits meanwhile.
3. Claim queued partitions (new epoch in Redis) and seek each to its stored offset.
4. Dispatch: every owned partition without a batch in flight hands its oldest unsettled batch,
   else up to ``ingest.max_batch_records`` queued records, to the worker pool.
5. Poll (``max_records``) and queue the records, unless the queues are full or a dependency is
   down: then wait for a batch to finish instead, polling one record a second only to stay in
   the group (backpressure without ``pause()``, whose resume can leave a partition stalled in
   kafka-python 3.0.12: parked fetched data is only restored while no other data is in line).
6. Every few seconds: sweep idle partitions and publish dead letters left in their outbox (on the
   worker pool), claim again a partition fenced long ago but still assigned, commit offsets to
   Kafka (advisory, for lag tooling), update the lag gauges.

A batch covers the offsets from the partition's *position* (the previous batch's end, or the
claimed offset) to its last record, so offsets Kafka skips never look like a gap, and a retry is
never merged with records fetched after it: the checkpoint accepts exactly the next records
(``monitor/store/checkpoint.py``). Polling goes on while batches are applied, so records arriving
during a batch make the next one larger: batches grow with load, which amortises each batch's
fixed cost exactly when throughput matters.
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
from monitor.ingest.batch import Batch, BatchProcessor, BatchResult
from monitor.ingest.rebalance import RebalanceLog
from monitor.runtime.metrics import Metrics
from monitor.store.checkpoint import Claim, Status

log = logging.getLogger(__name__)

#: Longest wait in poll while idle: bounds how late a stop request or a maintenance tick is noticed.
POLL_TIMEOUT_MS = 500
#: Wait in poll while batches are in flight or queued: how soon a finished batch is followed up.
BUSY_POLL_TIMEOUT_MS = 5
#: Records queued over all partitions, in batches, before polling stops: bounds memory.
QUEUED_BATCHES_LIMIT = 4
#: Bytes of record values in one batch at most: bounds the checkpoint's arguments (dead letters
#: travel whole) far below Redis' query buffer limit, whatever the record sizes.
MAX_BATCH_BYTES = 32 << 20
#: While polling is held back, wait this long at most for a batch to finish ...
HOLD_WAIT_SECONDS = 0.05
#: ... and poll one record this often to stay in the group and hear of rebalances.
LIVENESS_POLL_SECONDS = 1.0
#: Housekeeping period: offsets to Kafka, gauges, sweeps of idle partitions.
MAINTENANCE_SECONDS = 5.0
#: Backoff after a failure, doubling up to the maximum: gentle on a restarting Redis or broker.
BACKOFF_INITIAL_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 10.0
#: Worker threads applying batches: enough to keep Redis and the Python thread both busy.
PARALLEL_BATCHES = 4
#: A record that makes its batch fail this many times alone is dead-lettered as unprocessable.
ISOLATION_ATTEMPTS = 2
#: A fenced partition still assigned to this instance after this many session timeouts is
#: claimed again: the group should have moved it by then, so the fence came from a stale owner.
FENCED_RECLAIM_SESSIONS = 3


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
class Unsettled:
    """A batch that failed, retried exactly as it was until it settles."""

    records: list[Record]
    #: Set once the batch is a lone record that kept failing: dead-letter it with this detail.
    unprocessable: str = ""


@dataclass(slots=True)
class InFlight:
    """A batch handed to the worker pool."""

    batch: Batch
    #: True when it is the partition's oldest unsettled batch (else it came from the queue).
    retry: bool
    future: Future[BatchResult | Exception]


@dataclass(slots=True)
class Owned:
    """A partition this instance claimed, and everything the loop knows of it."""

    claim: Claim
    #: Next offset to apply (the next batch's first); None until a fresh partition's first batch.
    position: int | None
    #: Next offset expected from Kafka: records below it are already held (or applied).
    fetched: int | None
    #: Fetched records not yet in a batch, in offset order.
    queued: list[Record] = field(default_factory=list)
    #: Failed batches (oldest first), retried before anything queued.
    unsettled: list[Unsettled] = field(default_factory=list)
    in_flight: InFlight | None = None
    #: Dead letters may wait in the outbox: the next batch publishes them.
    drain_outbox: bool = False
    failures: int = 0
    backoff: Backoff = field(default_factory=Backoff)
    last_batch: float = 0.0
    #: Whether the first fetch since the claim started where Redis said (checked once).
    start_checked: bool = False

    @property
    def idle(self) -> bool:
        return self.in_flight is None and not self.queued and not self.unsettled


@dataclass(slots=True)
class LoopState:
    """What this instance owns right now; read by the health endpoint."""

    owned: dict[TopicPartition, Owned] = field(default_factory=dict)
    unclaimed: set[TopicPartition] = field(default_factory=set)
    #: Partitions dropped because another owner fenced them, and when.
    fenced: dict[TopicPartition, float] = field(default_factory=dict)
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
        self._fenced_reclaim_seconds = FENCED_RECLAIM_SESSIONS * k.session_timeout_ms / 1000
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
            self._dispatch(now)  # Step 4
            self._poll()  # Step 5
            if now >= next_maintenance:  # Step 6
                self._maintain(now)
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
        """On stop: settle the batches in flight, then dispatch what is waiting, once."""
        self._await_in_flight()
        if not self.state.outage:
            self._dispatch(time.monotonic())
            self._await_in_flight()

    def _await_in_flight(self) -> None:
        for p in list(self.state.owned.values()):
            if p.in_flight is not None:
                p.in_flight.future.result()
        self._settle_finished()

    # Step 1 ------------------------------------------------------------------------------
    def _apply_rebalance(self) -> None:
        for change in self._rebalance.drain():
            for tp in change.partitions:
                self.state.fenced.pop(tp, None)
            if change.action == "revoke":
                for tp in change.partitions:
                    self._drop(tp)
                log.info("revoked %s", _names(change.partitions))
            else:
                self.state.joined = True
                self.state.unclaimed.update(change.partitions)
                log.info("assigned %s", _names(change.partitions))
        self._metrics.partitions_owned.set(len(self.state.owned))

    def _drop(self, tp: TopicPartition) -> None:
        """Forget a partition; a batch of it still in flight is fenced or already applied."""
        owned = self.state.owned.pop(tp, None)
        if owned is not None:
            self._processor.detectors.forget(owned.claim.keys)
        self.state.unclaimed.discard(tp)

    # Step 2 ------------------------------------------------------------------------------
    def _settle_finished(self) -> None:
        for tp, p in list(self.state.owned.items()):
            if p.in_flight is not None and p.in_flight.future.done():
                work, p.in_flight = p.in_flight, None
                self._settle(tp, p, work, work.future.result())

    def _settle(
        self, tp: TopicPartition, p: Owned, work: InFlight, outcome: BatchResult | Exception
    ) -> None:
        batch = work.batch
        now = time.monotonic()
        if isinstance(outcome, FencedError):
            log.warning("%s; dropping the partition (its new owner continues exactly)", outcome)
            self._metrics.fenced.inc()
            self._drop(tp)
            self.state.fenced[tp] = now
        elif isinstance(outcome, Exception):
            p.drain_outbox = True  # the batch may have applied, its dead letters unpublished
            if batch.records and not work.retry:
                p.unsettled.insert(0, Unsettled(list(batch.records), batch.unprocessable))
            if isinstance(outcome, StoreUnavailableError | SinkUnavailableError):
                self._outage(_dependency(outcome), outcome)
            else:
                self._isolate(p, batch, outcome, now)
        elif not outcome.status.in_step or (
            outcome.status is Status.ALREADY_APPLIED and outcome.stored_offset != batch.next_offset
        ):
            self._resync(tp, p, batch, outcome)
        else:  # applied now, or before by an attempt whose answer was lost
            if work.retry:
                p.unsettled.pop(0)
            if batch.records:
                p.position = batch.next_offset
            if batch.drain_outbox:
                p.drain_outbox = False
            p.failures = 0
            p.backoff.reset()
            p.last_batch = now
            if self.state.outage and not any(o.in_flight for o in self.state.owned.values()):
                self._recovered()

    def _isolate(self, p: Owned, batch: Batch, error: Exception, now: float) -> None:
        """A failure that is not an outage: find the record behind it without stopping others."""
        self._metrics.outages.labels("internal").inc()
        p.failures += 1
        p.backoff.failed(now)
        if not batch.records:
            return  # a sweep: tried again at the next maintenance
        head = p.unsettled[0]
        where = f"{batch.claim.topic}[{batch.claim.partition}]"
        if len(head.records) > 1:
            mid = len(head.records) // 2
            p.unsettled[0:1] = [Unsettled(head.records[:mid]), Unsettled(head.records[mid:])]
            p.failures = 0
            p.backoff.reset()
            log.warning(
                "batch of %s at offsets %d..%d failed (%s); retrying it in halves to find the "
                "record behind it", where, head.records[0][0], head.records[-1][0], error,
            )  # fmt: skip
        elif not head.unprocessable and p.failures >= ISOLATION_ATTEMPTS:
            head.unprocessable = f"{type(error).__name__}: {error}"[:160]
            p.failures = 0
            p.backoff.reset()
            log.warning(
                "the record at %s offset %d fails alone (%s); dead-lettering it as "
                "unprocessable so the partition moves on", where, head.records[0][0], error,
            )  # fmt: skip
        elif head.unprocessable:
            log.error(
                "%s cannot even dead-letter the record at offset %d (%s); retrying in %.1fs",
                where, head.records[0][0], error, p.backoff.delay,
            )  # fmt: skip

    def _resync(self, tp: TopicPartition, p: Owned, batch: Batch, result: BatchResult) -> None:
        """Redis' stored offset disagrees with this instance's position: claim again and re-read
        from the stored offset (Kafka still holds the records)."""
        status, stored = result.status, result.stored_offset
        where = f"{tp.topic}[{tp.partition}]"
        self._metrics.resyncs.labels(status.name.lower()).inc()
        if status in (Status.GAP, Status.CLAIM_LOST):
            log.warning(
                "Redis holds %s for %s (offset %s) behind what this instance applied (offset %s): "
                "Redis lost acknowledged writes (restored from an older copy, an OS crash under "
                "appendfsync everysec, a failover to a lagging replica). Claiming it again and "
                "re-reading from offset %s; dead letters of the re-read span may be published "
                "again; alerts already sent cannot be taken back",
                "an older claim" if status is Status.CLAIM_LOST else "an older offset",
                where, stored, batch.first_offset, stored,
            )  # fmt: skip
        else:
            log.info(
                "another writer applied %s up to offset %s (this instance was at %s); claiming "
                "it again from there", where, stored, batch.first_offset,
            )  # fmt: skip
        self._drop(tp)
        self.state.unclaimed.add(tp)

    def _recovered(self) -> None:
        log.info("recovered from %s outage; resuming consumption", self.state.outage)
        self.state.outage = self.state.outage_detail = ""
        self._backoff.reset()

    def _outage(self, dependency: str, exc: Exception) -> None:
        """Hold consumption and back off; unsettled batches stay in memory until they apply."""
        self._metrics.outages.labels(dependency).inc()
        if not self.state.outage:
            log.warning(
                "%s unavailable (%s); consumption paused, the failed batch will be retried",
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
            self._processor.detectors.forget(claim.keys)  # reload what the last owner left
            self.state.owned[tp] = Owned(
                claim, claim.next_offset, claim.next_offset, drain_outbox=claim.outbox > 0
            )
            log.info(
                "claimed %s[%d] epoch=%d offset=%s",
                tp.topic, tp.partition, claim.epoch, claim.next_offset,
            )  # fmt: skip
        self._metrics.partitions_owned.set(len(self.state.owned))

    # Step 4 ------------------------------------------------------------------------------
    def _dispatch(self, now: float) -> None:
        """Partitions are independent (shared state goes through the checkpoint script), so
        their batches run side by side: one batch's Python work overlaps another's Redis time.
        During an outage one batch at a time probes the dependency, unsettled ones first."""
        outage = bool(self.state.outage)
        if outage:
            if any(p.in_flight for p in self.state.owned.values()) or not self._backoff.due(now):
                return
            if not any(p.unsettled or p.queued for p in self.state.owned.values()):
                self._recovered()  # nothing failed is waiting: the outage was noticed elsewhere
                outage = False
        candidates = sorted(self.state.owned.items(), key=lambda item: not item[1].unsettled)
        for tp, p in candidates:
            if p.in_flight is not None or not p.backoff.due(now):
                continue
            if p.unsettled:
                head = p.unsettled[0]
                self._submit(tp, p, head.records, retry=True, unprocessable=head.unprocessable)
            elif p.queued:
                self._submit(tp, p, self._take(p), retry=False)
            else:
                continue
            if outage:
                return

    def _take(self, p: Owned) -> list[Record]:
        """The next batch from the queue: up to max_batch_records and MAX_BATCH_BYTES."""
        records = p.queued[: self._batch_max]
        if sum(len(value) for _, _, value in records if value) > MAX_BATCH_BYTES:
            size = 0
            for i, (_, _, value) in enumerate(records):
                size += len(value or b"")
                if size > MAX_BATCH_BYTES and i > 0:
                    records = records[:i]
                    break
        del p.queued[: len(records)]
        return records

    def _submit(
        self,
        tp: TopicPartition,
        p: Owned,
        records: list[Record],
        *,
        retry: bool,
        unprocessable: str = "",
    ) -> None:
        first = p.position if p.position is not None else records[0][0] if records else -1
        batch = Batch(
            p.claim,
            records,
            first,
            fresh=p.position is None,
            drain_outbox=p.drain_outbox,
            unprocessable=unprocessable,
        )
        p.in_flight = InFlight(batch, retry, self._pool.submit(self._attempt, batch))

    def _attempt(self, batch: Batch) -> BatchResult | Exception:
        """Run in a worker thread; the loop thread settles the result."""
        try:
            return self._processor.process(batch)
        except (FencedError, StoreUnavailableError, SinkUnavailableError) as exc:
            return exc
        except Exception as exc:  # a bug or a poison record: the loop isolates it
            claim = batch.claim
            log.exception(
                "batch of %s[%d] at offset %d failed",
                claim.topic, claim.partition, batch.first_offset,
            )  # fmt: skip
            return exc

    # Step 5 ------------------------------------------------------------------------------
    def _poll(self) -> None:
        max_records = None
        if self.state.outage or self._queued() >= QUEUED_BATCHES_LIMIT * self._batch_max:
            self._hold()
            if time.monotonic() - self._last_poll < LIVENESS_POLL_SECONDS:
                return
            max_records = 1
        busy = any(p.in_flight or p.queued or p.unsettled for p in self.state.owned.values())
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
            p = self.state.owned.get(tp)
            if p is None or not messages:
                continue  # not claimed yet: the claim seeks where to start
            if not p.start_checked:
                p.start_checked = True
                _check_start(tp, p.fetched, messages[0].offset)
            if p.fetched is not None and messages[0].offset < p.fetched:
                messages = [m for m in messages if m.offset >= p.fetched]  # fetched before a seek
                if not messages:
                    continue
            p.queued.extend([(m.offset, m.key, m.value) for m in messages])
            p.fetched = messages[-1].offset + 1

    def _queued(self) -> int:
        return sum(len(p.queued) for p in self.state.owned.values())

    def _hold(self) -> None:
        """Wait (briefly) for a batch in flight to finish, or for the outage's backoff."""
        futures = [p.in_flight.future for p in self.state.owned.values() if p.in_flight]
        if futures:
            wait(futures, timeout=HOLD_WAIT_SECONDS, return_when=FIRST_COMPLETED)
        else:
            time.sleep(HOLD_WAIT_SECONDS)

    # Step 6 ------------------------------------------------------------------------------
    def _maintain(self, now: float) -> None:
        if self.state.outage:
            return
        for tp, p in self.state.owned.items():
            if p.idle and now - p.last_batch >= MAINTENANCE_SECONDS and p.backoff.due(now):
                self._submit(tp, p, [], retry=False)  # sweep expired joins, drain the outbox
        self._reclaim_fenced(now)
        self._commit(sync=False)
        for tp, p in self.state.owned.items():
            # Lag counts from the applied offset: fetched records still queued are not done.
            try:
                high = self._consumer.highwater(tp)
                applied = p.position
                if applied is None:
                    applied = self._consumer.position(tp, timeout_ms=0)
            except KafkaError:
                continue
            if high is not None and applied is not None:
                self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(high - applied)

    def _reclaim_fenced(self, now: float) -> None:
        """A fenced partition normally leaves with the next rebalance; one still assigned long
        after was fenced by a stale owner (say, after a Redis failover): claim it again."""
        if not self.state.fenced:
            return
        assignment = self._consumer.assignment()
        for tp, since in list(self.state.fenced.items()):
            if tp not in assignment:
                del self.state.fenced[tp]
            elif now - since >= self._fenced_reclaim_seconds:
                del self.state.fenced[tp]
                self.state.unclaimed.add(tp)
                log.warning(
                    "%s[%d] is still assigned to this instance %.0fs after it was fenced; "
                    "claiming it again", tp.topic, tp.partition, now - since,
                )  # fmt: skip

    def _commit(self, *, sync: bool) -> None:
        """Copy Redis checkpoints to Kafka so lag tools see progress (never read back)."""
        offsets = {
            tp: OffsetAndMetadata(p.position, "", -1)
            for tp, p in self.state.owned.items()
            if p.position is not None
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


def _check_start(tp: TopicPartition, expected: int | None, first: int) -> None:
    """Say so when Kafka no longer holds the records where Redis says to resume (a gap of one
    offset is the usual transaction marker and goes unsaid)."""
    if expected is None or expected <= first <= expected + 1:
        return
    where = f"{tp.topic}[{tp.partition}]"
    if first > expected:
        log.warning(
            "%s: Kafka no longer holds offsets %d..%d (retention or compaction removed them "
            "before they were read); whatever they held is not counted. Resuming at %d",
            where, expected, first - 1, first,
        )  # fmt: skip
    else:
        log.warning(
            "%s: Kafka's log ends before offset %d, where Redis says to resume: the broker lost "
            "records (an unclean leader election, a restored log). Records it holds below %d "
            "are taken as already counted",
            where, expected, expected,
        )  # fmt: skip


def _dependency(error: Exception) -> str:
    """The metric label of what failed."""
    return "redis" if isinstance(error, StoreUnavailableError) else "kafka"


def _names(partitions: tuple[TopicPartition, ...]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions))
