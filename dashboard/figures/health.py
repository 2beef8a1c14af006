"""Model health across the fleet (the overview): one row per model, and models per health status.

``overview_rows`` prepares the rows from ``Query.status`` results, ``select_rows`` filters and
sorts them as the overview's controls ask, and ``health_bar`` draws ``health_counts``. Health
statuses map onto the severity colours here, so a CRITICAL model is the red of a critical verdict.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import plotly.graph_objects as go

from dashboard.figures.common import SEVERITY_COLORS, Severity, baseline_hint, layout, local
from monitor.store.query import ModelStatus

HEALTH_SEVERITY: dict[str, Severity] = {
    "OK": "ok",
    "WARN": "warning",
    "CRITICAL": "critical",
    "INSUFFICIENT DATA": "insufficient",
}
#: Health statuses worst first: the default overview order puts problems on top.
HEALTH_ORDER = ("CRITICAL", "WARN", "INSUFFICIENT DATA", "OK")


def health_color(status: str) -> str:
    """A health status's colour in the severity scheme (an unknown status: no verdict's grey)."""
    return SEVERITY_COLORS[HEALTH_SEVERITY.get(status, "none")]


@dataclass(frozen=True, slots=True)
class OverviewRow:
    """One model's line on the overview."""

    model: str
    owner: str
    task: str
    health: str
    reasons: str
    version: str | None
    reference: str | None
    predictions: int
    last_window_rows: int | None
    label_coverage: float | None
    mean_label_delay_seconds: float | None
    dead_letters: int
    #: Share of the model's records (predictions, outcomes, dead letters) that were dead-lettered.
    dead_letter_rate: float | None
    last_event: datetime | None


def overview_rows(
    statuses: Iterable[ModelStatus], references: Mapping[str, str | None], tz: tzinfo
) -> list[OverviewRow]:
    """Rows of the overview, with the dashboard's own hints where the daemon cannot know why."""
    rows = []
    for s in statuses:
        name, c = s.model.name, s.counts
        reasons = list(s.health.reasons) if s.health else []
        if references.get(name) is None:
            reasons.insert(0, f"no reference profile: run `{baseline_hint(name)}`")
        if c.predictions == 0:
            reasons.insert(0, "no predictions received yet")
        elif s.health is None:
            reasons.append("no window evaluated yet")
        total = c.predictions + c.outcomes + c.dead
        rows.append(
            OverviewRow(
                model=name,
                owner=s.model.owner,
                task=s.model.task,
                health=s.health.status if s.health else "INSUFFICIENT DATA",
                reasons="; ".join(reasons),
                version=s.latest.version if s.latest else None,
                reference=references.get(name),
                predictions=c.predictions,
                last_window_rows=s.latest.n if s.latest else None,
                label_coverage=c.label_coverage,
                mean_label_delay_seconds=c.mean_label_delay_seconds,
                dead_letters=c.dead,
                dead_letter_rate=c.dead / total if total else None,
                last_event=local(c.last_event_ts, tz) if c.last_event_ts else None,
            )
        )
    return rows


SORTS: dict[str, tuple[str, bool]] = {
    # label: (attribute, descending)
    "health (worst first)": ("health", False),
    "model": ("model", False),
    "traffic (most first)": ("predictions", True),
    "dead-letter rate (highest first)": ("dead_letter_rate", True),
    "label coverage (lowest first)": ("label_coverage", False),
    "last event (stalest first)": ("last_event", False),
}


def select_rows(
    rows: Sequence[OverviewRow],
    *,
    owners: Sequence[str] = (),
    healths: Sequence[str] = (),
    search: str = "",
    sort: str = "health (worst first)",
) -> list[OverviewRow]:
    """Filter by owner and health, search model and owner names, then sort (missing values last)."""
    needle = search.strip().lower()
    kept = [
        r
        for r in rows
        if (not owners or r.owner in owners)
        and (not healths or r.health in healths)
        and (not needle or needle in r.model.lower() or needle in r.owner.lower())
    ]
    attribute, descending = SORTS[sort]

    def key(r: OverviewRow) -> tuple[bool, object, str]:
        value: object = getattr(r, attribute)
        if attribute == "health":
            value = HEALTH_ORDER.index(r.health)
        elif value is not None and descending:
            value = -value  # type: ignore[operator]
        return (value is None, value if value is not None else 0, r.model)

    return sorted(kept, key=key)


def health_counts(rows: Iterable[OverviewRow]) -> dict[str, int]:
    """Models per health status, worst first (zeros kept so the chart never changes shape)."""
    counts = dict.fromkeys(HEALTH_ORDER, 0)
    for r in rows:
        counts[r.health] += 1
    return counts


def health_bar(counts: Mapping[str, int]) -> go.Figure:
    """Models per health status, coloured like everything else."""
    statuses = list(counts)
    fig = go.Figure(
        go.Bar(
            x=[counts[s] for s in statuses],
            y=statuses,
            orientation="h",
            marker_color=[health_color(s) for s in statuses],
            text=[counts[s] for s in statuses],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x} models<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    # Models are counted in whole numbers: no tick at 0.5 models, whatever the counts.
    fig.update_xaxes(tick0=0, dtick=max(1, math.ceil(max(counts.values(), default=0) / 5)))
    return layout(fig, "models", "", height=60 + 28 * len(statuses))
