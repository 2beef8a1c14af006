"""The evaluator lease's fencing on a real Redis: tokens, and writes refused to a stale holder."""

from __future__ import annotations

import time

import msgspec
import pytest
import redis

from monitor.errors import FencedError
from monitor.store.evaluations import EvaluationStore
from monitor.store.keys import Keys
from monitor.store.lease import Fence, Lease
from monitor.vocab.effects import window_id
from monitor.vocab.verdicts import Health, WindowEvaluation

T0 = 1_800_000_000
WID = window_id(T0, "v1", "r1")
TAGS = ("{g:t:0}", "{g:t:1}")


@pytest.fixture
def keys(key_prefix: str) -> Keys:
    return Keys(key_prefix)


@pytest.fixture
def store(redis_client: redis.Redis, keys: Keys) -> EvaluationStore:
    return EvaluationStore(redis_client, keys, retention_ms=10**12)


def lease(client: redis.Redis, keys: Keys, holder: str) -> Lease:
    return Lease(client, keys.evaluator_lease, keys.evaluator_fence, holder, 10_000)


def held(lease: Lease) -> Fence:
    fence = lease.hold()
    assert fence is not None
    return fence


def stall(client: redis.Redis, keys: Keys) -> None:
    """The holder is paused past its lease: the lease's time runs out in Redis."""
    client.pexpire(keys.evaluator_lease, 1)
    deadline = time.monotonic() + 5
    while client.exists(keys.evaluator_lease):
        assert time.monotonic() < deadline, "the lease did not expire"
        time.sleep(0.005)


def snapshot(client: redis.Redis, prefix: str) -> dict[bytes, tuple[bytes | None, int]]:
    """Every key under ``prefix``: its serialized value and absolute expiry, to compare exactly."""
    return {
        key: (client.dump(key), client.pexpiretime(key))
        for key in client.scan_iter(match=f"{prefix}:*")
    }


def evaluation(n: int) -> WindowEvaluation:
    return WindowEvaluation(
        model="m", window_start=T0, version="v1", reference="r1", n=n, n_labelled=0,
        evaluated_at=T0 + 7200,
    )  # fmt: skip


def fill_window(client: redis.Redis, keys: Keys) -> list[str]:
    """Two partitions' hashes of window WID, marked dirty; returns the keys merge_window takes."""
    parts = [keys.partition(tag).window("m", WID) for tag in TAGS]
    for i, key in enumerate(parts):
        client.hset(key, mapping={"n": 3 + i, "b:a:0": 1})
    client.zadd(keys.dirty, {f"m:{WID}": 5.0})
    return [keys.merged_window("m", WID), *parts]


def write_all(store: EvaluationStore, fence: Fence, window_keys: list[str], n: int) -> None:
    store.save(fence, evaluation(n), WID, f"m:{WID}", 5.0)
    store.merge_window(fence, window_keys, T0 * 1000)
    store.save_rolling(fence, evaluation(n))
    store.save_health(fence, Health("m", "OK", [], T0, T0 + 7200 + n))


def test_the_token_grows_on_each_acquisition_and_renewal_keeps_it(
    redis_client: redis.Redis, keys: Keys
) -> None:
    a, b = lease(redis_client, keys, "a"), lease(redis_client, keys, "b")
    first = held(a)
    assert a.hold() == first  # renewed: same token
    assert b.hold() is None
    stall(redis_client, keys)
    second = held(b)
    assert second.token > first.token
    assert b.hold() == second
    b.release()
    third = held(a)  # the same holder again, but a new term
    assert third.token > second.token
    assert a.hold() == third
    assert int(redis_client.get(keys.evaluator_fence)) == third.token


def test_a_holder_whose_lease_was_taken_over_writes_nothing(
    redis_client: redis.Redis, keys: Keys, store: EvaluationStore, key_prefix: str
) -> None:
    window_keys = fill_window(redis_client, keys)
    a, b = lease(redis_client, keys, "a"), lease(redis_client, keys, "b")
    stale = held(a)
    stall(redis_client, keys)
    newer = held(b)
    store.save_rolling(newer, evaluation(9))
    store.save_health(newer, Health("m", "OK", [], T0, T0 + 9000))
    before = snapshot(redis_client, key_prefix)

    def refused(fence: Fence) -> None:
        for write in (
            lambda: store.save(fence, evaluation(1), WID, f"m:{WID}", 5.0),
            lambda: store.merge_window(fence, window_keys, T0 * 1000),
            lambda: store.save_rolling(fence, evaluation(1)),
            lambda: store.save_health(fence, Health("m", "WARN", [], T0, T0 + 1)),
        ):
            with pytest.raises(FencedError):
                write()

    refused(stale)  # the lease names another holder
    assert snapshot(redis_client, key_prefix) == before

    b.release()
    assert held(a).token > stale.token
    before = snapshot(redis_client, key_prefix)
    refused(stale)  # the lease names this holder again, but under a newer token
    assert snapshot(redis_client, key_prefix) == before


def test_the_current_holder_writes(
    redis_client: redis.Redis, keys: Keys, store: EvaluationStore
) -> None:
    window_keys = fill_window(redis_client, keys)
    a = lease(redis_client, keys, "a")
    stale = held(a)
    stall(redis_client, keys)
    fence = held(a)  # renewed after expiry: a new token, which is the one that writes
    assert fence.token > stale.token
    write_all(store, fence, window_keys, 7)

    blob = redis_client.get(keys.evaluation("m", WID))
    assert msgspec.msgpack.decode(blob, type=WindowEvaluation) == evaluation(7)
    assert redis_client.zrange(keys.evaluation_index("m"), 0, -1, withscores=True) == [
        (WID.encode(), T0)
    ]
    # Kept retention (10**12 ms here) from when it was evaluated, not from the window's time.
    assert redis_client.pexpiretime(keys.evaluation("m", WID)) == (T0 + 7200) * 1000 + 10**12
    assert redis_client.zscore(keys.dirty, f"m:{WID}") is None  # unchanged since read: cleared
    assert redis_client.hgetall(window_keys[0]) == {b"n": b"7", b"b:a:0": b"2"}
    assert not redis_client.exists(*window_keys[1:])
    rolling = redis_client.get(keys.rolling("m"))
    assert msgspec.msgpack.decode(rolling, type=WindowEvaluation) == evaluation(7)
    health = msgspec.msgpack.decode(redis_client.get(keys.health("m")), type=Health)
    assert health == Health("m", "OK", [], T0, T0 + 7207)


def test_a_window_changed_during_its_evaluation_stays_dirty(
    redis_client: redis.Redis, keys: Keys, store: EvaluationStore
) -> None:
    fill_window(redis_client, keys)
    redis_client.zadd(keys.dirty, {f"m:{WID}": 6.0})  # a batch touched it after it was read at 5
    store.save(held(lease(redis_client, keys, "a")), evaluation(3), WID, f"m:{WID}", 5.0)
    assert redis_client.zscore(keys.dirty, f"m:{WID}") == 6.0
    assert redis_client.exists(keys.evaluation("m", WID))
