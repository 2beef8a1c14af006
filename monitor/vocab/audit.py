"""The audit trail's words: what happened to a model, when, who did it, and the details of each.

Every model keeps an append-only trail of :class:`AuditEvent` (``monitor/store/audit.py``), read
by ``driftwatch history``, the dashboard and the incident timings (``monitor/vocab/incidents.py``).
An event is one human line (``summary``) plus ``details``: strings only, so every reader can show
them as they are. The keys of each kind (times are Unix seconds; a key whose value is unknown is
left out; a list is one item per line — matchers and labels escape their own newlines):

- ``reference_set``: ``version``, ``source`` (the file, or the stream range ``start..end`` in
  Unix seconds), ``rows``;
- ``health_changed``: ``from`` (empty the first time), ``to``, ``reasons`` (one per line);
- ``alert_fired``: ``fingerprint``, ``alertname``, ``severity``, ``feature`` (when the alert
  names one), ``labels`` (the whole label set, one ``name="value"`` per line, so a silence can
  be matched against it later), ``problem_since`` (start of the first window that showed the
  problem);
- ``alert_resolved``: ``fingerprint``, ``alertname``, ``lasted_seconds`` (since it fired);
- ``notification_sent``: ``receiver``, ``group_key``; ``notification_failed``: the same and
  ``error``;
- ``silence_created``, ``silence_expired``: ``silence_id``, ``matchers`` (one per line, as the
  silence keeps them), ``ends_at``;
- ``retrain_requested``, ``retrain_approved``, ``retrain_rejected``, ``retrain_delivered``,
  ``retrain_failed``: ``request_id``, ``target`` (the webhook), ``reason``, ``status`` (the
  request's state), ``attempts``, and when known ``http_status``, ``error`` (the last attempt's)
  and ``comment`` (the approver's or rejecter's);
- ``version_first_seen``: ``version``.

The incident timings read the details of ``alert_fired``, ``alert_resolved`` and
``silence_created``, so those have constructors here that write them exactly as
:func:`labels_of` and :func:`matchers_of` read them back; every other kind is a plain
``AuditEvent(...)`` with the keys above.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import msgspec

from monitor.vocab.alerts import ALERTNAME, FEATURE, MODEL, SEVERITY, Alert
from monitor.vocab.matchers import Matcher, matches_all
from monitor.vocab.silences import Silence
from monitor.vocab.verdicts import Health

AuditKind = Literal[
    "reference_set",
    "health_changed",
    "alert_fired",
    "alert_resolved",
    "notification_sent",
    "notification_failed",
    "silence_created",
    "silence_expired",
    "retrain_requested",
    "retrain_approved",
    "retrain_rejected",
    "retrain_delivered",
    "retrain_failed",
    "version_first_seen",
]

#: The actor of what the daemon does by itself (people are named by what they typed).
DAEMON = "driftwatch"


class AuditEvent(msgspec.Struct, frozen=True, omit_defaults=True):
    """One thing that happened to a model. ``id`` is the trail's entry id, filled when read
    (never stored: the store gives it), so a reader can point at one event."""

    #: When it happened (Unix seconds); the trail is ordered and trimmed by it.
    ts: float
    kind: AuditKind
    model: str
    #: Who: a person's name for what people do (CLI, dashboard), :data:`DAEMON` otherwise.
    actor: str
    summary: str
    details: dict[str, str]
    id: str = ""


def alert_fired(alert: Alert, ts: float, problem_since: float | None) -> AuditEvent:
    """``alert`` started firing at ``ts``; the problem showed first in the window starting at
    ``problem_since``. The labels go in whole, so a later silence can be matched against them."""
    labels = alert.labels
    details = {
        "fingerprint": alert.fingerprint,
        "alertname": labels.get(ALERTNAME, ""),
        "severity": labels.get(SEVERITY, ""),
        "labels": "\n".join(str(Matcher(name, "=", labels[name])) for name in sorted(labels)),
    }
    if labels.get(FEATURE):
        details["feature"] = labels[FEATURE]
    if problem_since is not None:
        details["problem_since"] = repr(problem_since)
    said = alert.annotations.get("summary") or labels.get(FEATURE, "")
    summary = f"{details['alertname']} firing" + (f": {said}" if said else "")
    return AuditEvent(ts, "alert_fired", labels.get(MODEL, ""), DAEMON, summary, details)


def alert_resolved(alert: Alert, ts: float) -> AuditEvent:
    """``alert`` resolved at ``ts`` (``lasted_seconds`` is left out if it never fired)."""
    name = alert.labels.get(ALERTNAME, "")
    details = {"fingerprint": alert.fingerprint, "alertname": name}
    if alert.fired_at is not None:
        details["lasted_seconds"] = repr(max(0.0, ts - alert.fired_at))
    feature = alert.labels.get(FEATURE)
    summary = f"{name} resolved" + (f": {feature}" if feature else "")
    return AuditEvent(ts, "alert_resolved", alert.labels.get(MODEL, ""), DAEMON, summary, details)


def alert_event(before: Alert | None, after: Alert) -> AuditEvent | None:
    """The trail's record of an alert's state change, if it is one the trail keeps: it started
    firing (dated by ``fired_at``; the problem showed first in its ``first_window``, else when
    the breach began) or it resolved (dated by ``resolved_at``)."""
    was = before.state if before is not None else "inactive"
    if after.state == "firing" and was != "firing" and after.fired_at is not None:
        since = after.first_window if after.first_window is not None else after.active_since
        return alert_fired(after, after.fired_at, since)
    if after.state == "resolved" and was == "firing" and after.resolved_at is not None:
        return alert_resolved(after, after.resolved_at)
    return None


def health_changed(previous: Health | None, now: Health, ts: float) -> AuditEvent:
    """A model's health went from ``previous`` (None: never judged) to ``now``."""
    before = previous.status if previous is not None else ""
    details = {"from": before, "to": now.status, "reasons": "\n".join(now.reasons)}
    why = f": {now.reasons[0]}" if now.reasons else ""
    summary = f"health {before or 'new'} → {now.status}{why}"
    return AuditEvent(ts, "health_changed", now.model, DAEMON, summary, details)


def silence_created(silence: Silence, model: str) -> AuditEvent:
    """``silence`` was created (at its start, by its author), for ``model``'s trail: one event
    per model it concerns (:func:`concerned_models`)."""
    return _silence_event("silence_created", silence, model, silence.starts_at, silence.created_by)


def silence_expired(silence: Silence, model: str, ts: float, actor: str) -> AuditEvent:
    """``actor`` ended ``silence`` at ``ts`` (before its planned end)."""
    return _silence_event("silence_expired", silence, model, ts, actor)


def concerned_models(silence: Silence, models: Iterable[str]) -> list[str]:
    """The models whose alerts ``silence`` may mute: those its ``model`` matchers accept (all
    of them if it has none). Its trail event goes to each of them."""
    on_model = [m for m in (Matcher.parse(text) for text in silence.matchers) if m.name == MODEL]
    return [name for name in models if matches_all(on_model, {MODEL: name})]


def labels_of(event: AuditEvent) -> dict[str, str]:
    """The label set an ``alert_fired`` event carries (empty if it carries none): written as
    the equality matchers that select exactly it, it reads back with the matchers' parser."""
    return {m.name: m.value for m in _matchers(event.details.get("labels", ""))}


def matchers_of(event: AuditEvent) -> list[Matcher]:
    """The matchers a ``silence_created`` or ``silence_expired`` event carries."""
    return _matchers(event.details.get("matchers", ""))


def _silence_event(
    kind: AuditKind, silence: Silence, model: str, ts: float, actor: str
) -> AuditEvent:
    details = {
        "silence_id": silence.id,
        "matchers": "\n".join(silence.matchers),
        "ends_at": repr(silence.ends_at),
    }
    what = "silenced" if kind == "silence_created" else "expired the silence of"
    summary = f"{what} {', '.join(silence.matchers)}: {silence.comment}"
    return AuditEvent(ts, kind, model, actor, summary, details)


def _matchers(lines: str) -> list[Matcher]:
    # split, not splitlines: a value may hold U+2028 and the like, which no matcher escapes.
    return [Matcher.parse(line) for line in lines.split("\n")] if lines else []
