"""Every verdict of a model's windows at a glance: the windows × rows heatmap and one window's
verdict table, across drift, performance and data quality.

A model can fail on any of the three, so both show all three: the heatmap's rows are the
model-level drift verdict, one row per monitored metric, the data quality of all features and of
each feature whose quality degraded, then the outputs and the features (drift), so that a
performance-only or a quality-only problem has red or amber cells too. ``heatmap_info`` and
``verdict_table`` compute what is shown (tested without a browser), ``verdicts_heatmap`` draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import numpy as np
import plotly.graph_objects as go

from dashboard.figures.common import (
    MODEL_ROW,
    OUTPUT_ROWS,
    SEVERITIES,
    SEVERITY_COLORS,
    TOP_WITHOUT_LEGEND,
    feature_label,
    layout,
    newest_per_window,
    percent,
    plain,
    severity_text,
    sig,
    time_axis,
    verdict_of,
    window_times,
    worst_first,
    zone_label,
)
from dashboard.figures.signals import ACTIVE, Link, VerdictGroup, evidence, measure, n_counts
from monitor.vocab.verdicts import Verdict, WindowEvaluation

#: The heatmap's row of every feature's data quality together (a window's worst rate).
ALL_QUALITY = ""
#: Height of a heatmap row in pixels: a tap target on a phone, and room for a 12 px label.
ROW_PX = 26
#: Time ticks at most on the heatmap's axis: dates must not overlap on a 390 px screen.
MAX_TIME_TICKS = 4
#: Pixels a character of a row name takes at Streamlit's 12 px font, rounded up (Chromium: 190 px
#: for "data quality (all features)" with the tick's padding).
LABEL_PX_PER_CHAR = 7.2
#: Severities whose cells carry a mark, which is also what a click selects: the problems (an ok
#: cell is blue without a mark, a cell without verdict light grey; both open through the window
#: picker).
FLAGGED: tuple[str, ...] = ("insufficient", "warning", "critical")
#: Each flagged severity's mark: a Plotly marker symbol, and the character that draws it in the
#: legend. Markers, not text: Plotly styles each text glyph on its own, ~0.5 ms a cell and draw,
#: seconds for a model failing everywhere; a marker costs a fraction. ✕ is the critical glyph of
#: every badge; a warning triangle and an empty circle stand for "!" and "?", which no symbol has.
MARKS: dict[str, tuple[str, str]] = {
    "critical": ("x-thin", "✕"),
    "warning": ("triangle-up-open", "△"),
    "insufficient": ("circle-open", "○"),
}
#: A mark's colour on its cell's colour: white on dark red, black on orange and grey.
MARK_COLORS = {"insufficient": "#000000", "warning": "#000000", "critical": "#ffffff"}
#: A mark's size in pixels, about a cell wide at 1400 px (168 windows): hovering or clicking the
#: cell beside it reaches that cell, not this mark (the figure's ``hoverdistance`` is 1), and at
#: half that width the cells keep their colour.
MARKER_PX = 8

# --- heatmap --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeatmapInfo:
    """Rows × windows, coloured by severity; ``keys`` holds each row's verdict group and subject
    (a feature or output, ``MODEL_ROW``, a metric, or ``ALL_QUALITY``); ``hover`` what each cell
    says beyond its row and time (which the figure's hover template adds)."""

    rows: tuple[str, ...]
    keys: tuple[tuple[VerdictGroup, str], ...]
    times: tuple[datetime, ...]
    starts: tuple[int, ...]
    codes: tuple[tuple[int, ...], ...]
    hover: tuple[tuple[str, ...], ...]
    zone: str


def row_label(group: VerdictGroup, subject: str) -> str:
    """A heatmap row's name: features and outputs as they are called everywhere, metrics and
    quality rows named as such."""
    if group == "performance":
        return f"performance: {subject}"
    if group == "quality":
        return (
            "data quality (all features)" if subject == ALL_QUALITY else f"data quality: {subject}"
        )
    return feature_label(subject)


def _cell_verdict(ev: WindowEvaluation, group: VerdictGroup, subject: str) -> Verdict | None:
    """The verdict a cell shows: a metric's, a feature's worst quality rate (of every feature's
    for ``ALL_QUALITY``), else the drift verdict of the row."""
    if group == "performance":  # realized, else the estimate before labels
        judged = [*ev.performance_verdicts, *ev.estimates_in_force()]
        found = [v for v in judged if v.statistic == subject and v.status != "insufficient"]
        fallback = next((v for v in judged if v.statistic == subject), None)
        return found[0] if found else fallback
    if group == "quality":
        rates = [v for v in ev.quality_verdicts if subject in (ALL_QUALITY, v.feature)]
        return min(rates, key=lambda v: worst_first(v.severity), default=None)
    return verdict_of(ev, subject)


def _hover(group: VerdictGroup, subject: str, v: Verdict | None) -> str:
    """A cell's hover below its row and time. A problem's (:data:`FLAGGED`) says everything
    needed to judge it without opening it, as its card and table row say it (and which feature's
    rate it is, in the row of all features' quality); any other cell only its state: thousands of
    them, whose numbers the window's verdict table has, made the chart's data three times bigger
    (Streamlit parses and copies it several times in the browser). Plotly's hover template, one
    a trace, cannot say a row's statistic, its precision, what its n counts or a missing value as
    the tables say them."""
    if v is None:
        return "no verdict"
    if v.severity not in FLAGGED:
        return severity_text(v.severity)
    statistic, shown = measure(group, v)
    if group == "quality" and subject == ALL_QUALITY:
        statistic = f"{v.feature}: {statistic}"
    p = "" if v.p_value is None else f", p = {sig(v.p_value)}"
    return (
        f"{plain(statistic)} = {shown(v.value)} (threshold {shown(v.threshold)}{p})"
        f"<br>n = {v.n:,} {n_counts(group, v.feature)}<br>{severity_text(v.severity)}"
    )


def heatmap_info(
    evaluations: Sequence[WindowEvaluation], features: Sequence[str], tz: tzinfo
) -> HeatmapInfo:
    """The model row, its metrics, data quality (all features, then each feature whose quality
    degraded in these windows, most often first), outputs, then features, most often drifting
    first."""
    windows = newest_per_window(evaluations)
    drifting = {f: 0 for f in features}
    degraded: dict[str, int] = {}
    metrics: dict[str, None] = {}  # in the order the daemon judges them
    outputs: set[str] = set()
    for ev in windows:
        for v in ev.verdicts:
            if v.feature in OUTPUT_ROWS:
                outputs.add(v.feature)
            if v.feature in drifting and v.severity in ACTIVE:
                drifting[v.feature] += 1
        metrics.update(dict.fromkeys(v.statistic for v in ev.performance_verdicts))
        for feature in {v.feature for v in ev.quality_verdicts if v.severity in ACTIVE}:
            degraded[feature] = degraded.get(feature, 0) + 1
    quality: list[tuple[VerdictGroup, str]] = (
        [("quality", ALL_QUALITY)] if any(ev.quality_verdicts for ev in windows) else []
    )
    keys: list[tuple[VerdictGroup, str]] = [
        ("drift", MODEL_ROW),
        *(("performance", m) for m in metrics),
        *quality,
        *(("quality", f) for f in sorted(degraded, key=lambda f: (-degraded[f], f))),
        *(("drift", o) for o in OUTPUT_ROWS if o in outputs),
        *(("drift", f) for f in sorted(features, key=lambda f: (-drifting[f], f))),
    ]
    times = window_times(windows, tz)
    labels = tuple(row_label(*key) for key in keys)
    codes, hover = [], []
    for group, subject in keys:
        verdicts = [_cell_verdict(ev, group, subject) for ev in windows]
        codes.append(tuple(SEVERITIES.index(v.severity if v else "none") for v in verdicts))
        hover.append(tuple(_hover(group, subject, v) for v in verdicts))
    return HeatmapInfo(
        rows=labels,
        keys=tuple(keys),
        times=times,
        starts=tuple(ev.window_start for ev in windows),
        codes=tuple(codes),
        hover=tuple(hover),
        zone=zone_label(tz),
    )


def cell_key(group: VerdictGroup, subject: str, start: int) -> str:
    """What a clicked cell hands back to the page (Plotly's ``customdata``)."""
    return f"{group}|{subject}|{start}"


def cell_evidence(model: str, key: str) -> Link:
    """Where a clicked cell's evidence is (:func:`cell_key` made ``key``): the feature's page for
    a feature's drift or quality, the Model page's view for a metric or all features' quality,
    the window itself for the model-level drift."""
    group, rest = key.split("|", 1)
    subject, start = rest.rsplit("|", 1)
    return evidence(model, group, subject, int(start))  # type: ignore[arg-type]


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


def legend() -> str:
    """What the heatmap's colours and marks mean, as a line under it (a colour bar beside it
    would take a third of a phone's width): every problem has a mark, ok cells none."""
    words = {"insufficient": "too few rows"}
    flagged = (f"{MARKS[s][1]} {words.get(s, s)}" for s in reversed(FLAGGED))
    return " · ".join([*flagged, "blue, no mark: ok", "light grey: no verdict"])


def hover_template(zone: str) -> str:
    """Every cell's hover: its row, its window's start, then what :func:`heatmap_info` says of
    it (``text``)."""
    return f"<b>%{{y}}</b><br>%{{x|%Y-%m-%d %H:%M}} ({plain(zone)})<br>%{{text}}<extra></extra>"


def verdicts_heatmap(info: HeatmapInfo) -> go.Figure:
    """Rows × windows coloured by severity; every problem (warning, critical, too few rows) also
    carries its severity's mark (:data:`MARKS`), so that colour is never the only cue for one;
    hovering a cell shows statistic, threshold, n.

    Plotly cannot select heatmap cells, but it can select markers: each flagged cell's mark is a
    marker carrying :func:`cell_key` as ``customdata``, and clicking it selects it, which lets the
    page open that cell's evidence (an ok cell opens through the window picker). Only flagged
    cells get one: a text glyph and an invisible marker on each of 168 windows × 39 rows took
    seconds to draw. The arrays are NumPy's, which Plotly sends as binary (codes) and checks
    without a Python loop; the hover is one template around each cell's text.
    """
    steps = len(SEVERITIES)
    rows = np.array([plain(r) for r in info.rows], dtype=object)  # Plotly renders HTML there
    times = np.array(info.times, dtype=object)
    codes = np.array(info.codes, dtype=np.int8).reshape(len(rows), len(times))
    hover = np.array(info.hover, dtype=object).reshape(codes.shape)
    template = hover_template(info.zone)
    fig = go.Figure(
        go.Heatmap(
            z=codes,
            x=times,
            y=rows,
            text=hover,
            hovertemplate=template,
            colorscale=_discrete_scale(),
            zmin=-0.5,
            zmax=steps - 0.5,
            xgap=1,
            ygap=1,
            showscale=False,  # the legend is text under the chart: a colour bar costs a phone
        )
    )
    for severity in FLAGGED:  # a trace each: one mark and one colour, no per-point style
        row, column = np.nonzero(codes == SEVERITIES.index(severity))  # row by row
        colour = MARK_COLORS[severity]
        fig.add_trace(
            go.Scatter(
                x=times[column],
                y=rows[row],
                mode="markers",
                marker={
                    "symbol": MARKS[severity][0],
                    "size": MARKER_PX,
                    "color": colour,
                    "line": {"width": 1, "color": colour},  # thin: the colour stays the cue
                },
                text=hover[row, column],
                customdata=[
                    cell_key(*info.keys[r], info.starts[c])
                    for r, c in zip(row, column, strict=True)
                ],
                hovertemplate=template,
                name=severity,
                showlegend=False,
            )
        )
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    fig.update_xaxes(nticks=MAX_TIME_TICKS)
    # A marker wins the hover only within its radius: the cells around it show their own.
    fig.update_layout(hovermode="closest", clickmode="event+select", hoverdistance=1)
    layout(fig, time_axis(info.zone), "", height=max(300, 120 + ROW_PX * len(info.rows)))
    # Room for the row names as measured, so that Plotly need not draw the chart twice to fit
    # them (common.MARGINS); no legend above.
    left = round(LABEL_PX_PER_CHAR * max(map(len, info.rows), default=0)) + 12
    return fig.update_layout(margin={"l": left, "t": TOP_WITHOUT_LEGEND, "b": 90})


# --- one window's verdicts ------------------------------------------------------------------------

#: A verdict table's signals, as its ``signal`` column names them.
SIGNALS: dict[VerdictGroup, str] = {
    "drift": "drift",
    "performance": "performance",
    "quality": "data quality",
}


@dataclass(frozen=True, slots=True)
class VerdictRow:
    """One line of a window's verdict table: numbers as text with one precision (a rate in
    percent), ``n`` with what it counts, the severity as glyph and word."""

    signal: str
    row: str
    statistic: str
    value: str
    threshold: str
    p_value: str
    n: int
    n_counts: str
    severity: str
    expected_false_alarm_rate: str
    reasons: str


@dataclass(frozen=True, slots=True)
class VerdictTable:
    """A window's verdict rows, worst first, and the columns worth showing: a p-value column
    without any p-value, or a false-alarm rate of 0 everywhere, says nothing."""

    rows: tuple[VerdictRow, ...]
    columns: tuple[str, ...]


def verdict_table(ev: WindowEvaluation) -> VerdictTable:
    """Drift, performance and data-quality verdicts of a window, worst first; within a severity
    the model-level verdict, the metrics, the rates, then outputs and features."""
    found: list[tuple[VerdictGroup, Verdict]] = [
        *(("drift", v) for v in ev.verdicts),
        *(("performance", v) for v in ev.performance_verdicts),
        *(("performance", v) for v in ev.estimated_verdicts),
        *(("quality", v) for v in ev.quality_verdicts),
    ]

    def order(item: tuple[VerdictGroup, Verdict]) -> tuple[int, int, str, str]:
        group, v = item
        place = {"performance": 1, "quality": 2}.get(group, 0 if v.feature == MODEL_ROW else 3)
        return worst_first(v.severity), place, v.feature, v.statistic

    rows = tuple(_verdict_row(group, v) for group, v in sorted(found, key=order))
    hidden = set()
    if not any(v.p_value is not None for _, v in found):
        hidden.add("p_value")
    if not any(v.expected_false_alarm_rate for _, v in found):
        hidden.add("expected_false_alarm_rate")
    names = tuple(name for name in VerdictRow.__dataclass_fields__ if name not in hidden)
    return VerdictTable(rows, names)


def _verdict_row(group: VerdictGroup, v: Verdict) -> VerdictRow:
    statistic, shown = measure(group, v)
    return VerdictRow(
        signal=SIGNALS[group],
        row=feature_label(v.feature) if group != "performance" else "model",
        statistic=statistic,
        value=shown(v.value),
        threshold=shown(v.threshold),
        p_value=sig(v.p_value),
        n=v.n,
        n_counts=n_counts(group, v.feature),
        severity=severity_text(v.severity),
        expected_false_alarm_rate=percent(v.expected_false_alarm_rate),
        reasons="; ".join(v.reasons),
    )
