"""The poll loop: a queue per partition, one batch in flight per partition, retries that settle.

One iteration of :meth:`Ingestor.run`:

1. Drain rebalance changes: drop revoked partitions with what they had queued, queue assigned
   ones for claiming.
2. Settle finished batches (:meth:`Ingestor._settle`):
   - applied (or already applied exactly up to its end): the partition's position moves to the
     batch's end;
   - Redis' stored offset disagrees with the position (overlap, gap, lost claim): claim the
     partition again, which seeks to the stored offset and discards what was queued. An idle
     partition's sweep (step 6) is checked the same way, so writes Redis lost are re-read even
     when no record follows them;
   - fenced: drop the partition (its new owner continues);
   - Redis or the dead-letter topic unavailable: keep the batch to retry *as it was* and hold
     consumption everywhere, with backoff;
   - any other failure: the batch is split in halves, retried half by half, until the record
     that fails alone is found; failing alone twice, it is dead-lettered as ``unprocessable``.
     Only that partition waits meanwhile.
3. Claim queued partitions (new epoch in Redis) and seek each to its stored offset.
4. Dispatch: every owned partition without a batch in flight hands its oldest unsettled batch,
   else up to ``ingest.max_batch_records`` queued records, to the worker pool — queued records
   once they are *ripe*: a full batch, or the oldest has waited out ``ingest.batch_linger_ms``
   (so a steady trickle is applied in fewer, larger batches): half of it in the broker's fetch
   wait (:data:`FETCH_MIN_BYTES`), the rest in the queue. The linger is waived while
   polling is held back (queues full, an outage) and on stop. Queued records are not applied,
   so a revocation simply drops them and the next owner reads them from Redis' offset.
5. Poll (``max_records``) and queue the records, unless the queues are full or a dependency is
   down: then wait for a batch to finish instead, polling one record a second only to stay in
   the group (backpressure without ``pause()``, whose resume can leave a partition stalled in
   kafka-python 3.0.12: parked fetched data is only restored while no other data is in line).
   A log that lost records this instance read (it diverges or ends before the position) makes
   poll raise: once the partition's batch in flight settles, it is claimed again with Redis'
   offset rewound to the divergence, and the records Kafka writes from there on are counted.
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
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import (
    KafkaError,
    LogTruncationError,
    NoOffsetForPartitionError,
    OffsetOutOfRangeError,
)

from monitor.config import IngestSettings, KafkaSettings
from monitor.errors import FencedError, SinkUnavailableError, StoreUnavailableError
from monitor.ingest.batch import Batch, BatchProcessor, BatchResult
from monitor.ingest.clients import kafka_client, refusal
from monitor.ingest.partition import Backoff, InFlight, LoopState, Owned
from monitor.ingest.progress import Progress
from monitor.ingest.rebalance import RebalanceLog
from monitor.metrics import Metrics
from monitor.store.checkpoint import Rewind, Status

log = logging.getLogger(__name__)

#: Longest wait in poll while idle: bounds how late a stop request or a maintenance tick is noticed.
POLL_TIMEOUT_MS = 500
#: Wait in poll while batches are in flight or wait for a retry: how soon a finished batch is
#: followed up. Records that only linger let poll wait until the first queue ripens.
BUSY_POLL_TIMEOUT_MS = 5
#: With a linger, the broker holds each fetch until this much is there or half the linger has
#: passed (``fetch_min_bytes`` / ``fetch_max_wait_ms``): a steady trickle then arrives in a few
#: fetch responses a second, not hundreds, each costing the poll loop and kafka-python's I/O
#: thread their fixed Python work. A backlog's fetches fill at once and never wait.
FETCH_MIN_BYTES = 1 << 20
#: Bound on looking up a partition's first and end offsets from the poll loop (after Kafka
#: said a position is out of its range): the loop's liveness must not wait on a sick broker.
OFFSETS_TIMEOUT_MS = 5000
#: Records queued over all partitions, in batches, before polling stops: bounds memory.
QUEUED_BATCHES_LIMIT = 4
#: While polling is held back, wait this long at most for a batch to finish ...
HOLD_WAIT_SECONDS = 0.05
#: ... and poll one record this often to stay in the group and hear of rebalances.
LIVENESS_POLL_SECONDS = 1.0
#: Housekeeping period: offsets to Kafka, gauges, sweeps of idle partitions.
MAINTENANCE_SECONDS = 5.0
#: Worker threads applying batches: enough to keep Redis and the Python thread both busy.
PARALLEL_BATCHES = 4
#: A fenced partition still assigned to this instance after this many session timeouts is
#: claimed again: the group should have moved it by then, so the fence came from a stale owner.
FENCED_RECLAIM_SESSIONS = 3


class Ingestor:
    """Runs the consumer group member until ``stop`` is set."""

    def __init__(
        self,
        kafka: KafkaSettings,
        ingest: IngestSettings,
        processor: BatchProcessor,
        metrics: Metrics,
        *,
        consumer_factory: Callable[..., KafkaConsumer] = KafkaConsumer,
    ) -> None:
        self._start_from = ingest.start_from
        self._processor = processor
        self._metrics = metrics
        self._batch_max = ingest.max_batch_records
        # A record waits at most the linger from its arrival at the broker: up to half of it
        # there (the fetch wait), the rest in this process' queue.
        broker_wait_ms = ingest.batch_linger_ms // 2
        self._linger = (ingest.batch_linger_ms - broker_wait_ms) / 1000
        fetch_wait = (
            {"fetch_min_bytes": FETCH_MIN_BYTES, "fetch_max_wait_ms": broker_wait_ms}
            if broker_wait_ms
            else {}
        )
        self._rebalance = RebalanceLog()
        #: Owned partitions whose Kafka log diverged, waiting for their batch in flight.
        self._diverging: set[TopicPartition] = set()
        self._pool = ThreadPoolExecutor(PARALLEL_BATCHES, thread_name_prefix="batch")
        self._backoff = Backoff()
        self._last_poll = 0.0
        self.state = LoopState()
        k = kafka
        self._fenced_reclaim_seconds = FENCED_RECLAIM_SESSIONS * k.session_timeout_ms / 1000
        self._consumer = kafka_client(
            consumer_factory,
            k,
            group_id=k.group_id,
            enable_auto_commit=False,
            # No reset policy: every claim seeks, and with one kafka-python would meet a log that
            # lost records (below Redis' offset) by seeking on its own - to the divergence or
            # to the log's start - and the new records there would pass for ones already
            # applied. Without it, poll raises, and the loop rewinds (_diverged).
            auto_offset_reset="none",
            max_poll_records=k.max_poll_records,
            session_timeout_ms=k.session_timeout_ms,
            max_poll_interval_ms=k.max_poll_interval_ms,
            heartbeat_interval_ms=max(100, k.session_timeout_ms // 3),
            **fetch_wait,
        )
        self._kafka = k
        topics = [k.predictions_topic, k.outcomes_topic]
        self._consumer.subscribe(topics, listener=self._rebalance)
        self._progress = Progress(self._consumer, metrics)
        self._warn_of_invisible(topics)

    def _warn_of_invisible(self, topics: list[str]) -> None:
        """Say at start-up which event topic the brokers do not show this user: it does not
        exist, or the user may not read it (Kafka lists only the topics a user may describe).
        The group would consume the other topic and never say why half the events are missing.
        Not fatal: a topic created later is picked up with the next metadata refresh."""
        try:
            visible = self._consumer.topics()
        except KafkaError as exc:
            refused = refusal(exc, self._kafka)
            if refused is not None:
                raise refused from exc
            return  # an outage: the loop reports it
        for topic in topics:
            if topic not in visible:
                log.warning(
                    "topic %s is not visible to this consumer: it does not exist (create it: "
                    "driftwatch topics create) or the user lacks Read on it (grant Read on the "
                    "topic to the SASL user); its events are not consumed until it is", topic,
                )  # fmt: skip

    def run(self, stop: threading.Event) -> None:
        """The loop; returns after ``stop`` is set and the batches in hand are checkpointed."""
        next_maintenance = time.monotonic() + MAINTENANCE_SECONDS
        while not stop.is_set():
            now = time.monotonic()
            self.state.last_iteration = now
            self._apply_rebalance()  # Step 1
            self._settle_finished()  # Step 2
            if self._diverging:
                self._rewind_diverged()
            if self._backoff.due(now):
                self._claim_unclaimed()  # Step 3
            self._dispatch(now)  # Step 4
            self._poll()  # Step 5
            if now >= next_maintenance:  # Step 6
                self._maintain(now)
                next_maintenance = now + MAINTENANCE_SECONDS
        self._finish()
        self._progress.commit(self.state.owned, sync=True)

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
            self._dispatch(time.monotonic(), linger=False)
            self._await_in_flight()

    def _await_in_flight(self) -> None:
        wait([p.in_flight.future for p in self.state.owned.values() if p.in_flight is not None])
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
            self._processor.detectors.forget(owned.claim.keys.tag)
        self.state.unclaimed.discard(tp)
        self.state.rewinds.pop(tp, None)
        self._diverging.discard(tp)
        self._progress.forget(tp)

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
            p.failed(work)
            if isinstance(outcome, StoreUnavailableError | SinkUnavailableError):
                self._outage(_dependency(outcome), outcome)
            else:
                self._metrics.outages.labels("internal").inc()
                p.isolate(batch, outcome, now)
        elif not outcome.status.in_step or (
            outcome.status is Status.ALREADY_APPLIED and outcome.stored_offset != batch.next_offset
        ):
            self._resync(tp, batch, outcome)
        else:
            p.applied(work, now)
            if self.state.outage and not any(o.in_flight for o in self.state.owned.values()):
                self._recovered()

    def _resync(self, tp: TopicPartition, batch: Batch, result: BatchResult) -> None:
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
                claim = self._processor.checkpoint.claim(
                    tp.topic, tp.partition, self.state.rewinds.get(tp)
                )
            except StoreUnavailableError as exc:
                self._outage("redis", exc)
                return
            self.state.unclaimed.discard(tp)
            self.state.rewinds.pop(tp, None)
            if tp not in self._consumer.assignment():
                continue  # revoked meanwhile; the change is drained next iteration
            if claim.next_offset is None:
                if self._start_from == "earliest":
                    self._consumer.seek_to_beginning(tp)
                else:
                    self._consumer.seek_to_end(tp)
            else:
                self._consumer.seek(tp, claim.next_offset)
            self._processor.detectors.forget(claim.keys.tag)  # reload what the last owner left
            self.state.owned[tp] = Owned.claimed(claim)
            log.info(
                "claimed %s[%d] epoch=%d offset=%s",
                tp.topic, tp.partition, claim.epoch, claim.next_offset,
            )  # fmt: skip
        self._metrics.partitions_owned.set(len(self.state.owned))

    # Step 4 ------------------------------------------------------------------------------
    def _dispatch(self, now: float, *, linger: bool = True) -> None:
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
        candidates = sorted(self.state.owned.values(), key=lambda p: not p.unsettled)
        linger = linger and not outage and not self._queues_full()
        for p in candidates:
            if p.in_flight is not None or p.diverged_at is not None or not p.backoff.due(now):
                continue
            if linger and not p.unsettled and not p.ripe(now, self._linger, self._batch_max):
                continue
            batch = p.next_batch(self._batch_max)
            if batch is None:
                continue
            self._submit(p, batch, retry=bool(p.unsettled))
            if outage:
                return

    def _submit(self, p: Owned, batch: Batch, *, retry: bool) -> None:
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
        if self.state.outage or self._queues_full():
            self._hold()
            if time.monotonic() - self._last_poll < LIVENESS_POLL_SECONDS:
                return
            max_records = 1
        try:
            polled = self._consumer.poll(
                timeout_ms=0 if max_records else self._poll_timeout_ms(),
                max_records=max_records,
            )
        except NoOffsetForPartitionError:
            self._last_poll = time.monotonic()
            return  # assigned, not claimed yet: the claim seeks
        except LogTruncationError as exc:  # KIP-320: the broker names where its log diverges
            for tp, divergent in exc.divergent_offsets.items():
                at = None if divergent is None else divergent.offset
                self._diverged(tp, at, by_epoch=divergent is not None)
            return
        except OffsetOutOfRangeError as exc:
            for tp, offset in exc.args[0].items():
                self._out_of_range(tp, offset)
            return
        except KafkaError as exc:
            refused = refusal(exc, self._kafka)
            if refused is not None:  # a missing right (say, Read on the group): waiting never
                raise refused from exc  # mends it, and the loop would retry it for ever
            self._outage("kafka", exc)
            return
        self._last_poll = time.monotonic()
        for tp, messages in polled.items():
            p = self.state.owned.get(tp)
            if p is not None and messages:  # else not claimed yet: the claim seeks where to start
                gap = p.fetch(messages, self._last_poll)
                if gap is not None:
                    self._metrics.resume_gaps.labels(tp.topic, gap).inc()

    def _poll_timeout_ms(self) -> int:
        """How long poll may wait for records (records end the wait at once): briefly while a
        batch is in flight or waits for its retry, until the oldest queued record's linger ends
        while records only linger, else :data:`POLL_TIMEOUT_MS`. Polling every few milliseconds
        through a linger cost a steady 2k events/s 40 % of the daemon's CPU."""
        owned = self.state.owned.values()
        if any(p.in_flight or p.unsettled for p in owned):
            return BUSY_POLL_TIMEOUT_MS
        oldest = min((p.queued_since for p in owned if p.queued), default=None)
        if oldest is None:
            return POLL_TIMEOUT_MS
        ripe_in_ms = (oldest + self._linger - time.monotonic()) * 1000 + 1
        return int(min(POLL_TIMEOUT_MS, max(BUSY_POLL_TIMEOUT_MS, ripe_in_ms)))

    def _out_of_range(self, tp: TopicPartition, offset: int) -> None:
        """Kafka holds no record at ``offset``: below its log's start, retention deleted them
        (resume at the start; the first fetch says what was skipped); past its end, the log lost
        records this instance read (:meth:`_diverged` at its end)."""
        p = self.state.owned.get(tp)
        if p is None or p.diverged_at is not None:
            return  # not claimed yet (the claim seeks), or already being rewound
        try:
            start = self._consumer.beginning_offsets([tp], OFFSETS_TIMEOUT_MS)[tp]
            end = self._consumer.end_offsets([tp], OFFSETS_TIMEOUT_MS)[tp]
        except KafkaError as exc:
            log.info("looking up %s's offsets failed (%s); trying again", p.name, exc)
            return
        if offset < start:
            p.start_checked = False  # the first records after the seek say what was skipped
            self._consumer.seek(tp, start)
        elif offset > end:
            self._diverged(tp, end, by_epoch=False)
        # else: in range after all (a leader change); kafka-python fetches it again

    def _diverged(self, tp: TopicPartition, at: int | None, *, by_epoch: bool) -> None:
        """Kafka's log of ``tp`` no longer holds what this instance read from offset ``at`` on
        (an unclean leader election, a broker restored from an older copy; None: somewhere
        before its end): the records it holds or writes from there on are new. Once the batch in
        flight settles, the partition is claimed again with Redis' offset rewound to ``at``
        (:meth:`_rewind_diverged`): the new records are counted; those Kafka lost stay counted.
        ``by_epoch``: Kafka's leader epochs placed ``at`` (exact); else it is the log's end when
        this instance looked (new records written before that pass for counted ones)."""
        p = self.state.owned.get(tp)
        if p is None or p.diverged_at is not None:
            return
        if at is None:
            try:
                at = self._consumer.end_offsets([tp], OFFSETS_TIMEOUT_MS)[tp]
            except KafkaError as exc:
                log.info("looking up %s's end offset failed (%s); trying again", p.name, exc)
                return
        p.diverged_at = at
        self._diverging.add(tp)
        self._metrics.resume_gaps.labels(tp.topic, "truncated").inc()
        log.warning(
            "Kafka's log of %s diverges from what this instance read at offset %d (it had read "
            "up to offset %s): the broker lost acknowledged records (an unclean leader election, "
            "a broker restored from an older copy). What was applied from there on stays "
            "counted; the records Kafka holds from offset %d on are new, and are read once the "
            "partition is claimed again (%s)", p.name, at, p.fetched, at,
            "where the leader epochs place the divergence" if by_epoch else
            "the log's end: with no leader epoch to place the divergence, records written there "
            "before this instance looked are taken as counted",
        )  # fmt: skip

    def _rewind_diverged(self) -> None:
        """Claim each diverged partition again, rewinding Redis' offset, once it has no batch in
        flight (that one settles as any other: the records it holds were read, so they count)."""
        for tp in list(self._diverging):
            p = self.state.owned[tp]
            if p.in_flight is None:
                assert p.diverged_at is not None
                rewind = Rewind(p.diverged_at, p.claim.epoch)
                self._drop(tp)
                self.state.rewinds[tp] = rewind
                self.state.unclaimed.add(tp)

    def _queues_full(self) -> bool:
        """Records queued over all partitions reach the memory bound: polling holds back."""
        queued = sum(len(p.queued) for p in self.state.owned.values())
        return queued >= QUEUED_BATCHES_LIMIT * self._batch_max

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
        for p in self.state.owned.values():
            due = now - p.last_batch >= MAINTENANCE_SECONDS and p.backoff.due(now)
            if p.idle and p.diverged_at is None and due:  # a diverged one is claimed again
                batch = p.next_batch(self._batch_max, drain_always=True)
                if batch is not None:  # sweep expired joins, drain the outbox
                    self._submit(p, batch, retry=False)
        self._reclaim_fenced(now)
        self._progress.commit(self.state.owned, sync=False)
        self._progress.update_lag(self.state.owned)

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


def _dependency(error: Exception) -> str:
    """The metric label of what failed."""
    return "redis" if isinstance(error, StoreUnavailableError) else "kafka"


def _names(partitions: tuple[TopicPartition, ...]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions))
