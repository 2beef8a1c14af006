"""Verdicts: false alarms on stable windows, detection of a real shift, sample-size rules.

The 30-feature model (24 numeric features with six different distributions, 6 categorical
features with 3–80 Zipf-distributed categories, 1 % missing values everywhere) and its score
prediction are profiled from 10 000 reference rows drawn from known distributions. Stable
windows are drawn from the *same distributions* (not resampled from the reference), the situation
in production: the reference is itself only a sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats as sps

from monitor.config import DriftSettings, ModelSettings
from monitor.stats.calibration import NullCalibrator, size_buckets
from monitor.stats.distance import psi_rows
from monitor.stats.reference import NumericProfile, Profile, ReferenceProfile, build_profile
from monitor.stats.verdict import MODEL, PREDICTION, Verdict, evaluate

N_REF = 10_000
MISSING = 0.01
WINDOWS = 200
DISTRIBUTIONS = [
    sps.norm(3, 2),
    sps.lognorm(0.8),
    sps.expon(scale=5),
    sps.uniform(-1, 2),
    sps.t(5),
    sps.gamma(2),
]
CATEGORY_COUNTS = [3, 8, 20, 80, 5, 12]
SCORE = sps.beta(2, 5)
FEATURES = {f"num_{i}": "numeric" for i in range(24)} | {
    f"cat_{j}": "categorical" for j in range(6)
}
MODEL_SETTINGS = ModelSettings(name="m", owner="o", task="binary", features=FEATURES)  # type: ignore[arg-type]
TARGETS = [*FEATURES, PREDICTION]


def zipf(k: int) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** 1.1
    return w / w.sum()


NUMERIC = {f"num_{i}": DISTRIBUTIONS[i % 6] for i in range(24)}
CATEGORIES = {
    f"cat_{j}": (np.array([f"c{j}_{i}" for i in range(k)]), zipf(k))
    for j, k in enumerate(CATEGORY_COUNTS)
}


def draw(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Raw values of one target, with missing values for features."""
    if name == PREDICTION:
        return SCORE.rvs(size=size, random_state=rng)
    if name in NUMERIC:
        x = NUMERIC[name].rvs(size=size, random_state=rng)
        x[rng.random(size) < MISSING] = np.nan
        return x
    names, p = CATEGORIES[name]
    values = rng.choice(names, p=p, size=size).astype(object)
    values[rng.random(size) < MISSING] = None
    return values


@pytest.fixture(scope="module")
def reference() -> ReferenceProfile:
    rng = np.random.default_rng(1)
    scores = SCORE.rvs(size=N_REF, random_state=rng)
    return build_profile(
        MODEL_SETTINGS,
        {name: draw(name, N_REF, rng) for name in FEATURES},
        predictions=(scores >= 0.5).astype(float),
        scores=scores,
        version="v1",
        source="test",
        created_at=0.0,
    )


def profile_of(reference: ReferenceProfile, name: str) -> Profile:
    return reference.prediction if name == PREDICTION else reference.features[name]


Counts = dict[str, np.ndarray]


def raw_windows(
    reference: ReferenceProfile,
    windows: int,
    n: int,
    seed: int,
    shift: Callable[[str, np.ndarray], np.ndarray] = lambda name, x: x,
) -> Counts:
    """Per target, a (windows, n_bins) array of counts of freshly drawn raw values."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in TARGETS:
        profile = profile_of(reference, name)
        x = shift(name, draw(name, windows * n, rng))
        ids = profile.bin_index(x if isinstance(profile, NumericProfile) else list(x))
        k = profile.n_bins
        flat = ids.reshape(windows, n) + k * np.arange(windows)[:, None]
        out[name] = np.bincount(flat.ravel(), minlength=windows * k).reshape(windows, k)
    return out


def true_bin_probabilities(reference: ReferenceProfile, name: str) -> np.ndarray:
    """Exact probability of each of the profile's bins under the generating distribution."""
    profile = profile_of(reference, name)
    if isinstance(profile, NumericProfile):
        dist = SCORE if name == PREDICTION else NUMERIC[name]
        cdf = dist.cdf(np.asarray(profile.edges))
        present = np.concatenate(([cdf[0]], np.diff(cdf), [1 - cdf[-1]]))
    else:
        names, p = CATEGORIES[name]
        present = np.bincount(profile.bin_index(list(names)), weights=p, minlength=profile.n_bins)
        present = present[:-1]
    missing = 0.0 if name == PREDICTION else MISSING
    return np.append(present * (1 - missing), missing)


def multinomial_windows(reference: ReferenceProfile, windows: int, n: int, seed: int) -> Counts:
    """Counts of large windows drawn directly from the exact bin probabilities.

    Equivalent in distribution to binning ``n`` raw values (the bins partition the line), without
    drawing 6·10⁸ of them.
    """
    rng = np.random.default_rng(seed)
    return {
        name: rng.multinomial(n, true_bin_probabilities(reference, name), size=windows)
        for name in TARGETS
    }


def run(
    reference: ReferenceProfile,
    counts: Counts,
    n: int,
    settings: DriftSettings,
    calibrator: NullCalibrator,
) -> list[list[Verdict]]:
    windows = len(counts[PREDICTION])
    return [
        evaluate(
            MODEL_SETTINGS,
            reference,
            {name: c[w] for name, c in counts.items()},
            n,
            w,
            settings,
            calibrator,
        )
        for w in range(windows)
    ]


def windows_with_drift(results: list[list[Verdict]]) -> int:
    return sum(any(v.status == "drift" for v in verdicts) for verdicts in results)


#: Windows with any drift among 200 stable ones. Benjamini–Hochberg keeps the chance of any
#: false discovery on a stable window at <= fdr (0.05); we allow twice that plus three binomial
#: standard deviations: 200 · (2 · 0.05) + 3 · sqrt(200 · 0.05 · 0.95) ≈ 29.
MAX_WINDOWS_WITH_DRIFT = 29


@pytest.mark.parametrize(
    ("n", "make", "settings"),
    [
        (100, raw_windows, DriftSettings(min_samples=50)),
        (100_000, multinomial_windows, DriftSettings()),
    ],
    ids=["n=100", "n=100000"],
)
def test_stable_windows_raise_few_false_alarms(
    reference: ReferenceProfile, n: int, make: Callable[..., Counts], settings: DriftSettings
) -> None:
    results = run(reference, make(reference, WINDOWS, n, seed=2), n, settings, NullCalibrator())
    assert all(len(verdicts) == len(TARGETS) + 1 for verdicts in results)
    assert not [v for verdicts in results for v in verdicts if v.severity == "critical"]
    assert windows_with_drift(results) <= MAX_WINDOWS_WITH_DRIFT
    for verdicts in results:
        for v in verdicts[:-1]:
            assert v.expected_false_alarm_rate <= settings.alpha * 501 / 500
        assert verdicts[-1].expected_false_alarm_rate <= settings.fdr


def test_fixed_thresholds_fire_on_most_small_stable_windows(reference: ReferenceProfile) -> None:
    """The documented contrast: PSI >= 0.1 is what a stable window of 100 rows looks like."""
    settings = DriftSettings(min_samples=50, method="fixed")
    counts = raw_windows(reference, WINDOWS, 100, seed=2)
    results = run(reference, counts, 100, settings, NullCalibrator())
    assert windows_with_drift(results) >= 0.9 * WINDOWS
    rates = [v.expected_false_alarm_rate for verdicts in results for v in verdicts[:-1]]
    assert np.median(rates) >= 0.5  # and the verdicts say so
    flagged = next(v for v in results[0] if v.status == "drift")
    assert any("a stable window reaches psi 0.1 with probability" in r for r in flagged.reasons)


#: Windows (of 40) where a feature other than the shifted one is flagged. With one true
#: discovery, Benjamini–Hochberg lets a null feature through at p <= 2·fdr/m, so a false flag
#: beside it has probability ≈ 2·fdr = 0.1 per window: 40 · 0.1 + 2 · sqrt(40 · 0.1 · 0.9) ≈ 8.
MAX_WINDOWS_WITH_ANOTHER_FLAG = 8


def test_one_sigma_shift_is_flagged_on_that_feature_only(reference: ReferenceProfile) -> None:
    sigma = NUMERIC["num_0"].std()
    counts = raw_windows(
        reference, 40, 1000, seed=10, shift=lambda name, x: x + sigma if name == "num_0" else x
    )
    results = run(reference, counts, 1000, DriftSettings(), NullCalibrator())
    others = 0
    for verdicts in results:
        by_feature = {v.feature: v for v in verdicts}
        shifted = by_feature["num_0"]
        assert (shifted.status, shifted.severity) == ("drift", "critical")
        assert shifted.value > shifted.threshold and shifted.p_value is not None
        assert shifted.p_value <= 0.05 / len(TARGETS)
        flagged = [v.feature for v in verdicts[1:-1] if v.status == "drift"]
        others += bool(flagged)
        model = by_feature[MODEL]
        assert model.status == "drift" and model.reasons[0].startswith("num_0: psi ")
        if not flagged:
            assert model.severity == "warning" and model.value == pytest.approx(1 / 30)
    assert others <= MAX_WINDOWS_WITH_ANOTHER_FLAG


def test_small_windows_are_insufficient(reference: ReferenceProfile) -> None:
    counts = raw_windows(reference, 1, 150, seed=3)
    verdicts = run(reference, counts, 150, DriftSettings(), NullCalibrator())[0]
    assert len(verdicts) == len(TARGETS) + 1
    assert {(v.status, v.severity) for v in verdicts} == {("insufficient", "insufficient")}
    assert "fewer than min_samples=200" in verdicts[0].reasons[0]


def test_a_feature_without_enough_values_is_insufficient_alone(
    reference: ReferenceProfile,
) -> None:
    counts = {name: c[0] for name, c in raw_windows(reference, 1, 1000, seed=4).items()}
    empty = np.zeros_like(counts["num_1"])
    empty[-1] = 1000  # every value missing
    counts["num_1"] = empty
    verdicts = evaluate(
        MODEL_SETTINGS, reference, counts, 1000, 0, DriftSettings(), NullCalibrator()
    )
    by_feature = {v.feature: v for v in verdicts}
    assert by_feature["num_1"].status == "insufficient" and by_feature["num_1"].n == 0
    judged = [v for v in verdicts[: len(FEATURES)] if v.feature != "num_1"]
    assert {v.status for v in judged} <= {"ok", "drift"}
    drifted = sum(v.status == "drift" for v in judged)
    assert by_feature[MODEL].value == pytest.approx(drifted / 29)  # share of judged features
    assert by_feature[PREDICTION].n == 1000 and by_feature["num_2"].n < 1000  # non-missing


def test_a_feature_missing_from_the_reference_is_insufficient(
    reference: ReferenceProfile,
) -> None:
    model = ModelSettings(
        name="m", owner="o", task="binary", features={"num_0": "numeric", "new": "numeric"}
    )
    counts = {"num_0": raw_windows(reference, 1, 500, seed=5)["num_0"][0]}
    verdicts = evaluate(model, reference, counts, 500, 0, DriftSettings(), NullCalibrator())
    assert [(v.feature, v.status) for v in verdicts] == [
        ("num_0", "ok"),
        ("new", "insufficient"),
        (MODEL, "ok"),
    ]
    assert "rebuild the reference" in verdicts[1].reasons[0]
    with pytest.raises(ValueError, match="no window counts for 'num_0'"):
        evaluate(model, reference, {}, 500, 0, DriftSettings(), NullCalibrator())


def test_importance_weights_decide_the_critical_share(reference: ReferenceProfile) -> None:
    features = {f"num_{i}": "numeric" for i in range(4)}
    shift = {"num_0": 2.0, "num_1": 2.0}

    def shifted(name: str, x: np.ndarray) -> np.ndarray:
        return x + shift[name] * NUMERIC[name].std() if name in shift else x

    counts = {name: c[0] for name, c in raw_windows(reference, 1, 1000, 6, shifted).items()}
    counts.pop(PREDICTION)
    for importance, share, severity in (
        ({}, 0.5, "critical"),
        ({"num_2": 3.0, "num_3": 3.0}, 0.25, "warning"),
        ({"num_0": 0.0, "num_1": 0.0}, 0.0, "ok"),
    ):
        model = ModelSettings(
            name="m", owner="o", task="binary", features=features, importance=importance
        )
        verdicts = evaluate(model, reference, counts, 1000, 0, DriftSettings(), NullCalibrator())
        assert (verdicts[-1].value, verdicts[-1].severity) == (share, severity)


# --- the calibrator -----------------------------------------------------------------------------


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
