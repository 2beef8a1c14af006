"""The null calibrator: size buckets, determinism and caching, calibrated p-values, thresholds.

The population and its reference are in ``tests/monitor/stats/support.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitor.stats.calibration import NullCalibrator, size_buckets
from monitor.stats.distance import psi_rows
from monitor.vocab.profile import ReferenceProfile
from tests.monitor.stats.support import (
    MISSING,
    build_reference,
    profile_of,
    true_bin_probabilities,
)


@pytest.fixture(scope="module")
def reference() -> ReferenceProfile:
    return build_reference()


def test_size_buckets_bracket_n_on_a_sqrt2_grid() -> None:
    for n in [*range(1, 3000), 4095, 4096, 99_999, 100_000]:
        lo, hi = size_buckets(n)
        assert lo <= n <= hi
        assert size_buckets(lo) == (lo, lo) and size_buckets(hi) == (hi, hi)
        if n >= 30:  # the smallest min_samples; below, integer rounding coarsens the grid
            assert hi <= (lo + 1) * math.sqrt(2)


def test_calibrator_is_deterministic_and_cached(reference: ReferenceProfile) -> None:
    profile = reference.features["num_0"]
    one, two = NullCalibrator(seed=3), NullCalibrator(seed=3)
    two.p_value(profile, "other", 0.1, 400, "v1")  # unrelated calls first do not matter
    calls = []
    simulate = one._simulate
    one._simulate = lambda *a, **k: calls.append(a) or simulate(*a, **k)  # type: ignore[method-assign]
    for _ in range(3):
        assert one.p_value(profile, "num_0", 0.08, 300, "v1") == two.p_value(
            profile, "num_0", 0.08, 300, "v1"
        )
    assert len(calls) == 2  # the two buckets around 300, simulated once each
    assert NullCalibrator(seed=4).p_value(profile, "num_0", 0.08, 300, "v1") != pytest.approx(
        one.p_value(profile, "num_0", 0.08, 300, "v1"), abs=0
    )


@pytest.mark.parametrize(("name", "n"), [("num_1", 300), ("cat_3", 300), ("num_4", 700)])
def test_null_p_values_are_calibrated(reference: ReferenceProfile, name: str, n: int) -> None:
    """P(p <= 0.05) on stable windows ≈ 0.05.

    Tolerance 0.035: three standard deviations of the Monte Carlo error of a 500-draw null's
    95 % quantile (≈ 0.01), plus 2000 windows' binomial error (≈ 0.005).
    """
    profile = profile_of(reference, name)
    rng = np.random.default_rng(7)
    present = true_bin_probabilities(reference, name)[:-1] / (1 - MISSING)
    windows = rng.multinomial(n, present, size=2000)
    ref = np.asarray(profile.counts[:-1])
    observed = psi_rows(np.broadcast_to(ref, windows.shape), windows)
    calibrator = NullCalibrator()
    p = np.array([calibrator.p_value(profile, name, o, n, "v1") for o in observed])
    assert abs(np.mean(p <= 0.05) - 0.05) <= 0.035


def test_p_values_beyond_every_draw_are_refined(reference: ReferenceProfile) -> None:
    profile = reference.features["cat_0"]
    calibrator = NullCalibrator(draws=500, refine_draws=10_000)
    p = calibrator.p_value(profile, "cat_0", 5.0, 1000, "v1")
    assert 1 / 10_001 <= p < 1 / 501
    with pytest.raises(ValueError, match="is nan"):
        calibrator.p_value(profile, "cat_0", math.nan, 1000, "v1")


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.001])
def test_threshold_is_where_the_p_value_crosses_alpha(
    reference: ReferenceProfile, alpha: float
) -> None:
    profile = reference.features["num_2"]
    calibrator = NullCalibrator()
    t = calibrator.threshold(profile, "num_2", 1000, alpha, "v1")
    assert calibrator.p_value(profile, "num_2", t, 1000, "v1") > alpha
    assert calibrator.p_value(profile, "num_2", float(np.nextafter(t, 1.0)), 1000, "v1") <= alpha
    rate = calibrator.false_alarm_rate(profile, "num_2", t, 1000, "v1")
    assert rate <= max(alpha, 1 / 500) * 501 / 500
