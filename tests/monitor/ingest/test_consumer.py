"""The poll loop under faults: every record applied exactly once, every dead letter published
only for a batch that applied, Redis' offset and the loop's position brought back in step.

Faults are injected at the checkpoint call (the real script still runs against the real Redis):
Redis answering too late (the script ran, the client gave up), Redis rolled back to an earlier
copy, another writer, a fencing claim, a record the daemon fails on, a dead-letter topic down.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import pytest
import redis
from kafka import TopicPartition

from monitor.errors import StoreUnavailableError
from monitor.events import Prediction, Record
from monitor.ingest import consumer
from monitor.ingest.batch import BatchProcessor
from monitor.ingest.stages import Work
from monitor.store.checkpoint import Checkpoint
from monitor.store.keys import Keys
from monitor.vocab.deadletter import InvalidReason
from tests.monitor.ingest.conftest import (
    OUTCOMES,
    PREDICTIONS,
    Loop,
    T,
    outcome,
    prediction,
)

P0, P1 = TopicPartition(PREDICTIONS, 0), TopicPartition(PREDICTIONS, 1)
O0 = TopicPartition(OUTCOMES, 0)
BAD = b'{"id": "broken'


#: The lag gauge's sample name.
LAG = "driftwatch_consumer_lag_records"


def records(n: int, *, bad_every: int = 0, ids: int = 0) -> list[Record]:
    """Predictions at offsets ``0..n-1`` with ids from ``ids`` on; every ``bad_every``-th one is
    malformed JSON."""
    return [
        (i, f"id-{ids + i}".encode(),
         BAD if bad_every and i % bad_every == bad_every - 1 else prediction(ids + i))
        for i in range(n)
    ]  # fmt: skip


Hook = Callable[[int], None]


def around_apply(loop: Loop, *, before: Hook | None = None, after: Hook | None = None) -> None:
    """Run ``before(first_offset)`` / ``after(first_offset)`` around every batch's checkpoint."""
    checkpoint = loop.processor.checkpoint
    real = checkpoint.apply

    def apply(claim: Any, first: int, next_offset: int, *args: Any, **kwargs: Any) -> Any:
        if before and first >= 0 and claim.topic == PREDICTIONS:
            before(first)
        result = real(claim, first, next_offset, *args, **kwargs)
        if after and first >= 0 and claim.topic == PREDICTIONS:
            after(first)
        return result

    checkpoint.apply = apply  # type: ignore[method-assign]


def timeout_after_script(times: int) -> Hook:
    """Redis ran the script, but its answer never reached the client (hung, then resumed): the
    first attempt of each of the first ``times`` batches."""
    seen: set[int] = set()

    def hook(first: int) -> None:
        if len(seen) < times and first not in seen:
            seen.add(first)
            raise StoreUnavailableError("Timeout reading from socket (injected after the script)")

    return hook


def dead_offsets(loop: Loop) -> list[int]:
    return sorted(letter.offset for _, _, letter in loop.sink.letters)


def test_a_batch_redis_applied_unanswered_is_retried_alone_and_recognised(
    loop_factory: Callable[..., Loop],
) -> None:
    """The first batch (100 records) is applied but the client times out, once 300 more records
    are queued. The retry must be the same 100 records, recognised as applied, and the 300 must
    still be applied: the old loop retried all 400 as one batch, which the old script called
    "already applied", so 300 records were never counted."""
    log = {P0: records(400, bad_every=50)}
    loop = loop_factory(log, max_poll_records=100)
    timeout = timeout_after_script(1)

    def once_all_is_queued(first: int) -> None:
        loop.wait(lambda: loop.consumer.positions.get(P0) == 400, "the rest to be fetched")
        timeout(first)

    around_apply(loop, after=once_all_is_queued)
    loop.start()
    loop.wait(
        lambda: (
            loop.caught_up() and loop.metric("driftwatch_batches_total", result="replayed") == 1
        ),
        "every record applied, the first batch recognised as applied",
    )
    loop.finish()
    assert (loop.counts().predictions, loop.dead()) == (392, {"bad_json": 8})
    assert loop.metric("driftwatch_dependency_errors_total", dependency="redis") == 1
    # Each dead letter published at least once (repeats of an offset allowed), none extra.
    assert sorted(set(dead_offsets(loop))) == [i for i in range(400) if i % 50 == 49]


def test_a_stored_offset_inside_the_batch_resyncs_from_there(
    loop_factory: Callable[..., Loop], redis_client: redis.Redis
) -> None:
    """Another writer (here: a former owner's batch of 50 records, applied under the same epoch
    as after a lost claim) is ahead of the loop's first batch: the loop re-reads from Redis'
    offset and every record is counted once."""
    log = {P0: records(400)}
    loop = loop_factory(log, max_poll_records=100)
    other = BatchProcessor(loop.settings, redis_client, loop.sink, loop.metrics)  # type: ignore[arg-type]
    done = [False]

    def former_owner(first: int) -> None:
        if not done[0]:
            done[0] = True
            claim = loop.ingestor.state.owned[P0].claim
            from monitor.ingest.batch import Batch

            other.process(Batch(claim, log[P0][:50], 0, fresh=True))

    around_apply(loop, before=former_owner)
    loop.start()
    loop.wait(loop.caught_up, "every record applied")
    loop.finish()
    assert loop.counts().predictions == 400
    assert loop.metric("driftwatch_resyncs_total", kind="overlap") == 1


#: Both run as one script, so the loop never sees half a copy or half a restore: a sweep landing
#: between a restore's keys once found the offset restored but the counts not yet, re-read the
#: span, and then had its counts overwritten - a race of the test, not of a real restore, which
#: the daemon only sees whole (Redis restarted from an older file, a replica promoted).
SNAPSHOT = """
local out = {}
for _, key in ipairs(redis.call('KEYS', ARGV[1] .. '*')) do
    out[#out + 1] = key
    out[#out + 1] = redis.call('DUMP', key)
end
return out
"""
RESTORE = """
for _, key in ipairs(redis.call('KEYS', ARGV[1] .. '*')) do redis.call('DEL', key) end
for i = 2, #ARGV, 2 do redis.call('RESTORE', ARGV[i], 0, ARGV[i + 1]) end
"""


def snapshot(client: redis.Redis, prefix: str) -> dict[bytes, bytes]:
    """Every key under ``prefix`` and its ``DUMP``, taken at one instant."""
    flat = client.eval(SNAPSHOT, 0, prefix)
    return dict(zip(flat[::2], flat[1::2], strict=True))


def restore(client: redis.Redis, prefix: str, copy: dict[bytes, bytes]) -> None:
    """Redis as it was when ``copy`` was taken (what a restart from an older AOF leaves), in one
    step."""
    client.eval(RESTORE, 0, prefix, *(part for item in copy.items() for part in item))


def test_redis_rolled_back_while_the_loop_runs_is_re_read_exactly(
    loop_factory: Callable[..., Loop], redis_client: redis.Redis, key_prefix: str
) -> None:
    """Redis loses the writes of two batches (200..299) that it had acknowledged. The next batch
    starts after Redis' offset: a gap. The loop claims again, re-reads 200..399 from Kafka and
    ends exact; the re-read span's dead letters may be published twice, never missing."""
    log = {P0: records(400, bad_every=25)}
    loop = loop_factory(log, max_poll_records=50, max_batch_records=50)
    copy: dict[bytes, bytes] = {}

    def rollback(first: int) -> None:
        if first == 200 and not copy:
            copy.update(snapshot(redis_client, key_prefix))
        elif first == 300 and copy and loop.metric("driftwatch_resyncs_total", kind="gap") == 0:
            restore(redis_client, key_prefix, copy)

    around_apply(loop, before=rollback)
    loop.start()
    loop.wait(loop.caught_up, "every record applied")
    loop.finish()
    assert (loop.counts().predictions, loop.dead()) == (384, {"bad_json": 16})
    assert loop.metric("driftwatch_resyncs_total", kind="gap") == 1
    assert sorted(set(dead_offsets(loop))) == [i for i in range(400) if i % 25 == 24]
    assert collections.Counter(dead_offsets(loop))[224] == 2  # re-read: published again


def test_redis_rolled_back_behind_an_idle_partition_is_found_by_its_sweep(
    loop_factory: Callable[..., Loop],
    redis_client: redis.Redis,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redis loses the last batches of a partition that then gets no record (a restore, a
    failover to a lagging replica). No batch will meet the gap: the idle partition's sweep must
    see Redis' offset behind the loop's position, claim again and re-read. Before, the span
    stayed uncounted until the partition's next record."""
    monkeypatch.setattr(consumer, "MAINTENANCE_SECONDS", 0.2)
    log = {P0: records(300, bad_every=25)}
    loop = loop_factory(log, max_poll_records=50, max_batch_records=50)
    copy: dict[bytes, bytes] = {}

    def keep(first: int) -> None:
        if first == 200 and not copy:
            copy.update(snapshot(redis_client, key_prefix))

    around_apply(loop, before=keep)
    loop.start()
    loop.wait(loop.caught_up, "every record applied")
    restore(redis_client, key_prefix, copy)  # the partition is idle: nothing more will come
    assert loop.counts().predictions == 192
    loop.wait(lambda: loop.metric("driftwatch_resyncs_total", kind="gap") == 1, "a resync")
    loop.wait(loop.caught_up, "the lost span re-read")
    loop.finish()
    assert (loop.counts().predictions, loop.dead()) == (288, {"bad_json": 12})
    assert sorted(set(dead_offsets(loop))) == [i for i in range(300) if i % 25 == 24]


def test_redis_rolled_back_to_before_the_claim_starts_the_partition_again(
    loop_factory: Callable[..., Loop], redis_client: redis.Redis, key_prefix: str
) -> None:
    """A copy older than the claim itself: the loop's epoch is unknown to Redis. It claims again
    (an epoch above every earlier one) and, with no stored offset, starts from the beginning."""
    log = {P0: records(300)}
    loop = loop_factory(log, max_poll_records=50, max_batch_records=50)
    empty = snapshot(redis_client, key_prefix)
    rolled = [False]

    def rollback(first: int) -> None:
        if first == 150 and not rolled[0]:
            rolled[0] = True
            restore(redis_client, key_prefix, empty)

    around_apply(loop, before=rollback)
    loop.start()
    loop.wait(loop.caught_up, "every record applied")
    loop.finish()
    assert loop.counts().predictions == 300
    assert loop.metric("driftwatch_resyncs_total", kind="claim_lost") == 1


@pytest.mark.parametrize("told", [True, False], ids=["diverged", "past-the-end"])
def test_kafka_losing_applied_records_rewinds_redis_and_counts_the_new_ones(
    loop_factory: Callable[..., Loop], told: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The broker loses offsets 200..299 after the loop applied them (restored from an older
    copy), then writes 150 new records at offsets 200..349. Told where its log diverges (KIP-320)
    or fetching past the log's end, the loop claims again with Redis' offset rewound to 200:
    every new record counted once, the lost ones stay counted. Before, the loop took the new
    records for ones it had applied and dropped them."""
    loop = loop_factory({P0: records(300, bad_every=25)}, max_poll_records=50,
                        max_batch_records=50)  # fmt: skip
    loop.start()
    loop.wait(loop.caught_up, "every record applied")
    loop.consumer.lose(P0, 200, tell=told)
    if not told:  # with no leader epoch to go by, only a fetch past the end shows the loss
        loop.wait(lambda: loop.stored_offset(P0) == 200, "Redis' offset rewound")
    new = [(200 + i, key, value) for i, key, value in records(150, bad_every=25, ids=1000)]
    loop.consumer.append(P0, new)
    loop.wait(loop.caught_up, "the new records applied")
    loop.finish()
    assert (loop.counts().predictions, loop.dead()) == (288 + 144, {"bad_json": 12 + 6})
    assert loop.metric("driftwatch_resume_gaps_total", topic=PREDICTIONS, cause="truncated") == 1
    (warning,) = [r.getMessage() for r in caplog.records if "diverges" in r.getMessage()]
    assert "at offset 200 (it had read up to offset 300)" in warning
    assert ("where the leader epochs place" if told else "the log's end") in warning


def test_a_partition_revoked_during_a_retry_is_claimed_again_exactly(
    loop_factory: Callable[..., Loop],
) -> None:
    log = {P0: records(300, bad_every=30), P1: records(300, ids=1000)}
    loop = loop_factory(log, max_poll_records=100)
    failing = [True]

    def redis_hangs(first: int) -> None:
        if failing[0]:
            raise StoreUnavailableError("Timeout reading from socket (injected)")

    around_apply(loop, after=redis_hangs)
    loop.start()
    loop.wait(lambda: loop.metric("driftwatch_dependency_errors_total", dependency="redis") >= 2,
              "retries")  # fmt: skip
    loop.consumer.revoke({P0})
    loop.wait(lambda: P0 not in loop.ingestor.state.owned, "the revocation to be handled")
    failing[0] = False
    loop.consumer.assign({P0})
    loop.wait(loop.caught_up, "every record applied")
    loop.finish()
    assert (loop.counts().predictions, loop.dead()) == (590, {"bad_json": 10})
    assert sorted(set(dead_offsets(loop))) == [i for i in range(300) if i % 30 == 29]


def test_a_fenced_instance_publishes_no_dead_letter(
    loop_factory: Callable[..., Loop], redis_client: redis.Redis, key_prefix: str
) -> None:
    """Another instance claims the partition while this one plans a batch full of invalid
    records: the batch is refused and none of its dead letters reaches the topic; the new
    owner publishes them, once."""
    log = {P0: records(300, bad_every=10)}
    first = loop_factory(log, max_poll_records=100, max_batch_records=100)
    checkpoint = Checkpoint(redis_client, Keys(key_prefix), "g")

    def taken_over(offset: int) -> None:
        if offset == 100:
            checkpoint.claim(PREDICTIONS, 0)

    around_apply(first, before=taken_over)
    first.start()
    first.wait(lambda: first.metric("driftwatch_fenced_total") == 1, "the fence")
    first.finish()
    assert dead_offsets(first) == [9, 19, 29, 39, 49, 59, 69, 79, 89, 99]
    second = loop_factory(log, max_poll_records=100)
    second.start()
    second.wait(second.caught_up, "the new owner to finish")
    second.finish()
    assert dead_offsets(second) == [i for i in range(100, 300) if i % 10 == 9]
    assert (second.counts().predictions, second.dead()) == (270, {"bad_json": 30})


def test_a_record_the_daemon_fails_on_is_isolated_and_dead_lettered(
    loop_factory: Callable[..., Loop],
) -> None:
    """Not an outage: only its partition waits while the batch is halved down to the record,
    which after failing alone twice is dead-lettered as unprocessable; its neighbours count."""
    log = {P0: records(400), P1: records(400, ids=1000)}
    loop = loop_factory(log, max_poll_records=200)

    def poisoned(work: Work[Prediction]) -> None:
        if work.partition.endswith(":0}") and any(event.offset == 137 for event in work.decoded):
            raise ValueError("cannot handle record 137 (injected)")

    loop.processor.prediction_stages.insert(0, poisoned)
    loop.start()
    loop.wait(loop.caught_up, "every record applied")
    loop.finish()
    assert (loop.counts().predictions, loop.dead()) == (799, {"unprocessable": 1})
    ((_, partition, letter),) = loop.sink.letters
    assert (partition, letter.offset, letter.reason) == (0, 137, InvalidReason.UNPROCESSABLE)
    assert letter.value == log[P0][137][2] and "ValueError" in letter.detail
    assert loop.metric("driftwatch_dependency_errors_total", dependency="redis") == 0
    assert loop.metric("driftwatch_dependency_errors_total", dependency="internal") > 0


def test_dead_letters_wait_in_the_outbox_while_the_topic_is_down(
    loop_factory: Callable[..., Loop],
) -> None:
    log = {P0: records(300, bad_every=20)}
    loop = loop_factory(log, max_poll_records=100)
    loop.sink.fail = True
    loop.start()
    loop.wait(lambda: loop.metric("driftwatch_dependency_errors_total", dependency="kafka") >= 2,
              "the sink outage")  # fmt: skip
    assert loop.sink.letters == []
    assert loop.ingestor.state.outage == "kafka"
    loop.sink.fail = False
    loop.wait(loop.caught_up, "every record applied")
    loop.wait(lambda: len(set(dead_offsets(loop))) == 15, "every dead letter published")
    loop.finish()
    assert (loop.counts().predictions, loop.dead()) == (285, {"bad_json": 15})


def test_detector_state_after_faults_equals_the_state_without_them(
    loop_factory: Callable[..., Loop], redis_client: redis.Redis, key_prefix: str
) -> None:
    """Detector state in memory matches what Redis holds after every outcome of a batch, so the
    error stream's detector ends in the same state as in a run without faults."""
    log = {P0: records(600), O0: [(i, f"id-{i}".encode(), outcome(i)) for i in range(600)]}
    blobs = []
    for group, faults in (("clean", 0), ("faulty", 4)):
        prefix = f"{key_prefix}:{group}"  # join records are shared by groups: keep runs apart
        loop = loop_factory(
            log, max_poll_records=50, max_batch_records=50, group=group, prefix=prefix,
            assigned={P0},
        )  # fmt: skip
        checkpoint = loop.processor.checkpoint
        real, fail = checkpoint.apply, timeout_after_script(faults)

        def apply(claim: Any, first: int, *args: Any, _real: Any = real, _fail: Any = fail,
                  **kwargs: Any) -> Any:  # fmt: skip
            result = _real(claim, first, *args, **kwargs)
            if claim.topic == OUTCOMES and first >= 0:
                _fail(first)
            return result

        checkpoint.apply = apply  # type: ignore[method-assign]
        loop.start()
        loop.wait(lambda lp=loop: lp.caught_up(P0), "predictions applied")
        loop.consumer.assign({O0})
        loop.wait(
            lambda lp=loop, n=faults: (
                lp.caught_up() and lp.metric("driftwatch_batches_total", result="replayed") == n
            ),
            "outcomes applied",
        )
        loop.finish()
        assert loop.counts().joined == 600
        keys = Keys(prefix).partition(Keys(prefix).tag(group, OUTCOMES, 0))
        blobs.append(redis_client.get(keys.detector("m", "error")))
        assert loop.metric("driftwatch_batches_total", result="replayed") == faults
    assert blobs[0] is not None and blobs[0] == blobs[1]


def test_a_record_whose_sums_would_overflow_is_isolated_not_the_batch(
    loop_factory: Callable[..., Loop], redis_client: redis.Redis, key_prefix: str
) -> None:
    """The checkpoint refuses a batch that would make a stored sum infinite (here the window's
    sum of squares is already near the largest double): the batch applies nothing, is halved,
    and only the record that overflows is dead-lettered; its neighbours (zeros) count."""
    rows = [(i, f"id-{i}".encode(), prediction(i, amount=1e150 if i == 5 else 0.0))
            for i in range(10)]  # fmt: skip
    loop = loop_factory({P0: rows})
    keys = Keys(key_prefix)
    start = int(T // 3600 * 3600)
    window = keys.partition(keys.tag("g", PREDICTIONS, 0)).window("m", f"{start}|unversioned|none")
    redis_client.hset(window, "sq:x", repr(1.7976931348623e308))  # + 1e300 overflows
    loop.start()
    loop.wait(loop.caught_up, "every record applied")
    loop.finish()
    assert (loop.counts().predictions, loop.dead()) == (9, {"unprocessable": 1})
    ((_, _, letter),) = loop.sink.letters
    assert letter.offset == 5 and "would not be finite" in letter.detail
    assert float(redis_client.hget(window, "sq:x")) == 1.7976931348623e308


def test_a_partition_fenced_but_still_assigned_is_claimed_again(
    loop_factory: Callable[..., Loop], redis_client: redis.Redis, key_prefix: str
) -> None:
    """A fence normally precedes a rebalance that takes the partition away. If the group still
    assigns it here several session timeouts later, the fence came from a stale owner (say, one
    whose claim survived a Redis failover): the loop claims the partition again and goes on."""
    log = {P0: records(300)}
    loop = loop_factory(log, max_batch_records=100, session_timeout_ms=1000)
    stale = Checkpoint(redis_client, Keys(key_prefix), "g")

    def stale_claim(offset: int) -> None:
        if offset == 100 and loop.metric("driftwatch_fenced_total") == 0:
            stale.claim(PREDICTIONS, 0)

    around_apply(loop, before=stale_claim)
    loop.start()
    loop.wait(loop.caught_up, "the partition to be claimed again and finished", timeout=60)
    loop.finish()
    assert loop.metric("driftwatch_fenced_total") == 1
    assert loop.counts().predictions == 300


def test_a_revoked_partition_stops_reporting_its_lag(loop_factory: Callable[..., Loop]) -> None:
    """The partition's new owner reports its lag: a value left here would be lag that does not
    exist, adding up over the group (every rolling update would look like a growing backlog)."""
    loop = loop_factory({P0: records(50), P1: records(50, ids=1000)})
    loop.start()
    loop.wait(loop.caught_up, "every record applied")

    def reported(tp: TopicPartition) -> bool:
        labels = {"topic": tp.topic, "partition": str(tp.partition)}
        return loop.metrics.registry.get_sample_value(LAG, labels) is not None

    loop.wait(lambda: reported(P0) and reported(P1), "the lag of both partitions")
    loop.consumer.revoke({P0})
    loop.wait(lambda: P0 not in loop.ingestor.state.owned, "the revocation to be handled")
    assert not reported(P0)
    assert reported(P1)
    loop.finish()


@pytest.mark.parametrize("deleted", [range(0, 30), range(20, 30)], ids=["retention", "compaction"])
def test_records_kafka_deleted_before_they_were_read_are_counted_in_a_metric(
    loop_factory: Callable[..., Loop], deleted: range
) -> None:
    """Redis resumes at offset 20, but Kafka removed offsets 20..29: retention with the rest
    before them (the consumer is told the offset is out of range), or compaction (the fetch
    skips them). The loop goes on from 30 and says so in ``driftwatch_resume_gaps_total`` (the
    warning names the offsets), so an alert can tell the on-call engineer that events were
    never counted."""
    log = [r for r in records(60) if r[0] not in deleted]  # the log as Kafka left it
    loop = loop_factory({P0: log})
    keys = Keys(loop.settings.redis.key_prefix)
    tag = keys.tag(loop.settings.kafka.group_id, P0.topic, P0.partition)
    loop.client.set(keys.partition(tag).offset, 20)  # where an earlier run stopped
    loop.start()
    loop.wait(lambda: loop.stored_offset(P0) == 60, "the records after the gap applied")
    assert loop.metric("driftwatch_resume_gaps_total", topic=PREDICTIONS, cause="deleted") == 1
    assert loop.counts().predictions == 30
    loop.finish()
