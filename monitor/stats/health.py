"""A model's health: the worst signal of its newest judged window, with the reasons spelled out.

An on-call engineer sees *why* in one line: model drift, each degraded performance metric and
data-quality rate of the newest window with enough rows (``stats/evaluation.py`` judged them),
and recent change points of the online error detector. "Since when" carries over a run of
unhealthy windows longer than the few read each time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from monitor.config import ModelSettings
from monitor.vocab.verdicts import MODEL, Health, HealthStatus, WindowEvaluation


def health(
    model: ModelSettings,
    evaluations: Sequence[WindowEvaluation],
    now: float,
    change_points: Sequence[tuple[str, float]] = (),
    previous: Health | None = None,
) -> Health:
    """The model's status from its newest window that had enough data for a verdict, and from
    recent change points of its online detectors (``(stream, event time)``, already limited to
    ``performance.change_point_span_seconds``): a change on the error stream warns until a
    window's performance verdict confirms it (critical).

    ``evaluations`` are the newest few; ``previous`` (the health stored before) carries "since
    when" over a run of unhealthy windows longer than them.
    """
    judged = _judged(evaluations)
    status: HealthStatus = "INSUFFICIENT DATA"
    reasons: list[str] = []
    window_start = None
    degraded = False
    if judged:
        ev = judged[0]
        window_start = ev.window_start
        status, reasons = _window_signals(ev)
        degraded = any(v.status == "degraded" for v in ev.performance_verdicts)
    since: float | None = _unhealthy_since(judged)
    carried = _unhealthy_since_before(previous)
    if since is not None and since == judged[-1].window_start and carried is not None:
        since = min(since, carried)
    errors = sorted(ts for stream, ts in change_points if stream == "error")
    if errors:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(errors[-1]))
        confirmed = "; confirmed by the windowed performance" if degraded else ""
        reasons.append(
            f"the online detector saw the error rate change at {when} "
            f"({len(errors)} change point(s) in the last span){confirmed}"
        )
        status = _worse(status, "CRITICAL" if degraded else "WARN")
        since = errors[0] if since is None else min(since, errors[0])
    if status == "INSUFFICIENT DATA":
        reasons = [_why_insufficient(evaluations)]
    return Health(model.name, status, reasons, window_start, now, since)


def _judged(evaluations: Sequence[WindowEvaluation]) -> list[WindowEvaluation]:
    """Windows with a drift verdict (enough rows), newest first."""
    out = []
    for ev in sorted(evaluations, key=lambda e: e.window_start, reverse=True):
        drift = [v for v in ev.verdicts if v.feature == MODEL]
        if drift and drift[0].status != "insufficient":
            out.append(ev)
    return out


def _window_signals(ev: WindowEvaluation) -> tuple[HealthStatus, list[str]]:
    """One judged window's worst signal — model drift, each degraded performance metric (realized,
    else estimated from the scores) and data-quality rate — and the reasons."""
    drift = next(v for v in ev.verdicts if v.feature == MODEL)
    reasons = list(drift.reasons)
    status = _SEVERITY_STATUS.get(drift.severity, "OK")
    for v in ev.performance_verdicts:
        if v.status == "degraded":
            reasons.append(v.reasons[0] if v.reasons else v.statistic)
            status = _worse(status, _SEVERITY_STATUS[v.severity])
    for v in ev.estimates_in_force():
        if v.status == "degraded":
            reasons.append(v.reasons[0] if v.reasons else f"estimated {v.statistic}")
            status = _worse(status, _SEVERITY_STATUS[v.severity])
    for v in ev.quality_verdicts:
        if v.status == "degraded":
            reasons.append(v.reasons[0] if v.reasons else f"{v.feature}: {v.statistic}")
            status = _worse(status, _SEVERITY_STATUS[v.severity])
    return status, reasons


def _unhealthy_since(judged: Sequence[WindowEvaluation]) -> int | None:
    """Start of the current run of unhealthy windows (``judged`` newest first)."""
    since = None
    for ev in judged:
        if _window_signals(ev)[0] not in ("WARN", "CRITICAL"):
            break
        since = ev.window_start
    return since


def _unhealthy_since_before(h: Health | None) -> float | None:
    """When the stored health's run of unhealthy windows began (None: it was healthy)."""
    return h.since if h is not None and h.status in ("WARN", "CRITICAL") else None


def _why_insufficient(evaluations: Sequence[WindowEvaluation]) -> str:
    """No reference, too few rows, or no traffic: each needs a different fix."""
    if not evaluations:
        return "no window evaluated yet: no traffic for this model"
    newest = max(evaluations, key=lambda e: e.window_start)
    if not newest.reference:
        return "no reference set: run `driftwatch baseline set` for this model"
    model_verdict = next((v for v in newest.verdicts if v.feature == MODEL), None)
    detail = model_verdict.reasons[0] if model_verdict and model_verdict.reasons else ""
    return f"no window has enough rows yet ({detail})" if detail else "no window has enough rows"


_SEVERITY_STATUS: dict[str, HealthStatus] = {
    "critical": "CRITICAL",
    "warning": "WARN",
    "ok": "OK",
    "insufficient": "OK",
}
_ORDER: dict[HealthStatus, int] = {"INSUFFICIENT DATA": 0, "OK": 1, "WARN": 2, "CRITICAL": 3}


def _worse(a: HealthStatus, b: HealthStatus) -> HealthStatus:
    return a if _ORDER[a] >= _ORDER[b] else b
