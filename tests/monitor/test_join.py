"""The late-label join planned in Python and applied by the checkpoint script, on a real Redis."""

from __future__ import annotations

import pytest
import redis

from monitor.events import Outcome, Prediction
from monitor.join import Joiner, JoinPlan, Pair
from monitor.store.checkpoint import Checkpoint, Claim, Status
from monitor.store.joins import JoinRecords
from monitor.store.keys import Keys
from monitor.vocab.effects import Effects

T = 1_800_000_000.0


@pytest.fixture
def keys(key_prefix: str) -> Keys:
    return Keys(key_prefix)


@pytest.fixture
def joiner(redis_client: redis.Redis, keys: Keys) -> Joiner:
    return Joiner(JoinRecords(redis_client, keys).read, horizon_seconds=3600)


@pytest.fixture
def checkpoint(redis_client: redis.Redis, keys: Keys) -> Checkpoint:
    return Checkpoint(redis_client, keys, "g")


def prediction(offset: int, event_id: str) -> Prediction:
    return Prediction(offset, event_id, "m", "v1", T + offset, {}, 1.0, 0.75)


def outcome(offset: int, event_id: str, label: float = 1.0) -> Outcome:
    return Outcome(offset, event_id, "m", T + 100 + offset, label)


class Partition:
    """One partition's batches: plan with the joiner, apply with the checkpoint."""

    def __init__(self, joiner: Joiner, checkpoint: Checkpoint, topic: str) -> None:
        self.joiner, self.claim = joiner, checkpoint.claim(topic, 0)
        self.checkpoint, self.offset = checkpoint, 0

    def predictions(self, events: list[Prediction], *, snapshot: bool) -> tuple[JoinPlan, Status]:
        changes = Effects()
        plan = self.joiner.plan_predictions(events, changes, 0, snapshot=snapshot)
        return plan, self._apply(changes, len(events))

    def outcomes(self, events: list[Outcome]) -> tuple[JoinPlan, Status]:
        changes = Effects()
        plan = self.joiner.plan_outcomes(events, changes, 0)
        return plan, self._apply(changes, len(events))

    def _apply(self, changes: Effects, n: int) -> Status:
        claim: Claim = self.claim
        status = self.checkpoint.apply(
            claim, self.offset, self.offset + n, changes, 0, fresh=self.offset == 0
        ).status
        if status is Status.APPLIED:
            self.offset += n
        return status


def test_a_prediction_then_its_outcome_pair_once(
    joiner: Joiner, checkpoint: Checkpoint, redis_client: redis.Redis, keys: Keys
) -> None:
    preds, outs = Partition(joiner, checkpoint, "p"), Partition(joiner, checkpoint, "o")
    plan, status = preds.predictions([prediction(0, "a"), prediction(1, "b")], snapshot=False)
    assert (status, plan.pairs, plan.duplicates, plan.found) == (Status.APPLIED, [], [], 0)
    assert redis_client.pttl(keys.join_record("m", "a")) > 3600_000  # horizon + grace

    plan, status = outs.outcomes([outcome(0, "a", 0.0)])
    assert status is Status.APPLIED
    assert plan.pairs == [Pair("m", "v1", T, 1.0, 0.75, 0.0, T + 100)]
    assert redis_client.get(keys.join_record("m", "a")) == b"J"
    assert redis_client.get(keys.join_record("m", "b")).startswith(b"P")

    plan, _ = outs.outcomes([outcome(1, "a")])  # a second label for "a"
    assert (plan.pairs, [o.id for o in plan.duplicates]) == ([], ["a"])


def test_an_early_outcome_turns_the_optimistic_plan_into_a_conflict_then_a_pair(
    joiner: Joiner, checkpoint: Checkpoint, redis_client: redis.Redis, keys: Keys
) -> None:
    preds, outs = Partition(joiner, checkpoint, "p"), Partition(joiner, checkpoint, "o")
    plan, status = outs.outcomes([outcome(0, "x")])
    assert (status, plan.pairs) == (Status.APPLIED, [])

    batch = [prediction(0, "new"), prediction(1, "x")]
    _, status = preds.predictions(batch, snapshot=False)  # assumed both new: "x" is not
    assert status is Status.CONFLICT
    assert redis_client.exists(keys.join_record("m", "new")) == 0  # nothing was applied

    plan, status = preds.predictions(batch, snapshot=True)
    assert (status, plan.found) == (Status.APPLIED, 1)
    assert plan.pairs == [Pair("m", "v1", T + 1, 1.0, 0.75, 1.0, T + 100)]
    assert redis_client.get(keys.join_record("m", "x")) == b"J"


def test_repeated_ids_are_duplicates_within_and_across_batches(
    joiner: Joiner, checkpoint: Checkpoint
) -> None:
    preds = Partition(joiner, checkpoint, "p")
    plan, status = preds.predictions(
        [prediction(0, "a"), prediction(1, "a"), prediction(2, "b")], snapshot=False
    )
    assert status is Status.APPLIED
    assert [(p.offset, p.id) for p in plan.duplicates] == [(1, "a")]

    plan, status = preds.predictions([prediction(3, "b"), prediction(4, "c")], snapshot=False)
    assert status is Status.CONFLICT  # "b" exists: only a snapshot can tell it is a duplicate
    plan, status = preds.predictions([prediction(3, "b"), prediction(4, "c")], snapshot=True)
    assert status is Status.APPLIED
    assert [p.id for p in plan.duplicates] == ["b"]
