"""``driftwatch retrain list|show|approve|reject|trigger``: the retraining requests and the
people's part in them.

Policies open requests by themselves (``docs/retraining.md``); people approve or reject those a
policy holds for approval, and trigger one by hand. Every decision names who made it and why,
and goes to the model's audit trail (``driftwatch history``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor import config as config_module
from monitor.cli.common import config_option, friendly_errors, open_query, require_model
from monitor.errors import DriftwatchError

if TYPE_CHECKING:
    from monitor.config import Settings
    from monitor.store.query import Query
    from monitor.vocab.retrain import RetrainRequest


@click.group("retrain", short_help="List, approve, reject and trigger retraining.")
def retrain_group() -> None:
    """Retraining requests: list, inspect, approve, reject, trigger (docs/retraining.md)."""


@retrain_group.command("list", short_help="List retraining requests, newest first.")
@config_option
@click.option("--model", "model_name", help="Only this model's requests.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(
        ["awaiting_approval", "queued", "delivered", "rejected", "failed"], case_sensitive=False
    ),
    help="Only requests in this state (repeatable); failed ones are the dead-letter list.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly_errors
def retrain_list(
    config_path: Path, model_name: str | None, states: tuple[str, ...], as_json: bool
) -> None:
    """List retraining requests, newest first."""
    settings = config_module.load(config_path, secrets=config_module.REDIS_ONLY)
    if model_name is not None:
        require_model(settings, model_name)
    requests = open_query(settings).retrain_requests(model_name)
    found = [r for r in requests if not states or r.state in states]
    if as_json:
        click.echo(json.dumps([_document(r, payload=False) for r in found], indent=2))
        return
    if not found:
        click.echo("no retraining request" + (f" of {model_name}" if model_name else ""))
        return
    from monitor.alert.message import utc

    click.echo(f"{'created':<20} {'model':<16} {'state':<18} {'tries':>5}  id: reason")
    for r in found:
        click.echo(
            f"{utc(r.created_at):<20} {r.model:<16} {r.state:<18} {r.attempts:>5}  "
            f"{r.id}: {r.reason}"
        )


@retrain_group.command("show", short_help="Show one retraining request in full.")
@config_option
@click.argument("request_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly_errors
def retrain_show(config_path: Path, request_id: str, as_json: bool) -> None:
    """Show one request: its state, attempts, the target's last answer and the payload sent."""
    settings = config_module.load(config_path, secrets=config_module.REDIS_ONLY)
    r = _find(open_query(settings), request_id)
    document = _document(r, payload=True)
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    for name, value in document.items():
        if name != "payload" and value not in (None, "", []):
            click.echo(f"{name:<18} {value}")
    click.echo("payload:")
    click.echo(json.dumps(document["payload"], indent=2))


@retrain_group.command("approve", short_help="Approve a request awaiting approval.")
@config_option
@click.argument("request_id", metavar="ID")
@click.option("--by", "who", required=True, help="Who approves (kept with the request).")
@click.option("--comment", default="", help="Why, or the ticket.")
@friendly_errors
def retrain_approve(config_path: Path, request_id: str, who: str, comment: str) -> None:
    """Approve a request awaiting approval: it is sent on the evaluator's next round."""
    _decide(config_path, request_id, who, comment, approve=True)


@retrain_group.command("reject", short_help="Reject a request awaiting approval.")
@config_option
@click.argument("request_id", metavar="ID")
@click.option("--by", "who", required=True, help="Who rejects (kept with the request).")
@click.option("--comment", required=True, help="Why it should not run.")
@friendly_errors
def retrain_reject(config_path: Path, request_id: str, who: str, comment: str) -> None:
    """Reject a request awaiting approval: nothing is sent, and the same incident asks no more."""
    _decide(config_path, request_id, who, comment, approve=False)


@retrain_group.command("trigger", short_help="Request retraining of a model now.")
@config_option
@click.option("--model", "model_name", required=True, help="The model to retrain.")
@click.option("--by", "who", required=True, help="Who asks (kept with the request).")
@click.option("--reason", required=True, help="Why retrain now.")
@click.option("--target", default=None, help="The target [default: the model's policy's].")
@friendly_errors
def retrain_trigger(
    config_path: Path, model_name: str, who: str, reason: str, target: str | None
) -> None:
    """Ask for retraining now, whatever the policies say (one request in flight per model
    still holds); it is sent on the evaluator's next round, with the current evidence."""
    from monitor.retrain import payload
    from monitor.store.retrain import Change
    from monitor.vocab.retrain import RetrainRequest, manual_event_id

    settings = config_module.load(config_path, secrets=config_module.REDIS_ONLY)
    model = require_model(settings, model_name)
    chosen = _target(settings, model_name, target)
    query = open_query(settings)
    now = time.time()
    (row,) = query.status([model_name])
    firing = [a for a in query.alerts([model_name])[model_name].values() if a.state == "firing"]
    request_id = manual_event_id(model_name, now)
    document = payload.build(
        request_id=request_id,
        model=model,
        alerts=firing,
        evaluation=row.latest,
        window_seconds=settings.windows.size_seconds,
        reason=reason,
        requested_by=who,
        policy="manual",
        link_base=settings.dashboard.link_base,
        now=now,
    )
    request = RetrainRequest(
        id=request_id,
        model=model_name,
        policy="manual",
        target=chosen,
        state="queued",
        created_at=now,
        requested_by=who,
        reason=reason,
        payload=json.dumps(document),
        alerts=[a.fingerprint for a in firing],
        labels_at_request=row.counts.joined,
        next_attempt_at=now,
    )
    if query.retrain_store().open(request) is not Change.DONE:
        busy = next((r.id for r in query.retrain_requests(model_name) if r.open), "?")
        raise DriftwatchError(
            f"{model_name} has a retraining request in flight ({busy}): approve, reject or let "
            "it finish first (driftwatch retrain show " + busy + ")"
        )
    _file(query, "retrain_requested", request, now, who)
    click.echo(f"{request_id}: queued for {chosen}")
    if not settings.retraining.enabled:
        click.echo("note: retraining.enabled is false, so no daemon will send it until it is on")


def _decide(config_path: Path, request_id: str, who: str, comment: str, *, approve: bool) -> None:
    """Approve or reject, once: a request someone else decided meanwhile is reported as is."""
    import msgspec

    from monitor.store.retrain import Change

    settings = config_module.load(config_path, secrets=config_module.REDIS_ONLY)
    if not who.strip():
        raise DriftwatchError("--by must name who decides")
    query = open_query(settings)
    request = _find(query, request_id)
    if request.state != "awaiting_approval":
        raise DriftwatchError(
            f"{request_id} is {request.state}, not awaiting approval: nothing to decide"
        )
    now = time.time()
    decided = msgspec.structs.replace(
        request,
        state="queued" if approve else "rejected",
        decided_by=who.strip(),
        decided_at=now,
        decision_comment=comment.strip(),
        next_attempt_at=now,
    )
    if query.retrain_store().change(request, decided) is not Change.DONE:
        now_state = _find(query, request_id).state
        raise DriftwatchError(f"{request_id} changed meanwhile (now {now_state}): look again")
    kind = "retrain_approved" if approve else "retrain_rejected"
    _file(query, kind, decided, now, who.strip())
    click.echo(f"{request_id}: {'approved; queued' if approve else 'rejected'}")


def _file(query: Query, kind: Any, request: RetrainRequest, now: float, who: str) -> None:
    from monitor.vocab.retrain import retrain_event

    query.audit_log().append(retrain_event(kind, request, now, who))


def _target(settings: Settings, model: str, named: str | None) -> str:
    """The target a manual request goes to: the one named, else the first policy's that
    applies to the model, else the only target."""
    targets = [t.name for t in settings.retraining.targets]
    if named is not None:
        if named not in targets:
            raise DriftwatchError(
                f"no retraining target named {named!r}: use one of {', '.join(targets) or '(none)'}"
            )
        return named
    for policy in settings.retraining.policies:
        if not policy.models or model in policy.models:
            return policy.target
    if len(targets) == 1:
        return targets[0]
    raise DriftwatchError(
        "name the target with --target: "
        + (", ".join(targets) if targets else "none is configured in [[retraining.targets]]")
    )


def _find(query: Query, request_id: str) -> RetrainRequest:
    found = next((r for r in query.retrain_requests() if r.id == request_id), None)
    if found is None:
        raise DriftwatchError(f"no retraining request {request_id!r}: driftwatch retrain list")
    return found


def _document(r: RetrainRequest, *, payload: bool) -> dict[str, Any]:
    """A request for people and scripts: times as ISO 8601 UTC, the payload as JSON."""
    from monitor.times import iso_utc

    def when(ts: float | None) -> str | None:
        return None if ts is None else iso_utc(ts)

    document: dict[str, Any] = {
        "id": r.id,
        "model": r.model,
        "state": r.state,
        "policy": r.policy,
        "target": r.target,
        "created_at": when(r.created_at),
        "requested_by": r.requested_by,
        "reason": r.reason,
        "attempts": r.attempts,
        "next_attempt_at": when(r.next_attempt_at) if r.state == "queued" else None,
        "last_status": r.last_status,
        "last_error": r.last_error,
        "last_response": r.last_response,
        "delivered_at": when(r.delivered_at),
        "decided_by": r.decided_by,
        "decided_at": when(r.decided_at),
        "decision_comment": r.decision_comment,
    }
    if payload:
        document["payload"] = json.loads(r.payload)
    return document
