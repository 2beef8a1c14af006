"""Performance verdicts that respect sampling error, judged only in the direction of degradation.

A metric on n labels moves by chance: AUC on 5,000 labels by about 0.003, accuracy around 0.94 by
about 0.0034, and on 100 labels both by several points. A fixed relative drop is therefore
either blind on large windows or noisy on small ones. Here each monitored metric of a window is
compared with the reference's value through its **null distribution at the window's own label
count**: "the window's labelled pairs and the reference's are two samples of one population".

- Classification metrics (accuracy, precision, recall, F1, ROC AUC, macro F1) are functions of
  counts — confusion cells, or per-label score-histogram cells — so the null is an exact
  multinomial bootstrap of those cells from the reference's own counts: a window of ``n`` labels
  and a reference of ``n_ref`` are redrawn ``draws`` times, and each draw gives the difference of
  their metrics (resampling the reference too accounts for its own sampling noise).
- Mean-type metrics (MAE, MAPE, log loss, Brier; RMSE through the mean squared error) are means
  of per-pair terms, so the null difference is normal with variance ``var(term)·(1/n + 1/n_ref)``
  (the central limit theorem; ``min_labels`` keeps ``n`` large enough), ``var`` from the
  reference's pairs.

A metric **degrades** when its one-sided p-value (lower for higher-is-better metrics, upper for
errors) passes Holm's correction across the model's monitored metrics at ``alpha`` — so a stable
window flags any metric with probability at most ``alpha`` — *and* the change reaches a practical
floor (absolute points for metrics in [0, 1], relative for errors). It is critical when the change
also reaches the critical floor (and, as every critical verdict, once the next window confirms
it). An improvement is reported in the reasons and never raised.
"""

from __future__ import annotations

import math
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from monitor.config import ModelSettings, PerformanceSettings, TaskType
from monitor.stats import performance
from monitor.stats.verdict import holm
from monitor.vocab.profile import LabelledReference
from monitor.vocab.verdicts import (
    ESTIMATED,
    HIGHER_IS_BETTER,
    PERFORMANCE,
    Severity,
    Status,
    Verdict,
)

#: Verdict ``feature`` of a performance verdict; its ``statistic`` is the metric.
#: Per-pair terms of the mean-type metrics: (key of their sum, key of the sum of their squares,
#: key of their count) among a reference's sums and moments. RMSE is judged on the mean squared
#: error, of which it is a monotone function.
_MEANS: dict[str, tuple[str, str, str]] = {
    "mae": ("abs_err", "sq_err", "n"),
    "rmse": ("sq_err", "quad_err", "n"),
    "mape": ("ape_sum", "ape_sq", "n_ape"),
    "log_loss": ("logloss_sum", "logloss_sq", "n_scored"),
    "brier": ("brier_sum", "brier_sq", "n_scored"),
}


class PerformanceCalibrator:
    """Null distributions of metric differences, cached per (reference, metric, label count).

    Keep one per process: it is the cache. Draws are seeded by (seed, reference version, metric,
    n), so results never depend on the order windows are evaluated in.
    """

    def __init__(self, draws: int = 2000, seed: int = 0, max_entries: int = 4096) -> None:
        self.draws = draws
        self.seed = seed
        self._max_entries = max_entries
        self._cache: OrderedDict[tuple[object, ...], NDArray[np.float64]] = OrderedDict()

    def null(
        self,
        task: TaskType,
        metric: str,
        reference: LabelledReference,
        classes: Sequence[str],
        n: int,
        version: str,
    ) -> NDArray[np.float64]:
        """Sorted draws of ``metric(window) − metric(reference)`` under "no change" (classification
        metrics; mean-type metrics use :func:`normal_sd`)."""
        key = (task, metric, version, tuple(sorted(reference.sums.items())), tuple(classes), n)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        rng = np.random.default_rng(zlib.crc32(f"{metric}|{version}|{n}".encode(), self.seed))
        if task == "binary" and metric == "roc_auc":
            draws = _auc_null(reference.sums, n, self.draws, rng)
        elif task == "binary":
            draws = _confusion_null(metric, reference.sums, n, self.draws, rng)
        else:
            draws = _multiclass_null(metric, reference.sums, classes, n, self.draws, rng)
        self._cache[key] = draws
        if len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        return draws


def normal_sd(metric: str, reference: LabelledReference, n: int) -> float:
    """Standard deviation of ``mean(window terms) − mean(reference terms)`` under "no change"
    for a mean-type metric (RMSE: of the mean squared error)."""
    total, squares, count = _MEANS[metric]
    sums = {**reference.sums, **reference.moments}
    n_ref = sums.get(count, 0.0)
    if n_ref < 2:
        return math.nan
    mean = sums.get(total, 0.0) / n_ref
    variance = max(sums.get(squares, 0.0) / n_ref - mean**2, 0.0)
    return math.sqrt(variance * (1.0 / n + 1.0 / n_ref))


def _sorted_finite(values: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.sort(values[np.isfinite(values)])


def _confusion_null(
    metric: str, sums: Mapping[str, float], n: int, draws: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    cells = np.array([sums.get(k, 0.0) for k in ("tp", "fp", "tn", "fn")])
    p = cells / cells.sum()

    def metric_of(c: NDArray[np.int64]) -> NDArray[np.float64]:
        tp, fp, tn, fn = (c[:, i].astype(np.float64) for i in range(4))
        if metric == "accuracy":
            return (tp + tn) / c.sum(axis=1)
        numerator = {"precision": tp, "recall": tp, "f1": 2 * tp}[metric]
        denominator = {"precision": tp + fp, "recall": tp + fn, "f1": 2 * tp + fp + fn}[metric]
        return np.divide(numerator, denominator, out=np.zeros_like(tp), where=denominator > 0)

    window = metric_of(rng.multinomial(n, p, size=draws))
    ref = metric_of(rng.multinomial(int(cells.sum()), p, size=draws))
    return _sorted_finite(window - ref)


def _auc_of(pos: NDArray[np.float64], neg: NDArray[np.float64]) -> NDArray[np.float64]:
    """Binned ROC AUC of each row (as :func:`performance.binned_auc`); NaN without both labels."""
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(divide="ignore", invalid="ignore"):
        auc: NDArray[np.float64] = np.sum(pos * (below + 0.5 * neg), axis=1) / (
            pos.sum(axis=1) * neg.sum(axis=1)
        )
    return auc


def _auc_null(
    sums: Mapping[str, float], n: int, draws: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    bins = performance.SCORE_BINS
    cells = np.array(
        [sums.get(f"pos:{b}", 0.0) for b in range(bins)]
        + [sums.get(f"neg:{b}", 0.0) for b in range(bins)]
    )
    p = cells / cells.sum()
    window = rng.multinomial(n, p, size=draws).astype(np.float64)
    ref = rng.multinomial(int(cells.sum()), p, size=draws).astype(np.float64)
    diff = _auc_of(window[:, :bins], window[:, bins:]) - _auc_of(ref[:, :bins], ref[:, bins:])
    return _sorted_finite(diff)


def _multiclass_null(
    metric: str,
    sums: Mapping[str, float],
    classes: Sequence[str],
    n: int,
    draws: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Confusion cells redrawn; per-class counts by indicator matrices (cells × classes)."""
    cells = performance.confusion(sums)
    pairs = list(cells)
    counts = np.array([cells[pair] for pair in pairs])
    p = counts / counts.sum()
    names = list(classes)
    true = np.array([[t == c for c in names] for t, _ in pairs], dtype=np.float64)
    pred = np.array([[q == c for c in names] for _, q in pairs], dtype=np.float64)
    both = true * pred

    def metric_of(c: NDArray[np.int64]) -> NDArray[np.float64]:
        c = c.astype(np.float64)
        tp = c @ both
        if metric == "accuracy":
            accuracy: NDArray[np.float64] = tp.sum(axis=1) / c.sum(axis=1)
            return accuracy
        denominator = c @ pred + c @ true
        f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
        macro_f1: NDArray[np.float64] = f1.mean(axis=1)
        return macro_f1

    window = metric_of(rng.multinomial(n, p, size=draws))
    ref = metric_of(rng.multinomial(int(counts.sum()), p, size=draws))
    return _sorted_finite(window - ref)


def judge(
    model: ModelSettings,
    reference_version: str,
    labelled: LabelledReference | None,
    window: Mapping[str, float],
    window_start: int,
    settings: PerformanceSettings,
    calibrator: PerformanceCalibrator,
    *,
    estimated: bool = False,
) -> list[Verdict]:
    """One verdict per monitored metric of ``model`` for a window's performance sums.

    ``estimated``: the sums are the window's expected sums from its scores
    (``stats/estimation.py``), its n the scored predictions; the verdicts are about the
    :data:`ESTIMATED` subject and say "estimated" — judged exactly like realized ones, against
    the same null at the same n (wider than the estimate's own spread: conservative).
    """
    subject, unit, word = (
        (ESTIMATED, "scored predictions", "estimated ")
        if estimated
        else (PERFORMANCE, "labels", "")
    )
    metrics = settings.metrics(model.task)
    values = performance.metrics_for(model.task, window, model.classes) if window else {}
    reference = (
        performance.metrics_for(model.task, labelled.sums, model.classes) if labelled else {}
    )
    tested: list[_Tested] = []
    verdicts: dict[str, Verdict] = {}

    def verdict(
        metric: str,
        n: int,
        status: Status,
        severity: Severity,
        *,
        value: float | None = None,
        threshold: float = math.nan,
        p_value: float | None = None,
        rate: float = 0.0,
        reasons: tuple[str, ...] = (),
    ) -> None:
        verdicts[metric] = Verdict(
            model=model.name,
            feature=subject,
            statistic=metric,
            value=float(values.get(metric, math.nan) if value is None else value),
            threshold=float(threshold),
            p_value=p_value,
            n=n,
            status=status,
            severity=severity,
            window_start=window_start,
            reference_version=reference_version,
            expected_false_alarm_rate=float(rate),
            reasons=reasons,
        )

    for metric in metrics:
        n = int(window.get(_COUNT.get(metric, "n"), 0.0))
        value, ref = values.get(metric, math.nan), reference.get(metric, math.nan)
        if labelled is None:
            reason = (
                "the reference holds no labelled pairs (built without labels, or by a version "
                "before performance verdicts): rebuild it with its labels (--label-column)"
            )
        elif n < settings.min_labels:
            reason = f"{n} {unit}, fewer than min_labels={settings.min_labels}"
        elif not (math.isfinite(value) and math.isfinite(ref)):
            reason = f"{metric} is undefined here (e.g. one label class only, or no scores)"
        else:
            tested.append(_test(model, metric, value, ref, n, labelled, reference_version,
                                calibrator))  # fmt: skip
            continue
        verdict(metric, n, "insufficient", "insufficient", reasons=(reason,))

    m = len(tested)
    rejected = holm([t.p_value for t in tested], settings.alpha)
    for t, significant in zip(tested, rejected, strict=True):
        floor, critical_floor = _floors(t, settings)
        degraded = significant and t.worse >= floor
        severity: Severity = "ok"
        reasons = []
        change = (
            f"{word}{t.metric} {t.value:.4g} vs reference {t.reference:.4g} at n={t.n:,} {unit}"
        )
        if degraded:
            severity = "critical" if t.worse >= critical_floor else "warning"
            reasons.append(
                f"{change}: worse by {_amount(t, t.worse)} (p={t.p_value:.2g}, significant "
                f"after Holm over {m} metrics at alpha {settings.alpha:g})"
            )
        elif significant:
            reasons.append(
                f"{change}: worse by {_amount(t, t.worse)}, under the floor {_amount(t, floor)}"
            )
        elif t.improvement_p <= settings.alpha / m and -t.worse >= floor:
            reasons.append(f"{change}: better by {_amount(t, -t.worse)} (improvements never alert)")
        verdict(
            t.metric,
            t.n,
            "degraded" if degraded else "ok",
            severity,
            value=t.value,
            threshold=t.threshold(settings.alpha / m, floor),
            p_value=t.p_value,
            rate=settings.alpha / m,
            reasons=tuple(reasons),
        )
    return [verdicts[metric] for metric in metrics]


#: The count a metric is computed over, when it is not every labelled pair.
_COUNT = {"roc_auc": "n_scored", "log_loss": "n_scored", "brier": "n_scored", "mape": "n_ape"}


@dataclass(frozen=True, slots=True)
class _Tested:
    """One metric with enough labels, and its null distribution."""

    metric: str
    value: float
    reference: float
    n: int
    #: One-sided p-values: of a change this bad (or worse), and this good (or better).
    p_value: float
    improvement_p: float
    #: Sorted null draws of the difference (classification), or the normal sd (mean-type).
    null: NDArray[np.float64] | None
    sd: float

    @property
    def higher_is_better(self) -> bool:
        return self.metric in HIGHER_IS_BETTER

    @property
    def worse(self) -> float:
        """How much worse than the reference: points for metrics in [0, 1], a relative increase
        for errors (negative: better)."""
        if self.higher_is_better:
            return self.reference - self.value
        return (self.value - self.reference) / self.reference if self.reference > 0 else math.inf

    def threshold(self, alpha: float, floor: float) -> float:
        """The metric value beyond which this window warns at ``alpha`` (for charts, tables)."""
        if self.null is not None:  # a classification metric, higher is better
            return self.reference + min(float(np.quantile(self.null, alpha)), -floor)
        band = float(sps.norm.isf(alpha)) * self.sd
        if self.metric == "rmse":  # judged on the mean squared error
            mse = max(self.reference**2 + band, self.reference**2 * (1.0 + floor) ** 2)
            return math.sqrt(mse)
        return max(self.reference + band, self.reference * (1.0 + floor))


def _test(
    model: ModelSettings,
    metric: str,
    value: float,
    ref: float,
    n: int,
    labelled: LabelledReference,
    version: str,
    calibrator: PerformanceCalibrator,
) -> _Tested:
    if metric in _MEANS:
        observed = value**2 - ref**2 if metric == "rmse" else value - ref
        sd = normal_sd(metric, labelled, n)
        if sd > 0:
            worse, better = float(sps.norm.sf(observed / sd)), float(sps.norm.cdf(observed / sd))
        else:  # every reference pair had the same error: any change is certain
            worse, better = float(observed <= 0), float(observed >= 0)
        return _Tested(metric, value, ref, n, worse, better, None, sd)
    null = calibrator.null(model.task, metric, labelled, model.classes, n, version)
    observed = value - ref
    below = (1 + np.searchsorted(null, observed, side="right")) / (len(null) + 1)
    above = (1 + len(null) - np.searchsorted(null, observed, side="left")) / (len(null) + 1)
    worse, better = (below, above) if metric in HIGHER_IS_BETTER else (above, below)
    return _Tested(metric, value, ref, n, float(worse), float(better), null, math.nan)


def _floors(t: _Tested, settings: PerformanceSettings) -> tuple[float, float]:
    """(warning floor, critical floor) of :attr:`_Tested.worse`."""
    if t.higher_is_better:
        return settings.min_drop, settings.critical_drop
    return settings.min_relative_increase, settings.critical_relative_increase


def _amount(t: _Tested, worse: float) -> str:
    return f"{worse:.3g}" if t.higher_is_better else f"{worse:.1%}"
