"""An alert's life: inactive → pending → firing → resolved, one evaluation at a time.

Prometheus' rule states, with Driftwatch's three-valued evidence (``monitor/alert/rules.py``):

- a breach makes an inactive (or resolved) alert *pending*; it *fires* once the breach held the
  rule's ``for_windows`` consecutive windows and ``for_seconds``;
- a clear drops a pending alert (nothing was sent) and resolves a firing one once
  ``keep_firing_for_seconds`` passed since its last breach;
- no evidence (``None``) changes nothing: a gap in the data neither fires nor resolves.

A window counts once towards ``for_windows`` however often it is re-evaluated (late events
re-evaluate a window); a signal without a window (time-based rules) counts every evaluation.
"""

from __future__ import annotations

import msgspec

from monitor.alert.rules import Signal
from monitor.config.rules import RuleSettings
from monitor.vocab.alerts import Alert


def step(previous: Alert | None, signal: Signal, rule: RuleSettings, now: float) -> Alert | None:
    """The alert after this evaluation (None: inactive, nothing to keep)."""
    if signal.breach is None:
        return previous
    if signal.breach:
        return _breach(previous, signal, rule, now)
    return _clear(previous, signal, rule, now)


def _breach(previous: Alert | None, signal: Signal, rule: RuleSettings, now: float) -> Alert:
    if previous is None or previous.state in ("inactive", "resolved"):
        pending = Alert(
            labels=signal.labels,
            annotations=signal.annotations,
            state="pending",
            active_since=now,
            last_breach=now,
            breaches=1,
            last_window=signal.window_start,
            first_window=signal.window_start,
        )
        return _maybe_fire(pending, rule, now)
    new_window = signal.window_start is None or signal.window_start != previous.last_window
    updated = Alert(
        labels=signal.labels,
        annotations=signal.annotations,
        state=previous.state,
        active_since=previous.active_since,
        fired_at=previous.fired_at,
        last_breach=now,
        breaches=previous.breaches + 1 if new_window else previous.breaches,
        last_window=signal.window_start,
        first_window=previous.first_window,
    )
    return _maybe_fire(updated, rule, now) if updated.state == "pending" else updated


def _maybe_fire(alert: Alert, rule: RuleSettings, now: float) -> Alert:
    """Pending → firing once the breach held long enough, in windows and in time."""
    held = now - (alert.active_since if alert.active_since is not None else now)
    if alert.breaches >= rule.for_windows and held >= rule.for_seconds:
        return msgspec.structs.replace(alert, state="firing", fired_at=now)
    return alert


def _clear(previous: Alert | None, signal: Signal, rule: RuleSettings, now: float) -> Alert | None:
    if previous is None or previous.state in ("inactive", "pending"):
        return None  # a pending alert that clears never existed for anyone
    if previous.state == "resolved":
        return previous
    last = previous.last_breach if previous.last_breach is not None else now
    if now - last < rule.keep_firing_for_seconds:
        return msgspec.structs.replace(previous, breaches=0)  # still firing; the run broke
    return msgspec.structs.replace(previous, state="resolved", resolved_at=now, breaches=0)
