"""Drift verdicts: the features × windows heatmap, a window's verdict table, and one row's
statistic over time against its threshold.

Each figure has an info object computed from stored evaluations (``heatmap_info``,
``statistic_series``) and a function drawing it (``drift_heatmap``, ``statistic_over_time``), as
optuna's visualization modules do: the numbers are tested without a browser, the drawing without
a store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import plotly.graph_objects as go

from dashboard.figures.common import (
    BAND_OK,
    MODEL_ROW,
    OUTPUT_ROWS,
    SERIES_COLORS,
    SEVERITIES,
    SEVERITY_COLORS,
    TIME_FORMAT,
    Severity,
    feature_label,
    layout,
    newest_per_window,
    number,
    plain,
    present,
    severity_glyph,
    time_axis,
    verdict_of,
    window_times,
    zone_label,
)
from monitor.vocab.verdicts import Verdict, WindowEvaluation

#: Severities that count as drifting: they order the heatmap's rows and make the drill-down links.
DRIFTING: tuple[Severity, ...] = ("warning", "critical")
#: A statistic this many times its threshold is drawn on a log axis, or the band disappears.
LOG_SCALE_RATIO = 20

# --- heatmap --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeatmapInfo:
    """Features × windows, coloured by severity; ``features`` holds the raw names of ``rows``."""

    rows: tuple[str, ...]
    features: tuple[str, ...]
    times: tuple[datetime, ...]
    starts: tuple[int, ...]
    codes: tuple[tuple[int, ...], ...]
    hover: tuple[tuple[str, ...], ...]
    zone: str


def _hover(feature: str, when: datetime, v: Verdict | None) -> str:
    """A cell's hover: everything needed to judge the verdict without opening the feature."""
    head = f"<b>{plain(feature_label(feature))}</b><br>{when:{TIME_FORMAT}}<br>"
    if v is None:
        return head + "no verdict (no reference, or window not evaluated)"
    p = "" if v.p_value is None else f", p = {v.p_value:.3g}"
    return (
        head
        + f"{plain(v.statistic)} = {number(v.value):.4g} (threshold {number(v.threshold):.4g}{p})"
        f"<br>n = {v.n:,} rows<br>{severity_glyph(v.severity)} {v.severity}"
    )


def heatmap_info(
    evaluations: Sequence[WindowEvaluation], features: Sequence[str], tz: tzinfo
) -> HeatmapInfo:
    """The drift heatmap: model row, output rows, then features, most often drifting first."""
    windows = newest_per_window(evaluations)
    drifting = {f: 0 for f in features}
    outputs: set[str] = set()
    for ev in windows:
        for v in ev.verdicts:
            if v.feature in OUTPUT_ROWS:
                outputs.add(v.feature)
            if v.feature in drifting and v.severity in DRIFTING:
                drifting[v.feature] += 1
    ordered = sorted(features, key=lambda f: (-drifting[f], f))
    names = [MODEL_ROW, *(o for o in OUTPUT_ROWS if o in outputs), *ordered]
    times = window_times(windows, tz)
    codes, hover = [], []
    for name in names:
        verdicts = [verdict_of(ev, name) for ev in windows]
        codes.append(tuple(SEVERITIES.index(v.severity if v else "none") for v in verdicts))
        hover.append(tuple(_hover(name, t, v) for t, v in zip(times, verdicts, strict=True)))
    return HeatmapInfo(
        rows=tuple(feature_label(n) for n in names),
        features=tuple(names),
        times=times,
        starts=tuple(ev.window_start for ev in windows),
        codes=tuple(codes),
        hover=tuple(hover),
        zone=zone_label(tz),
    )


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
    """Features × windows coloured by severity, each cell also marked with its severity's glyph
    (colour is never the only cue); hovering a cell shows statistic, threshold, n.

    Plotly cannot select heatmap cells, so an invisible marker sits on every cell: it carries the
    hover text and ``customdata`` ``"<feature>|<window start>"`` (row by row), and clicking it
    selects it, which lets the page open that cell's evidence. The markers are WebGL: thousands
    of SVG markers (168 windows × 30 features) would add seconds to the page in the browser.
    """
    steps = len(SEVERITIES)
    rows = [plain(r) for r in info.rows]  # category labels render Plotly's HTML subset
    fig = go.Figure(
        go.Heatmap(
            z=[list(row) for row in info.codes],
            x=list(info.times),
            y=rows,
            text=[[severity_glyph(SEVERITIES[c]) for c in row] for row in info.codes],
            texttemplate="%{text}",
            textfont={"size": 11},
            hoverinfo="skip",
            colorscale=_discrete_scale(),
            zmin=-0.5,
            zmax=steps - 0.5,
            xgap=1,
            ygap=1,
            colorbar={
                "tickvals": list(range(steps)),
                "ticktext": [f"{severity_glyph(s)} {s}".strip() for s in SEVERITIES],
                "title": {"text": "severity"},
                "thickness": 12,
            },
        )
    )
    fig.add_trace(
        go.Scattergl(
            x=[t for _ in info.rows for t in info.times],
            y=[row for row in rows for _ in info.times],
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
    return layout(fig, time_axis(info.zone), "", height=max(300, 120 + 24 * len(info.rows)))


# --- one window's verdicts ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerdictRow:
    """One line of a window's verdict table."""

    feature: str
    statistic: str
    value: float
    threshold: float
    p_value: float | None
    n: int
    status: str
    severity: str
    expected_false_alarm_rate: float | None
    reasons: str


def verdict_rows(ev: WindowEvaluation) -> list[VerdictRow]:
    """A window's verdicts, worst first; the model-level verdict leads its severity group."""
    rows = [
        VerdictRow(
            feature=v.feature,
            statistic=v.statistic,
            value=number(v.value),
            threshold=number(v.threshold),
            p_value=v.p_value,
            n=v.n,
            status=v.status,
            severity=v.severity,
            expected_false_alarm_rate=v.expected_false_alarm_rate,
            reasons="; ".join(v.reasons),
        )
        for v in ev.verdicts
    ]
    return sorted(
        rows, key=lambda r: (-SEVERITIES.index(r.severity), r.feature != MODEL_ROW, r.feature)
    )


def drifting_features(ev: WindowEvaluation) -> list[Verdict]:
    """Features (and the prediction) flagged in a window, worst first: the drill-down links."""
    flagged = [v for v in ev.verdicts if v.feature != MODEL_ROW and v.severity in DRIFTING]
    return sorted(flagged, key=lambda v: (v.severity != "critical", -number(v.value), v.feature))


# --- a statistic over time ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatisticSeries:
    """A row's drift statistic over time against its (window-size dependent) threshold."""

    statistic: str
    times: tuple[datetime, ...]
    values: tuple[float, ...]
    thresholds: tuple[float, ...]
    severities: tuple[str, ...]
    n: tuple[int, ...]
    zone: str


def statistic_series(
    evaluations: Sequence[WindowEvaluation], feature: str, tz: tzinfo
) -> StatisticSeries:
    """The statistic of the newest verdict, in every window that used the same statistic."""
    points = [
        (ev, v)
        for ev in newest_per_window(evaluations)
        if (v := verdict_of(ev, feature)) is not None
    ]
    statistic = points[-1][1].statistic if points else ""
    points = [(ev, v) for ev, v in points if v.statistic == statistic]
    return StatisticSeries(
        statistic=statistic,
        times=window_times((ev for ev, _ in points), tz),
        values=tuple(number(v.value) for _, v in points),
        thresholds=tuple(number(v.threshold) for _, v in points),
        severities=tuple(v.severity for _, v in points),
        n=tuple(v.n for _, v in points),
        zone=zone_label(tz),
    )


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
        name=plain(info.statistic or "statistic"),
        mode="lines+markers",
        line={"color": SERIES_COLORS[0]},
        marker={"color": [SEVERITY_COLORS[s] for s in info.severities], "size": 9},
        customdata=[[s, n] for s, n in zip(info.severities, info.n, strict=True)],
        hovertemplate=(
            f"{plain(info.statistic)} %{{y:.4g}}<br>%{{customdata[0]}}, "
            "n = %{customdata[1]:,} rows<extra></extra>"
        ),
    )
    title = f"{plain(info.statistic or 'statistic')} (unitless)"
    limits = [t for t in present(info.thresholds) if t > 0]
    values = present(info.values)
    if limits and values and min(values) > 0 and max(values) > LOG_SCALE_RATIO * min(limits):
        fig.update_yaxes(type="log")  # a landslide next to its threshold: both stay readable
        title += ", log scale"
    return layout(fig, time_axis(info.zone), title)
