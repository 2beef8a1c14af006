"""The poll loop against a real Redis, with Kafka played by an in-memory consumer group member.

``Ingestor(consumer_factory=...)`` is the seam: :class:`FakeConsumer` serves records from lists
(one per partition) the way ``KafkaConsumer.poll`` does — assignment through the rebalance
listener on the first poll, positions moved by ``seek`` — and a test can revoke and assign
partitions, append records or inject failures while the loop runs. Everything the loop writes
goes through the real ``BatchProcessor`` into the real Redis, so what a test asserts is what a
daemon would leave behind.
"""

from __future__ import annotations

import bisect
import collections
import operator
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
import redis
from kafka import OffsetAndMetadata, TopicPartition
from kafka.errors import LogTruncationError, OffsetOutOfRangeError
from prometheus_client import CollectorRegistry

from monitor import config
from monitor.events import Record
from monitor.ingest.batch import BatchProcessor
from monitor.ingest.consumer import Ingestor
from monitor.metrics import Metrics
from monitor.store.keys import Keys
from monitor.store.query import Query
from monitor.vocab.counts import IngestCounts
from monitor.vocab.deadletter import DeadLetter

PREDICTIONS, OUTCOMES = "p", "o"
_OFFSET = operator.itemgetter(0)
T = time.time() - 3600


@dataclass(frozen=True)
class Message:
    offset: int
    key: bytes | None
    value: bytes | None


class FakeConsumer:
    """The parts of ``KafkaConsumer`` the loop uses, over in-memory partitions."""

    def __init__(
        self,
        log: dict[TopicPartition, list[Record]],
        max_poll_records: int,
        assigned: set[TopicPartition],
    ) -> None:
        self.log = log
        self.max_poll_records = max_poll_records
        self.positions: dict[TopicPartition, int] = {}
        self.assigned: set[TopicPartition] = set()
        self.committed: dict[TopicPartition, int] = {}
        self.listener: Any = None
        self.pending_assignment: set[TopicPartition] | None = assigned
        self.lock = threading.Lock()
        #: The options the loop created the consumer with, and each poll's timeout.
        self.options: dict[str, Any] = {}
        self.timeouts: list[int] = []
        #: Divergence points the next poll reports (KIP-320), by partition.
        self.divergent: dict[TopicPartition, int] = {}

    def created(self, options: dict[str, Any]) -> FakeConsumer:
        """The consumer factory's answer: this consumer, noting the options."""
        self.options = options
        return self

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    def topics(self) -> set[str]:
        """The topics the brokers show: those of the log."""
        return {tp.topic for tp in self.log}

    def assign(self, partitions: set[TopicPartition]) -> None:
        """The group gives this member ``partitions`` (too) at its next poll."""
        with self.lock:
            self.pending_assignment = set(partitions)

    def revoke(self, partitions: set[TopicPartition]) -> None:
        with self.lock:
            self.assigned -= partitions
            for tp in partitions:
                self.positions.pop(tp, None)
        self.listener.on_partitions_revoked(sorted(partitions))

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    def seek_to_beginning(self, tp: TopicPartition) -> None:
        self.positions[tp] = 0

    def seek_to_end(self, tp: TopicPartition) -> None:
        self.positions[tp] = self.highwater(tp)

    def lose(self, tp: TopicPartition, at: int, *, tell: bool) -> None:
        """The broker loses ``tp``'s records from offset ``at`` on (a broker restored from an
        older copy; new records appended later reuse the offsets). ``tell``: the next poll
        raises kafka-python's ``LogTruncationError`` naming ``at`` (KIP-320, the leader epochs
        told it), else a fetch past the log's end raises ``OffsetOutOfRangeError``, as
        kafka-python does without a reset policy (and before the log's start too)."""
        with self.lock:
            self.log[tp] = [r for r in self.log[tp] if r[0] < at]
            if tell:
                self.divergent[tp] = at

    def append(self, tp: TopicPartition, records: list[Record]) -> None:
        with self.lock:
            self.log[tp].extend(records)

    def beginning_offsets(
        self, partitions: list[TopicPartition], timeout_ms: int | None = None
    ) -> dict[TopicPartition, int]:
        return {tp: self.log[tp][0][0] if self.log[tp] else 0 for tp in partitions}

    def end_offsets(
        self, partitions: list[TopicPartition], timeout_ms: int | None = None
    ) -> dict[TopicPartition, int]:
        return {tp: self.highwater(tp) for tp in partitions}

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, list[Any]]:
        self.timeouts.append(timeout_ms)
        with self.lock:
            new, self.pending_assignment = self.pending_assignment, None
            if new is not None:
                self.assigned |= new
        if new is not None:
            self.listener.on_partitions_assigned(sorted(new))
        with self.lock:
            told = {
                tp: OffsetAndMetadata(at, "", 0)
                for tp, at in self.divergent.items()
                if tp in self.positions and self.positions[tp] > at
            }
            self.divergent.clear()
            beyond = {  # past the log's end, or before its start (retention deleted them)
                tp: self.positions[tp]
                for tp in self.assigned
                if tp in self.positions
                and not self.beginning_offsets([tp])[tp] <= self.positions[tp] <= self.highwater(tp)
            }
        if told:
            raise LogTruncationError(told)
        if beyond:
            raise OffsetOutOfRangeError(beyond)
        budget = max_records or self.max_poll_records
        out: dict[Any, list[Any]] = {}
        with self.lock:
            for tp in sorted(self.assigned):
                start = self.positions.get(tp)
                if start is None or budget <= 0:
                    continue
                first = bisect.bisect_left(self.log[tp], start, key=_OFFSET)  # offsets may skip
                rows = self.log[tp][first : first + budget]
                if rows:
                    out[tp] = [Message(*row) for row in rows]
                    self.positions[tp] = rows[-1][0] + 1
                    budget -= len(rows)
        if not out:
            time.sleep(min(timeout_ms, 20) / 1000)
        return out

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.committed.update({tp: meta.offset for tp, meta in offsets.items()})

    commit_async = commit

    def highwater(self, tp: TopicPartition) -> int:
        return self.log[tp][-1][0] + 1 if self.log[tp] else 0

    def position(self, tp: TopicPartition, timeout_ms: int = 0) -> int | None:
        return self.positions.get(tp)

    def close(self, autocommit: bool = False) -> None:
        pass


class RecordingSink:
    """The dead-letter topic: what was published, in order (Kafka itself is tested in e2e)."""

    def __init__(self) -> None:
        self.letters: list[tuple[str, int, DeadLetter]] = []
        self.fail = False

    def send(self, topic: str, partition: int, letters: Any) -> None:
        from monitor.errors import SinkUnavailableError

        if self.fail and letters:
            raise SinkUnavailableError("dead-letter topic unavailable (injected)")
        self.letters += [(topic, partition, letter) for letter in letters]

    def close(self) -> None:
        pass


def prediction(i: int, *, amount: float | None = None, model: str = "m") -> bytes:
    doc = {
        "id": f"id-{i}",
        "model": model,
        "ts": T + i * 0.01,
        "features": {"x": float(i % 97) if amount is None else amount},
        "prediction": i % 2,
        "score": 0.25 + (i % 2) / 2,
    }
    return msgspec.json.encode(doc)


def outcome(i: int) -> bytes:
    return msgspec.json.encode(
        {"id": f"id-{i}", "model": "m", "ts": T + 60 + i, "label": i % 3 % 2}
    )


@dataclass
class Loop:
    """One running ``Ingestor`` over a :class:`FakeConsumer`, and what to check it with."""

    settings: config.Settings
    consumer: FakeConsumer
    processor: BatchProcessor
    sink: RecordingSink
    metrics: Metrics
    ingestor: Ingestor
    client: redis.Redis
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> Loop:
        self.thread = threading.Thread(target=self.ingestor.run, args=(self.stop,), daemon=True)
        self.thread.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the loop did not stop"
        self.ingestor.close()

    def counts(self) -> IngestCounts:
        (row,) = [r for r in Query(self.client, self.settings).ingest() if r.model.name == "m"]
        return row.counts

    def dead(self) -> dict[str, int]:
        """Dead letters by reason, over the model and events whose model is unreadable."""
        query = Query(self.client, self.settings)
        total = collections.Counter(self.counts().dead_by_reason)
        total.update(query.unknown_model_counts().dead_by_reason)
        return dict(total)

    def stored_offset(self, tp: TopicPartition) -> int | None:
        keys = Keys(self.settings.redis.key_prefix)
        tag = keys.tag(self.settings.kafka.group_id, tp.topic, tp.partition)
        raw = self.client.get(keys.partition(tag).offset)
        return None if raw is None else int(raw)

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.thread is not None and self.thread.is_alive(), "the loop died"
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            time.sleep(0.02)

    def caught_up(self, *partitions: TopicPartition) -> bool:
        return all(
            self.stored_offset(tp) == self.consumer.highwater(tp)
            for tp in partitions or self.consumer.log
        )

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def loop_factory(
    redis_client: redis.Redis, redis_url: str, key_prefix: str
) -> Iterator[Callable[..., Loop]]:
    """``make(log, ...)``: a loop over ``log`` (partitions → records), not started yet."""
    loops: list[Loop] = []

    def make(
        log: dict[TopicPartition, list[Record]],
        *,
        max_poll_records: int = 100,
        max_batch_records: int = 5000,
        batch_linger_ms: int = 0,
        group: str = "g",
        prefix: str = key_prefix,
        assigned: set[TopicPartition] | None = None,
        session_timeout_ms: int = 10_000,
    ) -> Loop:
        settings = config.parse(
            {
                "kafka": {
                    "predictions_topic": PREDICTIONS,
                    "outcomes_topic": OUTCOMES,
                    "group_id": group,
                    "max_poll_records": max_poll_records,
                    "session_timeout_ms": session_timeout_ms,
                },
                "redis": {"url": redis_url, "key_prefix": prefix},
                "ingest": {
                    "max_batch_records": max_batch_records,
                    "batch_linger_ms": batch_linger_ms,
                },
                "models": [
                    {"name": "m", "owner": "o", "task": "binary", "features": {"x": "numeric"}}
                ],
            }
        )
        consumer = FakeConsumer(log, max_poll_records, set(log) if assigned is None else assigned)
        sink = RecordingSink()
        metrics = Metrics(CollectorRegistry())
        processor = BatchProcessor(settings, redis_client, sink, metrics)  # type: ignore[arg-type]
        ingestor = Ingestor(
            settings.kafka,
            settings.ingest,
            processor,
            metrics,
            consumer_factory=lambda **options: consumer.created(options),
        )
        loop = Loop(settings, consumer, processor, sink, metrics, ingestor, redis_client)
        loops.append(loop)
        return loop

    yield make
    for loop in loops:
        if loop.thread is not None and loop.thread.is_alive():
            loop.finish()
