"""The reads added to ``Query`` for the dashboard, on a real Redis filled by the store writers."""

from __future__ import annotations

import time

import pytest
import redis

from monitor import config
from monitor.store.checkpoint import Checkpoint
from monitor.store.evaluations import EvaluationStore
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.query import Query
from monitor.vocab.effects import Effects, window_id
from monitor.vocab.verdicts import Health, WindowEvaluation

T0 = 1_800_000_000


@pytest.fixture
def settings(key_prefix: str, redis_url: str) -> config.Settings:
    features = {"a": "numeric", "b": "categorical"}
    return config.parse(
        {
            "redis": {"url": redis_url, "key_prefix": key_prefix},
            "models": [
                {"name": name, "owner": "o", "task": "binary", "features": features}
                for name in ("m1", "m2", "m3")
            ],
        }
    )


def evaluation(model: str, start: int, n: int) -> WindowEvaluation:
    return WindowEvaluation(
        model=model, window_start=start, version="v1", reference="r1", n=n, n_labelled=0,
        evaluated_at=T0 + 7200,
    )  # fmt: skip


@pytest.fixture
def query(settings: config.Settings, redis_client: redis.Redis) -> Query:
    """m1: two partitions of counters and windows, two evaluations; m2: one; m3: nothing."""
    keys = Keys(settings.redis.key_prefix)
    checkpoint = Checkpoint(redis_client, keys, settings.kafka.group_id)
    for partition, n in ((0, 3), (1, 4)):
        claim = checkpoint.claim("t", partition)
        changes = Effects()
        changes.counters["m1"]["predictions"] += n
        for start in (T0, T0 + 3600):
            fields = changes.window("m1", window_id(start, "v1", "r1"), start).counts
            fields["n"] += n
            fields["b:a:0"] += 1
            fields["b:a:2"] += n - 1
            fields["b:b:1"] += 5  # another feature: never read with "a"
        checkpoint.apply(claim, 0, 1, changes, int(time.time() * 1000), fresh=True)
    store = EvaluationStore(redis_client, keys, retention_ms=10**12)
    fence = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "t", 60_000).hold()
    assert fence is not None
    for model, start, n in (("m1", T0, 7), ("m1", T0 + 3600, 9), ("m2", T0, 2)):
        store.save(fence, evaluation(model, start, n), window_id(start, "v1", "r1"), "", 0.0)
        store.save_health(fence, Health(model, "OK", [], start, T0 + 7200))
    return Query(redis_client, settings)


def test_status_in_a_few_round_trips_equals_the_per_model_reads(query: Query) -> None:
    for row in query.status():
        name = row.model.name
        newest = query.evaluations(name, last=1)
        assert row.latest == (newest[-1] if newest else None)
        assert row.rolling == query.rolling(name)
        assert row.health == query.health([name])[name]
        assert row.counts == query.ingest([name])[0].counts
    rows = {row.model.name: row for row in query.status()}
    assert rows["m1"].counts.predictions == 7
    assert rows["m1"].latest == evaluation("m1", T0 + 3600, 9)
    assert rows["m3"].latest is None and rows["m3"].health is None
    assert [row.model.name for row in query.status(["m2"])] == ["m2"]
    assert query.status([]) == []


def test_evaluations_by_window_are_keyed_by_window_id(query: Query) -> None:
    by_id = query.evaluations_by_window("m1")
    assert list(by_id) == [window_id(T0, "v1", "r1"), window_id(T0 + 3600, "v1", "r1")]
    assert list(by_id.values()) == query.evaluations("m1")
    assert list(query.evaluations_by_window("m1", last=1).values()) == query.evaluations("m1", 1)
    assert query.evaluations_by_window("m3") == {}


def test_feature_bins_merge_partitions_and_read_one_feature(query: Query) -> None:
    wids = [window_id(T0, "v1", "r1"), window_id(T0 + 3600, "v1", "r1"), "never|v1|r1"]
    bins = query.feature_bins("m1", wids, "a", n_bins=4)
    assert bins == {wids[0]: [2, 0, 5, 0], wids[1]: [2, 0, 5, 0], wids[2]: [0, 0, 0, 0]}
    for wid in wids[:2]:  # the same as the full window read
        assert bins[wid] == query.window_counts("m1", wid).bins("a", 4).tolist()
    assert query.feature_bins("m1", [], "a", 4) == {}
