"""Metrics from mergeable sums, checked against scikit-learn on the same data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from monitor.stats.performance import (
    OTHER_CLASS,
    SCORE_BINS,
    binary_metrics,
    binary_sums,
    merge_sums,
    metrics_for,
    multiclass_metrics,
    multiclass_sums,
    regression_metrics,
    regression_sums,
    score_bins,
)

#: Same quantities summed in a different order than scikit-learn: rounding only.
CLOSE = 1e-9


def binary_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.3).astype(float)
    scores = np.clip(rng.beta(2 + 3 * labels, 4 - 2 * labels), 1e-6, 1 - 1e-6)
    predictions = (scores >= 0.4).astype(float)  # the model's decision at its own cut-off
    return scores, predictions, labels


def test_binary_metrics_match_sklearn() -> None:
    scores, predictions, labels = binary_data(10_000, seed=0)
    m = binary_metrics(binary_sums(scores, predictions, labels))
    predicted = predictions
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(labels, predicted), rel=CLOSE)
    assert m["precision"] == pytest.approx(skm.precision_score(labels, predicted), rel=CLOSE)
    assert m["recall"] == pytest.approx(skm.recall_score(labels, predicted), rel=CLOSE)
    assert m["f1"] == pytest.approx(skm.f1_score(labels, predicted), rel=CLOSE)
    assert m["log_loss"] == pytest.approx(skm.log_loss(labels, scores), rel=CLOSE)
    assert m["brier"] == pytest.approx(skm.brier_score_loss(labels, scores), rel=CLOSE)


def test_binned_auc_is_the_auc_of_scores_rounded_down_to_their_bin() -> None:
    """Exact for the binned scores (1e-12: sklearn sums trapezoids); within 0.01 of the raw AUC."""
    scores, predictions, labels = binary_data(10_000, seed=1)
    auc = binary_metrics(binary_sums(scores, predictions, labels))["roc_auc"]
    rounded = score_bins(scores) / SCORE_BINS
    assert auc == pytest.approx(skm.roc_auc_score(labels, rounded), rel=1e-12)
    assert abs(auc - skm.roc_auc_score(labels, scores)) <= 0.01


def test_binary_class_metrics_use_the_models_decision_not_a_threshold() -> None:
    """A model whose cut-off is 0.65: precision and recall are those of its own decisions (the
    monitor once recomputed them at 0.5 and was off by points, silently)."""
    scores, _, labels = binary_data(2_000, seed=2)
    decisions = (scores >= 0.65).astype(float)
    scores[::3] = np.nan  # some events send no score: their decision still counts
    sums = binary_sums(scores, decisions, labels)
    m = binary_metrics(sums)
    assert sums["n_scored"] == np.count_nonzero(~np.isnan(scores))
    assert m["precision"] == pytest.approx(skm.precision_score(labels, decisions), rel=CLOSE)
    assert m["recall"] == pytest.approx(skm.recall_score(labels, decisions), rel=CLOSE)
    assert m["f1"] == pytest.approx(skm.f1_score(labels, decisions), rel=CLOSE)
    scored = ~np.isnan(scores)
    assert m["log_loss"] == pytest.approx(skm.log_loss(labels[scored], scores[scored]), rel=CLOSE)
    no_scores = binary_metrics(binary_sums(None, decisions, labels))
    assert no_scores["accuracy"] == pytest.approx(skm.accuracy_score(labels, decisions))
    assert math.isnan(no_scores["roc_auc"]) and math.isnan(no_scores["log_loss"])


def test_binary_rejects_non_binary_labels() -> None:
    with pytest.raises(ValueError, match="0, 1 or bool"):
        binary_sums(None, [1, 0], [2, 0])


CLASSES = ("cat", "dog", "a|b", "never")


def multiclass_data(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    labels = rng.choice(["cat", "dog", "a|b"], p=[0.5, 0.3, 0.2], size=n)
    predictions = np.where(rng.random(n) < 0.7, labels, rng.choice(["cat", "dog", "a|b"], size=n))
    return predictions.tolist(), labels.tolist()


def test_multiclass_metrics_match_sklearn() -> None:
    predictions, labels = multiclass_data(5_000, seed=0)
    m = multiclass_metrics(multiclass_sums(predictions, labels, CLASSES), CLASSES)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(labels, predictions), rel=CLOSE)
    expected = skm.f1_score(labels, predictions, average="macro", labels=CLASSES, zero_division=0)
    assert m["macro_f1"] == pytest.approx(expected, rel=CLOSE)
    per_class = skm.f1_score(labels, predictions, average=None, labels=CLASSES, zero_division=0)
    assert [m[f"f1:{c}"] for c in CLASSES] == pytest.approx(per_class.tolist(), rel=CLOSE)
    assert m["f1:never"] == 0.0  # neither true nor predicted: zero_division=0


def test_multiclass_out_of_class_values_collapse_but_macro_f1_is_unchanged() -> None:
    predictions, labels = multiclass_data(1_000, seed=1)
    predictions[:50] = ["parrot"] * 50
    sums = multiclass_sums(predictions, labels, CLASSES)
    assert not any("parrot" in key for key in sums)
    assert sum(v for k, v in sums.items() if k.endswith(f"|{OTHER_CLASS}")) == 50
    expected = skm.f1_score(labels, predictions, average="macro", labels=CLASSES, zero_division=0)
    assert multiclass_metrics(sums, CLASSES)["macro_f1"] == pytest.approx(expected, rel=CLOSE)


def test_regression_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    labels = rng.normal(50, 10, size=10_000)
    labels[::100] = 0.0
    predictions = labels + rng.normal(0, 3, size=labels.size)
    m = regression_metrics(regression_sums(predictions, labels))
    nonzero = labels != 0
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(labels, predictions), rel=CLOSE)
    rmse = skm.mean_squared_error(labels, predictions) ** 0.5
    assert m["rmse"] == pytest.approx(rmse, rel=CLOSE)
    assert m["mape"] == pytest.approx(
        skm.mean_absolute_percentage_error(labels[nonzero], predictions[nonzero]), rel=CLOSE
    )
    assert m["r2"] == pytest.approx(skm.r2_score(labels, predictions), rel=CLOSE)


def test_regression_constant_labels_follow_sklearn() -> None:
    assert regression_metrics(regression_sums([2.0, 2.0], [2.0, 2.0]))["r2"] == 1.0
    assert regression_metrics(regression_sums([1.0, 3.0], [2.0, 2.0]))["r2"] == 0.0
    assert math.isnan(regression_metrics({})["mae"])


def test_metrics_for_dispatches_on_the_task() -> None:
    sums = regression_sums([1.0, 2.0], [1.0, 4.0])
    assert metrics_for("regression", sums) == regression_metrics(sums)
    with pytest.raises(ValueError, match="unknown task"):
        metrics_for("ranking", sums)  # type: ignore[arg-type]


# --- mergeability -------------------------------------------------------------------------------

counts = st.dictionaries(
    st.sampled_from(["n", "tp", "fp", "pos:3", "neg:97", "cm:a|b"]),
    st.integers(0, 10**6).map(float),
)


@given(counts, counts, counts)
def test_merge_sums_is_associative_with_the_empty_identity(a: dict, b: dict, c: dict) -> None:
    """Exact: integer-valued counts add without rounding."""
    assert merge_sums(merge_sums(a, b), c) == merge_sums(a, merge_sums(b, c))
    assert merge_sums(a, {}) == a == merge_sums({}, a)


def same(x: dict[str, float], y: dict[str, float]) -> bool:
    return x.keys() == y.keys() and all(
        (math.isnan(x[k]) and math.isnan(y[k])) or x[k] == pytest.approx(y[k], rel=CLOSE, abs=CLOSE)
        for k in x
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=4), st.integers(0, 2**32 - 1))
def test_metrics_of_merged_sums_equal_metrics_of_concatenated_data(
    sizes: list[int], seed: int
) -> None:
    """Per-partition sums merged in any grouping give the metrics of all the data at once."""
    rng = np.random.default_rng(seed)
    total = sum(sizes)
    labels = (rng.random(total) < 0.4).astype(float)
    scores = np.where(rng.random(total) < 0.2, np.nan, rng.random(total))
    predictions = (rng.random(total) < 0.5).astype(float)
    y = rng.normal(size=total)
    yhat = y + rng.normal(size=total)
    classes = ("x", "y", "z")
    mc_true = rng.choice(classes, size=total).tolist()
    mc_pred = rng.choice(classes, size=total).tolist()
    cuts = np.cumsum(sizes)[:-1]
    parts = [np.split(a, cuts) for a in (labels, scores, predictions, y, yhat)]
    merged: dict[str, dict[str, float]] = {"binary": {}, "regression": {}, "multiclass": {}}
    start = 0
    for i, size in enumerate(sizes):
        lab, sco, pre, yy, yh = (p[i] for p in parts)
        merged["binary"] = merge_sums(merged["binary"], binary_sums(sco, pre, lab))
        merged["regression"] = merge_sums(merged["regression"], regression_sums(yh, yy))
        block = slice(start, start + size)
        part = multiclass_sums(mc_pred[block], mc_true[block], classes)
        merged["multiclass"] = merge_sums(merged["multiclass"], part)
        start += size
    whole = {
        "binary": binary_sums(scores, predictions, labels),
        "regression": regression_sums(yhat, y),
        "multiclass": multiclass_sums(mc_pred, mc_true, classes),
    }
    for task in ("binary", "regression", "multiclass"):
        assert same(
            metrics_for(task, merged[task], classes), metrics_for(task, whole[task], classes)
        )
