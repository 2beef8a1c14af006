"""Drift statistics from bin counts, checked against scipy on the same data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from monitor.stats.distance import (
    PSI_EPS,
    chi2_pvalue,
    drift_statistics,
    js_distance,
    ks_binned,
    psi,
    psi_rows,
    unseen_rate,
    wasserstein_binned,
)
from monitor.stats.reference import build_categorical, build_numeric

#: Same operations as scipy (or a direct formula) in a different order: rounding only.
EXACT = 1e-12


def count_pairs(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs of count vectors: 2–50 bins, both totals > 0, zero bins (also shared) included."""
    rng = np.random.default_rng(seed)
    pairs = []
    for k in (2, 3, 5, 12, 22, 50):
        for _ in range(5):
            ref = rng.multinomial(rng.integers(20, 20_000), rng.dirichlet(np.ones(k)))
            cur = rng.multinomial(rng.integers(20, 5_000), rng.dirichlet(np.ones(k)))
            if k > 3:
                ref[rng.integers(k)] = 0
                shared = rng.integers(k)
                ref[shared] = cur[shared] = 0
            pairs.append((ref, cur))
    return pairs


PAIRS = count_pairs()


def direct_psi(ref: np.ndarray, cur: np.ndarray, eps: float = PSI_EPS) -> float:
    total_r, total_c = ref.sum(), cur.sum()
    value = 0.0
    for r, c in zip(ref, cur, strict=True):
        p, q = max(r / total_r, eps), max(c / total_c, eps)
        value += (q - p) * math.log(q / p)
    return value


@pytest.mark.parametrize(("ref", "cur"), PAIRS)
def test_psi_matches_the_direct_formula(ref: np.ndarray, cur: np.ndarray) -> None:
    assert psi(ref, cur) == pytest.approx(direct_psi(ref, cur), rel=EXACT, abs=EXACT)


def test_psi_properties_and_rows() -> None:
    ref, cur = PAIRS[10]
    assert psi(ref, 3 * ref) == 0.0
    assert psi(ref, cur) == pytest.approx(psi(cur, ref), rel=EXACT)
    rows = psi_rows(np.stack([ref, cur]), np.stack([cur, ref]))
    assert rows.tolist() == pytest.approx([psi(ref, cur), psi(cur, ref)], rel=EXACT)
    assert math.isnan(psi([1, 2], [0, 0]))
    with pytest.raises(ValueError, match="equal length"):
        psi([1, 2], [1, 2, 3])


@pytest.mark.parametrize(("ref", "cur"), PAIRS)
def test_js_distance_matches_scipy(ref: np.ndarray, cur: np.ndarray) -> None:
    assert js_distance(ref, cur) == pytest.approx(
        jensenshannon(ref, cur, base=2), rel=EXACT, abs=EXACT
    )


def test_js_distance_bounds() -> None:
    assert js_distance([5, 0], [0, 7]) == 1.0
    assert js_distance([2, 3], [4, 6]) == 0.0


@pytest.mark.parametrize(("ref", "cur"), PAIRS)
def test_chi2_pvalue_matches_chi2_contingency(ref: np.ndarray, cur: np.ndarray) -> None:
    table = np.vstack([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    expected = sps.chi2_contingency(table).pvalue  # Yates' correction when two columns remain
    assert chi2_pvalue(ref, cur) == pytest.approx(expected, rel=EXACT, abs=EXACT)


def test_chi2_pvalue_degenerate_tables() -> None:
    assert chi2_pvalue([10, 0, 0], [4, 0, 0]) == 1.0
    assert math.isnan(chi2_pvalue([10, 5], [0, 0]))


@pytest.mark.parametrize(("ref", "cur"), PAIRS)
def test_ks_binned_equals_ks_2samp_on_bin_indices(ref: np.ndarray, cur: np.ndarray) -> None:
    bins = np.arange(ref.size)
    expected = sps.ks_2samp(np.repeat(bins, ref), np.repeat(bins, cur), method="asymp")
    d, p = ks_binned(ref, cur)
    assert d == pytest.approx(expected.statistic, rel=EXACT, abs=EXACT)
    assert p == pytest.approx(expected.pvalue, rel=EXACT, abs=EXACT)


@pytest.mark.parametrize(("shift", "seed"), [(0.0, 0), (0.05, 1), (0.2, 2), (1.0, 3)])
def test_ks_binned_is_within_one_bin_of_the_raw_ks(shift: float, seed: int) -> None:
    """Binned D <= raw D <= binned D + the largest bin's share of either sample."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=5_000), rng.normal(shift, size=1_000)
    profile = build_numeric(x, seed=0)
    ref = np.bincount(profile.bin_index(x), minlength=profile.n_bins)[:-1]
    cur = np.bincount(profile.bin_index(y), minlength=profile.n_bins)[:-1]
    raw = sps.ks_2samp(x, y, method="asymp").statistic
    binned, _ = ks_binned(ref, cur)
    width = max((ref / ref.sum()).max(), (cur / cur.sum()).max())
    assert binned <= raw + EXACT
    assert raw - binned <= width


@pytest.mark.parametrize(("ref", "cur"), PAIRS)
def test_wasserstein_matches_scipy_on_centres(ref: np.ndarray, cur: np.ndarray) -> None:
    centers = np.cumsum(np.random.default_rng(ref.size).uniform(0.1, 2.0, size=ref.size))
    expected = sps.wasserstein_distance(centers, centers, ref, cur) / 1.7
    assert wasserstein_binned(centers, ref, cur, ref_std=1.7) == pytest.approx(
        expected, rel=EXACT, abs=EXACT
    )


def test_wasserstein_with_a_constant_reference_stays_in_feature_units() -> None:
    assert wasserstein_binned([0.0, 2.0], [1, 0], [0, 1], ref_std=0.0) == 2.0


def test_unseen_rate_ignores_missing_values() -> None:
    assert unseen_rate([3, 1, 1, 5]) == 0.2
    assert math.isnan(unseen_rate([0, 0, 0, 9]))


def test_drift_statistics_numeric_excludes_the_missing_bin() -> None:
    rng = np.random.default_rng(4)
    profile = build_numeric(rng.normal(size=2_000), seed=0)
    cur = np.bincount(profile.bin_index(rng.normal(0.3, size=500)), minlength=profile.n_bins)
    stats = drift_statistics(profile, cur)
    assert set(stats) == {"psi", "ks", "ks_pvalue", "wasserstein", "js"}
    more_missing = cur.copy()
    more_missing[-1] += 400
    assert drift_statistics(profile, more_missing) == stats
    ref = np.asarray(profile.counts[:-1])
    assert stats["psi"] == psi(ref, cur[:-1])
    expected = sps.wasserstein_distance(profile.centers(), profile.centers(), ref, cur[:-1])
    assert stats["wasserstein"] == pytest.approx(expected / profile.std, rel=EXACT)
    with pytest.raises(ValueError, match="expected 23 counts"):
        drift_statistics(profile, cur[:-1])


def test_drift_statistics_categorical() -> None:
    profile = build_categorical(["a"] * 50 + ["b"] * 30 + ["c"] * 20 + [None] * 5)
    stats = drift_statistics(profile, np.array([40, 30, 20, 0, 10, 7]))
    assert set(stats) == {"psi", "chi2_pvalue", "js", "unseen_rate"}
    assert stats["unseen_rate"] == 0.1
    table = np.array([[50, 30, 20, 0], [40, 30, 20, 10]])
    assert stats["chi2_pvalue"] == pytest.approx(sps.chi2_contingency(table).pvalue, rel=EXACT)
