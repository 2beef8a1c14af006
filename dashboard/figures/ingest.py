"""What the ingestion counters say about a model: label coverage and delay, and dead letters.

Totals come from ``IngestCounts`` (every record since the first event), per-window shares from the
stored evaluations; ``label_info`` joins the two so the labels tab reads one object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import plotly.graph_objects as go

from dashboard.figures.common import (
    SERIES_COLORS,
    layout,
    newest_per_window,
    plain,
    time_axis,
    window_times,
    zone_label,
)
from monitor.vocab.counts import IngestCounts
from monitor.vocab.effects import DELAY_LABELS
from monitor.vocab.verdicts import WindowEvaluation

# --- labels ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelInfo:
    """Label coverage and delay: totals from the ingestion counters, shares per window."""

    joined: int
    pending: int
    expired: int
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
    """The labels tab: how many predictions have their outcome, how late outcomes arrive."""
    windows = newest_per_window(evaluations)
    return LabelInfo(
        joined=counts.joined,
        pending=counts.pending_predictions,
        expired=counts.expired_predictions,
        coverage=counts.label_coverage,
        mean_delay_seconds=counts.mean_label_delay_seconds,
        delay_buckets=tuple(f"≤ {label}" if label != "inf" else "> 7d" for label in DELAY_LABELS),
        delay_counts=tuple(counts.delay_histogram.get(label, 0) for label in DELAY_LABELS),
        times=window_times(windows, tz),
        labelled_share=tuple(ev.n_labelled / ev.n if ev.n else 0.0 for ev in windows),
        zone=zone_label(tz),
    )


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
    return layout(fig, "label delay (outcome time − prediction time)", "labels", height=260)


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
    return layout(fig, time_axis(info.zone), "labelled share of predictions", height=260)


# --- dead letters ---------------------------------------------------------------------------------


def dead_letters_bar(by_reason: Mapping[str, int]) -> go.Figure:
    """Dead letters per reason (totals since the first event), most frequent first, in a series
    colour: a count is not a severity (the health and its alerts judge the dead-letter rate)."""
    reasons = sorted(by_reason, key=lambda r: -by_reason[r])
    fig = go.Figure(
        go.Bar(
            x=[plain(r) for r in reasons],
            y=[by_reason[r] for r in reasons],
            marker_color=SERIES_COLORS[1],
            hovertemplate="%{x}: %{y:,} records<extra></extra>",
        )
    )
    return layout(fig, "reason", "dead-lettered records", height=260)
