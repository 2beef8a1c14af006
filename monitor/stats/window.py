"""Event-time windows: a batch of events becomes mergeable per-window increments.

Every prediction lands in the tumbling window of *its own timestamp* (a backfill fills last month's
windows, not today's), per model version, binned on the model's current reference profile.
Windows are kept ``windows.retention_days`` after they were last written (wall clock), so a
backfill or a replay of old data stays visible as long as live data does. What
a window holds is only counts and sums — bin counts per feature, missing values, type errors,
numeric sums, performance sums of joined pairs — so the partial windows that several partitions
and instances write add up exactly when read (``monitor/store/query.py``). Work is vectorised per
batch and feature; nothing here runs per event and feature in Python beyond picking the values.

Fields of a window's counts (names in ``monitor/vocab/effects.py``; the store keeps one hash per
partition, model and window id)::

    n                     predictions
    b:<feature>:<bin>     count in reference bin <bin>   ("__prediction__": the prediction or
                          score, "__decision__": a scoring binary model's predicted class)
    miss:<feature>        missing values                 terr:<feature>  values of the wrong type
    u:<feature>:<name>    an unseen category's count (the batch's few most frequent, by name)
    versions_folded       events of versions beyond MAX_VERSIONS_PER_WINDOW (version "other")
    sum:<feature>         sum of valid numeric values    sq:<feature>    sum of their squares
    perf:<name>           performance sums of the window's joined pairs (stats/performance.py)
    sc:<d>:<bin>          a binary classifier's scored predictions by decision <d> (0/1) and
                          equal-width score bin: its performance estimate (stats/estimation.py)
"""

from __future__ import annotations

import functools
import logging
import math
import operator
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitor.config import ModelSettings, WindowSettings
from monitor.events import Prediction, by_model
from monitor.features import Columns, FeatureSchema
from monitor.join import Pair
from monitor.stats import estimation, performance
from monitor.stats.quality import UNSEEN_NAME_CHARS
from monitor.vocab.deadletter import DeadLetter
from monitor.vocab.effects import (
    MISSING_PREFIX,
    PERFORMANCE_PREFIX,
    SQUARES_PREFIX,
    SUM_PREFIX,
    TYPE_ERROR_PREFIX,
    UNSEEN_PREFIX,
    VERSIONS_FOLDED,
    Effects,
    N,
    bin_field,
    score_field,
    window_id,
)
from monitor.vocab.profile import CategoricalProfile, NumericProfile, Profile, ReferenceProfile
from monitor.vocab.verdicts import DECISION, PREDICTION

log = logging.getLogger(__name__)

#: Window ids binned without a reference carry this reference version.
NO_REFERENCE = "none"
#: Unseen categories named per feature and batch: bounds a window's hash whatever the traffic.
UNSEEN_PER_BATCH = 3
#: Distinct model versions per model and window: further versions are counted as
#: :data:`OTHER_VERSION` (each version is a window of its own, so unbounded versions would be
#: unbounded windows).
MAX_VERSIONS_PER_WINDOW = 8
OTHER_VERSION = "other"
#: Windows whose admitted versions this process remembers (oldest forgotten first).
VERSION_MEMORY = 4096
_MODEL = operator.attrgetter("model")
_VERSION = operator.attrgetter("version")
_PREDICTION_TS = operator.attrgetter("prediction_ts")


class WindowAggregator:
    """Adds a batch's window increments to its effects."""

    def __init__(
        self,
        models: Sequence[ModelSettings],
        windows: WindowSettings,
        reference: Callable[[str], ReferenceProfile | None],
    ) -> None:
        self._models = {m.name: m for m in models}
        self._schemas = {m.name: FeatureSchema(m) for m in models}
        self._size = windows.size_seconds
        self._origin = windows.origin
        self._reference = reference
        self._versions = _Versions(MAX_VERSIONS_PER_WINDOW)

    def predictions(self, effects: Effects, predictions: Sequence[Prediction]) -> None:
        """Count predictions into their windows: traffic, quality, bins, prediction drift."""
        for model, events in by_model(predictions).items():
            ref = self._reference(model)
            schema = self._schemas[model]
            for (given, start), group in self._by_window(events).items():
                version = self._versions.admit(model, start, given)
                fields, floats = self._window(effects, model, version, start, ref)
                fields[N] += len(group)
                if version != given:
                    fields[VERSIONS_FOLDED] += len(group)
                columns = schema.columns([e.features for e in group])
                _quality(fields, columns)
                _sums(floats, schema.numeric, columns.numeric)
                # A binary model's scores, read once: counted here and binned as its prediction.
                scores = _score_array(group) if self._models[model].task == "binary" else None
                if scores is not None:
                    _scores(fields, scores, group)
                if ref is None:
                    continue
                for j, name in enumerate(schema.numeric):
                    _bins(fields, name, ref.features.get(name), columns.numeric[:, j])
                for name, column in zip(schema.categorical, columns.categorical, strict=True):
                    profile = ref.features.get(name)
                    tally = _bins(fields, name, profile, column)
                    if tally is not None and isinstance(profile, CategoricalProfile):
                        _name_unseen(fields, name, profile.unseen(tally))
                column = _prediction_column(self._models[model], ref, group, scores)
                _bins(fields, PREDICTION, ref.prediction, column)
                if ref.decision is not None:  # as strings, the profile's categories
                    _bins(fields, DECISION, ref.decision, [str(e.prediction) for e in group])

    def pairs(self, effects: Effects, pairs: Sequence[Pair]) -> None:
        """Add performance sums of joined pairs to the window of their *prediction*."""
        if not pairs:
            return
        ts = np.fromiter(map(_PREDICTION_TS, pairs), dtype=np.float64, count=len(pairs))
        # (model, window start, version as sent) of each pair, built in C
        keys = list(
            zip(map(_MODEL, pairs), self._starts(ts).tolist(), map(_VERSION, pairs), strict=True)
        )
        groups: dict[tuple[str, str, int], list[Pair]]
        if len(set(keys)) == 1:  # the usual batch: one window of one version
            model, start, given = keys[0]
            groups = {(model, self._versions.admit(model, start, given), start): list(pairs)}
        else:
            groups = defaultdict(list)
            # A key is admitted at its first pair, as the loop meets them; admitting it again
            # would answer the same (a window's admitted versions only grow).
            admitted: dict[tuple[str, int, str], str] = {}
            for key, pair in zip(keys, pairs, strict=True):
                version = admitted.get(key)
                if version is None:
                    version = admitted[key] = self._versions.admit(*key)
                groups[key[0], version, key[1]].append(pair)
        for (model, version, start), items in groups.items():
            ref = self._reference(model)
            _, floats = self._window(effects, model, version, start, ref)
            for name, value in _performance_sums(self._models[model], items).items():
                floats[PERFORMANCE_PREFIX + name] += value

    def dead_letters(self, effects: Effects, letters: Sequence[DeadLetter], now_ms: int) -> None:
        """Count dead letters by reason in the window of their *arrival*: an invalid event's own
        timestamp cannot be trusted (it may be what made it invalid)."""
        start = self._start(now_ms / 1000)
        for letter in letters:
            effects.dead_letters[letter.model, start][letter.reason.value] += 1

    def _start(self, ts: float) -> int:
        return self._origin + math.floor((ts - self._origin) / self._size) * self._size

    def _starts(self, ts: NDArray[np.float64]) -> NDArray[np.int64]:
        """The window start of each time (as :meth:`_start`: the same operations, exact)."""
        return (self._origin + np.floor((ts - self._origin) / self._size) * self._size).astype(
            np.int64
        )

    def _by_window(self, events: Sequence[Prediction]) -> dict[tuple[str, int], list[Prediction]]:
        """Events by (model version, window start); one group, found in C, is the usual case."""
        ts = np.fromiter((e.ts for e in events), dtype=np.float64, count=len(events))
        starts = self._starts(ts)
        versions = [e.version for e in events]
        if len(set(versions)) == 1 and starts.min() == starts.max():
            return {(versions[0], int(starts[0])): list(events)}
        groups: defaultdict[tuple[str, int], list[Prediction]] = defaultdict(list)
        for event, version, start in zip(events, versions, starts.tolist(), strict=True):
            groups[version, start].append(event)
        return groups

    def _window(
        self,
        effects: Effects,
        model: str,
        version: str,
        start: int,
        ref: ReferenceProfile | None,
    ) -> tuple[Any, Any]:
        """The increment maps of one window (the store indexes it and marks it for evaluation)."""
        wid = window_id(start, version, ref.version if ref is not None else NO_REFERENCE)
        delta = effects.window(model, wid, start)
        return delta.counts, delta.sums


class _Versions:
    """The model versions admitted per (model, window start), as this process has seen them.

    Several daemons each keep their own view, so a window can hold up to the cap per daemon;
    the point is a bound, not an exact count.
    """

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._seen: OrderedDict[tuple[str, int], set[str]] = OrderedDict()

    def admit(self, model: str, start: int, version: str) -> str:
        """``version``, or :data:`OTHER_VERSION` once the window has ``cap`` others."""
        seen = self._seen.get((model, start))
        if seen is None:
            seen = self._seen[model, start] = set()
            if len(self._seen) > VERSION_MEMORY:
                self._seen.popitem(last=False)
        if version in seen or len(seen) < self._cap:
            seen.add(version)
            return version
        if OTHER_VERSION not in seen:
            seen.add(OTHER_VERSION)
            log.warning(
                "model %s sends more than %d versions in the window starting %d: further "
                "versions count as version %r (see versions_folded)",
                model, self._cap, start, OTHER_VERSION,
            )  # fmt: skip
        return OTHER_VERSION


def _quality(fields: Any, columns: Columns) -> None:
    for name, n in columns.missing.items():
        if n:
            fields[MISSING_PREFIX + name] += n
    for name, n in columns.wrong_type.items():
        if n:
            fields[TYPE_ERROR_PREFIX + name] += n


def _sums(floats: Any, names: Sequence[str], numeric: NDArray[np.float64]) -> None:
    """Sums and sums of squares of each numeric feature's valid values (for mean and std)."""
    present = ~np.isnan(numeric)
    values = np.where(present, numeric, 0.0)
    any_present = present.any(axis=0)
    sums, squares = values.sum(axis=0), np.einsum("ij,ij->j", values, values)
    for j, name in enumerate(names):
        if any_present[j]:
            floats[SUM_PREFIX + name] += float(sums[j])
            floats[SQUARES_PREFIX + name] += float(squares[j])


def _bins(fields: Any, name: str, profile: Profile | None, values: Any) -> Counter[Any] | None:
    """Count values into the reference bins of the feature; returns how often each category
    occurs for a categorical feature (None for a numeric one, without a profile, or with one of
    the other kind: the feature's kind changed since)."""
    if profile is None or isinstance(profile, NumericProfile) != isinstance(values, np.ndarray):
        return None
    tally: Counter[Any] | None = None
    if isinstance(profile, NumericProfile):
        counts = profile.bin_counts(values)
    else:
        tally = Counter(values)  # counted in C; a column has few distinct categories
        counts = profile.bin_counts(tally)
    names = _bin_fields(name, profile.n_bins)
    for b, n in enumerate(counts):
        if n:
            fields[names[b]] += n
    return tally


def _name_unseen(fields: Any, name: str, unseen: dict[str, int]) -> None:
    """Count the batch's most frequent unseen categories by name (``UNSEEN_PER_BATCH`` at most,
    names cut to ``UNSEEN_NAME_CHARS``): enough to name what is new, bounded per batch."""
    if not unseen:
        return
    named: Counter[str] = Counter()
    for category, count in unseen.items():  # first seen first: most_common breaks ties so
        named[str(category)[:UNSEEN_NAME_CHARS]] += count
    for category, count in named.most_common(UNSEEN_PER_BATCH):
        fields[f"{UNSEEN_PREFIX}{name}:{category}"] += count


def _score_array(events: Sequence[Prediction]) -> NDArray[np.float64]:
    """Binary predictions' scores; NaN where an event has none."""
    return np.array(
        [e.score if isinstance(e.score, float) else math.nan for e in events], dtype=np.float64
    )


def _scores(fields: Any, scores: NDArray[np.float64], events: Sequence[Prediction]) -> None:
    """Count scored binary predictions (``scores``: :func:`_score_array` of ``events``) by decision
    and score bin (no reference needed: the estimate calibrates them against whichever reference
    evaluates the window)."""
    if np.isnan(scores).all():
        return
    decisions = np.array([e.prediction for e in events], dtype=np.float64)
    histograms = estimation.decision_histograms(scores, decisions)
    for decision, histogram in zip((1, 0), histograms, strict=True):
        names = _score_fields(decision)
        for b in np.flatnonzero(histogram).tolist():
            fields[names[b]] += int(histogram[b])


@functools.lru_cache(maxsize=2)
def _score_fields(decision: int) -> list[str]:
    return [score_field(decision, b) for b in range(performance.SCORE_BINS)]


@functools.lru_cache(maxsize=65_536)
def _bin_fields(name: str, n_bins: int) -> list[str]:
    """Hash field names of a feature's bins (built once, not per batch)."""
    return [bin_field(name, b) for b in range(n_bins)]


def _prediction_column(
    model: ModelSettings,
    ref: ReferenceProfile,
    events: Sequence[Prediction],
    scores: NDArray[np.float64] | None,
) -> Any:
    """The values the reference's prediction profile was built on: scores, numbers or classes
    (``scores``: :func:`_score_array` of ``events`` for a binary model)."""
    if not isinstance(ref.prediction, NumericProfile):
        return [str(e.prediction) for e in events]
    if scores is not None:  # a numeric binary profile is one of scores; no score = missing
        return scores
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
    )
