"""A window's evaluation and a model's health, from merged window counts.

Evaluation happens when a window changed (on a timer, never per event): drift verdicts with their
evidence (``stats/verdict.py``), data quality per feature, performance against the reference. The
model's health is the worst signal of its newest evaluated window with enough data, with the
reasons spelled out, so an on-call engineer sees *why* in one line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec
import numpy as np

from monitor.config import DriftSettings, ModelSettings
from monitor.stats import performance
from monitor.stats.calibration import NullCalibrator
from monitor.stats.reference import CategoricalProfile, NumericProfile, ReferenceProfile
from monitor.stats.verdict import DECISION, Verdict, evaluate

PREDICTION = "__prediction__"
HealthStatus = Literal["OK", "WARN", "CRITICAL", "INSUFFICIENT DATA"]

#: Relative loss of the headline metric against the reference that warns / is critical.
PERFORMANCE_WARNING_DROP = 0.05
PERFORMANCE_CRITICAL_DROP = 0.15
#: Missing or wrong-typed share of a feature above which data quality warns.
QUALITY_WARNING_RATE = 0.05
#: Reason of a critical-sized verdict that waits for the next window to confirm it.
AWAITING_CONFIRMATION = "critical if the next window confirms it"
#: The metric that stands for a task's performance (higher is better, except errors).
HEADLINE_METRIC = {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "mae"}


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


def evaluate_window(
    model: ModelSettings,
    reference: ReferenceProfile | None,
    counts: WindowCounts,
    *,
    window_start: int,
    version: str,
    settings: DriftSettings,
    calibrator: NullCalibrator,
    now: float,
    previous: WindowEvaluation | None = None,
    dead_letters: Mapping[str, int] | None = None,
    final: bool = False,
) -> WindowEvaluation:
    """Verdicts, quality and performance of one window (``previous``: the window before it)."""
    verdicts: list[Verdict] = []
    if reference is not None:
        current = {f: counts.bins(f, p.n_bins) for f, p in reference.features.items()}
        current[PREDICTION] = counts.bins(PREDICTION, reference.prediction.n_bins)
        if reference.decision is not None:
            current[DECISION] = counts.bins(DECISION, reference.decision.n_bins)
        verdicts = evaluate(model, reference, current, counts.n, window_start, settings, calibrator)
        verdicts = confirm_critical(verdicts, previous)
    sums = counts.performance_sums
    n_labelled = int(sums.get("n", 0))
    return WindowEvaluation(
        model=model.name,
        window_start=window_start,
        version=version,
        reference=reference.version if reference is not None else "",
        n=counts.n,
        n_labelled=n_labelled,
        evaluated_at=now,
        verdicts=verdicts,
        quality=_quality(model, reference, counts),
        performance=performance.metrics_for(model.task, sums, model.classes) if n_labelled else {},
        reference_performance=dict(reference.performance) if reference is not None else {},
        dead_letters=dict(dead_letters or {}),
        final=final,
    )


def confirm_critical(verdicts: list[Verdict], previous: WindowEvaluation | None) -> list[Verdict]:
    """A critical verdict stands only if the window before it was critical-sized too.

    One window can look critical by chance: across thousands of stable windows of a hundred rows
    a few do. Requiring two consecutive windows (hysteresis, as Alertmanager's ``for``) makes a
    chance critical on stable traffic practically impossible while delaying a real one by a
    single window; until then the verdict is a warning that says it awaits confirmation.
    """
    before = {v.feature: v for v in previous.verdicts} if previous is not None else {}
    out = []
    for v in verdicts:
        prior = before.get(v.feature)
        if v.severity == "critical" and not (prior is not None and _critical_sized(prior)):
            v = dataclasses.replace(
                v, severity="warning", reasons=(*v.reasons, AWAITING_CONFIRMATION)
            )
        out.append(v)
    return out


def _critical_sized(v: Verdict) -> bool:
    return v.severity == "critical" or AWAITING_CONFIRMATION in v.reasons


def critical_sized(ev: WindowEvaluation | None) -> frozenset[str]:
    """What of a window looks critical on its own: the next window's confirmation reads this,
    so when it changes the next window must be evaluated again (whatever the order windows are
    evaluated in, every window then ends confirmed against its final predecessor)."""
    if ev is None:
        return frozenset()
    return frozenset(v.feature for v in ev.verdicts if _critical_sized(v))


def _quality(
    model: ModelSettings, reference: ReferenceProfile | None, counts: WindowCounts
) -> dict[str, FeatureQuality]:
    out: dict[str, FeatureQuality] = {}
    n = max(counts.n, 1)
    for name, kind in model.features.items():
        profile = reference.features.get(name) if reference is not None else None
        oor = unseen = mean = None
        if isinstance(profile, NumericProfile):
            bins = counts.bins(name, profile.n_bins)
            oor = float(bins[0] + bins[-2]) / n  # below and above the reference range
        elif isinstance(profile, CategoricalProfile):
            unseen = float(counts.bins(name, profile.n_bins)[-2]) / n
        valid = counts.n - counts.get("miss:" + name) - counts.get("terr:" + name)
        if kind == "numeric" and valid > 0:
            mean = counts.get("sum:" + name) / valid
        out[name] = FeatureQuality(
            missing_rate=counts.get("miss:" + name) / n,
            type_error_rate=counts.get("terr:" + name) / n,
            out_of_range_rate=oor,
            unseen_rate=unseen,
            mean=mean,
        )
    return out


def health(model: ModelSettings, evaluations: Sequence[WindowEvaluation], now: float) -> Health:
    """The model's status from its newest window that had enough data for a verdict."""
    for ev in sorted(evaluations, key=lambda e: e.window_start, reverse=True):
        drift = [v for v in ev.verdicts if v.feature == "__model__"]
        if not drift or drift[0].status == "insufficient":
            continue
        reasons: list[str] = list(drift[0].reasons)
        status: HealthStatus = {"critical": "CRITICAL", "warning": "WARN"}.get(
            drift[0].severity, "OK"
        )  # type: ignore[assignment]
        perf_status, perf_reason = _performance_status(model, ev)
        if perf_reason:
            reasons.append(perf_reason)
        status = _worse(status, perf_status)
        for feature, q in ev.quality.items():
            bad = q.missing_rate + q.type_error_rate
            if bad >= QUALITY_WARNING_RATE:
                reasons.append(f"{feature}: {bad:.1%} missing or wrong type")
                status = _worse(status, "WARN")
        return Health(model.name, status, reasons, ev.window_start, now)
    return Health(model.name, "INSUFFICIENT DATA", ["no window has enough rows yet"], None, now)


def _performance_status(model: ModelSettings, ev: WindowEvaluation) -> tuple[HealthStatus, str]:
    metric = HEADLINE_METRIC[model.task]
    current, ref = ev.performance.get(metric), ev.reference_performance.get(metric)
    if current is None or not ref:
        return "OK", ""
    lower_is_better = metric == "mae"
    drop = (current - ref) / abs(ref) if lower_is_better else (ref - current) / abs(ref)
    reason = f"{metric} {current:.3g} vs reference {ref:.3g} ({ev.n_labelled} labels)"
    if drop >= PERFORMANCE_CRITICAL_DROP:
        return "CRITICAL", reason
    if drop >= PERFORMANCE_WARNING_DROP:
        return "WARN", reason
    return "OK", ""


_ORDER: dict[HealthStatus, int] = {"INSUFFICIENT DATA": 0, "OK": 1, "WARN": 2, "CRITICAL": 3}


def _worse(a: HealthStatus, b: HealthStatus) -> HealthStatus:
    return a if _ORDER[a] >= _ORDER[b] else b
