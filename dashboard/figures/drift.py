"""Drift: one row's statistic over time against its threshold (a feature's, or an output's).

The info object is computed from stored evaluations (``statistic_series``) and drawn by
``statistic_over_time``, as optuna's visualization modules do: the numbers are tested without a
browser, the drawing without a store. Every verdict of a window at a glance (the heatmap, the
verdict table) is in ``verdicts.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import plotly.graph_objects as go

from dashboard.figures.common import (
    BAND_OK,
    SERIES_COLORS,
    SEVERITY_COLORS,
    layout,
    newest_per_window,
    number,
    plain,
    present,
    severity_text,
    sig,
    time_axis,
    verdict_of,
    window_times,
    zone_label,
)
from dashboard.figures.signals import n_counts
from monitor.vocab.verdicts import WindowEvaluation

#: A statistic this many times its threshold is drawn on a log axis, or the band disappears.
LOG_SCALE_RATIO = 20
#: A marker shape per severity, so that a point's severity does not hang on its colour alone
#: (ok windows have none: they are the line).
SEVERITY_SYMBOLS = {"warning": "diamond", "critical": "x"}


@dataclass(frozen=True, slots=True)
class StatisticSeries:
    """A row's drift statistic over time against its (window-size dependent) threshold, and what
    its ``n`` counts (non-missing rows of a feature, rows of an output)."""

    statistic: str
    times: tuple[datetime, ...]
    values: tuple[float, ...]
    thresholds: tuple[float, ...]
    severities: tuple[str, ...]
    n: tuple[int, ...]
    n_counts: str
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
        n_counts=n_counts("drift", feature),
        zone=zone_label(tz),
    )


def statistic_over_time(info: StatisticSeries) -> go.Figure:
    """The statistic per window over the shaded no-drift band, each window that is not ok marked
    in its severity's colour and shape (ok windows are the line: a marker on each of 168 windows
    cost the page a tenth of a second to draw).

    A statistic far above its threshold goes on a log axis with a tick per power of ten written
    out (0.001, 0.01, 0.1, 1), never Plotly's bare "2 5" between them; hovers use the one
    precision of the tables (three significant digits).
    """
    times = list(info.times)
    name = plain(info.statistic or "statistic")
    fig = go.Figure()
    fig.add_scatter(
        x=times,
        y=list(info.thresholds),
        name="threshold",
        mode="lines",
        line={"color": SEVERITY_COLORS["warning"], "dash": "dash", "shape": "hv"},
        fill="tozeroy",
        fillcolor=BAND_OK,
        text=[sig(t) for t in info.thresholds],
        hovertemplate="threshold %{text}<extra></extra>",
    )
    fig.add_scatter(
        x=times,
        y=list(info.values),
        name=name,
        mode="lines" if len(times) > 1 else "lines+markers",  # one window: a dot, not nothing
        line={"color": SERIES_COLORS[0]},
        customdata=[
            [severity_text(s), f"{n:,}", sig(v)]
            for s, n, v in zip(info.severities, info.n, info.values, strict=True)
        ],
        hovertemplate=(
            f"{name} %{{customdata[2]}}<br>%{{customdata[0]}}, "
            f"n = %{{customdata[1]}} {info.n_counts}<extra></extra>"
        ),
    )
    marked = [i for i, s in enumerate(info.severities) if s != "ok"]
    if marked:
        fig.add_scatter(
            x=[times[i] for i in marked],
            y=[info.values[i] for i in marked],
            name=f"{name}: not ok",
            mode="markers",
            marker={
                "color": [
                    SEVERITY_COLORS.get(info.severities[i], SERIES_COLORS[0]) for i in marked
                ],
                "symbol": [SEVERITY_SYMBOLS.get(info.severities[i], "circle-open") for i in marked],
                "size": 9,
            },
            hoverinfo="skip",  # the line's point beneath says it
            showlegend=False,
        )
    title = f"{name} (unitless)"
    limits = [t for t in present(info.thresholds) if t > 0]
    values = present(info.values)
    if limits and values and min(values) > 0 and max(values) > LOG_SCALE_RATIO * min(limits):
        # a landslide next to its threshold: both stay readable
        fig.update_yaxes(type="log", dtick=1, tickformat="~g")
        title += ", log scale"
    return layout(fig, time_axis(info.zone), title)
