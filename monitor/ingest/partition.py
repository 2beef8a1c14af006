"""One owned partition as the poll loop sees it: its position, its records, its unsettled batches.

The loop (``monitor/ingest/consumer.py``) owns the schedule — when to claim, dispatch, poll —
and this module owns what happens to one partition's records:

- fetched records enter :attr:`Owned.queued` exactly once, in offset order (:meth:`Owned.fetch`);
- the next batch is the oldest unsettled one, retried exactly as it was, else the head of the
  queue (:meth:`Owned.next_batch`);
- a batch that applied moves the position (:meth:`Owned.applied`); one that failed becomes
  unsettled (:meth:`Owned.failed`), and a failure that is not an outage halves it until the
  record behind it is found and set aside (:meth:`Owned.isolate`).
"""

from __future__ import annotations

import logging
import operator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

from kafka import TopicPartition

from monitor.events import Record
from monitor.ingest.batch import Batch, BatchResult
from monitor.store.checkpoint import Claim, Rewind

log = logging.getLogger(__name__)
#: A consumer record's (offset, key, value): the :data:`~monitor.events.Record` a batch holds,
#: picked in C (the loop thread picks every record it polls).
_RECORD = operator.attrgetter("offset", "key", "value")
_VALUE = operator.itemgetter(2)
#: How Kafka's log missed where this instance reads: its records there were deleted (retention,
#: compaction) before they were read, or it lost records already read (truncated: it ends or
#: diverges before that offset; see ``consumer.Ingestor._diverged``).
ResumeGap = Literal["deleted", "truncated"]

#: Bytes of record values in one batch at most: bounds the checkpoint's arguments (dead letters
#: travel whole) far below Redis' query buffer limit, whatever the record sizes.
MAX_BATCH_BYTES = 32 << 20
#: Backoff after a failure, doubling up to the maximum: gentle on a restarting Redis or broker.
BACKOFF_INITIAL_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 10.0
#: A record that makes its batch fail this many times alone is dead-lettered as unprocessable.
ISOLATION_ATTEMPTS = 2


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
    #: When the oldest queued record was fetched (monotonic seconds): the linger counts from it.
    queued_since: float = 0.0
    #: Kafka's log diverges from what was read at this offset: claim again, rewound to it.
    diverged_at: int | None = None

    @classmethod
    def claimed(cls, claim: Claim) -> Owned:
        """A partition just claimed: it resumes at Redis' offset (None: wherever Kafka starts)."""
        return cls(claim, claim.next_offset, claim.next_offset, drain_outbox=claim.outbox > 0)

    @property
    def name(self) -> str:
        return f"{self.claim.topic}[{self.claim.partition}]"

    @property
    def idle(self) -> bool:
        return self.in_flight is None and not self.queued and not self.unsettled

    def fetch(self, messages: list[Any], now: float) -> ResumeGap | None:
        """Queue polled messages, dropping any already held (fetched before a seek). Returns how
        the first records after the claim missed the offset Redis resumes from, if they did."""
        gap = None
        if not self.start_checked:
            self.start_checked = True
            gap = self._check_start(messages[0].offset)
        if self.fetched is not None and messages[0].offset < self.fetched:
            messages = [m for m in messages if m.offset >= self.fetched]
            if not messages:
                return gap
        if not self.queued:
            self.queued_since = now
        self.queued.extend(map(_RECORD, messages))
        self.fetched = messages[-1].offset + 1
        return gap

    def ripe(self, now: float, linger: float, batch_max: int) -> bool:
        """Whether the queue's head goes out now rather than wait for more records: a full
        batch is queued, or the oldest queued record has waited ``linger`` seconds. Records
        left over by a full batch are at least as old, so they follow at once."""
        return len(self.queued) >= batch_max or now - self.queued_since >= linger

    def next_batch(self, batch_max: int, drain_always: bool = False) -> Batch | None:
        """The oldest unsettled batch as it was, else the head of the queue; None when idle.
        ``drain_always`` makes an empty batch (sweep expired joins, publish the outbox)."""
        unprocessable = ""
        if self.unsettled:
            records, unprocessable = self.unsettled[0].records, self.unsettled[0].unprocessable
        elif self.queued:
            records = self._take(batch_max)
        elif drain_always:
            records = []
        else:
            return None
        first = self.position if self.position is not None else records[0][0] if records else -1
        return Batch(
            self.claim,
            records,
            first,
            fresh=self.position is None,
            drain_outbox=self.drain_outbox,
            unprocessable=unprocessable,
        )

    def applied(self, work: InFlight, now: float) -> None:
        """The batch applied now, or before by an attempt whose answer was lost."""
        if work.retry:
            self.unsettled.pop(0)
        if work.batch.records:
            self.position = work.batch.next_offset
        if work.batch.drain_outbox:
            self.drain_outbox = False
        self.failures = 0
        self.backoff.reset()
        self.last_batch = now

    def failed(self, work: InFlight) -> None:
        """Keep the batch to retry as it was; it may have applied with its dead letters
        unpublished, so the next attempt drains the outbox."""
        self.drain_outbox = True
        batch = work.batch
        if batch.records and not work.retry:
            self.unsettled.insert(0, Unsettled(list(batch.records), batch.unprocessable))

    def isolate(self, batch: Batch, error: Exception, now: float) -> None:
        """A failure that is not an outage: halve the batch until the record behind it is
        alone; a record failing alone :data:`ISOLATION_ATTEMPTS` times is dead-lettered."""
        self.failures += 1
        self.backoff.failed(now)
        if not batch.records:
            return  # a sweep: tried again at the next maintenance
        head = self.unsettled[0]
        if len(head.records) > 1:
            mid = len(head.records) // 2
            self.unsettled[0:1] = [Unsettled(head.records[:mid]), Unsettled(head.records[mid:])]
            self.failures = 0
            self.backoff.reset()
            log.warning(
                "batch of %s at offsets %d..%d failed (%s); retrying it in halves to find the "
                "record behind it", self.name, head.records[0][0], head.records[-1][0], error,
            )  # fmt: skip
        elif not head.unprocessable and self.failures >= ISOLATION_ATTEMPTS:
            head.unprocessable = f"{type(error).__name__}: {error}"[:160]
            self.failures = 0
            self.backoff.reset()
            log.warning(
                "the record at %s offset %d fails alone (%s); dead-lettering it as "
                "unprocessable so the partition moves on", self.name, head.records[0][0], error,
            )  # fmt: skip
        elif head.unprocessable:
            log.error(
                "%s cannot even dead-letter the record at offset %d (%s); retrying in %.1fs",
                self.name, head.records[0][0], error, self.backoff.delay,
            )  # fmt: skip

    def _take(self, batch_max: int) -> list[Record]:
        """The next batch from the queue: up to ``batch_max`` records and MAX_BATCH_BYTES."""
        records = self.queued[:batch_max]
        if sum(map(len, filter(None, map(_VALUE, records)))) > MAX_BATCH_BYTES:  # in C
            size = 0
            for i, (_, _, value) in enumerate(records):
                size += len(value or b"")
                if size > MAX_BATCH_BYTES and i > 0:
                    records = records[:i]
                    break
        del self.queued[: len(records)]
        return records

    def _check_start(self, first: int) -> ResumeGap | None:
        """Say so when Kafka no longer holds the records where Redis says to resume (a gap of
        one offset is the usual transaction marker and goes unsaid). A log that ends before it
        never gets here: the consumer raises, and the loop rewinds (``consumer._diverged``)."""
        expected = self.fetched
        if expected is None or first <= expected + 1:
            return None
        log.warning(
            "%s: Kafka no longer holds offsets %d..%d (retention or compaction removed them "
            "before they were read); whatever they held is not counted. Resuming at %d",
            self.name, expected, first - 1, first,
        )  # fmt: skip
        return "deleted"


@dataclass(slots=True)
class LoopState:
    """What this instance owns right now; read by the health endpoint."""

    owned: dict[TopicPartition, Owned] = field(default_factory=dict)
    unclaimed: set[TopicPartition] = field(default_factory=set)
    #: Partitions dropped because another owner fenced them, and when.
    fenced: dict[TopicPartition, float] = field(default_factory=dict)
    #: Partitions to claim again with Redis' offset rewound (Kafka lost records they read).
    rewinds: dict[TopicPartition, Rewind] = field(default_factory=dict)
    last_iteration: float = 0.0
    outage: str = ""
    #: The outage's latest error, for ``/readyz``: on-call reads what to do there.
    outage_detail: str = ""
    #: True once the group assigned this member (possibly nothing: more members than partitions).
    joined: bool = False
