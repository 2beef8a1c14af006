"""Alerts as the person on call reads them: what fires or waits, what ended, who was told what,
and what is muted.

The Alerts page's info objects (``dashboard/app_pages/alerts.py``), from ``Query.alerts``,
``Query.silences`` and ``Query.notification_log``: one row per alert with the evidence its rule
recorded and a deep link to the page showing it, one per silence with the alerts it mutes now, one
per group a receiver was last notified of. The page is tables of facts: the charts explaining an
alert are on the model and feature pages its link opens.

Pure functions of stored values and ``now``, so every cell is tested without Streamlit or Redis.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from dashboard.figures.common import (
    SEVERITY_COLORS,
    deep_link,
    feature_label,
    local,
)
from monitor.vocab.alerts import (
    ALERTNAME,
    FEATURE,
    MODEL,
    OWNER,
    SEVERITY,
    Alert,
    AlertState,
    LogEntry,
    evidence_page,
)
from monitor.vocab.matchers import Matcher
from monitor.vocab.silences import Silence, SilenceState

#: Table order: what needs a person first (the CLI's ``alerts list`` order).
STATE_ORDER: tuple[AlertState, ...] = ("firing", "pending", "resolved")
SEVERITY_ORDER = ("critical", "warning")
SILENCE_ORDER: tuple[SilenceState, ...] = ("active", "pending", "expired")
#: How long a silence made on the dashboard lasts, written as ``silence add --duration`` reads it.
SILENCE_DURATIONS: dict[str, float] = {
    "30m": 1800.0,
    "1h": 3600.0,
    "2h": 7200.0,
    "4h": 14_400.0,
    "8h": 28_800.0,
    "1d": 86_400.0,
    "3d": 259_200.0,
    "7d": 604_800.0,
}
DEFAULT_SILENCE_DURATION = "2h"


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One alert's line: its identity, the evidence its rule recorded, where to see more."""

    state: AlertState
    severity: str
    alertname: str
    model: str
    feature: str
    owner: str
    #: Firing: since it fired; pending: since the breach began; resolved: when it had fired.
    since: datetime | None
    summary: str
    statistic: str
    #: The rule's numbers (stored as text; None where the rule had none or it was undefined).
    value: float | None
    threshold: float | None
    n: int | None
    #: Muted by an active silence: it fires, but receivers are not told.
    silenced: bool
    resolved: datetime | None
    lasted_hours: float | None
    #: The page showing the evidence, relative to the app (``feature?model=…``).
    evidence: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class SilenceRow:
    """One silence's line, with how many current (firing or pending) alerts it mutes now."""

    id: str
    state: SilenceState
    matchers: str
    starts: datetime
    ends: datetime
    created_by: str
    comment: str
    mutes: int


@dataclass(frozen=True, slots=True)
class NotificationRow:
    """What a receiver was last told about one alert group, and when (the notification log
    holds only deliveries that succeeded)."""

    group: str
    status: str
    firing: int
    resolved: int
    #: The alerts of the notification by name, as far as they are still stored.
    alerts: str
    sent_at: datetime


def severity_color(severity: str) -> str:
    """An alert severity's colour: the hue of a verdict of that severity on every chart."""
    return SEVERITY_COLORS.get(severity, SEVERITY_COLORS["none"])


def evidence_link(alert: Alert) -> str:
    """The page with the alert's evidence, chosen as notifications choose it
    (:func:`monitor.vocab.alerts.evidence_page`), relative to the app."""
    page, params = evidence_page(alert)
    return deep_link(page, params)


def alert_rows(
    alerts: Mapping[str, Mapping[str, Alert]],
    silences: Sequence[Silence],
    now: float,
    tz: tzinfo,
) -> list[AlertRow]:
    """Every stored alert (``alerts``: by model, then fingerprint), firing first, critical before
    warning, newest first; ``silenced`` as of ``now``."""
    every = [a for found in alerts.values() for a in found.values() if a.state in STATE_ORDER]
    every.sort(key=lambda a: (STATE_ORDER.index(a.state), _severity_rank(a), -(_since(a) or 0.0)))
    rows = []
    for a in every:
        labels, notes = a.labels, a.annotations
        since = _since(a)
        ended = a.resolved_at
        rows.append(
            AlertRow(
                state=a.state,
                severity=labels.get(SEVERITY, ""),
                alertname=labels.get(ALERTNAME, ""),
                model=labels.get(MODEL, ""),
                feature=feature_label(labels.get(FEATURE, "")),
                owner=labels.get(OWNER, ""),
                since=local(since, tz) if since is not None else None,
                summary=notes.get("summary", ""),
                statistic=notes.get("statistic", ""),
                value=_number(notes.get("value")),
                threshold=_number(notes.get("threshold")),
                n=int(notes["n"]) if notes.get("n", "").isdigit() else None,
                silenced=any(s.silences(labels, now) for s in silences),
                resolved=local(ended, tz) if ended is not None else None,
                lasted_hours=(ended - since) / 3600
                if ended is not None and since is not None
                else None,
                evidence=evidence_link(a),
                fingerprint=a.fingerprint,
            )
        )
    return rows


def silence_rows(
    silences: Sequence[Silence],
    alerts: Mapping[str, Mapping[str, Alert]],
    now: float,
    tz: tzinfo,
) -> list[SilenceRow]:
    """The silences, active first, then pending, then expired, each with the firing or pending
    alerts it mutes at ``now`` (what expiring it would let through)."""
    current = [
        a.labels for found in alerts.values() for a in found.values() if a.state in STATE_ORDER[:2]
    ]
    ordered = sorted(silences, key=lambda s: SILENCE_ORDER.index(s.state(now)))
    return [
        SilenceRow(
            id=s.id,
            state=s.state(now),
            matchers=", ".join(s.matchers),
            starts=local(s.starts_at, tz),
            ends=local(s.ends_at, tz),
            created_by=s.created_by,
            comment=s.comment,
            mutes=sum(s.silences(labels, now) for labels in current),
        )
        for s in ordered
    ]


def notification_rows(
    log: Mapping[str, LogEntry], alerts: Mapping[str, Mapping[str, Alert]], tz: tzinfo
) -> list[NotificationRow]:
    """One receiver's log (group key → entry), newest first; fingerprints are named by the alerts
    still stored (resolved ones are kept a day)."""
    names = {fp: _name(a) for found in alerts.values() for fp, a in found.items()}

    def named(fingerprints: Sequence[str]) -> str:
        return ", ".join(names.get(fp, f"{fp} (no longer stored)") for fp in fingerprints)

    rows = [
        NotificationRow(
            group=key,
            status="firing" if entry.firing else "resolved",
            firing=len(entry.firing),
            resolved=len(entry.resolved),
            alerts="; ".join(
                f"{word}: {named(fps)}"
                for word, fps in (("firing", entry.firing), ("resolved", entry.resolved))
                if fps
            ),
            sent_at=local(entry.sent_at, tz),
        )
        for key, entry in log.items()
    ]
    return sorted(rows, key=lambda r: r.sent_at, reverse=True)


def matchers_for(alert: Alert) -> list[str]:
    """Matchers selecting exactly this alert (all its labels), as a silence starts from them."""
    return [str(Matcher(name, "=", value)) for name, value in sorted(alert.labels.items())]


def cli_hint(config_path: str, matchers: Sequence[str]) -> str:
    """The commands that silence (with ``matchers``) and end a silence where the dashboard is
    read-only, ready to paste into a shell."""
    add = ["driftwatch", "silence", "add", "--config", config_path]
    for text in matchers:
        add += ["--matcher", text]
    add += ["--duration", DEFAULT_SILENCE_DURATION, "--author", "you@example.com"]
    add += ["--comment", "why: the incident, the ticket, the plan"]
    expire = ["driftwatch", "silence", "expire", "--config", config_path]
    return f"{shlex.join(add)}\n{shlex.join(expire)} ID"


def _since(alert: Alert) -> float | None:
    """Since it fired; a pending alert has not, so since its breach began."""
    return alert.fired_at if alert.fired_at is not None else alert.active_since


def _severity_rank(alert: Alert) -> int:
    severity = alert.labels.get(SEVERITY, "")
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def _number(text: str | None) -> float | None:
    """A stored number; rules write ``n/a`` where a statistic was undefined."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value else None  # NaN is no value


def _name(alert: Alert) -> str:
    """``fraud-detector FeatureDrift amount``: model, alertname and feature, as people say it."""
    labels = alert.labels
    parts = (
        labels.get(MODEL, ""),
        labels.get(ALERTNAME, ""),
        feature_label(labels.get(FEATURE, "")),
    )
    return " ".join(p for p in parts if p)
