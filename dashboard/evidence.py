"""Info objects for the evidence behind a verdict: distributions, performance, data quality,
labels and comparisons (the model and feature pages). Pure, like ``dashboard/info.py``."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from dashboard.info import local, newest_per_window, number, verdict_of, zone_label
from monitor.config import PerformanceSettings
from monitor.stats.counters import DELAY_LABELS, IngestCounts
from monitor.stats.health import WindowEvaluation
from monitor.stats.performance_verdict import LOWER_IS_BETTER
from monitor.stats.reference import NumericProfile, Profile

# --- distributions --------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def bin_labels(profile: Profile) -> list[str]:
    """Readable names of a profile's bins, in the stored layout (see ``stats/reference.py``)."""
    if isinstance(profile, NumericProfile):
        e = profile.edges
        inner = [f"[{_fmt(a)}, {_fmt(b)})" for a, b in itertools.pairwise(e)]
        inner[-1] = inner[-1][:-1] + "]"  # the last in-range bin holds the reference maximum
        return [f"< {_fmt(e[0])}", *inner, f"> {_fmt(e[-1])}", "missing"]
    return [*profile.categories, "other", "unseen", "missing"]


@dataclass(frozen=True, slots=True)
class DistributionInfo:
    """Shares of rows per reference bin for several series (reference, a window, a period)."""

    feature: str
    labels: tuple[str, ...]
    names: tuple[str, ...]
    shares: tuple[tuple[float, ...], ...]
    totals: tuple[int, ...]
    counts: tuple[tuple[int, ...], ...]


def distribution_info(
    feature: str, profile: Profile, series: Sequence[tuple[str, Sequence[int]]]
) -> DistributionInfo:
    """Counts per bin → shares; a series without rows has all-zero shares (and total 0)."""
    labels = bin_labels(profile)
    counts = [tuple(int(c) for c in values) for _, values in series]
    for (name, _), values in zip(series, counts, strict=True):
        if len(values) != len(labels):
            raise ValueError(f"{name}: {len(values)} bins, the reference has {len(labels)}")
    totals = [sum(c) for c in counts]
    return DistributionInfo(
        feature=feature,
        labels=tuple(labels),
        names=tuple(name for name, _ in series),
        shares=tuple(
            tuple(c / t if t else 0.0 for c in values)
            for values, t in zip(counts, totals, strict=True)
        ),
        totals=tuple(totals),
        counts=tuple(counts),
    )


# --- performance ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PerformanceInfo:
    """A metric per window against the reference and the levels where health warns / is critical,
    with the times the model's online (river) detectors fired and on which stream."""

    metric: str
    lower_is_better: bool
    times: tuple[datetime, ...]
    values: tuple[float, ...]
    n_labelled: tuple[int, ...]
    reference: tuple[float, ...]
    warning_level: tuple[float, ...]
    critical_level: tuple[float, ...]
    change_points: tuple[datetime, ...]
    change_streams: tuple[str, ...]
    zone: str


def metrics_available(evaluations: Sequence[WindowEvaluation]) -> list[str]:
    names = {m for ev in evaluations for m in ev.performance}
    return sorted(names)


def headline_metric(task: str, settings: PerformanceSettings) -> str:
    """The first monitored metric of the task (``[performance]`` in the config)."""
    return settings.metrics(task)[0]  # type: ignore[arg-type]


def performance_info(
    evaluations: Sequence[WindowEvaluation],
    metric: str,
    tz: tzinfo,
    settings: PerformanceSettings,
    change_points: Sequence[tuple[str, float]] = (),
) -> PerformanceInfo:
    """Windows with labels only. The warning level is each window's own band — the value beyond
    which its performance verdict warns at its label count (NaN when it had no verdict) — and the
    critical level the critical floor from the reference (``[performance]``).

    ``change_points`` are ``(stream, event time)`` pairs as ``Query.change_points`` returns them.
    """
    lower = metric in LOWER_IS_BETTER
    rows = [
        ev
        for ev in newest_per_window(evaluations)
        if ev.n_labelled and ev.performance.get(metric) is not None
    ]
    refs = [number(ev.reference_performance.get(metric)) for ev in rows]
    bands = []
    for ev in rows:
        judged = [v for v in ev.performance_verdicts if v.statistic == metric]
        bands.append(number(judged[0].threshold) if judged else float("nan"))
    if lower:
        critical = [r * (1.0 + settings.critical_relative_increase) for r in refs]
    else:
        critical = [r - settings.critical_drop for r in refs]
    return PerformanceInfo(
        metric=metric,
        lower_is_better=lower,
        times=tuple(local(ev.window_start, tz) for ev in rows),
        values=tuple(number(ev.performance[metric]) for ev in rows),
        n_labelled=tuple(ev.n_labelled for ev in rows),
        reference=tuple(refs),
        warning_level=tuple(bands),
        critical_level=tuple(critical),
        change_points=tuple(local(t, tz) for _, t in change_points),
        change_streams=tuple(stream for stream, _ in change_points),
        zone=zone_label(tz),
    )


# --- data quality ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QualityInfo:
    """Per feature and window: missing or wrong-typed, out-of-range and unseen-category shares."""

    times: tuple[datetime, ...]
    features: tuple[str, ...]
    invalid: tuple[tuple[float, ...], ...]
    out_of_range: tuple[tuple[float, ...], ...]
    unseen: tuple[tuple[float, ...], ...]
    zone: str


def quality_info(
    evaluations: Sequence[WindowEvaluation], features: Sequence[str], tz: tzinfo
) -> QualityInfo:
    """Rates from each window's stored quality; a feature a window lacks counts as NaN."""
    windows = newest_per_window(evaluations)

    def series(feature: str, rate: str) -> tuple[float, ...]:
        out = []
        for ev in windows:
            q = ev.quality.get(feature)
            if q is None:
                out.append(float("nan"))
            elif rate == "invalid":
                out.append(q.missing_rate + q.type_error_rate)
            else:
                out.append(number(getattr(q, rate)))
        return tuple(out)

    return QualityInfo(
        times=tuple(local(ev.window_start, tz) for ev in windows),
        features=tuple(features),
        invalid=tuple(series(f, "invalid") for f in features),
        out_of_range=tuple(series(f, "out_of_range_rate") for f in features),
        unseen=tuple(series(f, "unseen_rate") for f in features),
        zone=zone_label(tz),
    )


@dataclass(frozen=True, slots=True)
class QualityRow:
    """One feature's data quality in one window, next to its reference."""

    feature: str
    missing_rate: float
    type_error_rate: float
    out_of_range_rate: float | None
    unseen_rate: float | None
    mean: float | None
    reference_mean: float | None
    reference_missing_rate: float | None


def quality_rows(ev: WindowEvaluation, profiles: Mapping[str, Profile] | None) -> list[QualityRow]:
    """A window's quality table, worst first."""
    rows = []
    for feature, q in ev.quality.items():
        p = (profiles or {}).get(feature)
        rows.append(
            QualityRow(
                feature=feature,
                missing_rate=q.missing_rate,
                type_error_rate=q.type_error_rate,
                out_of_range_rate=q.out_of_range_rate,
                unseen_rate=q.unseen_rate,
                mean=q.mean,
                reference_mean=p.mean if isinstance(p, NumericProfile) else None,
                reference_missing_rate=p.n_missing / p.n if p is not None and p.n else None,
            )
        )
    return sorted(
        rows,
        key=lambda r: (
            -(
                r.missing_rate
                + r.type_error_rate
                + (r.out_of_range_rate or 0)
                + (r.unseen_rate or 0)
            )
        ),
    )


# --- labels ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelInfo:
    """Label coverage and delay: totals from the ingestion counters, shares per window."""

    predictions: int
    joined: int
    pending: int
    expired: int
    orphan_outcomes: int
    coverage: float | None
    mean_delay_seconds: float | None
    delay_buckets: tuple[str, ...]
    delay_counts: tuple[int, ...]
    times: tuple[datetime, ...]
    labelled_share: tuple[float, ...]
    zone: str


def label_info(
    counts: IngestCounts, evaluations: Sequence[WindowEvaluation], tz: tzinfo
) -> LabelInfo:
    windows = newest_per_window(evaluations)
    return LabelInfo(
        predictions=counts.predictions,
        joined=counts.joined,
        pending=counts.pending_predictions,
        expired=counts.expired_predictions,
        orphan_outcomes=counts.orphan_outcomes,
        coverage=counts.label_coverage,
        mean_delay_seconds=counts.mean_label_delay_seconds,
        delay_buckets=tuple(f"≤ {label}" if label != "inf" else "> 7d" for label in DELAY_LABELS),
        delay_counts=tuple(counts.delay_histogram.get(label, 0) for label in DELAY_LABELS),
        times=tuple(local(ev.window_start, tz) for ev in windows),
        labelled_share=tuple(ev.n_labelled / ev.n if ev.n else 0.0 for ev in windows),
        zone=zone_label(tz),
    )


# --- comparisons ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """One feature in two groups of windows: mean statistic and share of drifting windows."""

    feature: str
    statistic: str
    mean_a: float | None
    mean_b: float | None
    drift_share_a: float | None
    drift_share_b: float | None


@dataclass(frozen=True, slots=True)
class ComparisonInfo:
    """Two groups of windows (two periods, or two model versions) side by side."""

    label_a: str
    label_b: str
    windows_a: int
    windows_b: int
    rows_a: int
    rows_b: int
    metric: str
    metric_a: float | None
    metric_b: float | None
    features: tuple[ComparisonRow, ...]


def _weighted_metric(group: Sequence[WindowEvaluation], metric: str) -> float | None:
    """Mean of the windows' metric weighted by their labelled rows (an approximation of the
    metric over the whole period, exact for averages such as accuracy and MAE)."""
    pairs = [(ev.performance[metric], ev.n_labelled) for ev in group if metric in ev.performance]
    pairs = [(number(m), n) for m, n in pairs if n and m is not None]
    total = sum(n for _, n in pairs)
    return sum(m * n for m, n in pairs) / total if total else None


def compare(
    label_a: str,
    group_a: Sequence[WindowEvaluation],
    label_b: str,
    group_b: Sequence[WindowEvaluation],
    features: Sequence[str],
    metric: str,
) -> ComparisonInfo:
    def stats(
        group: Sequence[WindowEvaluation], feature: str
    ) -> tuple[str, float | None, float | None]:
        verdicts = [v for ev in group if (v := verdict_of(ev, feature)) is not None]
        judged = [v for v in verdicts if v.status != "insufficient"]
        if not verdicts:
            return "", None, None
        mean = sum(number(v.value) for v in verdicts) / len(verdicts)
        share = sum(v.status == "drift" for v in judged) / len(judged) if judged else None
        return verdicts[-1].statistic, mean, share

    rows = []
    for feature in features:
        stat_a, mean_a, share_a = stats(group_a, feature)
        stat_b, mean_b, share_b = stats(group_b, feature)
        rows.append(ComparisonRow(feature, stat_b or stat_a, mean_a, mean_b, share_a, share_b))
    return ComparisonInfo(
        label_a=label_a,
        label_b=label_b,
        windows_a=len(group_a),
        windows_b=len(group_b),
        rows_a=sum(ev.n for ev in group_a),
        rows_b=sum(ev.n for ev in group_b),
        metric=metric,
        metric_a=_weighted_metric(group_a, metric),
        metric_b=_weighted_metric(group_b, metric),
        features=tuple(rows),
    )


def common_reference(
    group_a: Sequence[WindowEvaluation], group_b: Sequence[WindowEvaluation]
) -> str | None:
    """The reference both groups' windows were binned on, if there is exactly one: bins of
    different references are not comparable."""
    refs = {ev.reference for ev in [*group_a, *group_b]}
    return refs.pop() if len(refs) == 1 and "" not in refs else None
