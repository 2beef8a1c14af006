"""Plain info objects for the overview and the drift views, computed from ``Query`` results.

Pages turn what the query module returns into these small frozen objects and hand them to
``dashboard/figures.py`` (optuna's split: compute an info object, draw it in a separate function).
Nothing here imports Streamlit or Plotly, so every number a page shows is tested without a browser
(``tests/dashboard/test_figures.py``).

Times are epoch seconds in the store and UTC on the wire; the info objects carry them as aware
datetimes in the viewer's zone, so every chart and table shows local time and says which zone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.config import ModelSettings
from monitor.stats.health import WindowEvaluation
from monitor.stats.verdict import Verdict
from monitor.store.query import ModelStatus

Severity = Literal["none", "insufficient", "ok", "warning", "critical"]
#: Severities from "nothing to say" to worst: heatmap codes are indices into this tuple.
SEVERITIES: tuple[Severity, ...] = ("none", "insufficient", "ok", "warning", "critical")
HEALTH_SEVERITY: dict[str, Severity] = {
    "OK": "ok",
    "WARN": "warning",
    "CRITICAL": "critical",
    "INSUFFICIENT DATA": "insufficient",
}
#: Health statuses worst first: the default overview order puts problems on top.
HEALTH_ORDER = ("CRITICAL", "WARN", "INSUFFICIENT DATA", "OK")
MODEL_ROW = "__model__"
PREDICTION_ROW = "__prediction__"
DECISION_ROW = "__decision__"
#: The model's outputs, shown as rows beside its features.
OUTPUT_ROWS = (PREDICTION_ROW, DECISION_ROW)
K = TypeVar("K")
ROW_LABELS = {
    MODEL_ROW: "model (all features)",
    PREDICTION_ROW: "prediction (model output)",
    DECISION_ROW: "decision (predicted class)",
}


def zone(name: str | None) -> tzinfo:
    """The viewer's zone from the browser's IANA name; UTC when unknown (tests, old browsers)."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zone_label(tz: tzinfo) -> str:
    return str(getattr(tz, "key", tz))


def local(ts: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(ts, tz)


def feature_label(feature: str) -> str:
    return ROW_LABELS.get(feature, feature)


def baseline_hint(model: str) -> str:
    """What to run when a model has no reference profile yet."""
    return f"driftwatch baseline set --model {model} --file train.csv"


# --- overview -----------------------------------------------------------------------------------


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


# --- drift ----------------------------------------------------------------------------------------


def windows_by_start(evaluated: Mapping[K, WindowEvaluation]) -> dict[int, K]:
    """The window id standing for each window start, oldest first: where two model versions
    share a window, the one that served more traffic (the comparison view separates versions)."""
    best: dict[int, K] = {}
    for wid, ev in evaluated.items():
        held = best.get(ev.window_start)
        if held is None or ev.n > evaluated[held].n:
            best[ev.window_start] = wid
    return {start: best[start] for start in sorted(best)}


def newest_per_window(evaluations: Iterable[WindowEvaluation]) -> list[WindowEvaluation]:
    """One evaluation per window start, oldest first, chosen as by :func:`windows_by_start`."""
    evaluated = dict(enumerate(evaluations))
    return [evaluated[i] for i in windows_by_start(evaluated).values()]


def verdict_of(ev: WindowEvaluation, feature: str) -> Verdict | None:
    return next((v for v in ev.verdicts if v.feature == feature), None)


def number(value: float | None) -> float:
    """Stored numbers may be null where a statistic was undefined; charts want NaN."""
    return math.nan if value is None else float(value)


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
    head = f"<b>{feature_label(feature)}</b><br>{when:%Y-%m-%d %H:%M %Z}<br>"
    if v is None:
        return head + "no verdict (no reference, or window not evaluated)"
    p = "" if v.p_value is None else f", p = {v.p_value:.3g}"
    return (
        head + f"{v.statistic} = {number(v.value):.4g} (threshold {number(v.threshold):.4g}{p})"
        f"<br>n = {v.n:,} rows<br>{v.severity}"
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
            if v.feature in drifting and v.severity in ("warning", "critical"):
                drifting[v.feature] += 1
    ordered = sorted(features, key=lambda f: (-drifting[f], f))
    names = [MODEL_ROW, *(o for o in OUTPUT_ROWS if o in outputs), *ordered]
    times = [local(ev.window_start, tz) for ev in windows]
    codes, hover = [], []
    for name in names:
        verdicts = [verdict_of(ev, name) for ev in windows]
        codes.append(tuple(SEVERITIES.index(v.severity if v else "none") for v in verdicts))
        hover.append(tuple(_hover(name, t, v) for t, v in zip(times, verdicts, strict=True)))
    return HeatmapInfo(
        rows=tuple(feature_label(n) for n in names),
        features=tuple(names),
        times=tuple(times),
        starts=tuple(ev.window_start for ev in windows),
        codes=tuple(codes),
        hover=tuple(hover),
        zone=zone_label(tz),
    )


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
    flagged = [
        v for v in ev.verdicts if v.feature != MODEL_ROW and v.severity in ("warning", "critical")
    ]
    return sorted(flagged, key=lambda v: (v.severity != "critical", -number(v.value), v.feature))


@dataclass(frozen=True, slots=True)
class StatisticSeries:
    """A feature's drift statistic over time against its (window-size dependent) threshold."""

    feature: str
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
        feature=feature,
        statistic=statistic,
        times=tuple(local(ev.window_start, tz) for ev, _ in points),
        values=tuple(number(v.value) for _, v in points),
        thresholds=tuple(number(v.threshold) for _, v in points),
        severities=tuple(v.severity for _, v in points),
        n=tuple(v.n for _, v in points),
        zone=zone_label(tz),
    )


def parse_window(text: str | None, starts: Sequence[int], size_seconds: int) -> int | None:
    """The window a deep link names, by its start or any moment inside it: epoch seconds or
    ISO 8601 (no zone = UTC). None when absent, unreadable or not among ``starts``."""
    if not text:
        return None
    try:
        moment = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo("UTC"))
        moment = parsed.timestamp()
    return next((s for s in starts if s <= moment < s + size_seconds), None)


def rows_of(model: ModelSettings) -> list[str]:
    """What a verdict can be about: the model's features, then its outputs (the decisions only
    for a binary model, whose prediction row is its score)."""
    outputs = OUTPUT_ROWS if model.task == "binary" else (PREDICTION_ROW,)
    return [*model.features, *outputs]
