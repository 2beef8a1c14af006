"""Model health across the fleet (the overview): one row per model, and models per health status.

``overview_rows`` prepares the rows from ``Query.status`` results — with since when each model is
unhealthy and its trend over its newest windows (``Query.recent_windows``, kept as
``trend_windows``) — ``select_rows`` filters and sorts them as the overview's controls ask, and
``health_counts`` counts models per status. Health statuses map onto the severity colours and
glyphs here, so a CRITICAL model is the red of a critical verdict and reads "✕ CRITICAL" to
anyone who cannot tell hues apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from dashboard.figures.common import (
    ROW_LABELS,
    SEVERITY_COLORS,
    Severity,
    baseline_hint,
    local,
    newest_per_window,
    severity_glyph,
)
from dashboard.figures.signals import window_severity
from monitor.store.query import ModelStatus, WindowBrief
from monitor.times import duration

HEALTH_SEVERITY: dict[str, Severity] = {
    "OK": "ok",
    "WARN": "warning",
    "CRITICAL": "critical",
    "INSUFFICIENT DATA": "insufficient",
}
#: Health statuses worst first: the default overview order puts problems on top.
HEALTH_ORDER = ("CRITICAL", "WARN", "INSUFFICIENT DATA", "OK")


#: Newest windows of each model the trend column shows: a day of hourly windows.
TREND_WINDOWS = 24
#: A trend bar's height per window severity: none for a window without a verdict (too few rows,
#: no reference), then taller the worse, so a column of healthy models reads as low, even bars.
TREND_HEIGHTS: dict[str, int] = {"none": 0, "insufficient": 0, "ok": 1, "warning": 2, "critical": 3}
#: The reference cell of a model without one: what to do, not "None" (the why says how).
NO_REFERENCE = "none: set one"
#: How the daemon's health begins its reason for a model without a reference
#: (``monitor/stats/health.py``): the overview says it with the command for the model instead.
DAEMON_NO_REFERENCE = "no reference set:"


def health_color(status: str) -> str:
    """A health status's colour in the severity scheme (an unknown status: no verdict's grey)."""
    return SEVERITY_COLORS[HEALTH_SEVERITY.get(status, "none")]


def health_text(status: str) -> str:
    """A health status with its severity's glyph (``✕ CRITICAL``): colour is never the only cue."""
    glyph = severity_glyph(HEALTH_SEVERITY.get(status, "none"))
    return f"{glyph} {status}" if glyph else status


def since_text(since: float | None, now: float, tz: tzinfo) -> str | None:
    """``14:05 (2 h 10 min ago)`` in the viewer's zone, the date added when it is not today's:
    since when a model is unhealthy, spans written as the CLI writes them."""
    if since is None:
        return None
    moment, today = local(since, tz), local(now, tz)
    clock = f"{moment:%H:%M}" if moment.date() == today.date() else f"{moment:%Y-%m-%d %H:%M}"
    return f"{clock} ({duration(now - since)} ago)"


def readable(reason: str) -> str:
    """A reason of the daemon's with the internal row names (``__prediction__``) as the pages
    name those rows (``prediction (model output)``)."""
    for internal, label in ROW_LABELS.items():
        reason = reason.replace(internal, label)
    return reason


@dataclass(frozen=True, slots=True)
class TrendWindow:
    """What a trend keeps of one window: its start, its rows and its severity."""

    window_start: int
    n: int
    severity: Severity


def trend_windows(windows: Iterable[WindowBrief]) -> tuple[TrendWindow, ...]:
    """Each window's severity as the health reads it (model drift, performance — realized, else
    the estimate in force — and data quality): a brief has every attribute of an evaluation
    :func:`window_severity` reads, so the model page's rules apply as they are. A few bytes a
    window, where the brief holds every verdict: what the dashboard keeps between reruns."""
    return tuple(TrendWindow(w.window_start, w.n, window_severity(w)) for w in windows)


def trend(windows: Sequence[TrendWindow]) -> list[int]:
    """Bar heights (:data:`TREND_HEIGHTS`) of a model's newest windows (:func:`trend_windows`),
    oldest first, one window per start (the busier version where two share one)."""
    return [TREND_HEIGHTS[w.severity] for w in newest_per_window(windows)]


@dataclass(frozen=True, slots=True)
class OverviewRow:
    """One model's line on the overview."""

    model: str
    owner: str
    task: str
    health: str
    #: The reasons in one line, as the table's cell shows them (cut to its width).
    reasons: str
    #: Each reason, whole: "Needs attention" and "Why, in full" show them all.
    why: tuple[str, ...]
    #: WARN or CRITICAL: since when (``Health.since``), and as :func:`since_text` says it.
    since: datetime | None
    since_text: str | None
    #: :func:`trend` of its newest :data:`TREND_WINDOWS` windows.
    trend: list[int]
    version: str | None
    #: The current reference version, or :data:`NO_REFERENCE`.
    reference: str
    predictions: int
    last_window_rows: int | None
    label_coverage: float | None
    mean_label_delay_seconds: float | None
    dead_letters: int
    #: Share of the model's records (predictions, outcomes, dead letters) that were dead-lettered.
    dead_letter_rate: float | None
    last_event: datetime | None


def overview_rows(
    statuses: Iterable[ModelStatus],
    references: Mapping[str, str | None],
    tz: tzinfo,
    *,
    now: float,
    recent: Mapping[str, Sequence[TrendWindow]] | None = None,
) -> list[OverviewRow]:
    """Rows of the overview, with the dashboard's own hints where the daemon cannot know why;
    ``recent``: each model's newest windows (``Query.recent_windows`` as :func:`trend_windows`)
    for its trend."""
    rows = []
    for s in statuses:
        name, c = s.model.name, s.counts
        reasons = [readable(r) for r in s.health.reasons] if s.health else []
        since = s.health.since if s.health else None
        if references.get(name) is None:  # said once, with the command for this model
            reasons = [r for r in reasons if not r.startswith(DAEMON_NO_REFERENCE)]
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
                why=tuple(reasons),
                since=local(since, tz) if since is not None else None,
                since_text=since_text(since, now, tz),
                trend=trend((recent or {}).get(name, ())),
                version=s.latest.version if s.latest else None,
                reference=references.get(name) or NO_REFERENCE,
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


def without_reference(rows: Iterable[OverviewRow]) -> list[str]:
    """The models that have no reference profile, so no drift of theirs can be judged."""
    return [r.model for r in rows if r.reference == NO_REFERENCE]


def unknown_dead_letters_text(by_reason: Mapping[str, int], topic: str) -> str | None:
    """The dead letters that name no configured model, in one line (None without any): no
    model's row counts them, so nobody would see them otherwise."""
    total = sum(by_reason.values())
    if not total:
        return None
    said = ", ".join(f"{reason} {n:,}" for reason, n in sorted(by_reason.items()))
    return (
        f"{total:,} dead letter(s) name no configured model or no readable one ({said}): "
        f"events for a model missing from the config, or too broken to name one. They are in "
        f"the dead-letter topic {topic}, each with its reason in the dw-reason header."
    )


def health_counts(rows: Iterable[OverviewRow]) -> dict[str, int]:
    """Models per health status, worst first (zeros kept so the summary never changes shape)."""
    counts = dict.fromkeys(HEALTH_ORDER, 0)
    for r in rows:
        counts[r.health] += 1
    return counts
