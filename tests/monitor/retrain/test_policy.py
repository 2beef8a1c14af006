"""Retraining policies without Redis: which firing alerts open a request, and when not."""

from __future__ import annotations

from monitor.config.retraining import PolicySettings
from monitor.retrain.policy import decide
from monitor.vocab.alerts import Alert, AlertState
from monitor.vocab.retrain import RetrainRequest, RetrainState, event_id

T0 = 1_800_000_000.0
HOUR = 3600.0
PERF = PolicySettings(
    name="perf",
    target="airflow",
    matchers=('alertname="PerformanceDegraded"', 'severity="critical"'),
    firing_for_seconds=HOUR,
)


def alert(
    name: str = "PerformanceDegraded",
    fired: float = T0,
    state: AlertState = "firing",
    model: str = "m",
) -> Alert:
    labels = {"alertname": name, "model": model, "severity": "critical", "owner": "o"}
    return Alert(labels, {}, state, fired, fired, fired, 1)


def request(
    state: RetrainState, *, id: str = "retrain:m:1", delivered: float | None = None, labels: int = 0
) -> RetrainRequest:
    return RetrainRequest(
        id,
        "m",
        "perf",
        "airflow",
        state,
        T0 - 10 * HOUR,
        "driftwatch",
        "why",
        "{}",
        delivered_at=delivered,
        labels_at_request=labels,
    )


def test_a_matching_alert_opens_a_request_once_it_fired_long_enough() -> None:
    firing = [alert(), alert("FeatureDrift", fired=T0 - 600)]
    assert decide([PERF], "m", firing, [], 0, T0 + HOUR - 1) is None
    opening = decide([PERF], "m", firing, [], 0, T0 + HOUR)
    assert opening is not None and opening.policy is PERF
    assert [a.labels["alertname"] for a in opening.alerts] == ["PerformanceDegraded"]
    # one id per incident: from its first firing alert, whichever policy matched
    assert opening.id == event_id("m", T0 - 600) and opening.incident_start == T0 - 600


def test_drift_alone_opens_nothing_under_a_performance_policy() -> None:
    assert decide([PERF], "m", [alert("FeatureDrift")], [], 0, T0 + 10 * HOUR) is None
    assert decide([PERF], "m", [alert(state="resolved")], [], 0, T0 + 10 * HOUR) is None


def test_one_request_in_flight_and_one_per_incident() -> None:
    later = T0 + 2 * HOUR
    open_states: tuple[RetrainState, ...] = ("awaiting_approval", "queued")
    for state in open_states:
        assert decide([PERF], "m", [alert()], [request(state)], 0, later) is None
    final_states: tuple[RetrainState, ...] = ("rejected", "failed", "delivered")
    for state in final_states:
        same = request(state, id=event_id("m", T0))
        assert decide([PERF], "m", [alert()], [same], 0, later) is None, state
    assert decide([PERF], "m", [alert()], [request("rejected")], 0, later) is not None


def test_cooldown_and_new_labels_count_from_the_last_delivered_request() -> None:
    done = request("delivered", delivered=T0 - 3 * HOUR, labels=1000)
    cool = PolicySettings(
        name="p",
        target="t",
        matchers=('alertname="PerformanceDegraded"',),
        firing_for_seconds=0,
        cooldown_seconds=5 * HOUR,
        min_new_labels=500,
    )
    assert decide([cool], "m", [alert()], [done], 5000, T0 + HOUR) is None  # cooling down
    assert decide([cool], "m", [alert()], [done], 1499, T0 + 2 * HOUR) is None  # 499 new labels
    assert decide([cool], "m", [alert()], [done], 1500, T0 + 2 * HOUR) is not None


def test_a_policy_for_other_models_is_skipped_and_the_first_fitting_one_wins() -> None:
    other = PolicySettings(name="other", target="t", models=("n",), firing_for_seconds=0)
    fallback = PolicySettings(name="any", target="t", firing_for_seconds=0)
    opening = decide([other, fallback], "m", [alert()], [], 0, T0)
    assert opening is not None and opening.policy is fallback


def test_the_incident_start_keeps_its_request_when_the_first_alert_resolves() -> None:
    """The incident's first alert resolved while a later one fires on: still the same incident,
    so the request rejected earlier in it is not asked again."""
    rejected = request("rejected", id=event_id("m", T0))
    later = alert(fired=T0 + 600)  # the first one (fired at T0) has resolved
    now = T0 + 3 * HOUR
    assert decide([PERF], "m", [later], [rejected], 0, now, incident_start=T0) is None
    reopened = decide([PERF], "m", [later], [rejected], 0, now, incident_start=T0 + 600)
    assert reopened is not None and reopened.id == event_id("m", T0 + 600)  # a new incident
