"""Distributions on the reference's bins: the reference next to a window, a period or a version.

Counts come from the store already binned on a reference profile. Two views of them:

- **bins** (``distribution_info`` → ``distribution_bars``): the share of rows per reference bin,
  missing values included. Every kind of feature has it, but a numeric feature's bins are the
  reference's quantiles, so its reference is a flat ~5 % per bin and the value axis is lost.
- **value axis** (``value_axis_info`` → ``value_axis_chart``), numeric features only: the same
  counts drawn on the feature's own scale, as densities (share of non-missing rows per unit,
  bars as wide as their bins) over cumulative shares at each bin edge, so a shift reads as a
  moved hump and a moved curve. The bins beyond the reference's range are open (below its
  minimum, above its maximum): they have no width, so the density leaves them out and says how
  much it left out, and the cumulative curve draws them as a jump at the edge.

Series of different sizes only compare as shares; each legend says how many rows a series holds
and how many of them had a value, the same "non-missing rows" a drift verdict counts.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.figures.common import (
    SERIES_COLORS,
    feature_label,
    layout,
    percent,
    plain,
    sig,
)
from monitor.vocab.profile import NumericProfile, Profile

#: Most significant digits a bin edge gets to stay distinct from its neighbours.
MAX_EDGE_DIGITS = 12


def _edge_digits(edges: Sequence[float]) -> int:
    """The fewest significant digits (3 at least) at which no two edges print alike: bin labels
    are the bar chart's categories, and two equal labels would merge two bars."""
    for digits in range(3, MAX_EDGE_DIGITS):
        if len({f"{e:.{digits}g}" for e in edges}) == len(edges):
            return digits
    return MAX_EDGE_DIGITS


def bin_labels(profile: Profile) -> list[str]:
    """Readable names of a profile's bins, in the stored layout (see ``stats/reference.py``)."""
    if isinstance(profile, NumericProfile):
        digits = _edge_digits(profile.edges)
        e = [f"{x:.{digits}g}" for x in profile.edges]
        inner = [f"[{a}, {b})" for a, b in itertools.pairwise(e)]
        inner[-1] = inner[-1][:-1] + "]"  # the last in-range bin holds the reference maximum
        return [f"< {e[0]}", *inner, f"> {e[-1]}", "missing"]
    return [*profile.categories, "other", "unseen", "missing"]


def _legend(name: str, total: int, missing: int) -> str:
    """A series' legend: what it is, its rows and, of those, the ones with a value."""
    return f"{plain(name)} ({total:,} rows, {total - missing:,} non-missing)"


@dataclass(frozen=True, slots=True)
class DistributionInfo:
    """Shares of rows per reference bin for several series (reference, a window, a period);
    ``totals`` count every row, ``missing`` those without a value (the last bin)."""

    feature: str
    labels: tuple[str, ...]
    names: tuple[str, ...]
    shares: tuple[tuple[float, ...], ...]
    totals: tuple[int, ...]
    missing: tuple[int, ...]
    counts: tuple[tuple[int, ...], ...]
    #: The reference's rows per in-range bin, as a share: ~5 % for quantile bins (numeric).
    quantile_share: float | None


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
    numeric = isinstance(profile, NumericProfile) and len(profile.edges) > 2
    return DistributionInfo(
        feature=feature,
        labels=tuple(labels),
        names=tuple(name for name, _ in series),
        shares=tuple(
            tuple(c / t if t else 0.0 for c in values)
            for values, t in zip(counts, totals, strict=True)
        ),
        totals=tuple(totals),
        missing=tuple(c[-1] for c in counts),
        counts=tuple(counts),
        quantile_share=1 / (len(profile.edges) - 1) if numeric else None,  # type: ignore[union-attr]
    )


def distribution_bars(info: DistributionInfo) -> go.Figure:
    """Share of rows per reference bin, one bar group per bin, one colour per series."""
    fig = go.Figure()
    for i, name in enumerate(info.names):
        fig.add_bar(
            x=[plain(label) for label in info.labels],  # categories come from the data
            y=list(info.shares[i]),
            name=_legend(name, info.totals[i], info.missing[i]),
            marker_color=SERIES_COLORS[i % len(SERIES_COLORS)],
            customdata=list(info.counts[i]),
            text=[percent(s) for s in info.shares[i]],
            textposition="none",
            hovertemplate="%{x}: %{text} (%{customdata:,} rows)<extra>%{fullData.name}</extra>",
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(tickformat=",.3~%", rangemode="tozero")
    x_title = f"{plain(feature_label(info.feature))}: reference bin"
    if info.quantile_share is not None:
        x_title += f" (equal-frequency: ~{percent(info.quantile_share)} of the reference each)"
    return layout(fig, x_title, "share of rows (missing included)")


# --- the value axis (numeric features) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValueAxisInfo:
    """Series on a numeric feature's own scale, over the reference's range ``edges`` (its
    minimum to its maximum): all shares are of a series' non-missing rows (``present``)."""

    feature: str
    edges: tuple[float, ...]
    names: tuple[str, ...]
    present: tuple[int, ...]
    #: Per in-range bin: the share of rows in it, and that share per unit of the feature.
    shares: tuple[tuple[float, ...], ...]
    densities: tuple[tuple[float, ...], ...]
    #: At each edge: the share of rows below it (at the last edge, at most it).
    cdf: tuple[tuple[float, ...], ...]
    #: Shares beyond the reference's range, below its minimum and above its maximum.
    below: tuple[float, ...]
    above: tuple[float, ...]

    def tails(self) -> list[str]:
        """What the density leaves out: each series' rows beyond the reference's range."""
        lo, hi = sig(self.edges[0]), sig(self.edges[-1])
        notes = []
        for name, below, above in zip(self.names, self.below, self.above, strict=True):
            parts = [f"{percent(below)} below {lo}"] * (below > 0)
            parts += [f"{percent(above)} above {hi}"] * (above > 0)
            if parts:
                notes.append(f"{name}: {' and '.join(parts)}")
        return notes


def value_axis_info(
    feature: str, profile: Profile, series: Sequence[tuple[str, Sequence[int]]]
) -> ValueAxisInfo | None:
    """Counts per reference bin → densities and cumulative shares on the value axis; None for a
    categorical feature or a numeric one whose reference has a single bin (a constant)."""
    if not isinstance(profile, NumericProfile) or len(profile.edges) < 3:
        return None
    edges = tuple(float(e) for e in profile.edges)
    widths = [b - a for a, b in itertools.pairwise(edges)]
    names, present, shares, densities, cdfs, below, above = [], [], [], [], [], [], []
    for name, values in series:
        if len(values) != profile.n_bins:
            raise ValueError(f"{name}: {len(values)} bins, the reference has {profile.n_bins}")
        counts = [int(c) for c in values[:-1]]  # the missing bin last: not on the value axis
        total = sum(counts)
        share = [c / total if total else 0.0 for c in counts]
        inner = share[1:-1]
        names.append(name)
        present.append(total)
        shares.append(tuple(inner))
        densities.append(tuple(s / w for s, w in zip(inner, widths, strict=True)))
        cdfs.append(tuple(itertools.accumulate(share[:-1])))
        below.append(share[0])
        above.append(share[-1])
    return ValueAxisInfo(
        feature=feature,
        edges=edges,
        names=tuple(names),
        present=tuple(present),
        shares=tuple(shares),
        densities=tuple(densities),
        cdf=tuple(cdfs),
        below=tuple(below),
        above=tuple(above),
    )


def value_axis_chart(info: ValueAxisInfo) -> go.Figure:
    """Density (top) and cumulative share (bottom) of each series on the feature's scale.

    The reference's density is filled, the others outlined, each bar exactly as wide as its
    bin; the cumulative curves run from 0 to 1, their jumps at the range's ends being the rows
    beyond it.
    """
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.06
    )
    edges = list(info.edges)
    centers = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    widths = [b - a for a, b in itertools.pairwise(edges)]
    digits = _edge_digits(edges)
    ranges = [f"[{a:.{digits}g}, {b:.{digits}g})" for a, b in itertools.pairwise(edges)]
    for i, name in enumerate(info.names):
        colour = SERIES_COLORS[i % len(SERIES_COLORS)]
        legend = f"{plain(name)} ({info.present[i]:,} non-missing rows)"
        first = i == 0
        fig.add_bar(
            x=centers,
            y=list(info.densities[i]),
            width=widths,
            name=legend,
            legendgroup=str(i),
            marker={
                "color": colour if first else "rgba(0, 0, 0, 0)",
                "opacity": 0.45 if first else 1.0,
                "line": {"color": colour, "width": 0 if first else 2},
            },
            customdata=[
                [r, percent(s), sig(d)]
                for r, s, d in zip(ranges, info.shares[i], info.densities[i], strict=True)
            ],
            hovertemplate=(
                "%{customdata[0]}: %{customdata[1]} of non-missing rows "
                "(density %{customdata[2]})<extra>%{fullData.name}</extra>"
            ),
            row=1,
            col=1,
        )
        cdf = list(info.cdf[i])
        fig.add_scatter(
            x=[edges[0], *edges, edges[-1]],
            y=[0.0, *cdf, 1.0],
            name=legend,
            legendgroup=str(i),
            showlegend=False,
            mode="lines",
            line={"color": colour, "width": 2, "dash": "dot" if first else "solid"},
            text=["", *(percent(c) for c in cdf), percent(1.0)],
            hovertemplate=(
                f"{plain(name)}: %{{text}} of non-missing rows up to %{{x:.{digits}g}}"
                "<extra></extra>"
            ),
            row=2,
            col=1,
        )
    fig.update_layout(barmode="overlay", bargap=0)
    label = plain(feature_label(info.feature))
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="cumulative share", tickformat=".0%", range=[0, 1.02], row=2, col=1)
    fig.update_xaxes(
        title_text=f"{label} (reference range {sig(edges[0])} to {sig(edges[-1])})", row=2, col=1
    )
    return layout(fig, "", f"share per unit of {label}", height=460)
