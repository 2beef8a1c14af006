"""A window's evaluation and a model's health, from merged window counts.

Evaluation happens when a window changed (on a timer, never per event): drift verdicts with their
evidence (``stats/verdict.py``), data quality per feature, performance against the reference. The
model's health is the worst signal of its newest evaluated window with enough data, with the
reasons spelled out, so an on-call engineer sees *why* in one line.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec
import numpy as np

from monitor.config import (
    DriftSettings,
    ModelSettings,
    PerformanceSettings,
    QualitySettings,
    Settings,
)
from monitor.stats import performance, performance_verdict, quality
from monitor.stats.calibration import NullCalibrator
from monitor.stats.performance_verdict import PerformanceCalibrator
from monitor.stats.reference import CategoricalProfile, NumericProfile, ReferenceProfile
from monitor.stats.verdict import DECISION, Verdict, evaluate

PREDICTION = "__prediction__"
HealthStatus = Literal["OK", "WARN", "CRITICAL", "INSUFFICIENT DATA"]

#: Reason of a critical-sized verdict that waits for the next window to confirm it.
AWAITING_CONFIRMATION = "critical if the next window confirms it"


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """One window's counts merged over partitions (see ``stats/window.py`` for the fields)."""

    n: int
    fields: Mapping[str, float]

    def bins(self, feature: str, n_bins: int) -> np.ndarray:
        counts = np.zeros(n_bins, dtype=np.int64)
        prefix = f"b:{feature}:"
        for name, value in self.fields.items():
            if name.startswith(prefix):
                counts[int(name[len(prefix) :])] = int(value)
        return counts

    def get(self, name: str) -> float:
        return float(self.fields.get(name, 0.0))

    @property
    def performance_sums(self) -> dict[str, float]:
        return {k[5:]: float(v) for k, v in self.fields.items() if k.startswith("perf:")}


class FeatureQuality(msgspec.Struct, frozen=True):
    missing_rate: float
    type_error_rate: float
    out_of_range_rate: float | None = None
    unseen_rate: float | None = None
    mean: float | None = None
    #: Unseen categories with their counts, most frequent first (``quality.unseen_named``).
    unseen_categories: dict[str, int] = {}


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


class WindowEvaluation(msgspec.Struct, frozen=True):
    """Everything known about one window: stored per window, read by CLI, alerts, dashboard."""

    model: str
    window_start: int
    version: str
    reference: str
    n: int
    n_labelled: int
    evaluated_at: float
    verdicts: list[Verdict] = []
    #: One per monitored metric (``stats/performance_verdict.py``).
    performance_verdicts: list[Verdict] = []
    #: One per judged rate of each feature (``stats/quality.py``).
    quality_verdicts: list[Verdict] = []
    quality: dict[str, FeatureQuality] = {}
    performance: dict[str, float] = {}
    reference_performance: dict[str, float] = {}
    #: Dead letters by reason that arrived during this window (by arrival, not event time).
    dead_letters: dict[str, int] = {}
    #: True once the model's newest event time passed the window's end plus the allowed
    #: lateness: later events still count, but the window is not expected to change.
    final: bool = False


class Health(msgspec.Struct, frozen=True):
    model: str
    status: HealthStatus
    reasons: list[str]
    window_start: int | None
    evaluated_at: float
    #: WARN or CRITICAL: since when (the first window of the current run of unhealthy windows,
    #: or the first recent error change point when only the detector saw a change).
    since: float | None = None


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
    """Drift, performance and data-quality verdicts of one window (``previous``: the window
    before it, whose critical-sized verdicts confirm this one's)."""
    verdicts: list[Verdict] = []
    judged: list[Verdict] = []
    rates: list[Verdict] = []
    sums = counts.performance_sums
    n_labelled = int(sums.get("n", 0))
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
        verdicts, judged, rates = (confirm_critical(vs, before) for vs in (verdicts, judged, rates))
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
    )


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
    return [*ev.verdicts, *ev.performance_verdicts, *ev.quality_verdicts]


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
        valid = counts.n - counts.get("miss:" + name) - counts.get("terr:" + name)
        if kind == "numeric" and valid > 0:
            mean = counts.get("sum:" + name) / valid
        out[name] = FeatureQuality(
            missing_rate=counts.get("miss:" + name) / n,
            type_error_rate=counts.get("terr:" + name) / n,
            out_of_range_rate=oor,
            unseen_rate=unseen,
            mean=mean,
            unseen_categories=named,
        )
    return out


def health(
    model: ModelSettings,
    evaluations: Sequence[WindowEvaluation],
    now: float,
    change_points: Sequence[tuple[str, float]] = (),
    previous: Health | None = None,
) -> Health:
    """The model's status from its newest window that had enough data for a verdict, and from
    recent change points of its online detectors (``(stream, event time)``, already limited to
    ``performance.change_point_span_seconds``): a change on the error stream warns until a
    window's performance verdict confirms it (critical).

    ``evaluations`` are the newest few; ``previous`` (the health stored before) carries "since
    when" over a run of unhealthy windows longer than them.
    """
    judged = _judged(evaluations)
    status: HealthStatus = "INSUFFICIENT DATA"
    reasons: list[str] = []
    window_start = None
    degraded = False
    if judged:
        ev = judged[0]
        window_start = ev.window_start
        status, reasons = _window_signals(ev)
        degraded = any(v.status == "degraded" for v in ev.performance_verdicts)
    since = _unhealthy_since(judged)
    if since is not None and since == judged[-1].window_start and _unhealthy(previous):
        since = min(since, previous.since)  # type: ignore[union-attr, type-var]
    errors = sorted(ts for stream, ts in change_points if stream == "error")
    if errors:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(errors[-1]))
        confirmed = "; confirmed by the windowed performance" if degraded else ""
        reasons.append(
            f"the online detector saw the error rate change at {when} "
            f"({len(errors)} change point(s) in the last span){confirmed}"
        )
        status = _worse(status, "CRITICAL" if degraded else "WARN")
        since = errors[0] if since is None else min(since, errors[0])
    if status == "INSUFFICIENT DATA":
        reasons = [_why_insufficient(evaluations)]
    return Health(model.name, status, reasons, window_start, now, since)


def _judged(evaluations: Sequence[WindowEvaluation]) -> list[WindowEvaluation]:
    """Windows with a drift verdict (enough rows), newest first."""
    out = []
    for ev in sorted(evaluations, key=lambda e: e.window_start, reverse=True):
        drift = [v for v in ev.verdicts if v.feature == "__model__"]
        if drift and drift[0].status != "insufficient":
            out.append(ev)
    return out


def _window_signals(ev: WindowEvaluation) -> tuple[HealthStatus, list[str]]:
    """One judged window's worst signal — model drift, each degraded performance metric and
    data-quality rate — and the reasons."""
    drift = next(v for v in ev.verdicts if v.feature == "__model__")
    reasons = list(drift.reasons)
    status = _SEVERITY_STATUS.get(drift.severity, "OK")
    for v in ev.performance_verdicts:
        if v.status == "degraded":
            reasons.append(v.reasons[0] if v.reasons else v.statistic)
            status = _worse(status, _SEVERITY_STATUS[v.severity])
    for v in ev.quality_verdicts:
        if v.status == "degraded":
            reasons.append(v.reasons[0] if v.reasons else f"{v.feature}: {v.statistic}")
            status = _worse(status, _SEVERITY_STATUS[v.severity])
    return status, reasons


def _unhealthy_since(judged: Sequence[WindowEvaluation]) -> int | None:
    """Start of the current run of unhealthy windows (``judged`` newest first)."""
    since = None
    for ev in judged:
        if _window_signals(ev)[0] not in ("WARN", "CRITICAL"):
            break
        since = ev.window_start
    return since


def _unhealthy(h: Health | None) -> bool:
    return h is not None and h.status in ("WARN", "CRITICAL") and h.since is not None


def _why_insufficient(evaluations: Sequence[WindowEvaluation]) -> str:
    """No reference, too few rows, or no traffic: each needs a different fix."""
    if not evaluations:
        return "no window evaluated yet: no traffic for this model"
    newest = max(evaluations, key=lambda e: e.window_start)
    if not newest.reference:
        return "no reference set: run `driftwatch baseline set` for this model"
    model_verdict = next((v for v in newest.verdicts if v.feature == "__model__"), None)
    detail = model_verdict.reasons[0] if model_verdict and model_verdict.reasons else ""
    return f"no window has enough rows yet ({detail})" if detail else "no window has enough rows"


_SEVERITY_STATUS: dict[str, HealthStatus] = {
    "critical": "CRITICAL",
    "warning": "WARN",
    "ok": "OK",
    "insufficient": "OK",
}
_ORDER: dict[HealthStatus, int] = {"INSUFFICIENT DATA": 0, "OK": 1, "WARN": 2, "CRITICAL": 3}


def _worse(a: HealthStatus, b: HealthStatus) -> HealthStatus:
    return a if _ORDER[a] >= _ORDER[b] else b
