"""The evidence a retraining request carries (``docs/schemas/retrain-payload.json``).

An orchestrator (or the person reading its run) should not need Driftwatch to know why it was
asked to retrain: the payload names the model and version, the alerts, the drifted features with
their statistics, the metrics against the reference with their sample sizes, the window they were
judged in, the reference, and a link to the dashboard page with the rest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from monitor.config import ModelSettings
from monitor.times import iso_utc as iso
from monitor.vocab.alerts import FEATURE, SEVERITY, Alert
from monitor.vocab.verdicts import MODEL, Verdict, WindowEvaluation

#: Bumped when a field changes meaning or goes; new fields are added without a bump.
SCHEMA_VERSION = 1


def build(
    *,
    request_id: str,
    model: ModelSettings,
    alerts: Sequence[Alert],
    evaluation: WindowEvaluation | None,
    window_seconds: int,
    reason: str,
    requested_by: str,
    policy: str,
    link_base: str,
    now: float,
) -> dict[str, Any]:
    """The payload of one request: plain JSON types only (it is signed as sent)."""
    version = evaluation.version if evaluation is not None else _annotation(alerts, "version")
    reference = evaluation.reference if evaluation is not None else _annotation(alerts, "reference")
    link = {"model": model.name}
    if evaluation is not None:
        link["window"] = str(evaluation.window_start)
    return {
        "schema_version": SCHEMA_VERSION,
        "event_id": request_id,
        "model": model.name,
        "version": version,
        "task": model.task,
        "owner": model.owner,
        "policy": policy,
        "reason": reason,
        "requested_by": requested_by,
        "requested_at": iso(now),
        "reference": reference,
        "alerts": [_alert(a) for a in alerts],
        "window": _window(evaluation, window_seconds),
        "drifted_features": _drifted(evaluation),
        "performance": _performance(evaluation),
        "dashboard_url": f"{link_base.rstrip('/')}/model?{urlencode(link)}",
    }


def _annotation(alerts: Sequence[Alert], name: str) -> str:
    return next((a.annotations[name] for a in alerts if a.annotations.get(name)), "")


def _alert(a: Alert) -> dict[str, Any]:
    notes = a.annotations
    return {
        "alertname": a.labels.get("alertname", ""),
        "severity": a.labels.get(SEVERITY, ""),
        "feature": a.labels.get(FEATURE, ""),
        "summary": notes.get("summary", ""),
        "value": notes.get("value", ""),
        "threshold": notes.get("threshold", ""),
        "n": notes.get("n", ""),
        "fired_at": iso(a.fired_at) if a.fired_at is not None else None,
    }


def _window(ev: WindowEvaluation | None, size: int) -> dict[str, Any] | None:
    if ev is None:
        return None
    return {
        "start": iso(ev.window_start),
        "end": iso(ev.window_start + size),
        "rows": ev.n,
        "labelled_rows": ev.n_labelled,
    }


def _number(x: float | None) -> float | None:
    """JSON has no NaN: a value that could not be computed is null."""
    return None if x is None or not math.isfinite(x) else x


def _drifted(ev: WindowEvaluation | None) -> list[dict[str, Any]]:
    """Features and outputs whose drift verdict is a warning or critical, worst first."""
    if ev is None:
        return []
    found = [v for v in ev.verdicts if v.feature != MODEL and v.severity in _BAD]
    found.sort(key=lambda v: (_BAD.index(v.severity), -(_number(v.value) or 0.0)))
    return [_verdict(v, feature=v.feature) for v in found]


def _performance(ev: WindowEvaluation | None) -> list[dict[str, Any]]:
    """Every judged metric against the reference, with the labelled rows behind it."""
    if ev is None:
        return []
    rows = []
    for v in ev.performance_verdicts:
        value = _number(v.value)
        reference = _number(ev.reference_performance.get(v.statistic))
        delta = None if value is None or reference is None else value - reference
        rows.append(
            {**_verdict(v, metric=v.statistic), "reference": reference, "delta": _number(delta)}
        )
    return rows


def _verdict(v: Verdict, **name: str) -> dict[str, Any]:
    return {
        **name,
        "statistic": v.statistic,
        "value": _number(v.value),
        "threshold": _number(v.threshold),
        "p_value": _number(v.p_value),
        "n": v.n,
        "severity": v.severity,
    }


_BAD = ("critical", "warning")
