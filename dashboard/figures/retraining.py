"""Retraining requests and a model's history as people read them: what was asked, where it stands,
what the target answered, who decided; and what happened to the model, its incidents and how
fast they were detected, acknowledged and recovered from.

The Retraining page's and the model page's History tab's info objects, from
``Query.retrain_requests`` and ``Query.history``. Incidents and mean times come from
``monitor.vocab.incidents`` — the functions ``driftwatch history`` and ``/metrics`` use — so the
three always agree; durations are written the way the CLI and notifications write them.

Pure functions of stored values and ``now``, so every cell is tested without Streamlit or Redis.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dashboard.figures.common import MODEL_PATH, SEVERITY_COLORS, deep_link, local, stamp
from monitor.times import duration as human_duration
from monitor.vocab.audit import AuditEvent
from monitor.vocab.incidents import MTTR_DAYS, Incident, incidents, mean_times
from monitor.vocab.retrain import STATES, RetrainRequest, RetrainState

#: Shown where a time or a mean has no value yet (no incident ended, nobody acknowledged).
NONE = "—"
#: A state as words: the table's text label, so a state never depends on its colour alone.
STATE_LABELS: dict[str, str] = {
    "awaiting_approval": "awaiting approval",
    "queued": "queued",
    "delivered": "delivered",
    "rejected": "rejected",
    "failed": "failed",
}
#: A state's colour, borrowed from the severity scheme: amber needs a person (to approve, or to
#: look at why delivery failed), blue done, grey for a request in flight or one a person ended.
#: Never red: red means a critical verdict, and a failed delivery is not one.
STATE_COLORS: dict[str, str] = {
    "awaiting approval": SEVERITY_COLORS["warning"],
    "queued": SEVERITY_COLORS["insufficient"],
    "delivered": SEVERITY_COLORS["ok"],
    "rejected": SEVERITY_COLORS["insufficient"],
    "failed": SEVERITY_COLORS["warning"],
}
#: The audit trail's kinds as words (``monitor/vocab/audit.py``).
KIND_WORDS: dict[str, str] = {
    "reference_set": "reference set",
    "health_changed": "health changed",
    "alert_fired": "alert fired",
    "alert_resolved": "alert resolved",
    "notification_sent": "notification sent",
    "notification_failed": "notification failed",
    "silence_created": "silence created",
    "silence_expired": "silence expired",
    "retrain_requested": "retraining requested",
    "retrain_approved": "retraining approved",
    "retrain_rejected": "retraining rejected",
    "retrain_delivered": "retraining delivered",
    "retrain_failed": "retraining failed",
    "version_first_seen": "new model version",
}
#: How many of the trail's newest events the History tab lists (the CLI shows them all).
EVENTS_SHOWN = 50


# --- retraining requests --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One request's line: when, which model, where it stands and why."""

    id: str
    created: datetime
    model: str
    #: The state as words (:data:`STATE_LABELS`).
    state: str
    #: Still in flight (awaiting approval or queued): listed first.
    open: bool
    policy: str
    target: str
    requested_by: str
    attempts: int
    #: The target's answer to the last attempt: HTTP status and error, or why there is none.
    last_answer: str
    #: Who approved or rejected it, and their words.
    decision: str
    reason: str
    #: Queued requests: when the next attempt is due.
    next_attempt: datetime | None
    delivered: datetime | None
    #: The model page at the request's window, relative to the app.
    model_page: str


def state_label(state: str) -> str:
    """A state as people say it (an unknown one as stored)."""
    return STATE_LABELS.get(state, state.replace("_", " "))


def state_color(label: str) -> str:
    """The colour of a state's cell, by its label (grey for one this page does not know)."""
    return STATE_COLORS.get(label, SEVERITY_COLORS["none"])


def last_answer(request: RetrainRequest) -> str:
    """``HTTP 503: Service Unavailable``; the error alone when no answer came (a timeout)."""
    if request.attempts == 0 and request.last_status is None and not request.last_error:
        return "no attempt yet"
    status = f"HTTP {request.last_status}" if request.last_status is not None else ""
    return ": ".join(part for part in (status, request.last_error) if part) or "no answer"


def decision(request: RetrainRequest) -> str:
    """``ana: looks right`` — who approved or rejected it, and why; empty if nobody did."""
    if not request.decided_by:
        return ""
    comment = request.decision_comment
    return f"{request.decided_by}: {comment}" if comment else request.decided_by


def payload_of(request: RetrainRequest) -> Any:
    """The evidence sent, as JSON values; the stored text itself if it is not JSON."""
    try:
        return json.loads(request.payload)
    except ValueError:
        return request.payload


def model_page_params(request: RetrainRequest) -> dict[str, str]:
    """The query parameters of the model page the request's payload links to
    (``dashboard_url``: the model at the window it was judged in)."""
    params = {"model": request.model}
    sent = payload_of(request)
    url = sent.get("dashboard_url") if isinstance(sent, dict) else None
    if isinstance(url, str):
        window = dict(parse_qsl(urlsplit(url).query)).get("window")
        if window:
            params["window"] = window
    return params


def model_page(request: RetrainRequest) -> str:
    """That model page's address relative to this app, so it opens here whatever the config's
    ``link_base`` (which the payload's link starts with) says."""
    return deep_link(MODEL_PATH, model_page_params(request))


def request_rows(
    requests: Sequence[RetrainRequest],
    tz: tzinfo,
    *,
    model: str | None = None,
    states: Collection[str] | None = None,
) -> list[RequestRow]:
    """The requests of ``model`` (all if None) in ``states`` (all if None): open ones first,
    then newest first within each."""
    chosen = [
        r
        for r in requests
        if (model is None or r.model == model) and (states is None or r.state in states)
    ]
    chosen.sort(key=lambda r: (not r.open, -r.created_at, r.id))
    return [
        RequestRow(
            id=r.id,
            created=local(r.created_at, tz),
            model=r.model,
            state=state_label(r.state),
            open=r.open,
            policy=r.policy,
            target=r.target,
            requested_by=r.requested_by,
            attempts=r.attempts,
            last_answer=last_answer(r),
            decision=decision(r),
            reason=r.reason,
            next_attempt=local(r.next_attempt_at, tz)
            if r.state == "queued" and r.next_attempt_at
            else None,
            delivered=local(r.delivered_at, tz) if r.delivered_at is not None else None,
            model_page=model_page(r),
        )
        for r in chosen
    ]


def state_counts(requests: Sequence[RetrainRequest]) -> dict[RetrainState, int]:
    """How many requests are in each state, every state present (in life-cycle order)."""
    return {state: sum(r.state == state for r in requests) for state in STATES}


def request_details(request: RetrainRequest, tz: tzinfo) -> list[tuple[str, str]]:
    """The request's fields as (name, text) lines, besides its payload; empty ones left out."""
    lines = [
        ("id", request.id),
        ("model", request.model),
        ("state", state_label(request.state)),
        ("created", stamp(request.created_at, tz)),
        ("requested by", request.requested_by),
        ("policy", request.policy),
        ("target", request.target),
        ("reason", request.reason),
        ("alerts", ", ".join(request.alerts)),
        ("labelled rows at request", f"{request.labels_at_request:,}"),
        ("attempts", str(request.attempts)),
        ("last answer", last_answer(request)),
        ("target's response", request.last_response),
    ]
    if request.state == "queued" and request.next_attempt_at:
        lines.append(("next attempt", stamp(request.next_attempt_at, tz)))
    if request.delivered_at is not None:
        lines.append(("delivered", stamp(request.delivered_at, tz)))
    if request.decided_by:
        when = f" at {stamp(request.decided_at, tz)}" if request.decided_at is not None else ""
        lines.append(("decided by", f"{request.decided_by}{when}"))
        lines.append(("decision comment", request.decision_comment))
    return [(name, text) for name, text in lines if text]


def approval_hint(config_path: str, request_id: str = "ID") -> str:
    """The commands that approve or reject a request awaiting approval (the dashboard is
    read-only; a person decides from the command line and is named with ``--by``)."""
    tail = ["--config", config_path]
    approve = ["driftwatch", "retrain", "approve", request_id, "--by", "NAME", *tail]
    reject = ["driftwatch", "retrain", "reject", request_id, "--by", "NAME", "--comment", "WHY"]
    return f"{shlex.join(approve)}\n{shlex.join([*reject, *tail])}"


# --- a model's history: incidents, mean times, the trail ------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """One incident: when, which alerts, and its timings in human units."""

    started: datetime
    #: When it ended, or ``open``.
    ended: str
    alerts: str
    time_to_detect: str
    time_to_acknowledge: str
    time_to_recover: str


@dataclass(frozen=True, slots=True)
class EventRow:
    """One event of the audit trail."""

    time: datetime
    kind: str
    actor: str
    summary: str


@dataclass(frozen=True, slots=True)
class MeanTime:
    """A metric of the History tab: its label, its value as text, and what it averaged."""

    label: str
    value: str
    help: str


@dataclass(frozen=True, slots=True)
class HistoryInfo:
    """What the History tab shows of one model's trail."""

    means: list[MeanTime]
    incidents: list[IncidentRow]
    events: list[EventRow]
    #: Events kept in the trail (the tab lists only the newest :data:`EVENTS_SHOWN`).
    total_events: int


def duration(seconds: float | None) -> str:
    """A span as the CLI and notifications write it (:func:`monitor.times.duration`);
    :data:`NONE` for no span."""
    return NONE if seconds is None else human_duration(seconds)


def kind_words(kind: str) -> str:
    """An audit kind as words (an unknown one with its underscores dropped)."""
    return KIND_WORDS.get(kind, kind.replace("_", " "))


def mean_time_metrics(found: Sequence[Incident], now: float) -> list[MeanTime]:
    """MTTR over each of :data:`MTTR_DAYS`, then mean times to detect and acknowledge over the
    longest: of the incidents that *ended* in the period, as ``driftwatch history`` reports."""
    longest = max(MTTR_DAYS)
    out = []
    for days in MTTR_DAYS:
        means = mean_times(found, now, days)
        out.append(
            MeanTime(
                f"MTTR ({days} days)",
                duration(means.recover),
                f"Mean time to recover of the {means.incidents} incident(s) that ended in the "
                f"last {days} days, from the first window that showed the problem.",
            )
        )
    means = mean_times(found, now, longest)
    for label, value, what in (
        ("detect", means.detect, "until the first alert fired"),
        ("acknowledge", means.acknowledge, "until a silence or an approved retraining"),
    ):
        out.append(
            MeanTime(
                f"Mean time to {label} ({longest} days)",
                duration(value),
                f"From the first window that showed the problem {what}, over the "
                f"{means.incidents} incident(s) that ended in the last {longest} days.",
            )
        )
    return out


def incident_rows(found: Sequence[Incident], tz: tzinfo) -> list[IncidentRow]:
    """The incidents, newest first, an open one saying so."""
    return [
        IncidentRow(
            started=local(i.started, tz),
            ended="open" if i.ended is None else stamp(i.ended, tz),
            alerts=", ".join(name for name in i.alertnames if name),
            time_to_detect=duration(i.time_to_detect),
            time_to_acknowledge=duration(i.time_to_acknowledge),
            time_to_recover=duration(i.time_to_recover),
        )
        for i in sorted(found, key=lambda i: i.started, reverse=True)
    ]


def event_rows(
    events: Sequence[AuditEvent], tz: tzinfo, limit: int = EVENTS_SHOWN
) -> list[EventRow]:
    """The trail's ``limit`` newest events, newest first (ordered by when they happened)."""
    newest = sorted(events, key=lambda e: e.ts, reverse=True)[:limit]
    return [EventRow(local(e.ts, tz), kind_words(e.kind), e.actor, e.summary) for e in newest]


def history_info(events: Sequence[AuditEvent], now: float, tz: tzinfo) -> HistoryInfo:
    """A model's whole trail (``Query.history(model)``) as the History tab shows it: the
    incidents are computed from all of it, since one that ended lately may have begun long ago."""
    found = incidents(events)
    return HistoryInfo(
        means=mean_time_metrics(found, now),
        incidents=incident_rows(found, tz),
        events=event_rows(events, tz),
        total_events=len(events),
    )
