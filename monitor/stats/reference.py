"""The reference profile: the bins every window counts into.

A profile is computed once from a reference data set (the training or a validation sample) and
stored as a msgspec blob. Windows count their events into the *reference's* bins, so the
statistics of :mod:`monitor.stats.distance` follow exactly from integer counts that add across
partitions — no raw values are ever kept per window.

Bin layouts (the last bin is always *missing*):

- numeric: ``[below, in-range bins..., above, missing]``. In-range bins are the reference's
  quantile bins (:data:`N_QUANTILE_BINS`, fewer when ties merge quantiles), left-closed
  ``[e[i-1], e[i])`` with the last one closed on both sides so the reference maximum is inside.
  ``below``/``above`` catch values outside the reference's range, which the reference itself
  never has.
- categorical: ``[top categories..., other, unseen, missing]``. The :data:`MAX_CATEGORIES` most
  frequent reference categories get a bin each; the rest of the reference's vocabulary (its
  :data:`MAX_VOCABULARY` most frequent) is *other*; anything the reference never showed is
  *unseen*.

Missing means ``None`` (and NaN) everywhere; for a numeric feature it also means a value that is
not a real number (a string, a list, ±inf): the event is still valid, the feature is not.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Mapping, Sequence

import msgspec
import numpy as np
from numpy.typing import NDArray

from monitor.config import ModelSettings
from monitor.stats import estimation, performance
from monitor.vocab.profile import (
    CategoricalProfile,
    NumericProfile,
    Profile,
    ReferenceProfile,
    category,
    numeric_values,
)

#: Numeric features: quantile bins of the reference (ties merge neighbouring quantiles).
N_QUANTILE_BINS = 20
#: Categorical features: categories with their own bin; the rest of the vocabulary is "other".
MAX_CATEGORIES = 50
#: Categories remembered beyond the top ones, to tell "other" (seen in the reference) from
#: "unseen". A reference with more distinct values counts its rarest ones as "other" while a
#: window counts them as "unseen" — a slight overstatement of unseen values by design.
MAX_VOCABULARY = 10_000
#: Bounded sample of reference values per numeric feature (documentation, plots, re-calibration).
SAMPLE_SIZE = 5_000


def _feature_seed(seed: int, name: str) -> int:
    """A seed per (seed, feature): samples differ between features and ignore their order."""
    return zlib.crc32(name.encode(), seed & 0xFFFFFFFF)


def build_numeric(values: Sequence[object] | np.ndarray, *, seed: int = 0) -> NumericProfile:
    """Profile one numeric feature (see :class:`NumericProfile`).

    Edges are the reference's ``N_QUANTILE_BINS`` quantiles with ties removed. A feature with at
    most that many distinct values (a flag, a count, an hour) gets one bin per value instead, with
    edges half-way between them: quantile edges would put 0 and 1 of a 0/1 flag in one bin and
    hide any change of its rate. A constant feature gets one bin ``[v, nextafter(v)]``. A feature
    without a single number cannot be a baseline.

    Examples
    --------
    >>> build_numeric([0, 1, 1, 0, 1]).edges
    [0.0, 0.5, 1.0]
    """
    x = numeric_values(values)
    present = x[~np.isnan(x)]
    if present.size == 0:
        raise ValueError("no numeric value in the reference: a drift baseline needs values")
    distinct = np.unique(present)
    if distinct.size == 1:
        edges = np.array([distinct[0], np.nextafter(distinct[0], np.inf)])
    elif distinct.size <= N_QUANTILE_BINS:
        edges = np.concatenate(([distinct[0]], (distinct[:-1] + distinct[1:]) / 2, [distinct[-1]]))
    else:
        edges = np.unique(np.quantile(present, np.linspace(0.0, 1.0, N_QUANTILE_BINS + 1)))
    profile = NumericProfile(
        edges=edges.tolist(),
        counts=[],
        mean=float(present.mean()),
        std=float(present.std()),
        n=int(x.size),
        n_missing=int(x.size - present.size),
        sample=np.random.default_rng(seed)
        .choice(present, size=min(SAMPLE_SIZE, present.size), replace=False)
        .tolist(),
        n_novel=int(np.count_nonzero(present == distinct[0]) == 1)
        + int(np.count_nonzero(present == distinct[-1]) == 1),
    )
    counts = np.bincount(profile.bin_index(x), minlength=profile.n_bins)
    return msgspec.structs.replace(profile, counts=counts.tolist())


def build_categorical(
    values: Sequence[object] | np.ndarray, *, max_categories: int = MAX_CATEGORIES
) -> CategoricalProfile:
    """Profile one categorical feature (see :class:`CategoricalProfile`).

    Categories are ranked by frequency, ties by name, so the profile is deterministic.
    """
    keys = [category(v) for v in values]
    frequency = Counter(k for k in keys if k is not None)
    if not frequency:
        raise ValueError("no category in the reference: a drift baseline needs values")
    ranked = sorted(frequency.items(), key=lambda item: (-item[1], item[0]))
    top = [name for name, _ in ranked[:max_categories]]
    rest = ranked[max_categories:]
    n_missing = len(keys) - sum(frequency.values())
    known = ranked[: max_categories + MAX_VOCABULARY]
    beyond = sum(count for _, count in ranked[max_categories + MAX_VOCABULARY :])
    return CategoricalProfile(
        categories=top,
        vocabulary=[name for name, _ in rest[:MAX_VOCABULARY]],
        counts=[frequency[name] for name in top] + [sum(c for _, c in rest), 0, n_missing],
        n=len(keys),
        n_missing=n_missing,
        n_novel=beyond + sum(1 for _, count in known if count == 1),
    )


def _booleans(values: Sequence[object] | np.ndarray) -> list[bool | None]:
    """A boolean feature's values: bools stay, anything else is missing (as in windows, where
    another type is counted as a wrong type and read as missing)."""
    return [v if type(v) is bool else None for v in values]


def _labelled(labels: Sequence[object]) -> NDArray[np.bool_]:
    return np.array([category(v) is not None for v in labels], dtype=bool)


def _labelled_reference(
    model: ModelSettings,
    predictions: Sequence[object],
    scores: Sequence[float] | None,
    labels: Sequence[object],
) -> performance.LabelledReference:
    """The reference's performance data, from the rows that have a label."""
    keep = _labelled(labels)
    pred = [p for p, k in zip(predictions, keep, strict=True) if k]
    true = [y for y, k in zip(labels, keep, strict=True) if k]
    s = None
    if model.task == "binary" and scores is not None:
        s = numeric_values(scores)[keep]
    elif model.task == "regression":
        pred, true = numeric_values(pred).tolist(), numeric_values(true).tolist()
    return performance.labelled_reference(model.task, pred, s, true, model.classes)


def _target_profile(
    model: ModelSettings, values: Sequence[object], *, numeric: bool, seed: int
) -> Profile:
    if numeric:
        return build_numeric(values, seed=seed)
    if model.task == "binary":
        return build_categorical(performance.binary_values(values))
    return build_categorical(values)


def build_profile(
    model: ModelSettings,
    features: Mapping[str, Sequence[object] | np.ndarray],
    *,
    predictions: Sequence[object],
    scores: Sequence[float] | None = None,
    labels: Sequence[object] | None = None,
    version: str,
    source: str,
    created_at: float,
    seed: int = 0,
) -> ReferenceProfile:
    """Build the reference profile of ``model`` from column-wise reference data.

    ``features`` maps each of the model's features to its column (extra columns, such as ids,
    are ignored); every column, ``predictions``, ``scores`` and ``labels`` have one value per
    row. Rows without a label (None/NaN) are left out of the reference metrics. ``seed`` fixes the
    bounded value samples.
    """
    n = len(predictions)
    columns: dict[str, Sequence[object] | np.ndarray] = {}
    for name in model.features:
        if name not in features:
            raise ValueError(f"reference data has no column for feature {name!r}")
        columns[name] = features[name]
    for name, column in (*columns.items(), ("scores", scores), ("labels", labels)):
        if column is not None and len(column) != n:
            raise ValueError(f"{name!r} has {len(column)} values for {n} predictions")
    profiles: dict[str, Profile] = {}
    for name, kind in model.features.items():
        try:
            if kind == "numeric":
                profiles[name] = build_numeric(columns[name], seed=_feature_seed(seed, name))
            elif kind == "boolean":
                profiles[name] = build_categorical(_booleans(columns[name]))
            else:
                profiles[name] = build_categorical(columns[name])
        except ValueError as exc:
            raise ValueError(f"feature {name!r}: {exc}") from None
    regression = model.task == "regression"
    prediction_seed = _feature_seed(seed, "__prediction__")
    try:
        if model.task == "binary" and scores is not None:
            prediction = build_numeric(scores, seed=prediction_seed)
        else:
            prediction = _target_profile(
                model, predictions, numeric=regression, seed=prediction_seed
            )
    except ValueError as exc:
        what = "scores" if model.task == "binary" and scores is not None else "predictions"
        raise ValueError(f"the {what}: {exc}") from None
    decision = labelled = calibration = None
    if model.task == "binary" and scores is not None:
        decision = build_categorical(performance.binary_values(predictions))
    label = None
    metrics: dict[str, float] = {}
    if labels is not None:
        keep = _labelled(labels)
        try:
            label = _target_profile(
                model,
                [y for y, k in zip(labels, keep, strict=True) if k],
                numeric=regression,
                seed=_feature_seed(seed, "__label__"),
            )
        except ValueError as exc:
            raise ValueError(f"the labels: {exc}") from None
        labelled = _labelled_reference(model, predictions, scores, labels)
        metrics = performance.metrics_for(model.task, labelled.sums, model.classes)
        if model.task == "binary" and scores is not None:
            calibration = estimation.calibrate_sums(labelled.sums)
    return ReferenceProfile(
        model=model.name,
        version=version,
        created_at=created_at,
        source=source,
        n=n,
        features=profiles,
        prediction=prediction,
        label=label,
        performance=metrics,
        decision=decision,
        labelled=labelled,
        calibration=calibration,
    )
