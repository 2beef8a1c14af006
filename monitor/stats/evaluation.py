"""A window's evaluation: drift, performance and data-quality verdicts from merged counts.

Evaluation happens when a window changed (on a timer, never per event): drift verdicts with their
evidence (``stats/verdict.py``), performance against the reference
(``stats/performance_verdict.py``) — realized from labels and, for binary classifiers, estimated
from scores before labels (``stats/estimation.py``) — and data quality per feature
(``stats/quality.py``). A critical verdict stands only when the window before it was
critical-sized too (:func:`confirm_critical`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.config import (
    DriftSettings,
    ModelSettings,
    PerformanceSettings,
    QualitySettings,
    Settings,
)
from monitor.stats import estimation, performance, performance_verdict, quality
from monitor.stats.calibration import NullCalibrator
from monitor.stats.performance_verdict import PerformanceCalibrator
from monitor.stats.verdict import evaluate
from monitor.vocab.counts import WindowCounts
from monitor.vocab.effects import MISSING_PREFIX, SUM_PREFIX, TYPE_ERROR_PREFIX, N
from monitor.vocab.profile import CategoricalProfile, NumericProfile, ReferenceProfile
from monitor.vocab.verdicts import (
    DECISION,
    PREDICTION,
    FeatureQuality,
    Verdict,
    WindowEvaluation,
)

#: Reason of a critical-sized verdict that waits for the next window to confirm it.
AWAITING_CONFIRMATION = "critical if the next window confirms it"
#: Why a binary classifier's performance cannot be estimated without a labelled reference.
NO_LABELLED_REFERENCE = (
    "the reference holds no labelled scores: rebuild it with --label-column and --score-column "
    "to estimate performance before labels"
)


@dataclass(frozen=True, slots=True)
class Judges:
    """Everything that turns a window's counts into verdicts: the rules and their caches.

    Keep one per process (:meth:`of`): the calibrators cache null distributions.
    """

    drift: DriftSettings
    performance: PerformanceSettings
    quality: QualitySettings
    calibrator: NullCalibrator
    performance_calibrator: PerformanceCalibrator

    @classmethod
    def of(cls, settings: Settings, *, cache_entries: int = 4096) -> Judges:
        return cls(
            settings.drift,
            settings.performance,
            settings.quality,
            NullCalibrator(draws=settings.drift.bootstrap_draws, max_entries=cache_entries),
            PerformanceCalibrator(
                draws=settings.performance.bootstrap_draws, max_entries=cache_entries
            ),
        )


def evaluate_window(
    model: ModelSettings,
    reference: ReferenceProfile | None,
    counts: WindowCounts,
    *,
    window_start: int,
    version: str,
    judges: Judges,
    now: float,
    previous: WindowEvaluation | None = None,
    dead_letters: Mapping[str, int] | None = None,
    final: bool = False,
) -> WindowEvaluation:
    """Drift, performance (realized, and estimated from the scores) and data-quality verdicts of
    one window (``previous``: the window before it, whose critical-sized verdicts confirm this
    one's)."""
    verdicts: list[Verdict] = []
    judged: list[Verdict] = []
    rates: list[Verdict] = []
    estimate = _Estimated()
    sums = counts.performance_sums
    n_labelled = int(sums.get(N, 0))
    if reference is not None:
        current = {f: counts.bins(f, p.n_bins) for f, p in reference.features.items()}
        current[PREDICTION] = counts.bins(PREDICTION, reference.prediction.n_bins)
        if reference.decision is not None:
            current[DECISION] = counts.bins(DECISION, reference.decision.n_bins)
        verdicts = evaluate(
            model, reference, current, counts.n, window_start, judges.drift, judges.calibrator
        )
        judged = performance_verdict.judge(
            model,
            reference.version,
            reference.labelled,
            sums,
            window_start,
            judges.performance,
            judges.performance_calibrator,
        )
        estimate = _estimate(model, reference, counts, window_start, judges)
        rates = quality.judge(
            model,
            reference,
            counts.n,
            counts.fields,
            window_start,
            judges.drift.min_samples,
            judges.quality,
        )
        before = _all_verdicts(previous) if previous is not None else []
        verdicts, judged, rates, estimated = (
            confirm_critical(vs, before) for vs in (verdicts, judged, rates, estimate.verdicts)
        )
        estimate = dataclasses.replace(estimate, verdicts=estimated)
    return WindowEvaluation(
        model=model.name,
        window_start=window_start,
        version=version,
        reference=reference.version if reference is not None else "",
        n=counts.n,
        n_labelled=n_labelled,
        evaluated_at=now,
        verdicts=verdicts,
        performance_verdicts=judged,
        quality_verdicts=rates,
        quality=_quality(model, reference, counts, judges.quality.unseen_named),
        performance=performance.metrics_for(model.task, sums, model.classes) if n_labelled else {},
        reference_performance=dict(reference.performance) if reference is not None else {},
        dead_letters=dict(dead_letters or {}),
        final=final,
        estimated_performance=estimate.metrics,
        estimated_bands=estimate.bands,
        estimated_verdicts=estimate.verdicts,
        estimation_refused=estimate.refused,
    )


@dataclass(frozen=True, slots=True)
class _Estimated:
    """A window's estimated performance, as :class:`WindowEvaluation` keeps it."""

    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    bands: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    verdicts: list[Verdict] = dataclasses.field(default_factory=list)
    refused: str = ""


def _estimate(
    model: ModelSettings,
    reference: ReferenceProfile,
    counts: WindowCounts,
    window_start: int,
    judges: Judges,
) -> _Estimated:
    """A binary classifier's performance from its window's scores, calibrated on the reference
    (``stats/estimation.py``); nothing for other tasks or a window without scores."""
    if model.task != "binary":
        return _Estimated()
    positive, negative = counts.decision_histograms(performance.SCORE_BINS)
    if positive.sum() + negative.sum() == 0:
        return _Estimated()
    calibration = estimation.calibration_of(reference)
    if calibration is None or reference.labelled is None:
        return _Estimated(refused=NO_LABELLED_REFERENCE)
    if calibration.refused:
        return _Estimated(refused=calibration.refused)
    est = estimation.estimate(
        calibration,
        positive,
        negative,
        draws=judges.performance.bootstrap_draws,
        seed=window_start,
    )
    monitored = tuple(
        m for m in judges.performance.binary_metrics if m in estimation.ESTIMATED_METRICS
    )
    verdicts = performance_verdict.judge(
        model,
        reference.version,
        reference.labelled,
        estimation.expected_sums(calibration, positive, negative),
        window_start,
        dataclasses.replace(judges.performance, binary_metrics=monitored),
        judges.performance_calibrator,
        estimated=True,
    )
    bands = {k: (est.low[k], est.high[k]) for k in est.metrics}
    return _Estimated(est.metrics, bands, verdicts)


def confirm_critical(verdicts: list[Verdict], previous: Sequence[Verdict]) -> list[Verdict]:
    """A critical verdict stands only if the window before it was critical-sized too.

    One window can look critical by chance: across thousands of stable windows of a hundred rows
    a few do. Requiring two consecutive windows (hysteresis, as Alertmanager's ``for``) makes a
    chance critical on stable traffic practically impossible while delaying a real one by a
    single window; until then the verdict is a warning that says it awaits confirmation.
    ``previous``: the verdicts of the window before (a verdict is identified by its feature and
    statistic).
    """
    before = {(v.feature, v.statistic): v for v in previous}
    out = []
    for v in verdicts:
        prior = before.get((v.feature, v.statistic))
        if v.severity == "critical" and not (prior is not None and _critical_sized(prior)):
            v = dataclasses.replace(
                v, severity="warning", reasons=(*v.reasons, AWAITING_CONFIRMATION)
            )
        out.append(v)
    return out


def _critical_sized(v: Verdict) -> bool:
    return v.severity == "critical" or AWAITING_CONFIRMATION in v.reasons


def critical_sized(ev: WindowEvaluation | None) -> frozenset[tuple[str, str]]:
    """What of a window looks critical on its own: the next window's confirmation reads this,
    so when it changes the next window must be evaluated again (whatever the order windows are
    evaluated in, every window then ends confirmed against its final predecessor)."""
    if ev is None:
        return frozenset()
    return frozenset((v.feature, v.statistic) for v in _all_verdicts(ev) if _critical_sized(v))


def _all_verdicts(ev: WindowEvaluation) -> list[Verdict]:
    return [*ev.verdicts, *ev.performance_verdicts, *ev.quality_verdicts, *ev.estimated_verdicts]


def _quality(
    model: ModelSettings,
    reference: ReferenceProfile | None,
    counts: WindowCounts,
    unseen_named: int,
) -> dict[str, FeatureQuality]:
    out: dict[str, FeatureQuality] = {}
    n = max(counts.n, 1)
    for name, kind in model.features.items():
        profile = reference.features.get(name) if reference is not None else None
        oor = unseen = mean = None
        named: dict[str, int] = {}
        if isinstance(profile, NumericProfile):
            bins = counts.bins(name, profile.n_bins)
            oor = float(bins[0] + bins[-2]) / n  # below and above the reference range
        elif isinstance(profile, CategoricalProfile):
            unseen = float(counts.bins(name, profile.n_bins)[-2]) / n
            named = dict(quality.unseen_names(counts.fields, name)[:unseen_named])
        missing, wrong = counts.get(MISSING_PREFIX + name), counts.get(TYPE_ERROR_PREFIX + name)
        valid = counts.n - missing - wrong
        if kind == "numeric" and valid > 0:
            mean = counts.get(SUM_PREFIX + name) / valid
        out[name] = FeatureQuality(
            missing_rate=missing / n,
            type_error_rate=wrong / n,
            out_of_range_rate=oor,
            unseen_rate=unseen,
            mean=mean,
            unseen_categories=named,
        )
    return out
