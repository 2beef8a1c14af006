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

#: inactive → pending (breach held for less than the rule's ``for``) → firing → resolved (the
#: breach cleared and ``keep_firing_for`` passed). Insufficient data changes no state.
AlertState = Literal["inactive", "pending", "firing", "resolved"]

#: Label names every alert carries; ``feature`` is added where the rule names one.
ALERTNAME, MODEL, SEVERITY, OWNER, FEATURE = "alertname", "model", "severity", "owner", "feature"


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
