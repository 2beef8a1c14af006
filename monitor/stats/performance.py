"""Model performance from mergeable sums.

A window's performance data is a flat ``dict[str, float]`` of counts and sums — confusion
counts, summed losses and errors, per-label score histograms — so partitions add their
dictionaries with :func:`merge_sums` (a Redis ``HINCRBYFLOAT`` per key) and the metrics follow
from the merged sums alone. Nothing here needs the raw events again.

What is exact and what is approximated (``docs/statistics.md``):

- accuracy, precision, recall, F1, log loss, Brier, macro F1, MAE, RMSE, MAPE and R² are exact
  (up to floating-point summation order);
- ROC AUC is computed from score histograms of :data:`SCORE_BINS` equal-width bins on [0, 1]:
  it is exactly the AUC of the scores rounded down to their bin (ties within a bin count ½), and
  differs from the raw-score AUC only through pairs of opposite labels inside one bin.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from monitor.config import TaskType
from monitor.vocab.profile import LabelledReference

#: Equal-width score bins on [0, 1] for ROC AUC: 100 keeps the AUC within ~0.01 of the raw-score
#: value on realistic score distributions while a window stores at most 200 histogram keys.
SCORE_BINS = 100
#: Scores are clipped to [1e-15, 1 − 1e-15] in the log loss so a confident mistake costs ~34.5,
#: not infinity.
LOGLOSS_CLIP = 1e-15
#: Multiclass values outside the configured classes share one key, so a misbehaving producer
#: cannot grow the confusion matrix without bound.
OTHER_CLASS = "__other__"

Sums = dict[str, float]


def binary_values(values: ArrayLike) -> NDArray[np.float64]:
    """Binary targets as 0.0/1.0 floats (the event decoder's form); anything else is an error.

    Examples
    --------
    >>> binary_values([True, 0, 1.0]).tolist()
    [1.0, 0.0, 1.0]
    """
    y = np.asarray(values, dtype=np.float64)
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("binary predictions and labels must be 0, 1 or bool")
    return y


def score_bins(scores: ArrayLike) -> NDArray[np.int64]:
    """Bin of each score among :data:`SCORE_BINS` equal-width bins on [0, 1] (1.0 in the last).

    Examples
    --------
    >>> score_bins([0.0, 0.005, 0.5, 0.999, 1.0]).tolist()
    [0, 0, 50, 99, 99]
    """
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    return np.minimum(np.floor(s * SCORE_BINS), SCORE_BINS - 1).astype(np.int64)


def binary_sums(scores: ArrayLike | None, predictions: ArrayLike, labels: ArrayLike) -> Sums:
    """Mergeable sums of a binary classifier's labelled events.

    The predicted class of an event is its ``prediction``: the model's own decision, whatever
    cut-off it applied to its score (an event that sends only a score gets ``score >= threshold``
    from the decoder). ``logloss_sum``, ``brier_sum`` and the ``pos:<bin>``/``neg:<bin>`` score
    histograms (non-zero bins only) cover the scored events (finite values in ``scores``),
    counted in ``n_scored``.

    Examples
    --------
    >>> sums = binary_sums([0.9, 0.2, 0.6, None], [1, 0, 0, 1], [1, 0, 0, 1])
    >>> {k: sums[k] for k in ("n", "tp", "fp", "tn", "fn", "n_scored")}
    {'n': 4.0, 'tp': 2.0, 'fp': 0.0, 'tn': 2.0, 'fn': 0.0, 'n_scored': 3.0}
    >>> sums["pos:90"], sums["neg:20"], sums["neg:60"]
    (1.0, 1.0, 1.0)
    """
    y = binary_values(labels)
    predicted = binary_values(predictions) == 1
    if predicted.shape != y.shape:
        raise ValueError(f"{predicted.size} predictions for {y.size} labels")
    positive = y == 1
    sums: Sums = {
        "n": float(y.size),
        "tp": float(np.count_nonzero(predicted & positive)),
        "fp": float(np.count_nonzero(predicted & ~positive)),
        "tn": float(np.count_nonzero(~predicted & ~positive)),
        "fn": float(np.count_nonzero(~predicted & positive)),
        "n_scored": 0.0,
    }
    if scores is None:
        return sums
    s = np.array(scores, dtype=np.float64)
    scored = np.isfinite(s)
    sums["n_scored"] = float(np.count_nonzero(scored))
    s, y = s[scored], y[scored]
    p = np.clip(s, LOGLOSS_CLIP, 1.0 - LOGLOSS_CLIP)
    sums["logloss_sum"] = float(-np.sum(y * np.log(p) + (1.0 - y) * np.log1p(-p)))
    sums["brier_sum"] = float(np.sum((np.clip(s, 0.0, 1.0) - y) ** 2))
    bins = score_bins(s)
    for prefix, mask in (("pos", y == 1), ("neg", y == 0)):
        histogram = np.bincount(bins[mask], minlength=SCORE_BINS)
        for b in np.flatnonzero(histogram):
            sums[f"{prefix}:{b}"] = float(histogram[b])
    return sums


def _ratio(numerator: float, denominator: float, undefined: float) -> float:
    return numerator / denominator if denominator > 0 else undefined


def binned_auc(positives: NDArray[np.float64], negatives: NDArray[np.float64]) -> float:
    """ROC AUC from per-label histograms on shared ordered bins; ties in a bin count ½.

    Examples
    --------
    >>> binned_auc(np.array([0.0, 1.0, 1.0]), np.array([1.0, 1.0, 0.0]))
    0.875
    """
    n_pos, n_neg = positives.sum(), negatives.sum()
    if n_pos == 0 or n_neg == 0:
        return math.nan
    below = np.cumsum(negatives) - negatives
    return float(np.sum(positives * (below + 0.5 * negatives)) / (n_pos * n_neg))


def _histogram(sums: Mapping[str, float], prefix: str) -> NDArray[np.float64]:
    return np.array([sums.get(f"{prefix}:{b}", 0.0) for b in range(SCORE_BINS)])


def binary_metrics(sums: Mapping[str, float]) -> dict[str, float]:
    """accuracy, precision, recall, f1, roc_auc, log_loss and brier from :func:`binary_sums`.

    Precision, recall and F1 are 0.0 when their denominator is 0 (scikit-learn's
    ``zero_division=0``); accuracy, log loss and Brier are NaN without events, ROC AUC without
    both labels among the scored events.

    Examples
    --------
    >>> m = binary_metrics(binary_sums([0.9, 0.2, 0.6, 0.4], [1, 0, 1, 0], [1, 0, 0, 1]))
    >>> m["accuracy"], m["precision"], m["roc_auc"]
    (0.5, 0.5, 0.75)
    """
    tp, fp, tn, fn = (sums.get(k, 0.0) for k in ("tp", "fp", "tn", "fn"))
    n_scored = sums.get("n_scored", 0.0)
    return {
        "accuracy": _ratio(tp + tn, sums.get("n", 0.0), math.nan),
        "precision": _ratio(tp, tp + fp, 0.0),
        "recall": _ratio(tp, tp + fn, 0.0),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn, 0.0),
        "roc_auc": binned_auc(_histogram(sums, "pos"), _histogram(sums, "neg")),
        "log_loss": _ratio(sums.get("logloss_sum", 0.0), n_scored, math.nan),
        "brier": _ratio(sums.get("brier_sum", 0.0), n_scored, math.nan),
    }


def _escape(name: str) -> str:
    return name.replace("%", "%25").replace("|", "%7C")


def _unescape(name: str) -> str:
    return name.replace("%7C", "|").replace("%25", "%")


def multiclass_sums(
    predictions: Sequence[object], labels: Sequence[object], classes: Sequence[str]
) -> Sums:
    """Confusion counts ``cm:<true>|<pred>`` (and ``n``) of a multiclass classifier.

    Values are compared as strings; values outside ``classes`` (when given) count as
    :data:`OTHER_CLASS`. ``|`` and ``%`` in class names are percent-escaped in the keys.

    Examples
    --------
    >>> multiclass_sums(["a", "b", "b"], ["a", "a", "b"], classes=("a", "b"))
    {'n': 3.0, 'cm:a|a': 1.0, 'cm:a|b': 1.0, 'cm:b|b': 1.0}
    """
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels")
    known = set(classes)

    def name(value: object) -> str:
        text = str(value)
        return text if not known or text in known else OTHER_CLASS

    pairs = Counter((name(t), name(p)) for t, p in zip(labels, predictions, strict=True))
    sums: Sums = {"n": float(len(labels))}
    for (true, pred), count in sorted(pairs.items()):
        sums[f"cm:{_escape(true)}|{_escape(pred)}"] = float(count)
    return sums


def confusion(sums: Mapping[str, float]) -> dict[tuple[str, str], float]:
    """The confusion cells of :func:`multiclass_sums`: (true, predicted) → count."""
    cells: dict[tuple[str, str], float] = {}
    for key, value in sums.items():
        if key.startswith("cm:"):
            true, pred = key[3:].split("|")
            cells[_unescape(true), _unescape(pred)] = value
    return cells


def multiclass_metrics(sums: Mapping[str, float], classes: Sequence[str]) -> dict[str, float]:
    """accuracy, macro_f1 and ``f1:<class>`` from :func:`multiclass_sums`.

    F1 per class is ``2·tp / (predicted + true)`` (0.0 when both are 0), and macro F1 their mean
    over ``classes`` — scikit-learn's ``f1_score(average="macro", labels=classes,
    zero_division=0)``. Accuracy counts agreements on configured classes only: two different
    out-of-class values are indistinguishable once collapsed, so an out-of-class "agreement" is
    not credited. NaN accuracy without events.

    Examples
    --------
    >>> m = multiclass_metrics(multiclass_sums(["a", "b", "b"], ["a", "a", "b"], "ab"), "ab")
    >>> round(m["accuracy"], 4), round(m["macro_f1"], 4)
    (0.6667, 0.6667)
    """
    cells = confusion(sums)
    names = list(classes) or sorted({name for pair in cells for name in pair})
    metrics: dict[str, float] = {}
    correct = 0.0
    for c in names:
        tp = cells.get((c, c), 0.0)
        predicted = sum(v for (_, p), v in cells.items() if p == c)
        true = sum(v for (t, _), v in cells.items() if t == c)
        metrics[f"f1:{c}"] = _ratio(2 * tp, predicted + true, 0.0)
        correct += tp
    metrics["accuracy"] = _ratio(correct, sums.get("n", 0.0), math.nan)
    f1s = [metrics[f"f1:{c}"] for c in names]
    metrics["macro_f1"] = float(np.mean(f1s)) if f1s else math.nan
    return metrics


def regression_sums(predictions: ArrayLike, labels: ArrayLike) -> Sums:
    """Mergeable error sums of a regression model; pairs with a non-finite value are skipped.

    ``abs_err``, ``sq_err``, ``y_sum`` and ``y_sq_sum`` over ``n`` pairs; ``ape_sum`` (absolute
    percentage errors) over the ``n_ape`` pairs whose label is not 0.

    Examples
    --------
    >>> regression_sums([1.0, 2.0, 5.0], [1.0, 0.0, 4.0])
    {'n': 3.0, 'abs_err': 3.0, 'sq_err': 5.0, 'ape_sum': 0.25, 'n_ape': 2.0, 'y_sum': 5.0, \
'y_sq_sum': 17.0}
    """
    p = np.asarray(predictions, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.shape != y.shape:
        raise ValueError(f"{p.size} predictions for {y.size} labels")
    keep = np.isfinite(p) & np.isfinite(y)
    p, y = p[keep], y[keep]
    err = np.abs(p - y)
    nonzero = y != 0
    return {
        "n": float(y.size),
        "abs_err": float(err.sum()),
        "sq_err": float(np.sum(err**2)),
        "ape_sum": float(np.sum(err[nonzero] / np.abs(y[nonzero]))),
        "n_ape": float(np.count_nonzero(nonzero)),
        "y_sum": float(y.sum()),
        "y_sq_sum": float(np.sum(y**2)),
    }


def regression_metrics(sums: Mapping[str, float]) -> dict[str, float]:
    """mae, rmse, mape (over non-zero labels) and r2 = 1 − SSE/SST from :func:`regression_sums`.

    SST is ``Σy² − (Σy)²/n``, which loses digits when the labels' mean dwarfs their spread
    (relative error ≈ 1e-16·(mean/std)²). With constant labels (SST 0) R² is 1.0 for a perfect fit
    and 0.0 otherwise, as scikit-learn reports it.

    Examples
    --------
    >>> m = regression_metrics(regression_sums([1.0, 2.0, 5.0], [1.0, 0.0, 4.0]))
    >>> m["mae"], round(m["rmse"], 4), m["mape"], round(m["r2"], 4)
    (1.0, 1.291, 0.125, 0.4231)
    """
    n = sums.get("n", 0.0)
    sse = sums.get("sq_err", 0.0)
    if n > 0:
        sst = max(sums.get("y_sq_sum", 0.0) - sums.get("y_sum", 0.0) ** 2 / n, 0.0)
        r2 = 1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else 0.0)
    else:
        r2 = math.nan
    return {
        "mae": _ratio(sums.get("abs_err", 0.0), n, math.nan),
        "rmse": math.sqrt(sse / n) if n > 0 else math.nan,
        "mape": _ratio(sums.get("ape_sum", 0.0), sums.get("n_ape", 0.0), math.nan),
        "r2": r2,
    }


def merge_sums(a: Mapping[str, float], b: Mapping[str, float]) -> Sums:
    """Key-wise sum of two sums dictionaries (a missing key is 0); ``{}`` is the identity.

    Examples
    --------
    >>> merge_sums({"n": 2.0, "tp": 1.0}, {"n": 3.0, "fp": 2.0})
    {'n': 5.0, 'tp': 1.0, 'fp': 2.0}
    """
    merged = dict(a)
    for key, value in b.items():
        merged[key] = merged.get(key, 0.0) + value
    return merged


def metrics_for(
    task: TaskType, sums: Mapping[str, float], classes: Sequence[str] = ()
) -> dict[str, float]:
    """The metrics of ``task`` from its sums.

    Examples
    --------
    >>> metrics_for("regression", regression_sums([1.0], [2.0]))["mae"]
    1.0
    """
    if task == "binary":
        return binary_metrics(sums)
    if task == "multiclass":
        return multiclass_metrics(sums, classes)
    if task == "regression":
        return regression_metrics(sums)
    raise ValueError(f"unknown task {task!r}")


def labelled_reference(
    task: TaskType,
    predictions: Sequence[object],
    scores: Sequence[float] | None,
    labels: Sequence[object],
    classes: Sequence[str],
) -> LabelledReference:
    """Sums and moments of labelled reference pairs (``labels`` without missing values)."""
    moments: dict[str, float] = {}
    if task == "binary":
        sums = binary_sums(scores, predictions, labels)
        if scores is not None:
            s = np.asarray(scores, dtype=np.float64)
            y = binary_values(labels)
            scored = np.isfinite(s)
            s, y = s[scored], y[scored]
            p = np.clip(s, LOGLOSS_CLIP, 1.0 - LOGLOSS_CLIP)
            loss = -(y * np.log(p) + (1.0 - y) * np.log1p(-p))
            moments["logloss_sq"] = float(np.sum(loss**2))
            moments["brier_sq"] = float(np.sum((np.clip(s, 0.0, 1.0) - y) ** 4))
    elif task == "multiclass":
        sums = multiclass_sums(predictions, labels, classes)
    else:
        p = np.asarray(predictions, dtype=np.float64)
        y = np.asarray(labels, dtype=np.float64)
        keep = np.isfinite(p) & np.isfinite(y)
        p, y = p[keep], y[keep]
        sums = regression_sums(p, y)
        err = np.abs(p - y)
        nonzero = y != 0
        moments["quad_err"] = float(np.sum(err**4))
        moments["ape_sq"] = float(np.sum((err[nonzero] / np.abs(y[nonzero])) ** 2))
    return LabelledReference(sums, moments)
