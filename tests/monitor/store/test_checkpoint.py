"""The checkpoint script on a real Redis: fencing, the offset protocol, join conflicts, expiry,
retention, the dead-letter outbox."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis

from monitor import config
from monitor.errors import FencedError, StoreUnavailableError
from monitor.join import Pair
from monitor.stats.calibration import NullCalibrator
from monitor.stats.detectors import DetectorBank
from monitor.stats.evaluation import Judges, evaluate_window
from monitor.stats.reference import build_profile
from monitor.store.checkpoint import Checkpoint, Rewind, Status
from monitor.store.evaluations import EvaluationStore
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.outbox import Outbox
from monitor.store.query import Query
from monitor.vocab.counts import WindowCounts
from monitor.vocab.deadletter import DeadLetter, InvalidReason
from monitor.vocab.effects import Effects, window_id

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def checkpoint(redis_client: redis.Redis, key_prefix: str) -> Checkpoint:
    return Checkpoint(redis_client, Keys(key_prefix), "g")


def counted(effects: Effects, n: int = 1) -> Effects:
    """``effects`` counting ``n`` into model m's counter "n"."""
    effects.counters["m"]["n"] += n
    return effects


def test_claims_increase_the_epoch_and_fence_the_previous_owner(checkpoint: Checkpoint) -> None:
    old = checkpoint.claim("t", 0)
    new = checkpoint.claim("t", 0)
    assert new.epoch > old.epoch
    assert checkpoint.apply(new, 0, 5, counted(Effects()), 0, fresh=True).status is Status.APPLIED
    with pytest.raises(FencedError):
        checkpoint.apply(old, 5, 9, counted(Effects()), 0)
    assert checkpoint.claim("t", 0).next_offset == 5


def test_the_checkpoint_accepts_exactly_the_next_records(
    checkpoint: Checkpoint, redis_client: redis.Redis
) -> None:
    """Only a batch starting at the stored offset applies; every other one reports the stored
    offset and changes nothing — a retry merged with newer records included."""
    claim = checkpoint.claim("t", 1)
    key = claim.keys.counters("m")

    def apply(first: int, next_offset: int, *, fresh: bool = False) -> tuple[Status, int | None]:
        result = checkpoint.apply(claim, first, next_offset, counted(Effects(), 10), 0,
                                  fresh=fresh)  # fmt: skip
        return result.status, result.stored_offset

    assert apply(10, 20) == (Status.GAP, None)  # no checkpoint, and not the partition's first
    assert apply(10, 20, fresh=True) == (Status.APPLIED, 20)
    assert apply(10, 20) == (Status.ALREADY_APPLIED, 20)  # a replay
    assert apply(12, 18) == (Status.ALREADY_APPLIED, 20)  # wholly behind
    assert apply(15, 25) == (Status.OVERLAP, 20)  # a retry merged with newer records
    assert apply(25, 30) == (Status.GAP, 20)  # Redis lost what came before 25
    assert apply(25, 30, fresh=True) == (Status.GAP, 20)  # fresh only counts while none stored
    assert int(redis_client.hget(key, "n")) == 10
    assert apply(20, 30) == (Status.APPLIED, 30)
    assert int(redis_client.hget(key, "n")) == 20


def test_a_claim_lost_by_redis_is_reported_and_claims_stay_above_lost_epochs(
    checkpoint: Checkpoint, redis_client: redis.Redis
) -> None:
    """Redis restored from an older copy forgets a claim: the owner learns it must claim again,
    and no epoch handed out after the loss repeats one handed out before it."""
    claim = checkpoint.claim("t", 7)
    key = claim.keys.counters("m")
    assert checkpoint.apply(claim, 0, 5, counted(Effects()), 0, fresh=True).status is (
        Status.APPLIED
    )
    redis_client.set(claim.keys.epoch, 1)  # as in the older copy
    lost = checkpoint.apply(claim, 5, 9, counted(Effects()), 0)
    assert (lost.status, lost.stored_offset) == (Status.CLAIM_LOST, 5)
    assert int(redis_client.hget(key, "n")) == 1
    redis_client.delete(claim.keys.epoch)  # a copy from before the first claim
    again = checkpoint.claim("t", 7)
    assert again.epoch > claim.epoch and again.next_offset == 5
    assert checkpoint.apply(again, 5, 9, counted(Effects()), 0).status is Status.APPLIED
    with pytest.raises(FencedError):
        checkpoint.apply(claim, 9, 10, counted(Effects()), 0)


def test_a_rewind_moves_the_offset_back_only_for_the_owner_that_saw_kafka_lose_records(
    checkpoint: Checkpoint,
) -> None:
    """Kafka lost records from offset 6 on that were applied up to 9: the owner that saw it
    claims again with the offset rewound to 6. A rewind seen under an epoch that is no longer
    the stored one (another owner claimed since, and may have applied the new records) or one
    that would move the offset forward changes nothing."""
    first = checkpoint.claim("t", 3)
    assert checkpoint.apply(first, 0, 9, counted(Effects()), 0, fresh=True).status is (
        Status.APPLIED
    )
    second = checkpoint.claim("t", 3)
    stale = checkpoint.claim("t", 3, Rewind(6, first.epoch))  # the first owner, too late
    assert stale.next_offset == 9
    rewound = checkpoint.claim("t", 3, Rewind(6, stale.epoch))
    assert rewound.next_offset == 6 and rewound.epoch > stale.epoch > second.epoch
    assert checkpoint.claim("t", 3, Rewind(8, rewound.epoch)).next_offset == 6  # never forward
    with pytest.raises(FencedError):
        checkpoint.apply(second, 9, 12, counted(Effects()), 0)


def test_an_idle_partitions_sweep_checks_the_offset_without_writing_it(
    checkpoint: Checkpoint, redis_client: redis.Redis
) -> None:
    """A sweep of an idle partition presents its position as an empty range: checked like a
    batch (a lost span is found), but not written again - every idle partition sweeps every few
    seconds. ``WATCH`` fails a transaction on any write to the key, even of the same value."""
    claim = checkpoint.claim("t", 4)
    assert checkpoint.apply(claim, 0, 5, counted(Effects()), 0, fresh=True).status is (
        Status.APPLIED
    )
    with redis_client.pipeline() as watcher:
        watcher.watch(claim.keys.offset)
        assert checkpoint.apply(claim, 5, 5, Effects(), 0).status is Status.APPLIED
        watcher.multi()
        watcher.get(claim.keys.offset)
        assert watcher.execute() == [b"5"]  # not written: the transaction went through
    assert checkpoint.apply(claim, 7, 7, Effects(), 0).status is Status.GAP


def test_a_sum_that_would_overflow_refuses_the_whole_batch(
    checkpoint: Checkpoint, redis_client: redis.Redis, key_prefix: str
) -> None:
    """Everything is validated before the first write: the batch applies whole or not at all."""
    claim = checkpoint.claim("t", 8)
    wid = window_id(0, "v", "r")
    window = claim.keys.window("m", wid)
    record = Keys(key_prefix).join_record("m", "id")
    first = Effects()
    first.window("m", wid, 0).sums["sq:x"] += 1.5e308
    now_ms = int(time.time() * 1000)  # windows are kept from their last write
    assert checkpoint.apply(claim, 0, 1, first, now_ms, fresh=True).status is Status.APPLIED
    second = counted(Effects())
    second.join_ttl_ms = second.join_bucket_ms = 60_000
    second.join_put.append(("m", "id", "P{}"))
    second.window("m", wid, 0).sums["sum:x"] += 1.0
    second.window("m", wid, 0).sums["sq:x"] += 1.5e308
    result = checkpoint.apply(claim, 1, 2, second, now_ms)
    assert result.status is Status.INVALID and "sq:x" in result.detail
    assert not redis_client.exists(record, claim.keys.counters("m"))
    assert list(redis_client.hgetall(window)) == [b"sq:x"]
    assert float(redis_client.hget(window, "sq:x")) == 1.5e308
    assert redis_client.get(claim.keys.offset) == b"1"


def test_dead_letters_wait_in_the_outbox_of_the_batch_that_applied(
    checkpoint: Checkpoint, redis_client: redis.Redis
) -> None:
    claim = checkpoint.claim("t", 9)
    letters = [
        DeadLetter(3, InvalidReason.BAD_JSON, "x", "_unknown", None, b"\xff{"),
        DeadLetter(5, InvalidReason.DUPLICATE_ID, "id 'a'", "m", b"a", bytes(range(256))),
    ]
    assert checkpoint.apply(claim, 0, 6, Effects(), 0, fresh=True, dead=letters).status is (
        Status.APPLIED
    )
    refused = checkpoint.apply(claim, 0, 6, Effects(), 0, dead=[letters[0]])
    assert refused.status is Status.ALREADY_APPLIED
    outbox = Outbox(redis_client)
    assert outbox.pending(claim.keys) == letters
    assert checkpoint.claim("t", 9).outbox == 2
    outbox.remove(claim.keys, [3])
    assert outbox.pending(claim.keys) == letters[1:]


def test_a_changed_join_snapshot_is_a_conflict_and_applies_nothing(
    checkpoint: Checkpoint, redis_client: redis.Redis, key_prefix: str
) -> None:
    """Each join write checks the record it relies on; one mismatch undoes the others."""
    claim = checkpoint.claim("t", 2)
    keys = Keys(key_prefix)
    fresh, taken, paired = (keys.join_record("m", i) for i in ("new", "taken", "paired"))
    redis_client.set(paired, "P{}", px=60_000)
    ttl = redis_client.pttl(paired)
    changes = counted(Effects())
    changes.join_ttl_ms = changes.join_bucket_ms = 60_000
    changes.join_put += [("m", "new", "P{}"), ("m", "taken", "P{}")]  # planned while both absent
    changes.join_mark.append(("m", "paired", "P"))
    redis_client.set(taken, "O{}")  # meanwhile an outcome arrived elsewhere
    assert checkpoint.apply(claim, 0, 1, changes, 0, fresh=True).status is Status.CONFLICT
    assert redis_client.exists(fresh) == 0  # undone
    assert redis_client.get(taken) == b"O{}"
    assert redis_client.get(paired) == b"P{}"
    assert redis_client.hget(claim.keys.counters("m"), "n") is None
    assert claim.next_offset is None and checkpoint.claim("t", 2).next_offset is None

    # A pair whose prediction was meanwhile joined elsewhere: earlier marks are restored.
    claim = checkpoint.claim("t", 2)
    other = keys.join_record("m", "other")
    redis_client.set(other, "J")
    changes = Effects()
    changes.join_mark += [("m", "paired", "P"), ("m", "other", "P")]
    assert checkpoint.apply(claim, 0, 1, changes, 0, fresh=True).status is Status.CONFLICT
    assert redis_client.get(paired) == b"P{}"
    assert 0 < redis_client.pttl(paired) <= ttl  # its TTL survived the undo
    assert redis_client.get(other) == b"J"

    # A duplicate judged on a record that changed since (it expired): conflict too.
    changes = Effects()
    changes.join_expect.append(("m", "gone", "J"))
    assert checkpoint.apply(claim, 0, 1, changes, 0, fresh=True).status is Status.CONFLICT


@contextlib.contextmanager
def refusing_writes(client: redis.Redis, how: str) -> Iterator[None]:
    """The session's Redis at its maxmemory ("full") or turned into a replica of nothing
    ("replica"), as after a failover; back to normal afterwards, its data intact."""
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    limit = client.config_get("maxmemory")["maxmemory"]
    if how == "full":
        client.config_set("maxmemory", 1)
    else:
        client.replicaof("127.0.0.1", 1)  # nothing listens there: it keeps its data, read-only
    try:
        yield
    finally:
        if how == "full":
            client.config_set("maxmemory", limit)
        else:
            client.replicaof("NO", "ONE")


@pytest.mark.parametrize(
    ("how", "hint"),
    [
        ("full", "at its maxmemory: raise it, or shorten ingest.label_horizon_seconds"),
        ("replica", "read-only replica: point redis.url at the primary"),
    ],
)
def test_a_redis_refusing_writes_applies_nothing_and_the_retry_applies_once(
    checkpoint: Checkpoint, redis_client: redis.Redis, key_prefix: str, how: str, hint: str
) -> None:
    """Redis refuses a script's first write and lets one that has written go on: a refused
    batch left no trace, so retrying it until Redis takes writes again is exact."""
    claim = checkpoint.claim("t", 6)
    record = Keys(key_prefix).join_record("m", "waiting")

    def batch() -> Effects:
        changes = counted(Effects(), 7)
        changes.join_ttl_ms = changes.join_bucket_ms = 60_000
        changes.join_put.append(("m", "waiting", "P{}"))
        changes.window("m", window_id(0, "v", "r"), 0).counts["n"] += 7
        return changes

    with refusing_writes(redis_client, how):
        for _ in range(2):
            with pytest.raises(StoreUnavailableError, match=hint):
                checkpoint.apply(claim, 0, 10, batch(), 0, fresh=True)
        with pytest.raises(StoreUnavailableError, match=hint):
            checkpoint.claim("t", 6)
        assert redis_client.get(claim.keys.offset) is None
        assert not redis_client.exists(claim.keys.counters("m"), record)
    applied = checkpoint.apply(claim, 0, 10, batch(), 0, fresh=True)
    assert applied.status is Status.APPLIED  # still the owner
    assert checkpoint.apply(claim, 0, 10, batch(), 0).status is Status.ALREADY_APPLIED
    assert int(redis_client.hget(claim.keys.counters("m"), "n")) == 7
    assert redis_client.get(record) == b"P{}"


def test_opaque_state_is_stored_byte_for_byte(
    checkpoint: Checkpoint, redis_client: redis.Redis
) -> None:
    claim = checkpoint.claim("t", 5)
    blob = bytes(range(256)) * 3  # not UTF-8: travels as an argument of its own
    changes = Effects()
    changes.detectors["m", "error"] = blob
    changes.detectors["m", "prediction"] = b""
    assert checkpoint.apply(claim, 0, 1, changes, 0, fresh=True).status is Status.APPLIED
    assert redis_client.get(claim.keys.detector("m", "error")) == blob
    assert redis_client.get(claim.keys.detector("m", "prediction")) == b""


def test_a_detector_resumes_from_the_state_its_batch_checkpointed(
    checkpoint: Checkpoint, redis_client: redis.Redis, key_prefix: str
) -> None:
    """A new owner (after a restart or a rebalance) continues the detector, not a fresh one."""
    settings = config.load(ROOT / "config.toml")
    claim = checkpoint.claim("out", 0)
    tag = claim.keys.tag
    batch = [
        Pair("fraud-detector", "v1", float(i), 1.0, None, float(i % 3 == 0), i + 5.0)
        for i in range(300)
    ]

    def bank(load: Any) -> DetectorBank:
        return DetectorBank(settings.models, settings.drift, lambda _: None, load)

    first = bank(checkpoint.detector_state)
    changes = Effects()
    first.pairs(changes, tag, batch)
    assert checkpoint.apply(claim, 0, 1, changes, 0, fresh=True).status is Status.APPLIED
    first.committed(tag, changes)

    kept, resumed, fresh = Effects(), Effects(), Effects()
    first.pairs(kept, tag, batch)
    bank(checkpoint.detector_state).pairs(resumed, tag, batch)
    bank(lambda *_: None).pairs(fresh, tag, batch)
    assert resumed.detectors and resumed.detectors == kept.detectors
    assert fresh.detectors != kept.detectors


def test_pending_records_expire_once_and_joined_ones_silently(
    checkpoint: Checkpoint, redis_client: redis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    claim = checkpoint.claim("t", 3)
    changes = Effects()
    changes.join_ttl_ms = 60_000
    changes.join_bucket_ms = 1000
    bucket = claim.keys.expiry_bucket(1000)
    for i, value in enumerate(["P{}", "O{}", "P{}"]):
        changes.join_put.append(("m", f"r{i}", value))
    assert checkpoint.apply(claim, 0, 1, changes, now_ms=0, fresh=True).status is Status.APPLIED
    paired = Effects()
    paired.join_mark.append(("m", "r2", "P"))  # r2's outcome arrived
    assert checkpoint.apply(claim, 1, 2, paired, now_ms=500).status is Status.APPLIED
    result = checkpoint.apply(claim, -1, -1, Effects(), now_ms=2000)
    assert (result.expired_predictions, result.orphan_outcomes) == (1, 1)
    again = checkpoint.apply(claim, -1, -1, Effects(), now_ms=3000)
    assert (again.expired_predictions, again.orphan_outcomes) == (0, 0)
    counters = redis_client.hgetall(claim.keys.counters("m"))
    assert counters == {b"expired_predictions": b"1", b"orphan_outcomes": b"1"}
    assert redis_client.get(keys.join_record("m", "r2")) == b"J"
    assert redis_client.exists(bucket) == 0


def test_windows_are_indexed_marked_and_kept_from_their_last_write(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    """A window written is indexed by its start, marked for evaluation at the write and kept
    ``windows.retention_days`` from the write (wall clock), not from its event time; change
    points are indexed by event time; a maximum only ever rises."""
    keys = Keys(key_prefix)
    checkpoint = Checkpoint(redis_client, keys, "g", config.WindowSettings(retention_days=3))
    claim = checkpoint.claim("t", 4)
    now_ms = 1_900_000_000_000  # long after the events: a backfill
    wid = window_id(1_800_000_000, "v1", "r1")
    changes = counted(Effects())
    changes.window("m", wid, 1_800_000_000).counts["n"] += 4
    changes.dead_letters["m", 1_899_999_000][InvalidReason.BAD_JSON.value] += 1
    changes.change_points.append(("m", "error", 1_800_000_123.25))
    changes.maximum("m", "last", 5.5)
    checkpoint.apply(claim, 0, 1, changes, now_ms, fresh=True)
    window = claim.keys.window("m", wid)
    retention = 3 * 86_400_000
    assert int(redis_client.hget(window, "n")) == 4
    assert redis_client.pexpiretime(window) == now_ms + retention
    assert redis_client.pexpiretime(claim.keys.dead_letters("m", 1_899_999_000)) == (
        now_ms + retention
    )
    assert redis_client.zscore(keys.window_index("m"), wid) == 1_800_000_000
    assert redis_client.zscore(keys.dirty, f"m:{wid}") == now_ms
    (point,) = redis_client.zrange(keys.change_points("m"), 0, -1, withscores=True)
    assert point == (f"error|1800000123.250|{claim.keys.tag}".encode(), 1_800_000_123.25)
    lower = Effects()
    lower.maximum("m", "last", 1.0)
    checkpoint.apply(claim, 1, 2, lower, now_ms)
    assert float(redis_client.hget(claim.keys.counters("m"), "last")) == 5.5


def test_lease_has_one_holder_at_a_time(redis_client: redis.Redis, key_prefix: str) -> None:
    keys = Keys(key_prefix)
    a, b = (
        Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, holder, 10_000)
        for holder in "ab"
    )
    assert a.hold() and a.hold()
    assert not b.hold()
    b.release()  # not the holder: no effect
    assert not b.hold()
    a.release()
    assert b.hold()


def test_effects_encode_floats_exactly(checkpoint: Checkpoint, redis_client: redis.Redis) -> None:
    claim = checkpoint.claim("t", 10)
    changes = Effects()
    changes.counter_sums["m"]["x"] += 0.1 + 0.2
    checkpoint.apply(claim, 0, 1, changes, 0, fresh=True)
    assert float(redis_client.hget(claim.keys.counters("m"), "x")) == 0.1 + 0.2


def test_an_insufficient_window_evaluation_round_trips_through_the_store(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    """A verdict on a tiny window carries NaN; stored and read back it must stay readable."""
    settings = config.parse(
        {
            "models": [{"name": "m", "owner": "o", "task": "regression",
                        "features": {"x": "numeric"}}],
            "redis": {"key_prefix": key_prefix},
        }
    )  # fmt: skip
    model = settings.models[0]
    start = int(time.time()) // 3600 * 3600  # a live window: its evaluation has not expired
    rng = np.random.default_rng(0)
    reference = build_profile(
        model,
        {"x": rng.normal(size=500)},
        predictions=rng.normal(size=500).tolist(),
        version="r",
        source="t",
        created_at=0,
    )
    evaluation = evaluate_window(
        model,
        reference,
        WindowCounts(10, {"n": 10.0, "b:x:3": 10.0}),
        window_start=start,
        version="v",
        judges=dataclasses.replace(Judges.of(settings), calibrator=NullCalibrator(draws=50)),
        now=time.time(),  # kept retention from when it was evaluated
    )
    assert any(math.isnan(v.value) for v in evaluation.verdicts)
    keys = Keys(key_prefix)
    store = EvaluationStore(redis_client, keys, 86_400_000)
    fence = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "t", 10_000).hold()
    assert fence is not None
    store.save(fence, evaluation, f"{start}|v|r", "m:x", 0)
    (stored,) = Query(redis_client, settings).evaluations("m")
    assert [v.status for v in stored.verdicts] == [v.status for v in evaluation.verdicts]
