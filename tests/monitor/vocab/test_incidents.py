"""Incidents from audit trails, checked on hand-computed examples: overlapping alerts, an alert
firing again, silences that do or do not acknowledge, an open incident, a trimmed trail, MTTR."""

from __future__ import annotations

import random

import pytest

from monitor.config import AuditSettings
from monitor.errors import ConfigError
from monitor.vocab.alerts import Alert
from monitor.vocab.audit import AuditEvent, alert_fired, alert_resolved, silence_created
from monitor.vocab.incidents import Incident, MeanTimes, incidents, mean_times, mttr
from monitor.vocab.silences import Silence

DAY = 86400.0


def alert(feature: str, model: str = "fraud") -> Alert:
    labels = {"alertname": "FeatureDrift", "model": model, "severity": "critical", "owner": "o",
              "feature": feature}  # fmt: skip
    return Alert(labels, {}, "firing")


def fired(feature: str, ts: float, since: float | None = None, model: str = "fraud") -> AuditEvent:
    return alert_fired(alert(feature, model), ts, since)


def resolved(feature: str, ts: float, model: str = "fraud") -> AuditEvent:
    return alert_resolved(alert(feature, model), ts)


def silenced(ts: float, *matchers: str) -> AuditEvent:
    return silence_created(Silence.new(matchers, 3600, "ana", "looking", now=ts), "fraud")


def approved(ts: float) -> AuditEvent:
    details = {"request_id": "r1", "target": "ml", "reason": "drift", "status": "approved"}
    return AuditEvent(ts, "retrain_approved", "fraud", "bo", "retraining approved", details)


A, B = alert("amount").fingerprint, alert("age").fingerprint


def test_overlapping_alerts_are_one_incident_detected_from_the_earliest_problem() -> None:
    trail = [fired("amount", 1000, since=400), fired("age", 1500, since=300),
             resolved("amount", 2000), resolved("age", 3000)]  # fmt: skip
    [incident] = incidents(trail)
    assert incident == Incident("fraud", 1000, 3000, 300, None, (A, B), ("FeatureDrift",))
    assert (incident.time_to_detect, incident.time_to_acknowledge, incident.time_to_recover) == (
        700,
        None,
        2700,
    )


def test_an_alert_firing_again_after_its_resolve_starts_a_new_incident() -> None:
    trail = [fired("amount", 1000), resolved("amount", 2000), fired("amount", 2500, since=2400),
             resolved("amount", 2600)]  # fmt: skip
    first, second = incidents(trail)
    assert (first.started, first.ended, first.time_to_detect, first.time_to_recover) == (
        1000, 2000, 0, 1000
    )  # fmt: skip
    assert (second.started, second.ended, second.time_to_detect, second.time_to_recover) == (
        2500, 2600, 100, 200
    )  # fmt: skip


def test_an_alert_firing_again_while_another_fires_stays_in_the_same_incident() -> None:
    trail = [fired("amount", 1000), fired("age", 1100), resolved("amount", 1200),
             fired("amount", 1300), resolved("age", 1400), resolved("amount", 1500)]  # fmt: skip
    [incident] = incidents(trail)
    assert (incident.started, incident.ended, incident.fingerprints) == (1000, 1500, (A, B))


def test_only_a_silence_selecting_one_of_its_alerts_during_it_acknowledges() -> None:
    trail = [
        silenced(900, 'feature="amount"'),  # before the incident: acknowledges nothing
        fired("amount", 1000, since=800),
        silenced(1100, 'model="churn"'),  # matches nothing of the incident
        silenced(1150, 'model="fraud"', 'feature="age"'),  # an alert that has not fired
        silenced(1200, 'model="fraud"', 'feature=~"am.*"'),
        silenced(1300, 'feature="amount"'),  # acknowledged already: the first one counts
        resolved("amount", 2000),
    ]
    [incident] = incidents(trail)
    assert incident.acknowledged == 1200
    assert (incident.time_to_detect, incident.time_to_acknowledge, incident.time_to_recover) == (
        200,
        400,
        1200,
    )


def test_a_silence_of_an_alert_already_resolved_in_the_incident_acknowledges_it() -> None:
    trail = [fired("amount", 1000), fired("age", 1100), resolved("amount", 1200),
             silenced(1300, 'feature="amount"'), resolved("age", 1400)]  # fmt: skip
    assert [i.acknowledged for i in incidents(trail)] == [1300]


def test_an_approved_retraining_during_the_incident_acknowledges_it() -> None:
    trail = [approved(500), fired("amount", 1000), approved(1600), resolved("amount", 2000),
             approved(2500)]  # fmt: skip
    [incident] = incidents(trail)
    assert (incident.acknowledged, incident.time_to_acknowledge) == (1600, 600)


def test_an_open_incident_has_no_time_to_recover_and_no_part_in_mttr() -> None:
    trail = [fired("amount", 1000, since=900), fired("age", 1100), resolved("amount", 1200)]
    [incident] = incidents(trail)
    assert (incident.ended, incident.time_to_detect, incident.time_to_recover) == (None, 100, None)
    assert mttr([incident], now=5000, days=30) is None
    assert mean_times([incident], now=5000, days=30) == MeanTimes(0, None, None, None)


def test_a_trimmed_trail_never_ends_what_it_did_not_see_start() -> None:
    trail = [
        resolved("age", 500),  # fired before the trail's oldest event
        silenced(600, 'feature="age"'),
        fired("amount", 1000, since=950),
        resolved("age", 1100),  # unknown while amount fires: the incident goes on
        fired("amount", 1200, since=100),  # already firing: a repeat, not a new start
        resolved("amount", 1300),
        resolved("amount", 1400),  # a repeat of the resolve: no incident to end
    ]
    [incident] = incidents(trail)
    assert (incident.started, incident.ended, incident.detected_from) == (1000, 1300, 950)
    assert incident.time_to_detect == 50 and incident.time_to_recover == 350


def test_trails_in_any_order_and_of_several_models_are_sorted_out() -> None:
    trail = [fired("amount", 1000), resolved("amount", 1500), fired("x", 1200, model="churn"),
             resolved("x", 1300, model="churn"), fired("age", 2000)]  # fmt: skip
    random.Random(7).shuffle(trail)
    found = incidents(trail)
    assert [(i.model, i.started, i.ended) for i in found] == [
        ("fraud", 1000, 1500),
        ("churn", 1200, 1300),
        ("fraud", 2000, None),
    ]


def incident(ended: float | None, recover: float, acknowledge: float | None = None) -> Incident:
    start = (ended or NOW) - recover
    ack = None if acknowledge is None else start + acknowledge
    return Incident("fraud", start + 10, ended, start, ack, ("f",), ("FeatureDrift",))


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (30, MeanTimes(2, 10, 50, 150)),  # ended 10 days ago and now; 30 days ago is out
        (90, MeanTimes(4, 10, 50, 1300 / 4)),  # + 30 and 40 days ago
        (365, MeanTimes(5, 10, 50, 2300 / 5)),  # + 100 days ago
    ],
)
def test_mean_times_count_the_incidents_that_ended_in_the_period(
    days: int, expected: MeanTimes
) -> None:
    found = [
        incident(NOW - 10 * DAY, 100, acknowledge=50),
        incident(NOW, 200),
        incident(NOW - 30 * DAY, 400),
        incident(NOW - 40 * DAY, 600),
        incident(NOW - 100 * DAY, 1000),
        incident(None, 99999),  # open
        incident(NOW + 1, 5),  # after "now": not in any period up to it
    ]
    assert mean_times(found, NOW, days) == expected
    assert mttr(found, NOW, days) == expected.recover


def test_the_trail_must_be_kept_as_long_as_the_longest_mttr_period() -> None:
    AuditSettings(retention_days=90).validate("audit")
    with pytest.raises(
        ConfigError, match=r"'audit.retention_days': 89 days is shorter than the 90"
    ):
        AuditSettings(retention_days=89).validate("audit")
