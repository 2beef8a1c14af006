"""Data quality: per feature and window, the shares of rows that are missing, of the wrong type,
out of the reference's range, or of a category the reference never saw — the four rates the
daemon judges (``monitor/stats/quality.py``).

``quality_info`` is the model's chart over time (the features with any bad rows), ``feature_
quality_info`` one feature's rates over time against the reference's missing rate and the level
where missing values degrade, and ``quality_rows`` one window's table beside the reference. All
read the quality and the quality verdicts each window stored, so they agree with the daemon.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import plotly.graph_objects as go

from dashboard.figures.common import (
    ACTIVE_SEVERITIES,
    CATEGORY_COLORS,
    SERIES_COLORS,
    SEVERITY_COLORS,
    layout,
    newest_per_window,
    number,
    percent,
    plain,
    present,
    severity_text,
    time_axis,
    window_times,
    worst_first,
    zone_label,
)
from monitor.vocab.profile import NumericProfile, Profile
from monitor.vocab.verdicts import Verdict, WindowEvaluation

#: Series at most on the model's quality chart: more lines than this cannot be told apart.
MAX_QUALITY_LINES = 8
#: The judged rates (their verdicts' statistic) and how a chart names and dashes them.
RATES = {
    "missing_rate": ("missing", "solid"),
    "type_error_rate": ("type error", "dashdot"),
    "out_of_range_rate": ("out of range", "dash"),
    "unseen_rate": ("unseen", "dot"),
}
#: The axis of every quality chart: percentages with as many digits as they need (0.5%, 12%).
RATE_TICKS = ",.3~%"


@dataclass(frozen=True, slots=True)
class RateSeries:
    """One rate of one feature per window, with the severity of its verdict there ("none" where
    the window did not judge it: no reference, or a rate the reference cannot judge)."""

    feature: str
    rate: str
    values: tuple[float, ...]
    severities: tuple[str, ...]

    @property
    def worst(self) -> float:
        """The highest share of the series (0 when it has none)."""
        return max(present(self.values), default=0.0)


def _judged(ev: WindowEvaluation, feature: str, rate: str) -> Verdict | None:
    """A window's verdict on one rate of one feature, if it judged it."""
    return next(
        (v for v in ev.quality_verdicts if (v.feature, v.statistic) == (feature, rate)), None
    )


def _rate_series(windows: Sequence[WindowEvaluation], feature: str) -> list[RateSeries]:
    """The rates a feature has in any of the windows; a window without it counts as NaN."""
    out = []
    for rate in RATES:
        values = []
        for ev in windows:
            q = ev.quality.get(feature)
            values.append(number(getattr(q, rate)) if q is not None else float("nan"))
        if not present(values):
            continue  # out of range for a categorical feature, unseen for a numeric one
        severities = tuple(
            v.severity if (v := _judged(ev, feature, rate)) else "none" for ev in windows
        )
        out.append(RateSeries(feature, rate, tuple(values), severities))
    return out


def _add_rate(
    fig: go.Figure, times: Sequence[datetime], series: RateSeries, name: str, colour: str
) -> None:
    """A rate's line in ``colour``, its hover the share in people's precision and the verdict;
    a marker in the severity's colour where the window's verdict warns or is critical (only
    there: a marker on every window of every rate cost the page a tenth of a second to draw)."""
    fig.add_scatter(
        x=list(times),
        y=list(series.values),
        name=plain(name),
        legendgroup=plain(name),
        mode="lines" if len(times) > 1 else "lines+markers",  # one window: a dot, not nothing
        line={"color": colour, "dash": RATES[series.rate][1]},
        customdata=[
            [percent(v), severity_text(s) if s != "none" else "not judged"]
            for v, s in zip(series.values, series.severities, strict=True)
        ],
        hovertemplate=f"{plain(name)} %{{customdata[0]}} (%{{customdata[1]}})<extra></extra>",
    )
    active = [i for i, s in enumerate(series.severities) if s in ACTIVE_SEVERITIES]
    if active:
        fig.add_scatter(
            x=[times[i] for i in active],
            y=[series.values[i] for i in active],
            name=plain(f"{name}: {', '.join(ACTIVE_SEVERITIES)}"),
            legendgroup=plain(name),  # hidden with its line
            mode="markers",
            marker={"size": 8, "color": [SEVERITY_COLORS[series.severities[i]] for i in active]},
            hoverinfo="skip",  # the line's point beneath says it
            showlegend=False,
        )


@dataclass(frozen=True, slots=True)
class QualityInfo:
    """Per feature and judged rate: its share in each window, with the verdicts' severities."""

    times: tuple[datetime, ...]
    features: tuple[str, ...]
    series: tuple[RateSeries, ...]
    zone: str


def quality_info(
    evaluations: Sequence[WindowEvaluation], features: Sequence[str], tz: tzinfo
) -> QualityInfo:
    """Rates from each window's stored quality; a feature a window lacks counts as NaN."""
    windows = newest_per_window(evaluations)
    return QualityInfo(
        times=window_times(windows, tz),
        features=tuple(features),
        series=tuple(s for f in features for s in _rate_series(windows, f)),
        zone=zone_label(tz),
    )


def quality_over_time(info: QualityInfo) -> go.Figure:
    """The rates that are ever above zero, worst first: one colour per feature (never a
    severity's), one dash per rate; a marker is amber or red where its verdict warns or is
    critical."""
    shown = sorted((s for s in info.series if s.worst > 0), key=lambda s: -s.worst)
    colours = {f: CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i, f in enumerate(info.features)}
    fig = go.Figure()
    for s in shown[:MAX_QUALITY_LINES]:
        _add_rate(fig, info.times, s, f"{s.feature}: {RATES[s.rate][0]}", colours[s.feature])
    fig.update_yaxes(tickformat=RATE_TICKS, rangemode="tozero")
    return layout(fig, time_axis(info.zone), "share of the window's rows")


# --- one feature ----------------------------------------------------------------------------------


def reference_rate(profile: Profile | None, rate: str) -> float:
    """The reference's own value of a judged rate, as the daemon compares a window with it
    (``monitor/stats/quality.py``): its missing values; no wrong types (a reference counts them
    as missing); for out-of-range and unseen values, its values that lie outside all the others
    (``n_novel``). NaN without a profile, or for a profile built before novelty was kept."""
    if profile is None or not profile.n:
        return float("nan")
    if rate == "missing_rate":
        return profile.n_missing / profile.n
    if rate == "type_error_rate":
        return 0.0
    return float("nan") if profile.n_novel is None else profile.n_novel / profile.n


@dataclass(frozen=True, slots=True)
class FeatureQualityInfo:
    """One feature's judged rates per window, against the reference's missing rate and the level
    above which missing values degrade (the missing-rate verdict's threshold)."""

    feature: str
    times: tuple[datetime, ...]
    series: tuple[RateSeries, ...]
    reference_missing: tuple[float, ...]
    missing_threshold: tuple[float, ...]
    zone: str


def feature_quality_info(
    evaluations: Sequence[WindowEvaluation],
    feature: str,
    profiles: Mapping[str, Profile | None],
    tz: tzinfo,
) -> FeatureQualityInfo:
    """``profiles``: the feature's profile in each reference version the windows were binned on
    (windows may straddle a new reference)."""
    windows = newest_per_window(evaluations)
    thresholds = tuple(
        number(v.threshold) if (v := _judged(ev, feature, "missing_rate")) else float("nan")
        for ev in windows
    )
    return FeatureQualityInfo(
        feature=feature,
        times=window_times(windows, tz),
        series=tuple(_rate_series(windows, feature)),
        reference_missing=tuple(
            reference_rate(profiles.get(ev.reference), "missing_rate") for ev in windows
        ),
        missing_threshold=thresholds,
        zone=zone_label(tz),
    )


def feature_quality_over_time(info: FeatureQualityInfo) -> go.Figure:
    """Each rate per window, over the reference's missing rate (dotted) and the missing rate's
    threshold (dashed, like a drift statistic's); a marker takes its severity's colour where the
    window's verdict on that rate warns or is critical."""
    times = list(info.times)
    fig = go.Figure()
    if present(info.missing_threshold):
        fig.add_scatter(
            x=times,
            y=list(info.missing_threshold),
            name="missing: threshold",
            mode="lines",
            line={"color": SEVERITY_COLORS["warning"], "dash": "dash", "shape": "hv"},
            text=[percent(t) for t in info.missing_threshold],
            hovertemplate="missing degrades above %{text}<extra></extra>",
        )
    fig.add_scatter(
        x=times,
        y=list(info.reference_missing),
        name="missing: reference",
        mode="lines",
        line={"color": SERIES_COLORS[0], "dash": "dot", "shape": "hv"},
        text=[percent(r) for r in info.reference_missing],
        hovertemplate="reference missing %{text}<extra></extra>",
    )
    for i, s in enumerate(info.series):
        _add_rate(fig, info.times, s, RATES[s.rate][0], CATEGORY_COLORS[i % len(CATEGORY_COLORS)])
    fig.update_yaxes(tickformat=RATE_TICKS, rangemode="tozero")
    title = f"share of the window's rows ({plain(info.feature)})"
    return layout(fig, time_axis(info.zone), title)


# --- one window -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QualityRow:
    """One feature's data quality in one window, next to its reference; ``severity`` is the worst
    of its quality verdicts there, as glyph and word ("–" when not judged). ``novel_rate`` is the
    share out of the reference's range (numeric) or of unseen categories (categorical): a feature
    has one or the other, so one column holds both."""

    feature: str
    severity: str
    missing_rate: float
    type_error_rate: float
    novel_rate: float | None
    mean: float | None
    reference_mean: float | None
    reference_missing_rate: float | None


def quality_rows(ev: WindowEvaluation, profiles: Mapping[str, Profile] | None) -> list[QualityRow]:
    """A window's quality table: worst verdict first, then most bad rows."""
    keyed = []
    for feature, q in ev.quality.items():
        p = (profiles or {}).get(feature)
        judged = [v.severity for v in ev.quality_verdicts if v.feature == feature]
        worst = min(judged, key=worst_first) if judged else "none"
        novel = q.out_of_range_rate if q.out_of_range_rate is not None else q.unseen_rate
        row = QualityRow(
            feature=feature,
            severity=severity_text(worst) if judged else "–",
            missing_rate=q.missing_rate,
            type_error_rate=q.type_error_rate,
            novel_rate=novel,
            mean=q.mean,
            reference_mean=p.mean if isinstance(p, NumericProfile) else None,
            reference_missing_rate=reference_rate(p, "missing_rate") if p is not None else None,
        )
        bad = q.missing_rate + q.type_error_rate + (novel or 0.0)
        keyed.append(((worst_first(worst), -bad), row))
    return [row for _, row in sorted(keyed, key=lambda item: item[0])]
