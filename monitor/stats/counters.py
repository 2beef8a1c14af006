"""Ingestion counters per model: traffic, dead letters, label coverage and label delay.

Counters are per partition and only ever incremented, so totals for a model are the sum over
partitions (merged at read time by ``monitor/store/query.py``) and a replayed batch — refused by
the checkpoint script — can never count twice.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from monitor.events import DeadLetter, Outcome, Prediction, by_model
from monitor.join import Pair
from monitor.store.checkpoint import EXPIRED_PREDICTIONS, ORPHAN_OUTCOMES, Changes
from monitor.store.keys import PartitionKeys

PREDICTIONS = "predictions"
OUTCOMES = "outcomes"
JOINED = "joined"
DEAD = "dead"
DEAD_PREFIX = "dead:"
DELAY_PREFIX = "delay:"
DELAY_SUM = "delay_sum_seconds"
LAST_EVENT_TS = "last_event_ts"

#: Upper edges (seconds) of the label-delay histogram: 1 s … 7 days, then everything later.
DELAY_EDGES: tuple[float, ...] = (1, 10, 60, 600, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400)
DELAY_LABELS: tuple[str, ...] = (
    "1s", "10s", "1m", "10m", "1h", "6h", "1d", "3d", "7d", "inf",
)  # fmt: skip


def count_batch(
    changes: Changes,
    pkeys: PartitionKeys,
    valid: Sequence[Prediction] | Sequence[Outcome],
    dead: Iterable[DeadLetter],
    pairs: Sequence[Pair],
) -> None:
    """Add one batch's counters to ``changes`` (valid events exclude duplicates)."""
    kind = PREDICTIONS if valid and isinstance(valid[0], Prediction) else OUTCOMES
    for model, events in by_model(valid).items():
        key = pkeys.counters(model)
        changes.incr[key][kind] += len(events)
        changes.maximum(key, LAST_EVENT_TS, max(e.ts for e in events))
    for letter in dead:
        fields = changes.incr[pkeys.counters(letter.model)]
        fields[DEAD] += 1
        fields[DEAD_PREFIX + letter.reason.value] += 1
    for model, group in by_model(pairs).items():
        fields, floats = changes.incr[pkeys.counters(model)], changes.fincr[pkeys.counters(model)]
        fields[JOINED] += len(group)
        delays = [pair.delay_seconds for pair in group]
        for delay in delays:
            fields[DELAY_PREFIX + DELAY_LABELS[bisect.bisect_left(DELAY_EDGES, delay)]] += 1
        floats[DELAY_SUM] += math.fsum(delays)


@dataclass(frozen=True, slots=True)
class IngestCounts:
    """A model's ingestion totals, merged over partitions."""

    predictions: int = 0
    outcomes: int = 0
    joined: int = 0
    dead: int = 0
    expired_predictions: int = 0
    orphan_outcomes: int = 0
    dead_by_reason: dict[str, int] = field(default_factory=dict)
    delay_histogram: dict[str, int] = field(default_factory=dict)
    delay_sum_seconds: float = 0.0
    last_event_ts: float | None = None

    @property
    def label_coverage(self) -> float | None:
        """Share of predictions that received their outcome."""
        return self.joined / self.predictions if self.predictions else None

    @property
    def mean_label_delay_seconds(self) -> float | None:
        return self.delay_sum_seconds / self.joined if self.joined else None

    @property
    def pending_predictions(self) -> int:
        """Predictions waiting for their outcome: each valid one pairs, waits or expires."""
        return max(0, self.predictions - self.joined - self.expired_predictions)

    @property
    def pending_outcomes(self) -> int:
        """Early outcomes waiting for their prediction."""
        return max(0, self.outcomes - self.joined - self.orphan_outcomes)

    @classmethod
    def merge(cls, hashes: Iterable[dict[bytes, bytes]]) -> IngestCounts:
        """Sum per-partition counter hashes (as returned by ``HGETALL``)."""
        ints: dict[str, int] = {}
        delay_sum = 0.0
        last: float | None = None
        for h in hashes:
            for raw_name, raw_value in h.items():
                name = raw_name.decode()
                if name == DELAY_SUM:
                    delay_sum += float(raw_value)
                elif name == LAST_EVENT_TS:
                    last = max(last or 0.0, float(raw_value))
                else:
                    ints[name] = ints.get(name, 0) + int(raw_value)
        return cls(
            predictions=ints.get(PREDICTIONS, 0),
            outcomes=ints.get(OUTCOMES, 0),
            joined=ints.get(JOINED, 0),
            dead=ints.get(DEAD, 0),
            expired_predictions=ints.get(EXPIRED_PREDICTIONS, 0),
            orphan_outcomes=ints.get(ORPHAN_OUTCOMES, 0),
            dead_by_reason={
                k.removeprefix(DEAD_PREFIX): v for k, v in ints.items() if k.startswith(DEAD_PREFIX)
            },
            delay_histogram={label: ints.get(DELAY_PREFIX + label, 0) for label in DELAY_LABELS},
            delay_sum_seconds=delay_sum,
            last_event_ts=last,
        )
