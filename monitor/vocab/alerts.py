"""Alerts as Prometheus Alertmanager sees them: an identity of labels, a state, annotations.

An alert's identity is its label set (``alertname``, ``model``, ``severity``, ``owner``, and
``feature`` where one is named); the model *version* and the evidence go in annotations, so a
redeploy or a new value does not start a new incident. The rules (``monitor/alert/rules.py``)
make them, the alert store keeps them, routing and the notification pipeline send them, and the
CLI and the dashboard list them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Literal

import msgspec

from monitor.vocab.verdicts import MODEL as MODEL_SUBJECT

#: inactive → pending (breach held for less than the rule's ``for``) → firing → resolved (the
#: breach cleared and ``keep_firing_for`` passed). Insufficient data changes no state.
AlertState = Literal["inactive", "pending", "firing", "resolved"]

#: Label names every alert carries; ``feature`` is added where the rule names one.
ALERTNAME, MODEL, SEVERITY, OWNER, FEATURE = "alertname", "model", "severity", "owner", "feature"

#: ``alertname`` of each rule kind (``[[alerting.rules]] kind``).
ALERTNAMES = {
    "feature_drift": "FeatureDrift",
    "prediction_drift": "PredictionDrift",
    "performance": "PerformanceDegraded",
    "estimated_performance": "EstimatedPerformanceDegraded",
    "data_quality": "DataQuality",
    "change_point": "ErrorRateChange",
    "label_coverage": "LabelCoverageLow",
    "label_delay": "LabelDelayHigh",
    "stale_data": "StaleData",
    "dead_letters": "DeadLetterRate",
    "retrain_failed": "RetrainingFailed",
}
#: Alerts whose ``feature`` label names a feature or an output of the model (a performance
#: alert's names a metric): their evidence is on the dashboard's Feature page.
_FEATURE_PAGE_ALERTS = frozenset(
    ALERTNAMES[k] for k in ("feature_drift", "prediction_drift", "data_quality")
)
#: The Model page's view (``?view=…``) holding the evidence of the other alerts: a metric's chart
#: (with the detector's change points on it), data quality with the dead letters, labels, and the
#: audit trail for a failed retraining. A model-wide drift alert opens the page as it is.
_MODEL_VIEWS = {
    ALERTNAMES["performance"]: "performance",
    ALERTNAMES["estimated_performance"]: "performance",
    ALERTNAMES["change_point"]: "performance",
    ALERTNAMES["data_quality"]: "quality",
    ALERTNAMES["label_coverage"]: "labels",
    ALERTNAMES["label_delay"]: "labels",
    ALERTNAMES["stale_data"]: "quality",
    ALERTNAMES["dead_letters"]: "quality",
    ALERTNAMES["retrain_failed"]: "history",
}


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable id of a label set: SHA-256 over the sorted ``name=value`` pairs, 16 hex digits
    (Alertmanager hashes the sorted labels the same way; the text form is ours).

    >>> fingerprint({"model": "m", "alertname": "FeatureDrift"}) == fingerprint(
    ...     {"alertname": "FeatureDrift", "model": "m"})
    True
    """
    text = "\x1f".join(f"{name}\x1e{labels[name]}" for name in sorted(labels))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Alert(msgspec.Struct, frozen=True):
    """One alert's state as the rules last evaluated it (times are Unix seconds)."""

    labels: dict[str, str]
    #: Evidence and context: summary, statistic, value, threshold, n, version, reference, link.
    annotations: dict[str, str]
    state: AlertState
    #: When the current breach began (pending from then on); None while inactive.
    active_since: float | None = None
    #: When it started firing; kept once resolved, so a resolve says how long it lasted.
    fired_at: float | None = None
    #: The last evaluation that saw the breach: ``keep_firing_for`` counts from it.
    last_breach: float | None = None
    #: Consecutive windows in breach (a rule's ``for_windows`` counts them) and the newest of
    #: them: re-evaluating the same window does not count twice.
    breaches: int = 0
    last_window: int | None = None
    resolved_at: float | None = None
    #: The window in which the current breach began (None for rules without windows): the
    #: audit trail's time to detect counts from its start.
    first_window: int | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)


class LogEntry(msgspec.Struct, frozen=True):
    """The notification log's entry of one (group, receiver): what it was last told, and when.

    Written only after a successful send, so a notification is sent at least once and never
    silently dropped (design §6).
    """

    firing: list[str]
    resolved: list[str]
    sent_at: float


def evidence_page(alert: Alert) -> tuple[str, dict[str, str]]:
    """The dashboard page with an alert's evidence and its query parameters (``docs/dashboard.md``,
    Deep links): the Feature page of the feature or output it names, else the Model page, opened
    on the view with the evidence — at the alert's window when it names one. Notifications, the
    dashboard's Alerts page and the Model page's cards link the same way through this one rule.

    >>> evidence_page(Alert({"alertname": "FeatureDrift", "model": "m", "feature": "x"}, {},
    ...     "firing"))
    ('feature', {'model': 'm', 'feature': 'x'})
    >>> evidence_page(Alert({"alertname": "PerformanceDegraded", "model": "m", "feature": "mae"},
    ...     {"window_start": "60"}, "firing"))
    ('model', {'model': 'm', 'view': 'performance', 'window': '60'})
    """
    params = {"model": alert.labels.get(MODEL, "")}
    feature = alert.labels.get(FEATURE, "")
    name = alert.labels.get(ALERTNAME, "")
    page = "model"
    if name in _FEATURE_PAGE_ALERTS and feature not in ("", MODEL_SUBJECT):
        page, params["feature"] = "feature", feature
    elif name in _MODEL_VIEWS:
        params["view"] = _MODEL_VIEWS[name]
    window = alert.annotations.get("window_start")
    if window:
        params["window"] = window
    return page, params
