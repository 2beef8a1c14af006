"""The late-label join: pair each outcome with its prediction, whichever arrives first.

The side that arrives first waits in Redis as a *pending record* for the label horizon; the other
side finds it, forms a :class:`Pair` and turns both records into *joined markers* ``'J'``, which
stay until the horizon ends so a repeated id is recognised as a duplicate. Because pending records
are keyed by model and id, not by partition, the join works when predictions and outcomes sit on
different partitions or are consumed by different daemon instances.

Planning reads a snapshot of the records (one ``MGET`` per batch) and records what it saw as
expectations; the checkpoint script applies the plan only if the snapshot still holds (see
``monitor/store/checkpoint.py``), so two instances can never both leave a pair unjoined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
import redis

from monitor.errors import StoreUnavailableError
from monitor.events import Outcome, Prediction, Scalar
from monitor.store.checkpoint import Changes
from monitor.store.keys import MEMBER_SEP, Keys, PartitionKeys

#: Joined markers outlive the horizon by this much, so a duplicate arriving right at the edge of
#: the horizon is still recognised (protects duplicate detection from clock skew between hosts).
MARKER_GRACE_MS = 3600_000
PENDING = "P"
EARLY_OUTCOME = "O"
JOINED = "J"


@dataclass(frozen=True, slots=True)
class Pair:
    """A prediction with its ground truth: the unit of performance statistics."""

    model: str
    version: str
    prediction_ts: float
    prediction: Scalar
    score: float | dict[str, float] | None
    label: Scalar
    label_ts: float

    @property
    def delay_seconds(self) -> float:
        return max(0.0, self.label_ts - self.prediction_ts)


@dataclass(slots=True)
class JoinPlan:
    """What one batch does to the join: pairs formed, events refused as duplicates."""

    pairs: list[Pair] = field(default_factory=list)
    duplicates: list[Prediction | Outcome] = field(default_factory=list)


class Joiner:
    """Plans the join for one batch of predictions or of outcomes.

    One record per (model, id) holds the join's state: ``'P'`` + JSON while a prediction waits,
    ``'O'`` + JSON while an early outcome waits, ``'J'`` once paired. Each side arriving reads it:
    the other side waiting means a pair, its own side or ``'J'`` means a duplicate id.
    """

    def __init__(self, client: redis.Redis, keys: Keys, horizon_seconds: int) -> None:
        self._redis = client
        self._keys = keys
        self._horizon_ms = horizon_seconds * 1000
        #: Expiry is bucketed so a batch adds its pending records with one command; a bucket is
        #: a thousandth of the horizon (at least a second), which bounds the expiry's error.
        self._bucket_ms = max(1000, self._horizon_ms // 1000)

    def plan_predictions(
        self, predictions: Sequence[Prediction], pkeys: PartitionKeys, changes: Changes, now_ms: int
    ) -> JoinPlan:
        """Predictions pair with early outcomes or wait; a repeated id is a duplicate."""
        keys = [self._keys.join_record(p.model, p.id) for p in predictions]
        state = self._snapshot(keys, changes)
        plan = JoinPlan()
        for p, key in zip(predictions, keys, strict=True):
            current = state[key]
            if current.startswith(EARLY_OUTCOME):
                outcome = msgspec.json.decode(current[1:])
                plan.pairs.append(
                    Pair(
                        p.model, p.version, p.ts, p.prediction, p.score, outcome["l"], outcome["t"]
                    )
                )
                changes.mark.append(key)
                state[key] = JOINED
            elif current:
                plan.duplicates.append(p)
            else:
                record = {"v": p.version, "t": p.ts, "p": p.prediction, "s": p.score}
                state[key] = PENDING + msgspec.json.encode(record).decode()
                self._wait(changes, pkeys, key, state[key], p.model, now_ms)
        return plan

    def plan_outcomes(
        self, outcomes: Sequence[Outcome], pkeys: PartitionKeys, changes: Changes, now_ms: int
    ) -> JoinPlan:
        """Outcomes pair with pending predictions or wait; a second label for an id is refused."""
        keys = [self._keys.join_record(o.model, o.id) for o in outcomes]
        state = self._snapshot(keys, changes)
        plan = JoinPlan()
        for o, key in zip(outcomes, keys, strict=True):
            current = state[key]
            if current.startswith(PENDING):
                pred = msgspec.json.decode(current[1:])
                plan.pairs.append(
                    Pair(o.model, pred["v"], pred["t"], pred["p"], pred["s"], o.label, o.ts)
                )
                changes.mark.append(key)
                state[key] = JOINED
            elif current:
                plan.duplicates.append(o)
            else:
                state[key] = EARLY_OUTCOME + msgspec.json.encode({"t": o.ts, "l": o.label}).decode()
                self._wait(changes, pkeys, key, state[key], o.model, now_ms)
        return plan

    def _snapshot(self, keys: list[str], changes: Changes) -> dict[str, str]:
        """Read the records once and expect each to be unchanged when the plan is applied."""
        if not keys:
            return {}
        try:
            values = self._redis.mget(keys)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailableError(f"reading pending joins: {exc}") from exc
        state: dict[str, str] = {}
        for key, value in zip(keys, values, strict=True):
            if key not in state:
                text = value.decode() if value is not None else ""
                state[key] = text
                changes.expect.append((key, text[:1]))
        return state

    def _wait(
        self, changes: Changes, pkeys: PartitionKeys, key: str, value: str, model: str, now_ms: int
    ) -> None:
        """Leave a record pending, in the expiry bucket of this partition that covers it."""
        expires = now_ms + self._horizon_ms
        bucket = -(-expires // self._bucket_ms) * self._bucket_ms
        changes.put.append((key, value, self._horizon_ms + MARKER_GRACE_MS))
        changes.expiry[pkeys.expiry_bucket(bucket), bucket].append(model + MEMBER_SEP + key)
