"""Event-time windows: a batch of events becomes mergeable per-window increments.

Every prediction lands in the tumbling window of *its own timestamp* (a backfill fills last month's
windows, not today's), per model version, binned on the model's current reference profile. What
a window holds is only counts and sums — bin counts per feature, missing values, type errors,
numeric sums, performance sums of joined pairs — so the partial windows that several partitions
and instances write add up exactly when read (``monitor/store/query.py``). Work is vectorised per
batch and feature; nothing here runs per event and feature in Python beyond picking the values.

Fields of a window hash (one per partition, model and window id, see ``store/keys.py``)::

    n                     predictions
    b:<feature>:<bin>     count in reference bin <bin>   ("__prediction__" = prediction drift)
    miss:<feature>        missing values                 terr:<feature>  values of the wrong type
    sum:<feature>         sum of valid numeric values    sq:<feature>    sum of their squares
    perf:<name>           performance sums of the window's joined pairs (stats/performance.py)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.config import ModelSettings, Settings
from monitor.events import DeadLetter, Prediction
from monitor.join import Pair
from monitor.stats import performance
from monitor.stats.reference import NumericProfile, Profile, ReferenceProfile, numeric_values
from monitor.store.checkpoint import Changes
from monitor.store.keys import Keys, PartitionKeys, window_id

PREDICTION = "__prediction__"
#: Window ids binned without a reference carry this reference version.
NO_REFERENCE = "none"
#: Value types of a numeric feature that are not type errors (bools count as 0/1, as in the
#: reference: ``stats.reference.numeric_values``).
_NUMBER_TYPES = {int, float, bool, type(None)}


@dataclass(frozen=True, slots=True)
class _Group:
    model: str
    version: str
    start: int


class WindowAggregator:
    """Adds a batch's window increments to the checkpoint's changes."""

    def __init__(
        self,
        settings: Settings,
        keys: Keys,
        reference: Callable[[str], ReferenceProfile | None],
    ) -> None:
        self._models = {m.name: m for m in settings.models}
        self._size = settings.windows.size_seconds
        self._retention_ms = settings.windows.retention_days * 86_400_000
        self._keys = keys
        self._reference = reference

    def predictions(
        self, changes: Changes, pkeys: PartitionKeys, predictions: Sequence[Prediction], now_ms: int
    ) -> None:
        """Count predictions into their windows: traffic, quality, bins, prediction drift."""
        groups: defaultdict[_Group, list[Prediction]] = defaultdict(list)
        for p in predictions:
            groups[_Group(p.model, p.version, self._start(p.ts))].append(p)
        for group, events in groups.items():
            ref = self._reference(group.model)
            fields, floats = self._window(changes, pkeys, group, ref, now_ms)
            fields["n"] += len(events)
            features = [e.features for e in events]
            for name, kind in self._models[group.model].features.items():
                column = [f.get(name) for f in features]
                profile = ref.features.get(name) if ref is not None else None
                if kind == "numeric":
                    _numeric(fields, floats, name, column, profile)
                else:
                    _categorical(fields, name, column, profile)
            if ref is not None:
                column = _prediction_column(self._models[group.model], ref, events)
                _bins(fields, PREDICTION, ref.prediction, column)

    def pairs(
        self, changes: Changes, pkeys: PartitionKeys, pairs: Sequence[Pair], now_ms: int
    ) -> None:
        """Add performance sums of joined pairs to the window of their *prediction*."""
        groups: defaultdict[_Group, list[Pair]] = defaultdict(list)
        for pair in pairs:
            groups[_Group(pair.model, pair.version, self._start(pair.prediction_ts))].append(pair)
        for group, items in groups.items():
            ref = self._reference(group.model)
            _, floats = self._window(changes, pkeys, group, ref, now_ms)
            for name, value in _performance_sums(self._models[group.model], items).items():
                floats["perf:" + name] += value

    def dead_letters(
        self, changes: Changes, pkeys: PartitionKeys, letters: Sequence[DeadLetter], now_ms: int
    ) -> None:
        """Count dead letters by reason in the window of their *arrival*: an invalid event's own
        timestamp cannot be trusted (it may be what made it invalid)."""
        start = self._start(now_ms / 1000)
        for letter in letters:
            key = pkeys.dead_letters(letter.model, start)
            changes.incr[key][letter.reason.value] += 1
            changes.expire_at[key] = (start + self._size) * 1000 + self._retention_ms

    def _start(self, ts: float) -> int:
        return math.floor(ts / self._size) * self._size

    def _window(
        self,
        changes: Changes,
        pkeys: PartitionKeys,
        group: _Group,
        ref: ReferenceProfile | None,
        now_ms: int,
    ) -> tuple[Any, Any]:
        """The increment maps of one window, registered in the index and marked for evaluation."""
        model = group.model
        wid = window_id(
            group.start, group.version, ref.version if ref is not None else NO_REFERENCE
        )
        key = pkeys.window(model, wid)
        changes.expire_at[key] = (group.start + self._size) * 1000 + self._retention_ms
        changes.zadd.append((self._keys.window_index(model), group.start, wid))
        changes.zadd.append((self._keys.dirty, now_ms, f"{model}:{wid}"))
        return changes.incr[key], changes.fincr[key]


def _numeric(
    fields: Any, floats: Any, name: str, column: list[Any], profile: Profile | None
) -> None:
    if {type(v) for v in column} <= _NUMBER_TYPES:
        values = np.array(column, dtype=np.float64)  # None becomes NaN
        n_wrong = 0
    else:  # slow path, only for batches holding a value of the wrong type
        values = numeric_values(column)
        n_wrong = sum(1 for v in column if v is not None and type(v) not in _NUMBER_TYPES)
    missing = int(np.isnan(values).sum()) - n_wrong
    if missing:
        fields["miss:" + name] += missing
    if n_wrong:
        fields["terr:" + name] += n_wrong
    valid = values[~np.isnan(values)]
    if valid.size:
        floats["sum:" + name] += float(valid.sum())
        floats["sq:" + name] += float(np.dot(valid, valid))
    if isinstance(profile, NumericProfile):
        _bins(fields, name, profile, values)


def _categorical(fields: Any, name: str, column: list[Any], profile: Profile | None) -> None:
    wrong = [i for i, v in enumerate(column) if isinstance(v, dict | list)]
    if wrong:
        fields["terr:" + name] += len(wrong)
        for i in wrong:
            column[i] = None
    missing = column.count(None) - len(wrong)
    if missing:
        fields["miss:" + name] += missing
    if profile is not None and not isinstance(profile, NumericProfile):
        _bins(fields, name, profile, column)


def _bins(fields: Any, name: str, profile: Profile, values: Any) -> None:
    counts = np.bincount(profile.bin_index(values), minlength=profile.n_bins)
    for b in np.flatnonzero(counts):
        fields[f"b:{name}:{b}"] += int(counts[b])


def _prediction_column(
    model: ModelSettings, ref: ReferenceProfile, events: Sequence[Prediction]
) -> Any:
    """The values the reference's prediction profile was built on: scores, numbers or classes."""
    if not isinstance(ref.prediction, NumericProfile):
        return [str(e.prediction) for e in events]
    if model.task == "binary":  # a numeric binary profile is one of scores; no score = missing
        return np.array(
            [e.score if isinstance(e.score, float) else math.nan for e in events], dtype=np.float64
        )
    return np.array([e.prediction for e in events], dtype=np.float64)


def _performance_sums(model: ModelSettings, pairs: Sequence[Pair]) -> dict[str, float]:
    if model.task == "regression":
        return performance.regression_sums(
            np.array([p.prediction for p in pairs], dtype=np.float64),
            np.array([p.label for p in pairs], dtype=np.float64),
        )
    if model.task == "multiclass":
        return performance.multiclass_sums(
            [str(p.prediction) for p in pairs], [str(p.label) for p in pairs], model.classes
        )
    scores = [p.score if isinstance(p.score, float) else math.nan for p in pairs]
    return performance.binary_sums(
        np.array(scores, dtype=np.float64),  # NaN: this pair has no score
        np.array([p.prediction for p in pairs], dtype=np.float64),
        np.array([p.label for p in pairs], dtype=np.float64),
        model.threshold,
    )
