"""Drift statistics computed from bin counts on the reference's bins.

Windows never keep raw values: they count events into the reference profile's bins
(:mod:`monitor.stats.reference`), and those counts add across partitions. Every function here
therefore takes two count vectors over the *same* bins — the reference's and the window's — and
is exact for what it claims (``docs/statistics.md`` states each formula and its approximation):

- PSI, Jensen–Shannon and the chi-square homogeneity test are defined on bins, so they are
  exact given the bins.
- KS and Wasserstein are computed on the binned CDF. KS equals :func:`scipy.stats.ks_2samp`
  on the bin-index samples, which is at most the KS statistic of the raw values (binning can only
  merge CDF steps). Wasserstein places every value of a bin at the bin's centre.

The low-level functions compare the bins they are given; :func:`drift_statistics` is the one
that knows the profile's layout and drops the *missing* bin, because a rise in missing values is
a data-quality signal, not a change of the distribution of the values that are present.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special
from scipy import stats as sps

from monitor.vocab.profile import NumericProfile, Profile

#: Floor on bin proportions in PSI: an empty bin would otherwise make PSI infinite. 1e-4 is
#: the customary value; it caps one empty bin's contribution at about p·ln(p/1e-4).
PSI_EPS = 1e-4


def _counts(values: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def _pair(ref: ArrayLike, cur: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r, c = _counts(ref), _counts(cur)
    if r.ndim != 1 or r.shape != c.shape:
        raise ValueError(f"need two count vectors of equal length, got {r.shape} and {c.shape}")
    return r, c


def psi_rows(ref: ArrayLike, cur: ArrayLike, eps: float = PSI_EPS) -> NDArray[np.float64]:
    """PSI along the last axis, broadcasting: the vectorised core of :func:`psi`.

    The null calibration (:mod:`monitor.stats.verdict`) evaluates thousands of bootstrap windows
    at once, so the formula lives here once, for any number of rows.

    Examples
    --------
    >>> psi_rows([[50, 50], [50, 50]], [[50, 50], [80, 20]]).round(4).tolist()
    [0.0, 0.4159]
    """
    r, c = _counts(ref), _counts(cur)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.maximum(r / r.sum(axis=-1, keepdims=True), eps)
        q = np.maximum(c / c.sum(axis=-1, keepdims=True), eps)
        return np.sum((q - p) * np.log(q / p), axis=-1)


def psi(ref: ArrayLike, cur: ArrayLike, eps: float = PSI_EPS) -> float:
    """Population stability index ``Σ (q − p) ln(q / p)`` of two count vectors.

    ``p`` and ``q`` are the bin proportions, each floored at ``eps`` (not renormalised), so empty
    bins stay finite. NaN when either vector has no count.

    Examples
    --------
    >>> round(psi([25, 25, 25, 25], [10, 20, 30, 40]), 4)
    0.2282
    """
    r, c = _pair(ref, cur)
    return float(psi_rows(r, c, eps))


def js_distance(ref: ArrayLike, cur: ArrayLike) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) between the bin distributions.

    Computed exactly as :func:`scipy.spatial.distance.jensenshannon` with ``base=2`` (same
    operations, so equal to rounding), without its per-call overhead. NaN when either vector has
    no count.

    Examples
    --------
    >>> js_distance([1, 0], [0, 1]), js_distance([3, 1], [6, 2])
    (1.0, 0.0)
    """
    r, c = _pair(ref, cur)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = r / r.sum()
        q = c / c.sum()
    m = (p + q) / 2.0
    js = (np.sum(special.rel_entr(p, m)) + np.sum(special.rel_entr(q, m))) / np.log(2.0)
    return float(np.sqrt(np.maximum(js / 2.0, 0.0)))


def chi2_pvalue(ref: ArrayLike, cur: ArrayLike) -> float:
    """p-value of the chi-square homogeneity test on the 2×K table of counts.

    Equals :func:`scipy.stats.chi2_contingency` on the table after dropping all-zero columns
    (scipy refuses zero expected counts), including its Yates correction when only two columns
    remain. 1.0 when fewer than two columns remain (nothing to compare); NaN when either vector
    has no count.

    Examples
    --------
    >>> round(chi2_pvalue([100, 100, 0], [90, 110, 0]), 4)
    0.3675
    >>> chi2_pvalue([10, 0], [5, 0])
    1.0
    """
    r, c = _pair(ref, cur)
    table = np.vstack([r, c])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    rows = table.sum(axis=1, keepdims=True)
    if np.any(rows == 0):
        return math.nan
    expected = rows * table.sum(axis=0, keepdims=True) / table.sum()
    dof = table.shape[1] - 1
    if dof == 1:
        diff = expected - table
        table = table + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    statistic = np.sum((table - expected) ** 2 / expected)
    return float(sps.chi2.sf(statistic, dof))


def ks_binned(ref: ArrayLike, cur: ArrayLike) -> tuple[float, float]:
    """Two-sample KS statistic and asymptotic p-value from binned counts.

    The statistic is ``max |F_ref − F_cur|`` over the bins' cumulative proportions — exactly
    :func:`scipy.stats.ks_2samp` on the bin-index samples, and never more than the KS statistic
    of the raw values (binning merges CDF steps; the gap is at most the largest bin's share). The
    p-value is scipy's ``method="asymp"`` two-sided formula, ``kstwo.sf(D, round(n·m/(n+m)))``.
    ``(nan, nan)`` when either vector has no count.

    Examples
    --------
    >>> d, p = ks_binned([30, 30, 40], [10, 30, 60])
    >>> round(d, 2), round(p, 4)
    (0.2, 0.0314)
    """
    r, c = _pair(ref, cur)
    n1, n2 = float(r.sum()), float(c.sum())
    if n1 == 0 or n2 == 0:
        return math.nan, math.nan
    d = float(np.max(np.abs(np.cumsum(r) / n1 - np.cumsum(c) / n2)))
    m, n = sorted([n1, n2], reverse=True)
    p = float(np.clip(sps.kstwo.sf(d, np.round(m * n / (m + n))), 0.0, 1.0))
    return d, p


def wasserstein_binned(centers: ArrayLike, ref: ArrayLike, cur: ArrayLike, ref_std: float) -> float:
    """Wasserstein-1 distance between the binned distributions, in reference standard deviations.

    Every value of a bin sits at its centre (``centers`` must increase), so this equals
    ``scipy.stats.wasserstein_distance(centers, centers, ref, cur) / ref_std``. Normalising by
    the reference's spread makes one threshold meaningful across features; a constant reference
    (``ref_std`` 0) leaves the distance in the feature's own units. NaN when either vector has no
    count.

    Examples
    --------
    >>> wasserstein_binned([0.0, 1.0, 2.0], [1, 1, 0], [0, 1, 1], ref_std=0.5)
    2.0
    """
    r, c = _pair(ref, cur)
    x = _counts(centers)
    if x.shape != r.shape:
        raise ValueError(f"{x.shape[0]} centres for {r.shape[0]} bins")
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.abs(np.cumsum(r) / r.sum() - np.cumsum(c) / c.sum())[:-1]
    distance = float(np.dot(gap, np.diff(x)))
    return distance / ref_std if ref_std > 0 else distance


def unseen_rate(cur: ArrayLike) -> float:
    """Share of a window's non-missing categorical values never seen in the reference.

    ``cur`` is a full categorical count vector in profile layout
    ``[categories..., other, unseen, missing]``. NaN when nothing but missing values.

    Examples
    --------
    >>> unseen_rate([6, 2, 2, 5])
    0.2
    """
    c = _counts(cur)
    present = c[:-1].sum()
    return float(c[-2] / present) if present > 0 else math.nan


def drift_statistics(profile: Profile, cur_counts: ArrayLike) -> dict[str, float]:
    """All drift statistics of one window's counts against a profile, missing bin excluded.

    Numeric: ``psi``, ``ks``, ``ks_pvalue``, ``wasserstein`` (σ units), ``js``. Categorical:
    ``psi``, ``chi2_pvalue``, ``js``, ``unseen_rate``. ``cur_counts`` has the profile's layout
    (``profile.n_bins`` entries, missing last).

    Examples
    --------
    >>> from monitor.stats.reference import build_numeric
    >>> profile = build_numeric(list(range(100)), seed=0)
    >>> stats = drift_statistics(profile, profile.counts)
    >>> stats["psi"], stats["ks"], stats["ks_pvalue"], stats["wasserstein"], stats["js"]
    (0.0, 0.0, 1.0, 0.0, 0.0)
    """
    cur = _counts(cur_counts)
    if cur.shape != (profile.n_bins,):
        raise ValueError(f"expected {profile.n_bins} counts for this profile, got {cur.shape}")
    ref = _counts(profile.counts)[:-1]
    present = cur[:-1]
    value_psi = psi(ref, present)
    value_js = js_distance(ref, present)
    if isinstance(profile, NumericProfile):
        ks, ks_p = ks_binned(ref, present)
        return {
            "psi": value_psi,
            "ks": ks,
            "ks_pvalue": ks_p,
            "wasserstein": wasserstein_binned(profile.centers(), ref, present, profile.std),
            "js": value_js,
        }
    return {
        "psi": value_psi,
        "chi2_pvalue": chi2_pvalue(ref, present),
        "js": value_js,
        "unseen_rate": unseen_rate(cur),
    }
