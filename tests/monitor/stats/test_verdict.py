"""Verdicts: false alarms on stable windows, detection of a real shift, sample-size rules.

The population, its reference and its exact bin probabilities are in
``tests/monitor/stats/support.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from monitor.config import DriftSettings, ModelSettings
from monitor.stats.calibration import NullCalibrator
from monitor.stats.reference import build_profile
from monitor.stats.verdict import evaluate
from monitor.vocab.profile import NumericProfile, ReferenceProfile
from monitor.vocab.verdicts import DECISION, MODEL, PREDICTION, Verdict
from tests.monitor.stats.support import (
    FEATURES,
    MODEL_SETTINGS,
    NUMERIC,
    build_reference,
    draw,
    profile_of,
    true_bin_probabilities,
)

WINDOWS = 200
TARGETS = [*FEATURES, PREDICTION]


@pytest.fixture(scope="module")
def reference() -> ReferenceProfile:
    return build_reference()


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


def test_a_moved_decision_rate_is_judged_beside_the_score() -> None:
    """A binary model whose cut-off moved: the scores keep their distribution, the share of
    positive decisions doubles. The decisions' own verdict flags it."""
    rng = np.random.default_rng(7)
    model = ModelSettings(name="m", owner="o", task="binary", features={"x": "numeric"})
    scores = rng.beta(2, 5, size=10_000)
    reference = build_profile(
        model,
        {"x": rng.normal(size=10_000)},
        predictions=(scores >= 0.5).astype(float),
        scores=scores,
        version="r",
        source="s",
        created_at=0.0,
    )
    assert reference.decision is not None
    window_scores = rng.beta(2, 5, size=2_000)
    counts = {
        "x": np.bincount(reference.features["x"].bin_index(rng.normal(size=2_000)),
                         minlength=reference.features["x"].n_bins),
        PREDICTION: np.bincount(reference.prediction.bin_index(window_scores),
                                minlength=reference.prediction.n_bins),
        DECISION: np.bincount(reference.decision.bin_index((window_scores >= 0.3).astype(float)),
                              minlength=reference.decision.n_bins),
    }  # fmt: skip
    verdicts = {
        v.feature: v
        for v in evaluate(model, reference, counts, 2_000, 0, DriftSettings(), NullCalibrator())
    }
    assert verdicts[PREDICTION].status == "ok"
    assert verdicts[DECISION].status == "drift"
    assert verdicts[MODEL].status == "drift" and any(
        r.startswith(DECISION) for r in verdicts[MODEL].reasons
    )
