"""The Retraining page's and the History tab's info objects, without Streamlit or Redis: request
rows and their order, answers and decisions, links, commands; incidents, mean times, the trail."""

from __future__ import annotations

import json
import shlex
from typing import get_args
from zoneinfo import ZoneInfo

import msgspec
import pytest

from dashboard.figures import common
from dashboard.figures import retraining as info
from monitor.vocab.alerts import Alert
from monitor.vocab.audit import AuditEvent, AuditKind, alert_fired, alert_resolved, silence_created
from monitor.vocab.incidents import MTTR_DAYS, incidents
from monitor.vocab.retrain import STATES, RetrainRequest, RetrainState, retrain_event
from monitor.vocab.silences import Silence

NOW = 1_800_000_000.0
TOKYO = ZoneInfo("Asia/Tokyo")
DAY = 86_400.0


def request(model: str, state: RetrainState, created: float, **extra: object) -> RetrainRequest:
    payload = {
        "event_id": f"retrain:{model}:{int(created)}",
        "model": model,
        "dashboard_url": f"https://dw.example.com/model?model={model}&window=1799996400",
    }
    fields: dict[str, object] = {"payload": json.dumps(payload)} | extra
    return RetrainRequest(
        id=f"retrain:{model}:{int(created)}",
        model=model,
        policy="critical",
        target="airflow",
        state=state,
        created_at=created,
        requested_by="driftwatch",
        reason=f"{model}: PerformanceDegraded",
        **fields,  # type: ignore[arg-type]
    )


def test_rows_put_open_requests_first_then_newest_and_filter() -> None:
    old_done = request("a", "delivered", NOW - 3 * DAY, attempts=1, last_status=200)
    failed = request("b", "failed", NOW - DAY, attempts=12, last_status=503,
                     last_error="Service Unavailable")  # fmt: skip
    waiting = request("c", "awaiting_approval", NOW - 2 * DAY)
    queued = request("a", "queued", NOW - 60, attempts=2, last_error="timed out",
                     next_attempt_at=NOW + 30)  # fmt: skip
    everything = [queued, failed, waiting, old_done]  # as Query returns them: newest first
    rows = info.request_rows(everything, TOKYO)
    assert [r.id for r in rows] == [queued.id, waiting.id, failed.id, old_done.id]
    assert [r.state for r in rows] == ["queued", "awaiting approval", "failed", "delivered"]
    assert [r.open for r in rows] == [True, True, False, False]
    assert rows[0].created.tzinfo == TOKYO and rows[0].created.timestamp() == NOW - 60
    assert rows[0].next_attempt is not None and rows[0].next_attempt.timestamp() == NOW + 30
    assert rows[2].next_attempt is None  # only a queued request has one
    assert [r.last_answer for r in rows] == [
        "timed out",  # no HTTP answer: the error alone
        "no attempt yet",
        "HTTP 503: Service Unavailable",
        "HTTP 200",
    ]
    only_a = info.request_rows(everything, TOKYO, model="a")
    assert [r.id for r in only_a] == [queued.id, old_done.id]
    closed = info.request_rows(everything, TOKYO, states={"failed", "delivered"})
    assert [r.id for r in closed] == [failed.id, old_done.id]
    assert info.request_rows(everything, TOKYO, model="a", states=["rejected"]) == []
    assert info.state_counts(everything) == {
        "awaiting_approval": 1, "queued": 1, "delivered": 1, "rejected": 0, "failed": 1
    }  # fmt: skip


def test_every_state_has_words_and_a_colour_of_the_one_scheme() -> None:
    assert set(info.STATE_LABELS) == set(STATES) == set(get_args(RetrainState))
    labels = [info.state_label(s) for s in STATES]
    assert labels[0] == "awaiting approval" and all("_" not in label for label in labels)
    assert set(info.STATE_COLORS) == set(labels)
    assert info.state_color("failed") == common.SEVERITY_COLORS["warning"]  # red: critical only
    assert common.SEVERITY_COLORS["critical"] not in info.STATE_COLORS.values()
    assert info.state_color("awaiting approval") == common.SEVERITY_COLORS["warning"]
    assert info.state_color("delivered") == common.SEVERITY_COLORS["ok"]
    assert info.state_color("odd") == common.SEVERITY_COLORS["none"]
    assert info.state_label("some_new_state") == "some new state"


def test_a_decision_names_who_and_why() -> None:
    waiting = request("m", "awaiting_approval", NOW)
    assert info.decision(waiting) == ""
    rejected = msgspec.structs.replace(
        waiting, state="rejected", decided_by="ana", decided_at=NOW + 60,
        decision_comment="labels are late",
    )  # fmt: skip
    assert info.decision(rejected) == "ana: labels are late"
    assert info.decision(msgspec.structs.replace(rejected, decision_comment="")) == "ana"
    details = dict(info.request_details(rejected, TOKYO))
    assert details["decided by"] == f"ana at {common.stamp(NOW + 60, TOKYO)}"
    assert details["decision comment"] == "labels are late"
    assert details["state"] == "rejected" and details["created"].endswith("JST")
    assert "next attempt" not in details and "target's response" not in details  # empty: left out


def test_the_model_link_follows_the_payload_and_opens_in_this_app() -> None:
    r = request("fraud&co", "queued", NOW)
    assert info.model_page_params(r) == {"model": "fraud&co", "window": "1799996400"}
    assert info.model_page(r) == "model?model=fraud%26co&window=1799996400"
    manual = msgspec.structs.replace(r, payload='{"model": "fraud&co"}')  # no window judged
    assert info.model_page(manual) == "model?model=fraud%26co"
    broken = msgspec.structs.replace(r, payload="not json")
    assert info.payload_of(broken) == "not json" and info.model_page(broken).startswith("model?")
    assert info.payload_of(r)["event_id"] == r.id


def test_the_approval_hint_runs_as_typed() -> None:
    approve, reject = info.approval_hint("/etc/dw config.toml", "retrain:m:1").splitlines()
    assert shlex.split(approve) == ["driftwatch", "retrain", "approve", "retrain:m:1", "--by",
                                    "NAME", "--config", "/etc/dw config.toml"]  # fmt: skip
    argv = shlex.split(reject)
    assert argv[:6] == ["driftwatch", "retrain", "reject", "retrain:m:1", "--by", "NAME"]
    assert argv[argv.index("--comment") + 1] == "WHY" and argv[-1] == "/etc/dw config.toml"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (-3, "0 s"),
        (42, "42 s"),
        (754, "12 min"),
        (8100, "2 h 15 min"),
        (3 * DAY + 4 * 3600, "3 d 4 h"),
    ],
)
def test_durations_read_as_the_cli_writes_them(seconds: float | None, text: str) -> None:
    assert info.duration(seconds) == text


def drift_alert(feature: str) -> Alert:
    labels = {"alertname": "FeatureDrift", "model": "m", "severity": "critical",
              "feature": feature}  # fmt: skip
    return Alert(labels, {"summary": f"{feature} drifts"}, "firing")


def trail() -> list[AuditEvent]:
    """Two incidents: one ended 5 days ago (detect 10 min, ack 15 min, recover 1 h 10 min),
    one open (detected 2 min after its problem showed, nobody reacted yet)."""
    a, b = drift_alert("amount"), drift_alert("age")
    t0 = NOW - 5 * DAY
    a_fired = msgspec.structs.replace(a, fired_at=t0)
    silence = Silence.new(['feature="amount"'], 3600, "ana", "on it", now=t0 + 300)
    return [
        AuditEvent(t0 - DAY, "reference_set", "m", "bo", "reference v1 set", {"version": "v1"}),
        alert_fired(a_fired, t0, t0 - 600),
        silence_created(silence, "m"),
        alert_resolved(a_fired, t0 + 3600),
        alert_fired(msgspec.structs.replace(b, fired_at=NOW - 3600), NOW - 3600, NOW - 3720),
        retrain_event("retrain_requested", request("m", "queued", NOW - 60), NOW - 60),
    ]


def test_history_shows_incidents_mean_times_and_the_newest_events() -> None:
    events = trail()
    hist = info.history_info(events[::-1], NOW, TOKYO)  # any order in, ordered out
    means = {m.label: m.value for m in hist.means}
    assert means == {
        "MTTR (30 days)": "1 h 10 min",
        "MTTR (90 days)": "1 h 10 min",
        "Mean time to detect (90 days)": "10 min",
        "Mean time to acknowledge (90 days)": "15 min",
    }
    assert "1 incident(s)" in hist.means[0].help
    open_one, ended = hist.incidents
    assert (open_one.ended, open_one.time_to_detect) == ("open", "2 min")
    assert (open_one.time_to_acknowledge, open_one.time_to_recover) == ("—", "—")
    assert open_one.started.timestamp() == NOW - 3600 and open_one.started.tzinfo == TOKYO
    assert ended.ended == common.stamp(NOW - 5 * DAY + 3600, TOKYO)
    assert (ended.time_to_detect, ended.time_to_acknowledge, ended.time_to_recover) == (
        "10 min", "15 min", "1 h 10 min"
    )  # fmt: skip
    assert ended.alerts == "FeatureDrift"
    assert [e.kind for e in hist.events] == [
        "retraining requested", "alert fired", "alert resolved", "silence created",
        "alert fired", "reference set",
    ]  # fmt: skip
    assert hist.events[0].time.timestamp() == NOW - 60 and hist.events[-1].actor == "bo"
    assert hist.total_events == 6
    assert len(info.event_rows(events, TOKYO, limit=2)) == 2


def test_mean_times_count_incidents_that_ended_in_the_period_only() -> None:
    later = NOW + 40 * DAY  # the ended incident is now 45 days old: out of 30, within 90
    means = {m.label: m.value for m in info.mean_time_metrics(incidents(trail()), later)}
    assert means["MTTR (30 days)"] == "—" and means["MTTR (90 days)"] == "1 h 10 min"
    empty = info.history_info([], NOW, TOKYO)
    assert [m.value for m in empty.means] == ["—"] * (len(MTTR_DAYS) + 2)
    assert empty.incidents == [] and empty.events == [] and empty.total_events == 0


def test_every_audit_kind_reads_as_words() -> None:
    assert set(info.KIND_WORDS) == set(get_args(AuditKind))
    assert all("_" not in words for words in info.KIND_WORDS.values())
    assert info.kind_words("something_new") == "something new"
