"""Confidence-based performance estimation: exact against a direct computation on the same rows
(numpy, scikit-learn), and honest bands on simulated traffic whose calibration holds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from monitor.stats.estimation import (
    MIN_CALIBRATION_LABELS,
    calibrate,
    decision_histograms,
    estimate,
    expected_sums,
)
from monitor.stats.performance import SCORE_BINS, binary_sums, score_bins

#: Float sums in a different order: agreement to this relative tolerance.
TOL = 1e-9


def reference(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores of a calibrated model (Beta-distributed) and labels drawn from them."""
    scores = rng.beta(2, 3, size=n)
    return scores, (rng.random(n) < scores).astype(float)


def histograms(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference's per-label score histograms, as its performance sums store them."""
    sums = binary_sums(scores, scores >= 0.5, labels)
    pos = np.array([sums.get(f"pos:{b}", 0.0) for b in range(SCORE_BINS)])
    neg = np.array([sums.get(f"neg:{b}", 0.0) for b in range(SCORE_BINS)])
    return pos, neg


def test_the_calibration_map_is_scikit_learns_isotonic_fit_on_the_bins() -> None:
    rng = np.random.default_rng(1)
    scores, labels = reference(rng, 20_000)
    labels[scores > 0.9] = 0  # a miscalibrated top: the isotonic fit must pool it
    cal = calibrate(*histograms(scores, labels))
    bins = score_bins(scores)
    seen = np.unique(bins)
    rate = np.array([labels[bins == b].mean() for b in seen])
    weight = np.array([(bins == b).sum() for b in seen])
    expected = IsotonicRegression().fit(seen, rate, sample_weight=weight).predict(seen)
    np.testing.assert_allclose(np.asarray(cal.probabilities)[seen], expected, rtol=TOL, atol=TOL)
    assert np.all(np.diff(cal.probabilities) >= 0)  # monotone everywhere, unseen bins included
    assert cal.n == 20_000 and cal.refused == ""
    # the calibrated Brier score, row by row
    p = np.asarray(cal.probabilities)[bins]
    assert cal.brier == pytest.approx(np.mean((p - labels) ** 2), rel=TOL)


def test_expected_confusion_and_metrics_equal_a_row_by_row_computation() -> None:
    rng = np.random.default_rng(2)
    cal = calibrate(*histograms(*reference(rng, 20_000)))
    scores = rng.beta(3, 2, size=3_000)
    decisions = (scores >= 0.4).astype(float)
    decisions[:100] = 1 - decisions[:100]  # a decision rule that is not a score cut-off
    hp, hn = decision_histograms(scores, decisions)
    p = np.asarray(cal.probabilities)[score_bins(scores)]
    d = decisions == 1
    tp, fp = p[d].sum(), (1 - p[d]).sum()
    tn, fn = (1 - p[~d]).sum(), p[~d].sum()
    sums = expected_sums(cal, hp, hn)
    assert [sums[k] for k in ("tp", "fp", "tn", "fn")] == pytest.approx([tp, fp, tn, fn], rel=TOL)
    est = estimate(cal, hp, hn, draws=200)
    assert est.n == 3_000
    assert est.metrics["accuracy"] == pytest.approx((tp + tn) / 3_000, rel=TOL)
    assert est.metrics["precision"] == pytest.approx(tp / (tp + fp), rel=TOL)
    assert est.metrics["recall"] == pytest.approx(tp / (tp + fn), rel=TOL)
    assert est.metrics["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn), rel=TOL)
    # ROC AUC of the expected labels: each row is a positive with weight p, a negative with 1 − p,
    # scored by its bin (ties inside a bin count ½, as scikit-learn counts tied scores)
    bins = score_bins(scores)
    auc = roc_auc_score(
        np.r_[np.ones(bins.size), np.zeros(bins.size)],
        np.r_[bins, bins],
        sample_weight=np.r_[p, 1 - p],
    )
    assert est.metrics["roc_auc"] == pytest.approx(auc, rel=TOL)


def test_a_covariate_shift_is_tracked_within_the_band_without_labels() -> None:
    """The model stays calibrated (``P(y | score)`` unchanged) while its inputs move towards the
    uncertain middle: accuracy falls, and the estimate follows it from the scores alone."""
    rng = np.random.default_rng(3)
    cal = calibrate(*histograms(*reference(rng, 50_000)))
    inside, estimated, actual = 0, [], []
    windows = 100
    for i in range(windows):
        shifted = i >= windows // 2
        scores = rng.beta(8, 8, size=2_000) if shifted else rng.beta(2, 3, size=2_000)
        labels = (rng.random(scores.size) < scores).astype(float)
        decisions = (scores >= 0.5).astype(float)
        est = estimate(cal, *decision_histograms(scores, decisions), draws=500, seed=i)
        realized = {
            "accuracy": accuracy_score(labels, decisions),
            "f1": f1_score(labels, decisions, zero_division=0),
            "roc_auc": roc_auc_score(labels, score_bins(scores)),  # binned, as windows keep it
        }
        inside += all(est.low[k] <= v <= est.high[k] for k, v in realized.items())
        estimated.append(est.metrics["accuracy"])
        actual.append(realized["accuracy"])
    assert inside >= 0.9 * windows
    half = windows // 2
    drop = np.mean(estimated[:half]) - np.mean(estimated[half:])
    assert drop > 0.05  # seen without a single label ...
    assert drop == pytest.approx(np.mean(actual[:half]) - np.mean(actual[half:]), abs=0.01)


def test_concept_drift_leaves_the_estimate_flat() -> None:
    """Labels that no longer follow the scores cannot be seen in the scores: the estimate stays
    where the reference put it, and the realized accuracy leaves its band (docs say why)."""
    rng = np.random.default_rng(4)
    cal = calibrate(*histograms(*reference(rng, 50_000)))
    scores = rng.beta(2, 3, size=5_000)
    decisions = (scores >= 0.5).astype(float)
    flipped = (rng.random(scores.size) < 1 - scores).astype(float)  # P(y | score) reversed
    before = estimate(cal, *decision_histograms(scores, decisions), draws=300)
    realized = accuracy_score(flipped, decisions)
    assert realized < before.low["accuracy"]
    assert before.metrics["accuracy"] > 0.6


@pytest.mark.parametrize(
    ("n", "tweak", "reason"),
    [
        (MIN_CALIBRATION_LABELS - 1, None, "labelled scored predictions"),
        (5_000, "one_class", "positive and"),
        (5_000, "decisions", "not probability-like"),
    ],
)
def test_a_reference_that_cannot_calibrate_is_refused_with_the_reason(
    n: int, tweak: str | None, reason: str
) -> None:
    rng = np.random.default_rng(5)
    scores, labels = reference(rng, n)
    if tweak == "one_class":
        labels[:] = 0
        labels[:10] = 1
    if tweak == "decisions":
        scores = (scores >= 0.5).astype(float)  # a 0/1 "score": two bins
    cal = calibrate(*histograms(scores, labels))
    assert reason in cal.refused
    with pytest.raises(ValueError, match="no estimate"):
        estimate(cal, *decision_histograms(scores, scores >= 0.5))


def test_histograms_of_partitions_add_up_to_the_whole_window() -> None:
    rng = np.random.default_rng(6)
    scores = rng.random(1_000)
    decisions = (scores >= 0.5).astype(float)
    whole = decision_histograms(scores, decisions)
    parts = [decision_histograms(scores[i::3], decisions[i::3]) for i in range(3)]
    for side in (0, 1):
        np.testing.assert_array_equal(sum(p[side] for p in parts), whole[side])


@pytest.mark.parametrize("shape", [(3, 2), (2, 3), (8, 8), (1, 1)])
def test_score_binning_costs_far_less_than_the_band(shape: tuple[float, float]) -> None:
    """Scores equal to ``P(y = 1)``: a window's exact expected accuracy is the mean of ``s`` or
    ``1 − s`` over its rows. The estimate from 100 score bins and a 200,000-row reference's map
    is within 15 % of the band's half-width of it (measured: at most 0.0012 against ±0.017–0.021
    at 2,000 rows, docs/statistics.md)."""
    rng = np.random.default_rng(7)
    scores = rng.beta(2, 3, 200_000)
    cal = calibrate(*histograms(scores, (rng.random(scores.size) < scores).astype(float)))
    window = rng.beta(*shape, 2_000)
    decided = window >= 0.5
    exact = np.mean(np.where(decided, window, 1 - window))
    est = estimate(cal, *decision_histograms(window, decided), draws=500)
    half_band = (est.high["accuracy"] - est.low["accuracy"]) / 2
    assert abs(est.metrics["accuracy"] - exact) < 0.15 * half_band


def test_the_band_covers_the_references_own_uncertainty() -> None:
    """With a reference of 1,000 labels the calibration map itself is uncertain: the realized
    accuracy of a window of 5,000 must fall inside the 95 % band for most references (measured
    0.88 of 60 here; 0.47 when the band ignored the reference's sampling error)."""
    rng = np.random.default_rng(11)
    trials, inside = 60, 0
    for i in range(trials):
        scores = rng.beta(2, 3, 1_000)
        cal = calibrate(*histograms(scores, (rng.random(scores.size) < scores).astype(float)))
        window = rng.beta(3, 2, 5_000)
        decided = window >= 0.5
        realized = np.mean(decided == (rng.random(window.size) < window))
        est = estimate(cal, *decision_histograms(window, decided), draws=1_000, seed=i)
        inside += est.low["accuracy"] <= realized <= est.high["accuracy"]
    assert inside >= 0.83 * trials
