"""One evaluation of a model's rules: only changed alerts are written, old resolved ones go."""

from __future__ import annotations

import msgspec

from monitor.alert.evaluate import RESOLVED_KEPT_SECONDS, evaluate
from monitor.alert.rules import Evidence
from monitor.config import ModelSettings
from monitor.config.rules import DEFAULT_RULES, RuleSettings
from monitor.vocab.counts import IngestCounts
from monitor.vocab.verdicts import Severity, Status, Verdict, WindowEvaluation

MODEL = ModelSettings(name="m", owner="o", task="binary", features={"a": "numeric"})
T0 = 1_800_000_000


def evidence(severity: Severity, now: float) -> Evidence:
    status: Status = "drift" if severity != "ok" else "ok"
    v = Verdict("m", "a", "psi", 0.4, 0.1, 1e-4, 900, status, severity, T0, "r", 0.01)
    ev = WindowEvaluation("m", T0, "v1", "r", 900, 0, now, verdicts=[v])
    return Evidence(MODEL, now, 3600, ev, IngestCounts(predictions=900, last_event_ts=now))


def test_an_unchanged_evaluation_writes_nothing_and_a_clear_resolves() -> None:
    changed, gone = evaluate(DEFAULT_RULES, evidence("critical", T0 + 10.0), {})
    (firing,) = changed
    assert (firing.state, firing.labels["feature"], gone) == ("firing", "a", [])
    current = {firing.fingerprint: firing}
    assert evaluate(DEFAULT_RULES, evidence("critical", T0 + 10.0), current) == ([], [])
    (resolved,), gone = evaluate(DEFAULT_RULES, evidence("ok", T0 + 20.0), current)
    assert (resolved.state, resolved.resolved_at, gone) == ("resolved", T0 + 20.0, [])


def test_a_resolved_alert_is_forgotten_after_a_day_and_a_cleared_pending_one_at_once() -> None:
    rules = (RuleSettings("feature_drift", for_windows=2),)
    (pending,), _ = evaluate(rules, evidence("critical", T0 + 10.0), {})
    assert pending.state == "pending"
    assert evaluate(rules, evidence("ok", T0 + 20.0), {pending.fingerprint: pending}) == (
        [], [pending.fingerprint])  # fmt: skip
    old = msgspec.structs.replace(pending, state="resolved", resolved_at=T0 + 20.0)
    later = T0 + 21.0 + RESOLVED_KEPT_SECONDS
    assert evaluate(rules, evidence("warning", later), {old.fingerprint: old}) == (
        [], [old.fingerprint])  # fmt: skip
