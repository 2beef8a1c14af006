"""Performance: a metric per labelled window against the reference, the levels at which health
warns and turns critical, and the moments the online (river) detectors fired.

``performance_info`` reads the levels from the stored verdicts and ``[performance]`` rather than
recomputing them, so the shaded bands are exactly where the daemon's verdicts change;
``performance_over_time`` draws them. ``estimate_info`` and ``estimate_over_time`` show a binary
classifier's performance estimated from its scores before labels (``monitor/stats/estimation.py``)
beside the realized value where labels judged it: the estimate's error per window, which says how
far to trust it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import plotly.graph_objects as go

from dashboard.figures.common import (
    BAND_OK,
    SERIES_COLORS,
    layout,
    local,
    newest_per_window,
    number,
    present,
    sig,
    time_axis,
    window_times,
    zone_label,
)
from monitor.config import PerformanceSettings
from monitor.vocab.verdicts import LOWER_IS_BETTER, WindowEvaluation

#: Shade between the warning level and the critical level.
BAND_WARNING = "rgba(230, 159, 0, 0.15)"
#: Detector change points are events, not severities: never the critical red.
CHANGE_POINT_COLOR = SERIES_COLORS[2]


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
    """The metrics any of these windows has a value for: the choices of the metric picker."""
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
        times=window_times(rows, tz),
        values=tuple(number(ev.performance[metric]) for ev in rows),
        n_labelled=tuple(ev.n_labelled for ev in rows),
        reference=tuple(refs),
        warning_level=tuple(bands),
        critical_level=tuple(critical),
        change_points=tuple(local(t, tz) for _, t in change_points),
        change_streams=tuple(stream for stream, _ in change_points),
        zone=zone_label(tz),
    )


def _value_text(value: float, warning: float, critical: float) -> str:
    """A window's metric in a hover, with the levels it is judged against where it has them."""
    named = (("warns", warning), ("critical", critical))
    levels = [f"{name} beyond {sig(level)}" for name, level in named if level == level]
    return sig(value) + (f" ({', '.join(levels)})" if levels else "")


def _band(
    fig: go.Figure,
    times: list[datetime],
    edge: Sequence[float],
    bound: Sequence[float],
    fill: str,
    name: str,
) -> None:
    """A shaded band between two lines (the first one invisible and out of the legend)."""
    fig.add_scatter(
        x=times, y=list(edge), mode="lines", line={"width": 0}, showlegend=False,
        hoverinfo="skip",
    )  # fmt: skip
    fig.add_scatter(
        x=times,
        y=list(bound),
        mode="lines",
        line={"width": 0},
        fill="tonexty",
        fillcolor=fill,
        name=name,
        hoverinfo="skip",
    )


def _reference(fig: go.Figure, times: list[datetime], reference: Sequence[float]) -> None:
    """The reference's value of the metric, dotted."""
    fig.add_scatter(
        x=times,
        y=list(reference),
        name="reference",
        mode="lines",
        line={"color": SERIES_COLORS[0], "dash": "dot"},
        text=[sig(r) for r in reference],
        hovertemplate="reference %{text}<extra></extra>",
    )


def performance_over_time(info: PerformanceInfo) -> go.Figure:
    """The metric per window over its reference band; detector change points as vertical lines."""
    times = list(info.times)
    fig = go.Figure()
    _band(
        fig,
        times,
        info.reference,
        info.warning_level,
        BAND_OK,
        "within the band at this label count",
    )
    _band(
        fig,
        times,
        info.warning_level,
        info.critical_level,
        BAND_WARNING,
        "warning, up to the critical floor",
    )
    _reference(fig, times, info.reference)
    fig.add_scatter(
        x=times,
        y=list(info.values),
        name=info.metric,
        mode="lines+markers",
        line={"color": SERIES_COLORS[1]},
        customdata=list(info.n_labelled),
        text=[
            _value_text(v, w, c)
            for v, w, c in zip(info.values, info.warning_level, info.critical_level, strict=True)
        ],
        hovertemplate=f"{info.metric} %{{text}}<br>n = %{{customdata:,}} labels<extra></extra>",
    )
    for moment in info.change_points:
        fig.add_vline(x=moment, line={"color": CHANGE_POINT_COLOR, "dash": "dot"})
    if info.change_points:  # one legend entry and a hover label for the vertical lines
        top = max(present([*info.values, *info.reference]), default=0.0)
        fig.add_scatter(
            x=list(info.change_points),
            y=[top] * len(info.change_points),
            name="detector change point",
            mode="markers",
            marker={"symbol": "triangle-down", "size": 11, "color": CHANGE_POINT_COLOR},
            customdata=list(info.change_streams),
            hovertemplate="change point in the %{customdata} stream<extra></extra>",
        )
    direction = "lower is better" if info.lower_is_better else "higher is better"
    return layout(fig, time_axis(info.zone), f"{info.metric} ({direction})")


# --- estimated before labels ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EstimateInfo:
    """A metric estimated from each window's scores, the band its realized value should fall in,
    and the realized value where the labels sufficed to judge it (NaN elsewhere)."""

    metric: str
    times: tuple[datetime, ...]
    estimates: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    realized: tuple[float, ...]
    n_scored: tuple[int, ...]
    reference: tuple[float, ...]
    zone: str

    @property
    def checked(self) -> list[tuple[float, float, float, float]]:
        """(estimate, low, high, realized) of the windows whose labels judged the metric."""
        rows = zip(self.estimates, self.low, self.high, self.realized, strict=True)
        return [row for row in rows if row[3] == row[3]]


def estimated_metrics(evaluations: Sequence[WindowEvaluation]) -> list[str]:
    """The metrics any of these windows has an estimate of."""
    return sorted({m for ev in evaluations for m in ev.estimated_performance})


def estimate_info(evaluations: Sequence[WindowEvaluation], metric: str, tz: tzinfo) -> EstimateInfo:
    """Windows with an estimate of ``metric``; the realized value only where its verdict was
    judged (a handful of labels gives a number too noisy to grade the estimate by)."""
    rows = [ev for ev in newest_per_window(evaluations) if metric in ev.estimated_performance]

    def realized(ev: WindowEvaluation) -> float:
        judged = any(
            v.statistic == metric and v.status != "insufficient" for v in ev.performance_verdicts
        )
        return number(ev.performance.get(metric)) if judged else float("nan")

    def scored(ev: WindowEvaluation) -> int:
        return next((v.n for v in ev.estimated_verdicts if v.statistic == metric), 0)

    bands = [ev.estimated_bands.get(metric, (float("nan"), float("nan"))) for ev in rows]
    return EstimateInfo(
        metric=metric,
        times=window_times(rows, tz),
        estimates=tuple(ev.estimated_performance[metric] for ev in rows),
        low=tuple(low for low, _ in bands),
        high=tuple(high for _, high in bands),
        realized=tuple(realized(ev) for ev in rows),
        n_scored=tuple(scored(ev) for ev in rows),
        reference=tuple(number(ev.reference_performance.get(metric)) for ev in rows),
        zone=zone_label(tz),
    )


def estimate_summary(info: EstimateInfo) -> str:
    """How far the estimate was from the labels where they judged the metric, in one sentence."""
    checked = info.checked
    if not checked:
        return (
            f"No window's labels have judged {info.metric} yet: the estimate cannot be checked "
            "against them here."
        )
    errors = [abs(e - r) for e, _, _, r in checked]
    inside = sum(low <= r <= high for _, low, high, r in checked)
    return (
        f"Where labels judged {info.metric} ({len(checked)} windows), the estimate was off by "
        f"{sig(sum(errors) / len(errors))} on average (at most {sig(max(errors))}); the realized "
        f"value fell inside the estimate's band in {inside} of {len(checked)}."
    )


def estimate_over_time(info: EstimateInfo) -> go.Figure:
    """The estimate with its band, the realized value where labels judged it, the reference."""
    times = list(info.times)
    fig = go.Figure()
    _band(fig, times, info.low, info.high, BAND_OK, "95 % band of the realized value")
    _reference(fig, times, info.reference)
    fig.add_scatter(
        x=times,
        y=list(info.estimates),
        name=f"estimated {info.metric} (no labels)",
        mode="lines+markers",
        line={"color": SERIES_COLORS[1], "dash": "dash"},
        customdata=list(info.n_scored),
        text=[
            f"{sig(e)} (band {sig(lo)} to {sig(hi)})"
            for e, lo, hi in zip(info.estimates, info.low, info.high, strict=True)
        ],
        hovertemplate=f"estimated {info.metric} %{{text}}<br>n = %{{customdata:,}} scored "
        "predictions<extra></extra>",
    )
    fig.add_scatter(
        x=times,
        y=list(info.realized),
        name=f"realized {info.metric} (labels)",
        mode="markers",
        marker={"color": SERIES_COLORS[2], "symbol": "diamond", "size": 8},
        text=[
            "" if r != r else f"{sig(r)} (estimate off by {sig(e - r)})"
            for e, r in zip(info.estimates, info.realized, strict=True)
        ],
        hovertemplate=f"realized {info.metric} %{{text}}<extra></extra>",
    )
    return layout(fig, time_axis(info.zone), f"{info.metric}, estimated and realized")
