"""Ingestion counters per model: traffic, dead letters, label coverage and label delay.

Counters are per partition and only ever incremented, so totals for a model are the sum over
partitions (merged at read time by ``monitor/store/query.py``) and a replayed batch — refused by
the checkpoint script — can never count twice.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from typing import TypeVar

from monitor.events import Outcome, Prediction, by_model
from monitor.join import Pair
from monitor.vocab.deadletter import DeadLetter
from monitor.vocab.effects import (
    DEAD,
    DEAD_PREFIX,
    DELAY_EDGES,
    DELAY_LABELS,
    DELAY_PREFIX,
    DELAY_SUM,
    JOINED,
    LAST_EVENT_TS,
    LAST_SEEN,
    OUTCOMES,
    PREDICTIONS,
    Effects,
)

_E = TypeVar("_E", Prediction, Outcome)


def count_batch(
    effects: Effects,
    valid: Sequence[_E],
    dead: Iterable[DeadLetter],
    pairs: Sequence[Pair],
    seen_at: float,
) -> None:
    """Add one batch's counters to ``effects`` (valid events exclude duplicates); ``seen_at``:
    the batch's wall-clock time, for each model's ``LAST_SEEN``."""
    kind = PREDICTIONS if valid and isinstance(valid[0], Prediction) else OUTCOMES
    for model, events in by_model(valid).items():
        effects.counters[model][kind] += len(events)
        effects.maximum(model, LAST_EVENT_TS, max(e.ts for e in events))
        effects.maximum(model, LAST_SEEN, seen_at)
    for letter in dead:
        fields = effects.counters[letter.model]
        fields[DEAD] += 1
        fields[DEAD_PREFIX + letter.reason.value] += 1
    for model, group in by_model(pairs).items():
        fields, floats = effects.counters[model], effects.counter_sums[model]
        fields[JOINED] += len(group)
        delays = [pair.delay_seconds for pair in group]
        for delay in delays:
            fields[DELAY_PREFIX + DELAY_LABELS[bisect.bisect_left(DELAY_EDGES, delay)]] += 1
        floats[DELAY_SUM] += math.fsum(delays)
