"""What is wrong with a model: one signal per active reason, each with its number, threshold,
sample size, since when, and the one click to its evidence.

A model turns WARN or CRITICAL for reasons of very different kinds: a drifting feature or output,
a metric worse than its reference, a rising missing rate, the online detector seeing the error
rate change, labels that stop arriving, traffic that stops. Whatever the kind, the on-call
engineer must see the failing one first, so the Model page leads with a card per
:class:`Signal`, worst first. :func:`signals` reads each kind where it is judged: a window's
verdicts (drift, performance, data quality: what the daemon's health reads,
``monitor/stats/health.py``), the detector's change points, and the model's firing alerts for
the kinds no window judges (labels, traffic, retraining).

A feature's evidence (its drift, its data quality) is its Feature page; everything else is a view
of the Model page, deep-linked as ``?view=…`` (:data:`VIEWS`): the view an alert's notification
opens too (``monitor.vocab.alerts.evidence_page``). Streamlit tabs cannot be linked to, which is
why the page has views.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal

from dashboard.figures.common import (
    FEATURE_PATH,
    MODEL_PATH,
    MODEL_ROW,
    OUTPUT_ROWS,
    SEVERITIES,
    Severity,
    feature_label,
    local,
    newest_per_window,
    percent,
    sig,
    stamp,
    verdict_of,
    worst_first,
)
from monitor.config.rules import THRESHOLDS
from monitor.vocab.alerts import ALERTNAME, ALERTNAMES, SEVERITY, Alert, evidence_page
from monitor.vocab.counts import IngestCounts
from monitor.vocab.verdicts import ESTIMATED, LOWER_IS_BETTER, Verdict, WindowEvaluation

Kind = Literal[
    "performance",
    "prediction",
    "drift",
    "quality",
    "change_point",
    "labels",
    "traffic",
    "retraining",
]
#: What a card calls each kind; cards of one severity are listed in this order, the outcome
#: (performance) first.
KINDS: dict[Kind, str] = {
    "performance": "performance",
    "prediction": "prediction drift",
    "drift": "feature drift",
    "quality": "data quality",
    "change_point": "error-rate change",
    "labels": "labels",
    "traffic": "traffic",
    "retraining": "retraining",
}
#: The Model page's evidence views (``?view=…``) and their titles, in the selector's order.
VIEWS: dict[str, str] = {
    "prediction": "Prediction drift",
    "performance": "Performance",
    "quality": "Data quality",
    "labels": "Labels",
    "compare": "Compare",
    "history": "History",
}
#: The view the page opens on when nothing fails.
DEFAULT_VIEW = "prediction"
#: The view showing each kind over time: the one the page opens on when it is the worst signal.
KIND_VIEWS: dict[Kind, str] = {
    "performance": "performance",
    "prediction": "prediction",
    "drift": "prediction",
    "quality": "quality",
    "change_point": "performance",
    "labels": "labels",
    "traffic": "quality",
    "retraining": "history",
}
#: Verdict severities that make a signal.
ACTIVE: tuple[Severity, ...] = ("warning", "critical")
#: Which list of a window's verdicts a verdict is in: drift (features, outputs, the model-level
#: verdict), performance (one per metric), data quality (one per rate of each feature).
VerdictGroup = Literal["drift", "performance", "quality"]
_GROUPS: dict[VerdictGroup, Callable[[WindowEvaluation], list[Verdict]]] = {
    "drift": lambda ev: ev.verdicts,
    "performance": lambda ev: [*ev.performance_verdicts, *ev.estimates_in_force()],
    "quality": lambda ev: ev.quality_verdicts,
}
#: Alerts whose kind no window verdict covers, and the kind of their cards.
_ALERT_KINDS: dict[str, Kind] = {
    ALERTNAMES["label_coverage"]: "labels",
    ALERTNAMES["label_delay"]: "labels",
    ALERTNAMES["stale_data"]: "traffic",
    ALERTNAMES["dead_letters"]: "traffic",
    ALERTNAMES["retrain_failed"]: "retraining",
}
_RULE_KINDS = {name: kind for kind, name in ALERTNAMES.items()}


@dataclass(frozen=True, slots=True)
class Link:
    """Where a signal's evidence is: a page (``common.MODEL_PATH`` or ``FEATURE_PATH``), its
    query parameters, and the link's words."""

    page: str
    params: dict[str, str]
    label: str


@dataclass(frozen=True, slots=True)
class Signal:
    """One active reason: what is wrong, by how much against which threshold, on how many
    values (``n`` says what it counts; empty where nothing is counted), since when, where the
    evidence is, and the verdict's or the alert's own words (``detail``)."""

    kind: Kind
    severity: Severity
    subject: str
    statistic: str
    value: str
    op: str
    threshold: str
    n: str
    since: datetime | None
    view: str
    link: Link
    detail: str = ""


# --- verdicts: names, sample sizes, links ---------------------------------------------------------


def n_counts(group: VerdictGroup, feature: str) -> str:
    """What a verdict's ``n`` counts: labels for a metric (scored predictions for one estimated
    before labels), non-missing values for a feature's drift, rows for everything else (the
    model-level verdict, the outputs, the rates)."""
    if group == "performance":
        return "scored predictions" if feature == ESTIMATED else "labels"
    if group == "drift" and feature != MODEL_ROW and feature not in OUTPUT_ROWS:
        return "non-missing rows"
    return "rows"


def measure(group: VerdictGroup, v: Verdict) -> tuple[str, Callable[[float | None], str]]:
    """How a verdict's statistic is called and its value and threshold written: rates (``missing
    rate``) and the model's share of drifting features in percent, drift statistics and metrics
    to three significant digits — the same on cards, in hovers and in tables."""
    if group == "quality":
        return v.statistic.replace("_", " "), percent
    if group == "drift" and v.feature == MODEL_ROW:
        return "share of features drifting", percent
    if v.feature == ESTIMATED:
        return f"estimated {v.statistic}", sig
    return v.statistic, sig


def view_label(view: str) -> str:
    """The words of a link to a view of the Model page."""
    return f"Open the {VIEWS[view].lower()} view"


def view_link(model: str, view: str, window: int) -> Link:
    """A view of the Model page at ``window``."""
    return Link(MODEL_PATH, {"model": model, "window": str(window), "view": view}, view_label(view))


def evidence(model: str, group: VerdictGroup, subject: str, window: int) -> Link:
    """Where the evidence of a verdict about ``subject`` in ``window`` is: a feature's or an
    output's on its Feature page, a metric's in the performance view, every feature's data
    quality (``subject`` empty) in the quality view, the model-level drift (``MODEL_ROW``) in
    the window itself."""
    if group == "performance":
        return view_link(model, "performance", window)
    if group == "quality" and not subject:
        return view_link(model, "quality", window)
    if subject == MODEL_ROW:
        return Link(MODEL_PATH, {"model": model, "window": str(window)}, "Open this window")
    params = {"model": model, "feature": subject, "window": str(window)}
    return Link(FEATURE_PATH, params, f"Open {feature_label(subject)}")


# --- a window's overall severity ------------------------------------------------------------------


def window_severity(ev: WindowEvaluation) -> Severity:
    """A window's severity as the daemon's health reads it: the worst of its model-level drift
    verdict (its features' verdicts when it has none), its performance (realized, else
    estimated) and its data-quality verdicts; ``"none"`` for a window without verdicts."""
    model = verdict_of(ev, MODEL_ROW)
    drift = [model] if model is not None else ev.verdicts
    performance = [*ev.performance_verdicts, *ev.estimates_in_force()]
    found = [v.severity for v in (*drift, *performance, *ev.quality_verdicts)]
    return max(found, key=SEVERITIES.index, default="none")


# --- signals --------------------------------------------------------------------------------------


def signals(
    model: str,
    ev: WindowEvaluation,
    evaluations: Sequence[WindowEvaluation],
    tz: tzinfo,
    *,
    change_points: Sequence[tuple[str, float]] = (),
    span: tuple[int, int] | None = None,
    alerts: Iterable[Alert] = (),
    counts: IngestCounts | None = None,
) -> list[Signal]:
    """Every active reason in window ``ev``, worst first: its warning and critical verdicts
    (since the start of their run of such windows among ``evaluations``); the detector's
    error-stream change points (``change_points`` as ``Query.change_points`` returns them),
    within the ``span`` health looks back over from the window's end when given as
    ``(window_seconds, change_point_span_seconds)``; and the firing ``alerts`` of kinds no
    verdict covers, with their ``n`` from ``counts`` (alerts are the model's state now: pass
    them for its current window only)."""
    earlier = [w for w in newest_per_window(evaluations) if w.window_start < ev.window_start]
    windows = [*earlier, ev]
    found = _verdict_signals(model, windows, tz)
    errors = [ts for stream, ts in change_points if stream == "error"]
    if span is not None:
        end = ev.window_start + span[0]
        errors = [ts for ts in errors if end - span[1] <= ts < end]
    confirmed = any(s.kind == "performance" for s in found)
    point = _change_point_signal(model, ev, errors, tz, confirmed=confirmed)
    found += [point] if point is not None else []
    found += [
        s
        for a in alerts
        if a.state == "firing" and (s := _alert_signal(a, windows, counts, tz)) is not None
    ]
    return sorted(found, key=lambda s: (worst_first(s.severity), list(KINDS).index(s.kind)))


def default_view(found: Sequence[Signal]) -> str:
    """The view the Model page opens on: the worst signal's (:func:`signals` sorts them)."""
    return found[0].view if found else DEFAULT_VIEW


def _verdict_signals(model: str, windows: Sequence[WindowEvaluation], tz: tzinfo) -> list[Signal]:
    """The newest window's warning and critical verdicts. A feature's or an output's drift is a
    card each; the model-level drift verdict only when it is worse than all of them (enough
    features drift together to be critical), linking to the most drifted one."""
    ev = windows[-1]
    drifting = [v for v in ev.verdicts if v.feature != MODEL_ROW and v.severity in ACTIVE]
    found: list[tuple[VerdictGroup, Verdict]] = [
        *(("drift", v) for v in drifting),
        *(("performance", v) for v in _GROUPS["performance"](ev) if v.severity in ACTIVE),
        *(("quality", v) for v in ev.quality_verdicts if v.severity in ACTIVE),
    ]
    out = [
        _verdict_signal(model, group, v, local(_run_start(windows, group, v), tz))
        for group, v in found
    ]
    whole = verdict_of(ev, MODEL_ROW)
    if whole is None or whole.severity not in ACTIVE:
        return out
    rank = SEVERITIES.index
    if all(rank(whole.severity) > rank(v.severity) for v in drifting):
        worst = max(drifting, key=_past_threshold, default=whole)
        since = local(_run_start(windows, "drift", whole), tz)
        link = evidence(model, "drift", worst.feature, ev.window_start)
        out.append(dataclasses.replace(_verdict_signal(model, "drift", whole, since), link=link))
    return out


def _run_start(windows: Sequence[WindowEvaluation], group: VerdictGroup, v: Verdict) -> int:
    """Start of the run of windows, ending with the newest, whose verdict of the same feature
    and statistic was a warning or critical: since when this signal holds."""
    since = windows[-1].window_start
    for w in reversed(windows):
        same = next(
            (x for x in _GROUPS[group](w) if (x.feature, x.statistic) == (v.feature, v.statistic)),
            None,
        )
        if same is None or same.severity not in ACTIVE:
            break
        since = w.window_start
    return since


def _verdict_signal(model: str, group: VerdictGroup, v: Verdict, since: datetime) -> Signal:
    """One warning or critical verdict as a card, the comparison pointing the way the statistic
    gets worse."""
    statistic, shown = measure(group, v)
    kind: Kind
    if group == "performance":
        kind, op = "performance", ">" if v.statistic in LOWER_IS_BETTER else "<"
        subject = (
            f"{v.statistic}, estimated before labels" if v.feature == ESTIMATED else v.statistic
        )
    elif group == "quality":
        kind, subject, op = "quality", f"{feature_label(v.feature)}: {statistic}", ">"
    else:
        kind = "prediction" if v.feature in OUTPUT_ROWS else "drift"
        subject, op = feature_label(v.feature), "≥" if v.feature == MODEL_ROW else ">"
    return Signal(
        kind,
        v.severity,
        subject,
        statistic,
        shown(v.value),
        op,
        shown(v.threshold),
        f"{v.n:,} {n_counts(group, v.feature)}",
        since,
        KIND_VIEWS[kind],
        evidence(model, group, v.feature, v.window_start),
        "; ".join(v.reasons) if v.feature == MODEL_ROW else (v.reasons[0] if v.reasons else ""),
    )


def _past_threshold(v: Verdict) -> float:
    """How many times its threshold a statistic is: the most drifted feature has the most."""
    return v.value / v.threshold if v.threshold and math.isfinite(v.threshold) else 0.0


def _change_point_signal(
    model: str, ev: WindowEvaluation, errors: Sequence[float], tz: tzinfo, *, confirmed: bool
) -> Signal | None:
    """The detector saw the error rate change (at ``errors``): a warning until a window's
    performance verdict confirms it (critical), as the daemon's health rates it."""
    if not errors:
        return None
    state = (
        "confirmed by the window's performance verdicts"
        if confirmed
        else "critical once a window's performance verdict confirms it"
    )
    return Signal(
        "change_point",
        "critical" if confirmed else "warning",
        "error rate",
        "detector change points",
        f"{len(errors):,}",
        "≥",
        "1",
        "",
        local(min(errors), tz),
        "performance",
        view_link(model, "performance", ev.window_start),
        f"the online detector saw the model's error rate change, last at "
        f"{stamp(max(errors), tz)}; {state}",
    )


def _alert_signal(
    alert: Alert, windows: Sequence[WindowEvaluation], counts: IngestCounts | None, tz: tzinfo
) -> Signal | None:
    """A firing alert of a kind no verdict covers (labels, traffic, retraining), with its value
    and threshold as its rule compared them."""
    name = alert.labels.get(ALERTNAME, "")
    kind = _ALERT_KINDS.get(name)
    severity = alert.labels.get(SEVERITY, "")
    if kind is None or severity not in ACTIVE:
        return None
    rule = _RULE_KINDS[name]
    value, threshold = (_float(alert.annotations.get(k)) for k in ("value", "threshold"))
    shown = _ALERT_UNITS.get(rule)
    if shown is None or value is None or threshold is None:
        numbers = ("", "", "")
    else:
        op = {"below": "<", "above": ">"}[THRESHOLDS[rule][0]]
        numbers = (shown(value), op, shown(threshold))
    page, params = evidence_page(alert)
    view = params.get("view", "")
    label = view_label(view) if view in VIEWS else "Open the evidence"
    since = alert.active_since if alert.active_since is not None else alert.fired_at
    return Signal(
        kind,
        severity,  # type: ignore[arg-type]  # one of ACTIVE
        *_ALERT_NAMES[rule],
        *numbers,
        _alert_n(rule, alert, windows, counts),
        local(since, tz) if since is not None else None,
        KIND_VIEWS[kind],
        Link(page, params, label),
        alert.annotations.get("description") or alert.annotations.get("summary", ""),
    )


#: Per rule kind of an alert-only signal: what it is about and what its value measures.
_ALERT_NAMES: dict[str, tuple[str, str]] = {
    "label_coverage": ("label coverage", "labelled share of settled predictions"),
    "label_delay": ("label delay", "mean label delay"),
    "stale_data": ("no traffic", "windows since the last event"),
    "dead_letters": ("dead letters", "dead-lettered share of a window's records"),
    "retrain_failed": ("retraining", "newest request failed"),
}
#: How the rules' numbers read (``monitor/alert/rules.py``: shares, hours, windows).
_ALERT_UNITS: dict[str, Callable[[float], str]] = {
    "label_coverage": percent,
    "label_delay": lambda hours: f"{sig(hours)} h",
    "stale_data": sig,
    "dead_letters": percent,
}


def _alert_n(
    rule: str, alert: Alert, windows: Sequence[WindowEvaluation], counts: IngestCounts | None
) -> str:
    """What the rule's number was computed over, where it counts something."""
    if rule == "dead_letters":
        w = next((w for w in windows if w.window_start == alert.last_window), None)
        return f"{w.n + sum(w.dead_letters.values()):,} records" if w is not None else ""
    if counts is None:
        return ""
    if rule == "label_coverage":
        return f"{counts.joined + counts.expired_predictions:,} settled predictions"
    if rule == "label_delay":
        return f"{counts.joined:,} labels"
    return ""


def _float(text: str | None) -> float | None:
    """A number from an alert annotation (absent, ``n/a`` or garbage: None)."""
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) else None
