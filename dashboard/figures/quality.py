"""Data quality: per feature and window, the shares of rows that are missing or wrong-typed, out of
the reference's range, or of a category the reference never saw.

``quality_info`` is the chart over time and ``quality_rows`` one window's table beside the
reference; both read the quality each window stored, so they agree with the daemon's verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import plotly.graph_objects as go

from dashboard.figures.common import (
    layout,
    newest_per_window,
    number,
    plain,
    present,
    time_axis,
    window_times,
    zone_label,
)
from monitor.vocab.profile import NumericProfile, Profile
from monitor.vocab.verdicts import WindowEvaluation

#: Series at most on the quality chart: more lines than this cannot be told apart.
MAX_QUALITY_LINES = 8


@dataclass(frozen=True, slots=True)
class QualityInfo:
    """Per feature and window: missing or wrong-typed, out-of-range and unseen-category shares."""

    times: tuple[datetime, ...]
    features: tuple[str, ...]
    invalid: tuple[tuple[float, ...], ...]
    out_of_range: tuple[tuple[float, ...], ...]
    unseen: tuple[tuple[float, ...], ...]
    zone: str


def quality_info(
    evaluations: Sequence[WindowEvaluation], features: Sequence[str], tz: tzinfo
) -> QualityInfo:
    """Rates from each window's stored quality; a feature a window lacks counts as NaN."""
    windows = newest_per_window(evaluations)

    def series(feature: str, rate: str) -> tuple[float, ...]:
        out = []
        for ev in windows:
            q = ev.quality.get(feature)
            if q is None:
                out.append(float("nan"))
            elif rate == "invalid":
                out.append(q.missing_rate + q.type_error_rate)
            else:
                out.append(number(getattr(q, rate)))
        return tuple(out)

    return QualityInfo(
        times=window_times(windows, tz),
        features=tuple(features),
        invalid=tuple(series(f, "invalid") for f in features),
        out_of_range=tuple(series(f, "out_of_range_rate") for f in features),
        unseen=tuple(series(f, "unseen_rate") for f in features),
        zone=zone_label(tz),
    )


def quality_over_time(info: QualityInfo) -> go.Figure:
    """Missing-or-wrong-type (solid), out-of-range (dash) and unseen (dot) shares of the features
    that have any, worst first."""
    times = list(info.times)
    series = []
    for rate, dash in (("invalid", "solid"), ("out_of_range", "dash"), ("unseen", "dot")):
        for feature, values in zip(info.features, getattr(info, rate), strict=True):
            worst = max(present(values), default=0.0)
            if worst > 0:
                series.append((worst, feature, rate, dash, values))
    series.sort(key=lambda s: -s[0])
    fig = go.Figure()
    names = {"invalid": "missing/wrong type", "out_of_range": "out of range", "unseen": "unseen"}
    for _, feature, rate, dash, values in series[:MAX_QUALITY_LINES]:
        fig.add_scatter(
            x=times,
            y=list(values),
            name=f"{plain(feature)}: {names[rate]}",
            mode="lines+markers",
            line={"dash": dash},
            hovertemplate="%{fullData.name} %{y:.2%}<extra></extra>",
        )
    fig.update_yaxes(tickformat=".1%", rangemode="tozero")
    return layout(fig, time_axis(info.zone), "share of rows")


@dataclass(frozen=True, slots=True)
class QualityRow:
    """One feature's data quality in one window, next to its reference."""

    feature: str
    missing_rate: float
    type_error_rate: float
    out_of_range_rate: float | None
    unseen_rate: float | None
    mean: float | None
    reference_mean: float | None
    reference_missing_rate: float | None


def quality_rows(ev: WindowEvaluation, profiles: Mapping[str, Profile] | None) -> list[QualityRow]:
    """A window's quality table, worst first."""
    rows = []
    for feature, q in ev.quality.items():
        p = (profiles or {}).get(feature)
        rows.append(
            QualityRow(
                feature=feature,
                missing_rate=q.missing_rate,
                type_error_rate=q.type_error_rate,
                out_of_range_rate=q.out_of_range_rate,
                unseen_rate=q.unseen_rate,
                mean=q.mean,
                reference_mean=p.mean if isinstance(p, NumericProfile) else None,
                reference_missing_rate=p.n_missing / p.n if p is not None and p.n else None,
            )
        )
    return sorted(
        rows,
        key=lambda r: (
            -(
                r.missing_rate
                + r.type_error_rate
                + (r.out_of_range_rate or 0)
                + (r.unseen_rate or 0)
            )
        ),
    )
