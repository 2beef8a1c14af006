"""Distributions on the reference's bins: the reference next to a window, a period or a version.

Counts come from the store already binned on a reference profile; ``distribution_info`` names the
bins and turns counts into shares (series of different sizes only compare as shares), and
``distribution_bars`` draws them with the counts behind each bar in its hover.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from dashboard.figures.common import SERIES_COLORS, feature_label, layout, plain
from monitor.vocab.profile import NumericProfile, Profile


def _fmt(x: float) -> str:
    """A bin edge, short enough that dozens of bin labels fit under the chart."""
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


def distribution_bars(info: DistributionInfo) -> go.Figure:
    """Share of rows per reference bin, one bar group per bin, one colour per series."""
    fig = go.Figure()
    for i, name in enumerate(info.names):
        fig.add_bar(
            x=[plain(label) for label in info.labels],  # categories come from the data
            y=list(info.shares[i]),
            name=f"{plain(name)} (n = {info.totals[i]:,})",
            marker_color=SERIES_COLORS[i % len(SERIES_COLORS)],
            customdata=list(info.counts[i]),
            hovertemplate="%{x}: %{y:.1%} (%{customdata:,} rows)<extra>%{fullData.name}</extra>",
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(tickformat=".0%")
    return layout(fig, f"{plain(feature_label(info.feature))}: reference bin", "share of rows")
