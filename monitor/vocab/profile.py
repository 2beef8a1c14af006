"""The reference profile: the bins every window counts into, as stored and read.

A profile is computed once from a reference data set (``monitor/stats/reference.py`` builds it)
and stored as a msgspec blob (``monitor/store/references.py``). Windows count their events into
the *reference's* bins, so the statistics follow exactly from integer counts that add across
partitions. The bin layouts are described in ``monitor/stats/reference.py``.
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
from collections.abc import Mapping, Sequence

import msgspec
import numpy as np
from numpy.typing import NDArray

#: Values that are categories as they are: plain strings, and None for missing.
PLAIN_CATEGORY_TYPES = {str, type(None)}


class LabelledReference(msgspec.Struct, frozen=True):
    """The reference's labelled pairs as the bands need them: their performance sums (the same
    counts a window keeps) and, for mean-type metrics, the sums of squared per-pair terms."""

    sums: dict[str, float]
    moments: dict[str, float]


def numeric_values(values: Sequence[object] | np.ndarray) -> NDArray[np.float64]:
    """Values of a numeric feature as float64, NaN where missing or not a finite real number.

    Use it on both sides (reference and windows) so they agree on what counts as missing. bools
    count as 0/1; strings — even ``"1.5"`` — are not numbers.

    Examples
    --------
    >>> numeric_values([1, 2.5, None, "3", True, float("inf")]).tolist()
    [1.0, 2.5, nan, nan, 1.0, nan]
    """
    try:  # fast path: an all-numeric column becomes a numeric array in C
        array: np.ndarray | None = np.asarray(values)
    except ValueError:  # ragged nested sequences
        array = None
    if array is not None and array.ndim == 1 and array.dtype.kind in "biuf":
        x = array.astype(np.float64)
    else:  # the original values: np.asarray would have turned True into "True" next to a string
        x = np.array(
            [float(v) if isinstance(v, numbers.Real) else math.nan for v in values],
            dtype=np.float64,
        )
    x[~np.isfinite(x)] = math.nan
    return x


def category(value: object) -> str | None:
    """The category of a value: None for missing (None or NaN), else its string form."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value if type(value) is str else str(value)  # plain str, also for numpy.str_


class NumericProfile(msgspec.Struct, frozen=True, tag="numeric", dict=True):
    """Quantile bins and summary of one numeric feature in the reference.

    ``counts`` follows the layout ``[below, in-range bins..., above, missing]`` and sums to ``n``
    (all reference rows, missing included); ``mean`` and ``std`` (population) describe the
    non-missing values and scale the Wasserstein distance.

    Examples
    --------
    >>> from monitor.stats.reference import build_numeric
    >>> rng = np.random.default_rng(0)
    >>> profile = build_numeric(rng.normal(size=1000), seed=0)
    >>> profile.n_bins, sum(profile.counts), profile.counts[:2], profile.counts[-2:]
    (23, 1000, [0, 50], [0, 0])
    >>> profile.bin_index(np.array([-99.0, profile.edges[0], profile.edges[-1], 99.0, np.nan]))
    array([ 0,  1, 20, 21, 22])
    """

    edges: list[float]
    counts: list[int]
    mean: float
    std: float
    n: int
    n_missing: int
    sample: list[float]
    #: Reference values outside the range of all the others (a unique minimum or maximum): the
    #: out-of-range count a new sample of the reference's size is expected to show. None in
    #: profiles built before it was kept.
    n_novel: int | None = None

    @property
    def n_bins(self) -> int:
        """Number of bins, missing included: in-range bins + below + above + missing."""
        return len(self.edges) + 2

    @functools.cached_property
    def _edge_array(self) -> NDArray[np.float64]:
        return np.asarray(self.edges, dtype=np.float64)

    def bin_index(self, values: np.ndarray) -> NDArray[np.int64]:
        """Bin id of each value (float64 array, NaN = missing), vectorised with searchsorted."""
        x = np.asarray(values, dtype=np.float64)
        edges = self._edge_array
        last = len(edges) - 1
        index = np.searchsorted(edges, x, side="right").astype(np.int64)
        index[x == edges[-1]] = last
        index[np.isnan(x)] = last + 2
        return index

    def bin_counts(self, values: np.ndarray) -> list[int]:
        """How many values fall in each bin: ``np.bincount(bin_index(values), minlength=n_bins)``
        found by sorting the values and searching them for the edges, instead of searching the
        edges for each value — a window's batch of thousands of values in a third of the time.

        NaN sorts last (and ``searchsorted`` orders it so), so the values up to the first NaN
        are the present ones. ``bounds[i]`` counts the present values below edge ``i`` — at or
        below it for the last edge, which closes the last bin as :meth:`bin_index` does.
        """
        x = np.sort(np.asarray(values, dtype=np.float64))
        present = int(np.searchsorted(x, np.inf, side="right"))
        bounds = np.searchsorted(x[:present], self._edge_array, side="left")
        bounds[-1] = np.searchsorted(x[:present], self._edge_array[-1], side="right")
        counts = np.empty(len(bounds) + 2, dtype=np.int64)
        counts[0] = bounds[0]
        counts[1 : len(bounds)] = np.diff(bounds)
        counts[-2] = present - bounds[-1]
        counts[-1] = x.size - present
        return counts.tolist()

    def centers(self) -> NDArray[np.float64]:
        """One value per non-missing bin: in-range midpoints, the range's ends for below/above.

        Examples
        --------
        >>> from monitor.stats.reference import build_numeric
        >>> build_numeric([float(i) for i in range(41)], seed=0).centers().tolist()[:3]
        [0.0, 1.0, 3.0]
        """
        edges = self._edge_array
        return np.concatenate(([edges[0]], (edges[:-1] + edges[1:]) / 2, [edges[-1]]))


class CategoricalProfile(msgspec.Struct, frozen=True, tag="categorical", dict=True):
    """Category frequencies of one categorical feature in the reference.

    ``counts`` follows ``[each of categories..., other, unseen, missing]``; ``vocabulary`` holds
    the reference's other categories (most frequent first) that count as "other" rather than
    "unseen". Values are compared as strings (``str(value)`` for non-strings), so ``1`` and
    ``"1"`` are the same category and ``1.0`` is another.

    Examples
    --------
    >>> from monitor.stats.reference import build_categorical
    >>> profile = build_categorical(["a", "b", "a", None, "c"], max_categories=2)
    >>> profile.categories, profile.vocabulary, profile.counts
    (['a', 'b'], ['c'], [2, 1, 1, 0, 1])
    >>> profile.bin_index(["b", "c", "zzz", None]).tolist()
    [1, 2, 3, 4]
    """

    categories: list[str]
    vocabulary: list[str]
    counts: list[int]
    n: int
    n_missing: int
    #: Reference values a profile of all the others would count as unseen (categories seen once,
    #: and those beyond the vocabulary): the unseen count a new sample of the reference's size is
    #: expected to show (Good–Turing). None in profiles built before it was kept.
    n_novel: int | None = None

    @property
    def n_bins(self) -> int:
        """Number of bins: one per category + other + unseen + missing."""
        return len(self.categories) + 3

    @functools.cached_property
    def _lookup(self) -> dict[str | None, int]:
        other = len(self.categories)
        lookup: dict[str | None, int] = dict.fromkeys(self.vocabulary, other)
        lookup.update((name, i) for i, name in enumerate(self.categories))
        lookup[None] = other + 2
        return lookup

    def bin_index(self, values: Sequence[object]) -> NDArray[np.int64]:
        """Bin id of each value: its category, other, unseen, or missing for None/NaN."""
        lookup = self._lookup
        unseen = len(self.categories) + 1
        if set(map(type, values)) <= PLAIN_CATEGORY_TYPES:  # already categories: lookups in C
            found = map(lookup.get, values, itertools.repeat(unseen))
        else:
            found = (lookup.get(category(v), unseen) for v in values)
        return np.fromiter(found, dtype=np.int64, count=len(values))

    def bin_counts(self, tally: Mapping[str | None, int]) -> list[int]:
        """How many values fall in each bin, from how often each category occurs (``tally``, say
        a ``Counter`` of a batch's column of categories; None = missing): one lookup per
        distinct category, where :meth:`bin_index` makes one per value. A tally of raw values
        would be wrong: it counts ``1``, ``1.0`` and ``True`` as one key."""
        lookup, unseen = self._lookup, len(self.categories) + 1
        counts = [0] * self.n_bins
        for value, n in tally.items():
            counts[lookup.get(value, unseen)] += n
        return counts

    def unseen(self, tally: Mapping[str | None, int]) -> dict[str, int]:
        """The categories of ``tally`` (as for :meth:`bin_counts`) the reference never saw, with
        their counts, in the tally's order."""
        lookup = self._lookup
        return {value: n for value, n in tally.items() if value is not None and value not in lookup}


Profile = NumericProfile | CategoricalProfile


class Calibration(msgspec.Struct, frozen=True):
    """A binary classifier's map from score bin to ``P(y = 1)`` on the reference, and how much
    to trust it (``monitor/stats/estimation.py`` builds and uses it).

    ``probabilities`` has one monotone value per equal-width score bin (bins the reference never
    saw are interpolated between their neighbours), fitted on ``positives`` among ``counts``
    labelled reference rows per bin: how sure each value is, which the bands draw on. ``ece`` is
    the raw scores' expected calibration error on the reference (bin midpoints against observed
    positive rates): how far the model's scores are from probabilities before the map. ``brier``
    is the calibrated map's Brier score on the reference. ``refused`` says why no estimate may be
    made (empty when one may).
    """

    probabilities: tuple[float, ...]
    positives: tuple[int, ...]
    counts: tuple[int, ...]
    n: int
    ece: float
    brier: float
    refused: str = ""


class ReferenceProfile(msgspec.Struct, frozen=True):
    """Everything a window is compared with: feature, prediction and label profiles, metrics.

    ``prediction`` profiles what the model emits: the score (numeric) of a binary model that
    has scores, else its predicted class (categorical); a regression model's prediction
    (numeric); a multiclass model's class (categorical). Binary predictions and labels are
    profiled as the event decoder delivers them, 0.0/1.0 floats, so their categories are ``"0.0"``
    and ``"1.0"``; a binary model with scores also gets ``decision``, its predicted classes.
    ``performance`` holds the reference metrics (:mod:`monitor.stats.performance`)
    when labels were given, else ``{}``.

    Examples
    --------
    >>> from monitor.config import ModelSettings
    >>> from monitor.stats.reference import build_profile
    >>> model = ModelSettings(name="churn", owner="ml", task="binary",
    ...                       features={"age": "numeric", "plan": "categorical"})
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, size=500)
    >>> profile = build_profile(
    ...     model,
    ...     {"age": rng.normal(40, 10, size=500), "plan": rng.choice(["free", "pro"], size=500)},
    ...     predictions=y, scores=np.clip(0.3 * y + rng.uniform(0, 0.7, size=500), 0, 1),
    ...     labels=y, version="v1", source="train.parquet", created_at=0.0)
    >>> type(profile.prediction).__name__, profile.label.categories
    ('NumericProfile', ['1.0', '0.0'])
    >>> round(profile.performance["roc_auc"], 3)
    0.846
    >>> blob = msgspec.msgpack.encode(profile)
    >>> msgspec.msgpack.decode(blob, type=ReferenceProfile) == profile
    True
    """

    model: str
    version: str
    created_at: float
    source: str
    n: int
    features: dict[str, Profile]
    prediction: Profile
    label: Profile | None
    performance: dict[str, float]
    #: A binary model with scores: its decisions (the predicted class), profiled apart from the
    #: scores so a moved cut-off or a change in the decision rate shows on its own.
    decision: Profile | None = None
    #: The labelled rows' performance sums and moments: what performance verdicts' bands are
    #: drawn from (None without labels, and in references built before they were kept).
    labelled: LabelledReference | None = None
    #: A binary model with scores and labels: the calibration its performance estimates use
    #: (None otherwise, and in references built before estimates).
    calibration: Calibration | None = None
