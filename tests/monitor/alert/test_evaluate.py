"""One evaluation of a model's rules: only changed alerts are written, old resolved ones go."""

from __future__ import annotations

import dataclasses

import msgspec

from monitor.alert.evaluate import RESOLVED_KEPT_SECONDS, evaluate, incident_start
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


def test_an_alert_its_config_no_longer_makes_resolves_with_the_reason() -> None:
    """A changed owner, a dropped feature, a rule removed or re-graded: the old alert resolves
    (it would otherwise fire for ever, nothing left to clear it); a pending one just goes."""
    (firing,), _ = evaluate(DEFAULT_RULES, evidence("critical", T0 + 10.0), {})
    current = {firing.fingerprint: firing}
    quiet = evidence("insufficient", T0 + 20.0)  # no verdict either way
    assert evaluate(DEFAULT_RULES, quiet, current) == ([], [])  # same config: held
    changes = {
        "owner": dataclasses.replace(quiet, model=dataclasses.replace(MODEL, owner="new")),
        "feature": dataclasses.replace(
            quiet, model=dataclasses.replace(MODEL, features={"b": "numeric"})
        ),
    }
    for why, changed_evidence in changes.items():
        (resolved,), gone = evaluate(DEFAULT_RULES, changed_evidence, current)
        assert (resolved.state, resolved.resolved_at, gone) == ("resolved", T0 + 20.0, []), why
        assert "no configured rule" in resolved.annotations["description"]
    regraded = (RuleSettings("feature_drift", severity="warning"),)
    assert evaluate(regraded, quiet, current)[0][0].state == "resolved"
    assert evaluate((RuleSettings("stale_data"),), quiet, current)[0][0].state == "resolved"
    pending = msgspec.structs.replace(firing, state="pending", fired_at=None)
    assert evaluate((), quiet, {pending.fingerprint: pending}) == ([], [pending.fingerprint])


def test_an_incident_keeps_its_start_while_alerts_take_over_from_each_other() -> None:
    first = msgspec.structs.replace(
        evaluate(DEFAULT_RULES, evidence("critical", T0 + 10.0), {})[0][0], fired_at=T0 + 10.0
    )
    assert incident_start(None, [first]) == T0 + 10.0
    later = msgspec.structs.replace(first, labels={**first.labels, "feature": "b"},
                                    fired_at=T0 + 600.0)  # fmt: skip
    gone = msgspec.structs.replace(first, state="resolved", resolved_at=T0 + 900.0)
    assert incident_start(T0 + 10.0, [gone, later]) == T0 + 10.0  # the chain goes on
    assert incident_start(T0 + 10.0, [gone]) is None  # nothing fires: over
    assert incident_start(None, [later]) == T0 + 600.0  # a new one
