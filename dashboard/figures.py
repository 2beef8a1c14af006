"""Plotly figures drawn from info objects: pure functions, no Streamlit, no data access.

One colour scheme for severities everywhere (:data:`SEVERITY_COLORS`): a colour means the same in
the overview, the heatmap and every time series. Times arrive already in the viewer's zone; each
time axis names it. Shares are plotted as fractions with percent ticks.
"""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

from dashboard.evidence import DistributionInfo, LabelInfo, PerformanceInfo, QualityInfo
from dashboard.info import (
    HEALTH_SEVERITY,
    SEVERITIES,
    HeatmapInfo,
    StatisticSeries,
    feature_label,
)

SEVERITY_COLORS: dict[str, str] = {
    "none": "#ececec",  # nothing evaluated: no reference, or no window
    "insufficient": "#a8a8a8",  # too few rows for a verdict
    "ok": "#2e9e5b",
    "warning": "#f2a900",
    "critical": "#d62728",
}
#: Series colours that never mean a severity: the reference, the window looked at, a comparison.
SERIES_COLORS = ("#7a7a7a", "#1f77b4", "#9467bd")
#: Shaded bands behind performance: within the band at the label count, then up to critical.
BAND_OK = "rgba(46, 158, 91, 0.12)"
BAND_WARNING = "rgba(242, 169, 0, 0.15)"
#: A statistic this many times its threshold is drawn on a log axis, or the band disappears.
LOG_SCALE_RATIO = 20
#: Series at most on the quality chart: more lines than this cannot be told apart.
MAX_QUALITY_LINES = 8


def _layout(fig: go.Figure, x_title: str, y_title: str, height: int = 320) -> go.Figure:
    fig.update_layout(  # no template: st.plotly_chart applies Streamlit's theme
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        xaxis_title=x_title,
        yaxis_title=y_title,
    )
    return fig


def _time_axis(zone: str) -> str:
    return f"window start ({zone})"


def health_bar(counts: Mapping[str, int]) -> go.Figure:
    """Models per health status, coloured like everything else."""
    statuses = list(counts)
    fig = go.Figure(
        go.Bar(
            x=[counts[s] for s in statuses],
            y=statuses,
            orientation="h",
            marker_color=[SEVERITY_COLORS[HEALTH_SEVERITY[s]] for s in statuses],
            text=[counts[s] for s in statuses],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x} models<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "models", "", height=60 + 28 * len(statuses))


def _discrete_scale() -> list[tuple[float, str]]:
    """A stepped colour scale over codes 0..4 (the indices of ``SEVERITIES``)."""
    steps = len(SEVERITIES)
    scale = []
    for i, severity in enumerate(SEVERITIES):
        scale += [
            (i / steps, SEVERITY_COLORS[severity]),
            ((i + 1) / steps, SEVERITY_COLORS[severity]),
        ]
    return scale


def drift_heatmap(info: HeatmapInfo) -> go.Figure:
    """Features × windows coloured by severity; hovering a cell shows statistic, threshold, n.

    Plotly cannot select heatmap cells, so an invisible marker sits on every cell: it carries the
    hover text and ``customdata`` ``"<feature>|<window start>"`` (row by row), and clicking it
    selects it, which lets the page open that cell's evidence. The markers are WebGL: thousands
    of SVG markers (168 windows × 30 features) would add seconds to the page in the browser.
    """
    steps = len(SEVERITIES)
    fig = go.Figure(
        go.Heatmap(
            z=[list(row) for row in info.codes],
            x=list(info.times),
            y=list(info.rows),
            hoverinfo="skip",
            colorscale=_discrete_scale(),
            zmin=-0.5,
            zmax=steps - 0.5,
            xgap=1,
            ygap=1,
            colorbar={
                "tickvals": list(range(steps)),
                "ticktext": list(SEVERITIES),
                "title": {"text": "severity"},
                "thickness": 12,
            },
        )
    )
    fig.add_trace(
        go.Scattergl(
            x=[t for _ in info.rows for t in info.times],
            y=[row for row in info.rows for _ in info.times],
            mode="markers",
            marker={"opacity": 0, "size": 12},
            text=[text for row in info.hover for text in row],
            customdata=[f"{f}|{start}" for f in info.features for start in info.starts],
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(hovermode="closest", clickmode="event+select")
    return _layout(fig, _time_axis(info.zone), "", height=max(300, 120 + 24 * len(info.rows)))


def distribution_bars(info: DistributionInfo) -> go.Figure:
    """Share of rows per reference bin, one bar group per bin, one colour per series."""
    fig = go.Figure()
    for i, name in enumerate(info.names):
        fig.add_bar(
            x=list(info.labels),
            y=list(info.shares[i]),
            name=f"{name} (n = {info.totals[i]:,})",
            marker_color=SERIES_COLORS[i % len(SERIES_COLORS)],
            customdata=list(info.counts[i]),
            hovertemplate="%{x}: %{y:.1%} (%{customdata:,} rows)<extra>" + name + "</extra>",
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(tickformat=".0%")
    return _layout(fig, f"{feature_label(info.feature)}: reference bin", "share of rows")


def statistic_over_time(info: StatisticSeries) -> go.Figure:
    """The statistic per window, coloured by severity, over the shaded no-drift band."""
    times = list(info.times)
    fig = go.Figure()
    fig.add_scatter(
        x=times,
        y=list(info.thresholds),
        name="threshold",
        mode="lines",
        line={"color": SEVERITY_COLORS["warning"], "dash": "dash", "shape": "hv"},
        fill="tozeroy",
        fillcolor=BAND_OK,
        hovertemplate="threshold %{y:.4g}<extra></extra>",
    )
    fig.add_scatter(
        x=times,
        y=list(info.values),
        name=info.statistic or "statistic",
        mode="lines+markers",
        line={"color": SERIES_COLORS[0]},
        marker={"color": [SEVERITY_COLORS[s] for s in info.severities], "size": 9},
        customdata=[[s, n] for s, n in zip(info.severities, info.n, strict=True)],
        hovertemplate=(
            f"{info.statistic} %{{y:.4g}}<br>%{{customdata[0]}}, n = %{{customdata[1]:,}} rows"
            "<extra></extra>"
        ),
    )
    title = f"{info.statistic or 'statistic'} (unitless)"
    limits = [t for t in info.thresholds if t == t and t > 0]  # t == t drops NaN
    values = [v for v in info.values if v == v]
    if limits and values and min(values) > 0 and max(values) > LOG_SCALE_RATIO * min(limits):
        fig.update_yaxes(type="log")  # a landslide next to its threshold: both stay readable
        title += ", log scale"
    return _layout(fig, _time_axis(info.zone), title)


def performance_over_time(info: PerformanceInfo) -> go.Figure:
    """The metric per window over its reference band; detector change points as vertical lines."""
    times = list(info.times)
    fig = go.Figure()
    for edge, bound, fill, name in (
        (info.reference, info.warning_level, BAND_OK, "within the band at this label count"),
        (
            info.warning_level,
            info.critical_level,
            BAND_WARNING,
            "warning, up to the critical floor",
        ),
    ):
        fig.add_scatter(
            x=times,
            y=list(edge),
            mode="lines",
            line={"width": 0},
            showlegend=False,
            hoverinfo="skip",
        )
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
    fig.add_scatter(
        x=times,
        y=list(info.reference),
        name="reference",
        mode="lines",
        line={"color": SERIES_COLORS[0], "dash": "dot"},
        hovertemplate="reference %{y:.4g}<extra></extra>",
    )
    fig.add_scatter(
        x=times,
        y=list(info.values),
        name=info.metric,
        mode="lines+markers",
        line={"color": SERIES_COLORS[1]},
        customdata=list(info.n_labelled),
        hovertemplate=f"{info.metric} %{{y:.4g}}<br>%{{customdata:,}} labelled rows<extra></extra>",
    )
    for moment in info.change_points:
        fig.add_vline(x=moment, line={"color": SEVERITY_COLORS["critical"], "dash": "dot"})
    if info.change_points:  # one legend entry and a hover label for the vertical lines
        top = max((v for v in [*info.values, *info.reference] if v == v), default=0.0)
        fig.add_scatter(
            x=list(info.change_points),
            y=[top] * len(info.change_points),
            name="detector change point",
            mode="markers",
            marker={"symbol": "triangle-down", "size": 11, "color": SEVERITY_COLORS["critical"]},
            customdata=list(info.change_streams),
            hovertemplate="change point in the %{customdata} stream<extra></extra>",
        )
    direction = "lower is better" if info.lower_is_better else "higher is better"
    return _layout(fig, _time_axis(info.zone), f"{info.metric} ({direction})")


def quality_over_time(info: QualityInfo) -> go.Figure:
    """Missing-or-wrong-type (solid), out-of-range (dash) and unseen (dot) shares of the features
    that have any, worst first."""
    times = list(info.times)
    series = []
    for rate, dash in (("invalid", "solid"), ("out_of_range", "dash"), ("unseen", "dot")):
        for feature, values in zip(info.features, getattr(info, rate), strict=True):
            worst = max((v for v in values if v == v), default=0.0)  # v == v drops NaN
            if worst > 0:
                series.append((worst, feature, rate, dash, values))
    series.sort(key=lambda s: -s[0])
    fig = go.Figure()
    names = {"invalid": "missing/wrong type", "out_of_range": "out of range", "unseen": "unseen"}
    for _, feature, rate, dash, values in series[:MAX_QUALITY_LINES]:
        fig.add_scatter(
            x=times,
            y=list(values),
            name=f"{feature}: {names[rate]}",
            mode="lines+markers",
            line={"dash": dash},
            hovertemplate=f"{feature} {names[rate]} %{{y:.2%}}<extra></extra>",
        )
    fig.update_yaxes(tickformat=".1%", rangemode="tozero")
    return _layout(fig, _time_axis(info.zone), "share of rows")


def dead_letters_bar(by_reason: Mapping[str, int]) -> go.Figure:
    """Dead letters per reason (totals since the first event)."""
    reasons = sorted(by_reason, key=lambda r: -by_reason[r])
    fig = go.Figure(
        go.Bar(
            x=reasons,
            y=[by_reason[r] for r in reasons],
            marker_color=SEVERITY_COLORS["warning"],
            hovertemplate="%{x}: %{y:,} records<extra></extra>",
        )
    )
    return _layout(fig, "reason", "dead-lettered records", height=260)


def label_delay_bar(info: LabelInfo) -> go.Figure:
    """Joined pairs per label-delay bucket (delay = outcome time − prediction time)."""
    fig = go.Figure(
        go.Bar(
            x=list(info.delay_buckets),
            y=list(info.delay_counts),
            marker_color=SERIES_COLORS[1],
            hovertemplate="delay %{x}: %{y:,} labels<extra></extra>",
        )
    )
    return _layout(fig, "label delay", "joined pairs", height=260)


def labelled_share_over_time(info: LabelInfo) -> go.Figure:
    """Share of each window's predictions that have their outcome so far."""
    fig = go.Figure(
        go.Scatter(
            x=list(info.times),
            y=list(info.labelled_share),
            mode="lines+markers",
            line={"color": SERIES_COLORS[1]},
            hovertemplate="%{y:.1%} labelled<extra></extra>",
        )
    )
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    return _layout(fig, _time_axis(info.zone), "labelled share of predictions", height=260)
