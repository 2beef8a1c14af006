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

import plotly.graph_objects as go

from dashboard.figures.common import (
    MODEL_ROW,
    OUTPUT_ROWS,
    SEVERITIES,
    SEVERITY_COLORS,
    TIME_FORMAT,
    feature_label,
    layout,
    newest_per_window,
    percent,
    plain,
    severity_glyph,
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

# --- heatmap --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeatmapInfo:
    """Rows × windows, coloured by severity; ``keys`` holds each row's verdict group and subject
    (a feature or output, ``MODEL_ROW``, a metric, or ``ALL_QUALITY``)."""

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


def _hover(label: str, group: VerdictGroup, subject: str, when: datetime, v: Verdict | None) -> str:
    """A cell's hover: everything needed to judge the verdict without opening it (and which
    feature's rate it is, in the row of all features' quality)."""
    head = f"<b>{plain(label)}</b><br>{when:{TIME_FORMAT}}<br>"
    if v is None:
        return head + "no verdict (no reference, or window not evaluated)"
    statistic, shown = measure(group, v)
    if group == "quality" and subject == ALL_QUALITY:
        statistic = f"{v.feature}: {statistic}"
    p = "" if v.p_value is None else f", p = {sig(v.p_value)}"
    return (
        head + f"{plain(statistic)} = {shown(v.value)} (threshold {shown(v.threshold)}{p})"
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
    for label, (group, subject) in zip(labels, keys, strict=True):
        verdicts = [_cell_verdict(ev, group, subject) for ev in windows]
        codes.append(tuple(SEVERITIES.index(v.severity if v else "none") for v in verdicts))
        hover.append(
            tuple(_hover(label, group, subject, t, v) for t, v in zip(times, verdicts, strict=True))
        )
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
    """What the heatmap's colours and glyphs mean, as a line under it (a colour bar beside it
    would take a third of a phone's width)."""
    words = {"insufficient": "too few rows", "none": "no verdict"}
    return " · ".join(f"{severity_glyph(s) or '▢'} {words.get(s, s)}" for s in reversed(SEVERITIES))


def verdicts_heatmap(info: HeatmapInfo) -> go.Figure:
    """Rows × windows coloured by severity, each cell also marked with its severity's glyph
    (colour is never the only cue); hovering a cell shows statistic, threshold, n.

    Plotly cannot select heatmap cells, so an invisible marker sits on every cell: it carries the
    hover text and :func:`cell_key` as ``customdata`` (row by row), and clicking it selects it,
    which lets the page open that cell's evidence. The markers are WebGL: thousands of SVG
    markers (168 windows × 30 features) would add seconds to the page in the browser.
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
            showscale=False,  # the legend is text under the chart: a colour bar costs a phone
        )
    )
    fig.add_trace(
        go.Scattergl(
            x=[t for _ in info.rows for t in info.times],
            y=[row for row in rows for _ in info.times],
            mode="markers",
            marker={"opacity": 0, "size": 12},
            text=[text for row in info.hover for text in row],
            customdata=[
                cell_key(group, subject, start)
                for group, subject in info.keys
                for start in info.starts
            ],
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    fig.update_xaxes(nticks=MAX_TIME_TICKS)
    fig.update_layout(hovermode="closest", clickmode="event+select")
    return layout(fig, time_axis(info.zone), "", height=max(300, 120 + ROW_PX * len(info.rows)))


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
