"""Audit events: the constructors write the details the incident timings read back, exactly."""

from __future__ import annotations

import msgspec
import pytest

from monitor.vocab.alerts import Alert
from monitor.vocab.audit import (
    DAEMON,
    AuditEvent,
    alert_fired,
    alert_resolved,
    concerned_models,
    labels_of,
    matchers_of,
    silence_created,
    silence_expired,
)
from monitor.vocab.silences import Silence

LABELS = {"alertname": "FeatureDrift", "model": "fraud", "severity": "critical", "owner": "o",
          "feature": "amount"}  # fmt: skip


def test_alert_fired_carries_the_whole_label_set_and_when_the_problem_began() -> None:
    alert = Alert(LABELS, {"summary": "amount drifted"}, "firing", 50.0, 100.0)
    event = alert_fired(alert, 100.0, problem_since=36.5)
    assert (event.ts, event.kind, event.model, event.actor) == (100.0, "alert_fired", "fraud",
                                                                DAEMON)  # fmt: skip
    assert event.summary == "FeatureDrift firing: amount drifted"
    assert event.details == {
        "fingerprint": alert.fingerprint,
        "alertname": "FeatureDrift",
        "severity": "critical",
        "feature": "amount",
        "labels": 'alertname="FeatureDrift"\nfeature="amount"\nmodel="fraud"\nowner="o"\n'
        'severity="critical"',
        "problem_since": "36.5",
    }
    assert labels_of(event) == LABELS


def test_an_unknown_start_and_a_model_level_alert_leave_their_keys_out() -> None:
    labels = {k: v for k, v in LABELS.items() if k != "feature"}
    event = alert_fired(Alert(labels, {}, "firing"), 5.0, problem_since=None)
    assert set(event.details) == {"fingerprint", "alertname", "severity", "labels"}
    assert event.summary == "FeatureDrift firing"


@pytest.mark.parametrize(
    "value", ['a,b="c"', 'quote " and \\ backslash', "two\nlines", "sep\u2028arator", ""]
)
def test_labels_read_back_whatever_their_values_hold(value: str) -> None:
    labels = {**LABELS, "feature": value}
    assert labels_of(alert_fired(Alert(labels, {}, "firing"), 1.0, None)) == labels


def test_alert_resolved_says_how_long_it_fired() -> None:
    alert = Alert(LABELS, {}, "resolved", 50.0, fired_at=100.0, resolved_at=460.0)
    event = alert_resolved(alert, 460.0)
    assert event.details == {"fingerprint": alert.fingerprint, "alertname": "FeatureDrift",
                             "lasted_seconds": "360.0"}  # fmt: skip
    assert event.summary == "FeatureDrift resolved: amount"
    never = alert_resolved(Alert(LABELS, {}, "inactive"), 460.0)
    assert "lasted_seconds" not in never.details


def test_silence_events_carry_matchers_that_parse_back() -> None:
    silence = Silence.new(['model="fraud"', 'feature=~"a,b.*"'], 3600, "ana", "on it", now=10.0)
    created = silence_created(silence, "fraud")
    assert (created.ts, created.actor, created.kind) == (10.0, "ana", "silence_created")
    assert created.details == {"silence_id": silence.id, "ends_at": "3610.0",
                               "matchers": 'model="fraud"\nfeature=~"a,b.*"'}  # fmt: skip
    assert [str(m) for m in matchers_of(created)] == silence.matchers
    assert created.summary == 'silenced model="fraud", feature=~"a,b.*": on it'
    expired = silence_expired(silence, "fraud", 20.0, "bo")
    assert (expired.ts, expired.actor, expired.kind) == (20.0, "bo", "silence_expired")
    assert matchers_of(expired) == matchers_of(created)


def test_a_silence_concerns_the_models_its_model_matchers_accept() -> None:
    models = ["fraud", "fraud-eu", "churn"]
    assert concerned_models(Silence.new(['model=~"fraud.*"'], 60, "a", "c", 0.0), models) == [
        "fraud",
        "fraud-eu",
    ]
    not_churn = Silence.new(['model!="churn"', "severity=warning"], 60, "a", "c", 0.0)
    assert concerned_models(not_churn, models) == [
        "fraud",
        "fraud-eu",
    ]
    assert concerned_models(Silence.new(['severity="warning"'], 60, "a", "c", 0.0), models) == (
        models
    )


def test_the_id_is_not_encoded_and_an_unknown_kind_is_refused() -> None:
    event = AuditEvent(1.0, "version_first_seen", "fraud", DAEMON, "v2 first seen", {"v": "2"})
    assert b"id" not in msgspec.msgpack.encode(event)
    bad = msgspec.msgpack.encode({**msgspec.to_builtins(event), "kind": "exploded"})
    with pytest.raises(msgspec.ValidationError):
        msgspec.msgpack.decode(bad, type=AuditEvent)
