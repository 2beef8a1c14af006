"""Retraining requests as everyone sees them: the policies open them, the outbox keeps them, the
retrainer delivers them, the CLI and the dashboard list, approve and reject them.

A request's life::

    awaiting_approval ─approve─▶ queued ─delivered─▶ delivered
            │                      │ └─retry later (same event id)─┘
            └─reject─▶ rejected    └─permanent error or attempts used up─▶ failed

A policy without approval opens requests ``queued``. The request's ``id`` is its *event id*, one
per incident (``retrain:<model>:<incident start>``), sent as ``webhook-id``, Airflow's
``dag_run_id`` and GitHub's ``client_payload.event_id`` on every attempt, so a receiver that saw
it already answers "duplicate" and a retry has no second effect.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from monitor.vocab.audit import DAEMON, AuditEvent, AuditKind

RetrainState = Literal["awaiting_approval", "queued", "delivered", "rejected", "failed"]
#: States in which a request is still in flight: at most one per model.
OPEN_STATES: frozenset[RetrainState] = frozenset({"awaiting_approval", "queued"})
#: Every state, in the order a request goes through them (tables sort by it).
STATES: tuple[RetrainState, ...] = (
    "awaiting_approval",
    "queued",
    "delivered",
    "rejected",
    "failed",
)


def event_id(model: str, incident_start: float) -> str:
    """The idempotent id of the retraining request for one incident of ``model``.

    >>> event_id("fraud", 1800000000.4)
    'retrain:fraud:1800000000'
    """
    return f"retrain:{model}:{int(incident_start)}"


def manual_event_id(model: str, now: float) -> str:
    """The id of a request a person triggered at ``now`` (``driftwatch retrain trigger``).

    >>> manual_event_id("fraud", 1800000000.4)
    'retrain:fraud:manual-1800000000'
    """
    return f"retrain:{model}:manual-{int(now)}"


class RetrainRequest(msgspec.Struct, frozen=True):
    """One retraining request (times are Unix seconds)."""

    id: str
    model: str
    #: The policy that opened it, or ``manual`` for ``driftwatch retrain trigger``.
    policy: str
    target: str
    state: RetrainState
    created_at: float
    #: Who asked: ``driftwatch`` for a policy, the person for a manual trigger.
    requested_by: str
    #: One line: why retraining was asked for (the alerts, or the person's words).
    reason: str
    #: The evidence sent to the target (``docs/schemas/retrain-payload.json``), as JSON text:
    #: the bytes signed and sent are exactly these, whatever attempt.
    payload: str
    #: Fingerprints of the alerts that made the policy fire.
    alerts: list[str] = []
    #: Labelled rows the model had when the request was opened (``min_new_labels`` counts from
    #: the last delivered request's).
    labels_at_request: int = 0
    attempts: int = 0
    #: When the next attempt is due (queued requests only).
    next_attempt_at: float = 0.0
    last_status: int | None = None
    last_error: str = ""
    #: The start of the target's answer to the last attempt, for the audit trail.
    last_response: str = ""
    delivered_at: float | None = None
    #: Approval or rejection: who, when and why.
    decided_by: str = ""
    decided_at: float | None = None
    decision_comment: str = ""

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


_WHAT: dict[str, str] = {
    "retrain_requested": "retraining requested",
    "retrain_approved": "retraining approved",
    "retrain_rejected": "retraining rejected",
    "retrain_delivered": "retraining request delivered",
    "retrain_failed": "retraining request failed",
}


def retrain_event(
    kind: AuditKind, request: RetrainRequest, ts: float, actor: str = DAEMON
) -> AuditEvent:
    """The audit trail's record of ``request`` reaching ``kind`` (``monitor/vocab/audit.py``
    lists the keys): for the daemon's steps, or a person's approval, rejection or trigger."""
    details = {
        "request_id": request.id,
        "target": request.target,
        "reason": request.reason,
        "status": request.state,
        "attempts": str(request.attempts),
    }
    if request.last_status is not None:
        details["http_status"] = str(request.last_status)
    if request.last_error:
        details["error"] = request.last_error
    if request.decision_comment:
        details["comment"] = request.decision_comment
    said = request.decision_comment or request.last_error or request.reason
    summary = f"{_WHAT[kind]} ({request.target}, {request.id})" + (f": {said}" if said else "")
    return AuditEvent(ts, kind, request.model, actor, summary, details)
