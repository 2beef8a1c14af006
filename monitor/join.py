"""The late-label join: pair each outcome with its prediction, whichever arrives first.

The side that arrives first waits in Redis as a *pending record* for the label horizon; the other
side finds it, forms a :class:`Pair` and turns both records into *joined markers* ``'J'``, which
stay until the horizon ends so a repeated id is recognised as a duplicate. Because pending records
are keyed by model and id, not by partition, the join works when predictions and outcomes sit on
different partitions or are consumed by different daemon instances.

Planning reads a snapshot of the records (one ``MGET`` per batch; none for predictions while no
outcome arrives first) and the checkpoint script re-checks every record the plan relies on as it
writes it — a new record only if none exists, a pair only if the other side still waits — and
applies nothing if one changed, so the batch is planned again (see ``monitor/store/checkpoint.py``).
The plan is written into the batch's :class:`~monitor.vocab.effects.Effects` by (model, id); the
store alone names the records' keys.
Two instances can therefore never both leave a pair unjoined.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import msgspec

from monitor.events import Outcome, Prediction, Scalar
from monitor.vocab.effects import EARLY_OUTCOME, PENDING, Effects

#: Joined markers outlive the horizon by this much, so a duplicate arriving right at the edge of
#: the horizon is still recognised (protects duplicate detection from clock skew between hosts).
MARKER_GRACE_MS = 3600_000
E = TypeVar("E", Prediction, Outcome)
_MODEL, _ID = operator.attrgetter("model"), operator.attrgetter("id")
#: Reads the join records of (model, id)s as they are now (``monitor/store/joins.py``).
ReadRecords = Callable[[list[tuple[str, str]]], list[bytes | None]]


class Pair(msgspec.Struct, frozen=True, gc=False):
    """A prediction with its ground truth: the unit of performance statistics.

    A struct, not a frozen dataclass: a batch forms one per outcome, and a frozen dataclass's
    ``__init__`` (one ``object.__setattr__`` per field) cost ten times as much. ``gc=False``: it
    holds only scalars and a score dict, so it can never be part of a reference cycle.
    """

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
    #: Records the snapshot found (0 without a snapshot): a sign outcomes arrive first.
    found: int = 0


class _PendingPrediction(msgspec.Struct):
    """What a waiting prediction keeps for its pair: version, time, prediction, score."""

    v: str
    t: float
    p: Scalar
    s: float | dict[str, float] | None


class _EarlyOutcome(msgspec.Struct):
    """What a waiting outcome keeps: its time and label."""

    t: float
    l: Scalar  # noqa: E741 (the stored field name)


class Joiner:
    """Plans the join for one batch of predictions or of outcomes.

    One record per (model, id) holds the join's state: ``'P'`` + JSON while a prediction waits,
    ``'O'`` + JSON while an early outcome waits, ``'J'`` once paired. Each side arriving reads it:
    the other side waiting means a pair, its own side or ``'J'`` means a duplicate id.

    Predictions usually arrive first, so a batch of them may be planned *without* reading the
    records (``snapshot=False``): every prediction is assumed new and the checkpoint script
    creates its record only if none exists (``SET NX``); if one does, the batch is planned again
    from a snapshot. Outcomes always read their records, since a pair needs the prediction.
    """

    def __init__(self, read: ReadRecords, horizon_seconds: int) -> None:
        self._read = read
        self._horizon_ms = horizon_seconds * 1000
        #: Expiry is bucketed so a batch adds its pending records with one command; a bucket is
        #: a thousandth of the horizon (at least a second), which bounds the expiry's error.
        self._bucket_ms = max(1000, self._horizon_ms // 1000)
        self._encode = msgspec.json.Encoder().encode
        self._pending = msgspec.json.Decoder(_PendingPrediction)
        self._early = msgspec.json.Decoder(_EarlyOutcome)

    def plan_predictions(
        self,
        predictions: Sequence[Prediction],
        effects: Effects,
        now_ms: int,
        *,
        snapshot: bool = True,
    ) -> JoinPlan:
        """Predictions pair with early outcomes or wait; a repeated id is a duplicate."""

        def pair(p: Prediction, waiting: bytes) -> Pair:
            o = self._early.decode(waiting)
            return Pair(p.model, p.version, p.ts, p.prediction, p.score, o.l, o.t)

        def record(p: Prediction) -> msgspec.Struct:
            return _PendingPrediction(p.version, p.ts, p.prediction, p.score)

        return self._plan(predictions, effects, now_ms, snapshot, PENDING, record, pair)

    def plan_outcomes(self, outcomes: Sequence[Outcome], effects: Effects, now_ms: int) -> JoinPlan:
        """Outcomes pair with pending predictions or wait; a second label for an id is refused."""

        def pair(o: Outcome, waiting: bytes) -> Pair:
            p = self._pending.decode(waiting)
            return Pair(o.model, p.v, p.t, p.p, p.s, o.label, o.ts)

        def record(o: Outcome) -> msgspec.Struct:
            return _EarlyOutcome(o.ts, o.label)

        return self._plan(outcomes, effects, now_ms, True, EARLY_OUTCOME, record, pair)

    def _plan(
        self,
        events: Sequence[E],
        effects: Effects,
        now_ms: int,
        snapshot: bool,
        side: str,
        record: Callable[[E], msgspec.Struct],
        pair: Callable[[E, bytes], Pair],
    ) -> JoinPlan:
        """Each event finds its record: none (it waits, as ``side``), the other side waiting (a
        pair), or its own side or ``'J'`` (a duplicate). A key repeated in the batch is a
        duplicate of its first occurrence."""
        models, event_ids = list(map(_MODEL, events)), list(map(_ID, events))
        ids = list(zip(models, event_ids, strict=True))  # built in C, as the keys below
        found = self._snapshot(ids) if snapshot else {}
        plan = JoinPlan(found=len(found))
        encode = self._encode
        waiting = effects.join_put
        if not found and len(set(ids)) == len(ids):  # the usual batch: each event new, once
            values = [side + encode(record(e)).decode() for e in events]
            waiting.extend(zip(models, event_ids, values, strict=True))
        else:
            other = EARLY_OUTCOME if side == PENDING else PENDING
            other_byte = ord(other)
            planned: set[tuple[str, str]] = set()
            get, seen = found.get, planned.add
            pairs, duplicates, marks = plan.pairs, plan.duplicates, effects.join_mark
            for event, model_id in zip(events, ids, strict=True):
                current = get(model_id)
                if model_id in planned:
                    duplicates.append(event)
                elif current is None:
                    waiting.append((*model_id, side + encode(record(event)).decode()))
                elif current[0] == other_byte:
                    pairs.append(pair(event, current[1:]))
                    marks.append((*model_id, other))
                else:
                    duplicates.append(event)
                    effects.join_expect.append((*model_id, chr(current[0])))
                seen(model_id)
        if waiting:
            # Records wait in the expiry bucket that covers the end of their horizon.
            expires = now_ms + self._horizon_ms
            effects.join_bucket_ms = -(-expires // self._bucket_ms) * self._bucket_ms
            effects.join_ttl_ms = self._horizon_ms + MARKER_GRACE_MS
        return plan

    def _snapshot(self, ids: list[tuple[str, str]]) -> dict[tuple[str, str], bytes]:
        """The records that exist now, by (model, id) (the script re-checks each one it relies
        on)."""
        if not ids:
            return {}
        values = self._read(ids)
        return {i: value for i, value in zip(ids, values, strict=True) if value is not None}
