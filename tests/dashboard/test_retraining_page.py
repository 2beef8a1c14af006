"""The Retraining page and the model page's History tab through AppTest, on requests and audit
events written to a real Redis by the daemon's own writers (``RetrainStore``, ``AuditLog``): what
is stored is what the pages show, filters and the deep link narrow it, and nothing is written.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import pytest
import redis
from streamlit.testing.v1 import AppTest

from dashboard.figures import common
from monitor.store.audit import AuditLog
from monitor.store.evaluations import EvaluationStore
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.retrain import Change, RetrainStore
from monitor.vocab.alerts import Alert
from monitor.vocab.audit import AuditEvent, alert_fired, alert_resolved, silence_created
from monitor.vocab.retrain import RetrainRequest, RetrainState, retrain_event
from monitor.vocab.silences import Silence
from monitor.vocab.verdicts import WindowEvaluation
from tests.dashboard.conftest import Deployment, base_doc, write_config
from tests.dashboard.test_pages import commands, links, texts

WINDOW_START = 1_795_449_600
DAY = 86_400.0
RETRAINING = {
    "enabled": True,
    "allowed_hosts": ["hooks.example.com"],
    "targets": [{"name": "airflow", "kind": "webhook", "url": "https://hooks.example.com/dw"}],
    "policies": [{"name": "critical", "target": "airflow", "approval": "required"}],
}


@dataclass(frozen=True)
class Stored:
    """What the fixture wrote, to compare the pages against."""

    dep: Deployment
    waiting: RetrainRequest
    failed: RetrainRequest
    delivered: RetrainRequest
    now: float


def request(model: str, state: RetrainState, created: float, **extra: Any) -> RetrainRequest:
    url = f"http://dashboards.example.com/model?model={model}&window={WINDOW_START}"
    payload = {
        "event_id": f"retrain:{model}:{int(created)}",
        "model": model,
        "drifted_features": [{"feature": "amount", "value": 0.31}],
        "dashboard_url": url,
    }
    return RetrainRequest(
        id=f"retrain:{model}:{int(created)}",
        model=model,
        policy="critical",
        target="airflow",
        state=state,
        created_at=created,
        requested_by="driftwatch",
        reason=f"{model}: PerformanceDegraded firing for 1 h",
        payload=json.dumps(payload),
        **extra,
    )


def deployment(tmp_path: Path, redis_url: str, key_prefix: str, retraining: bool) -> Deployment:
    doc = base_doc("127.0.0.1:9", redis_url, key_prefix, ["p", "o", "d"])
    if retraining:  # its policies act on alerts, so alerting is on too
        doc["alerting"] = {"enabled": True, "route": {"receiver": "ops"},
                           "receivers": [{"name": "ops"}]}  # fmt: skip
        doc["retraining"] = RETRAINING
    # one file per variant: the dashboard caches a loaded config by its path for the process
    path = tmp_path / ("retraining.toml" if retraining else "config.toml")
    return Deployment(path, write_config(path, doc), redis_url)


def finished(store: RetrainStore, opened: RetrainRequest, final: RetrainRequest) -> None:
    """A request that reached a final state as the daemon takes it there: opened, then changed
    (which frees the model's slot for the next)."""
    assert store.open(opened) is Change.DONE
    assert store.change(opened, final) is Change.DONE


def drift_alert(feature: str) -> Alert:
    labels = {"alertname": "FeatureDrift", "model": "fraud-detector", "severity": "critical",
              "owner": "risk@example.com", "feature": feature}  # fmt: skip
    return Alert(labels, {"summary": f"{feature} drifts"}, "firing")


def trail(now: float, waiting: RetrainRequest) -> list[AuditEvent]:
    """An incident that ended 5 days ago (detected 10 min, acknowledged 15 min, recovered
    1 h 10 min after its problem showed) and an open one, then the request."""
    t0 = now - 5 * DAY
    amount = msgspec.structs.replace(drift_alert("amount"), fired_at=t0)
    silence = Silence.new(['feature="amount"'], 3600, "ana", "on it", now=t0 + 300)
    age = msgspec.structs.replace(drift_alert("age"), fired_at=now - 3600)
    return [
        alert_fired(amount, t0, t0 - 600),
        silence_created(silence, "fraud-detector"),
        alert_resolved(amount, t0 + 3600),
        alert_fired(age, now - 3600, now - 3720),
        retrain_event("retrain_requested", waiting, waiting.created_at),
    ]


@pytest.fixture
def stored(tmp_path: Path, redis_url: str, key_prefix: str, redis_client: redis.Redis) -> Stored:
    """Retraining on; fraud-detector with a request awaiting approval and an older one that
    failed, delivery-eta with one delivered after approval (the newest of all); fraud-detector's
    audit trail and one evaluated window (the model page shows its tabs only then)."""
    dep = deployment(tmp_path, redis_url, key_prefix, retraining=True)
    keys = Keys(key_prefix)
    now = time.time()
    store = RetrainStore(redis_client, keys)
    old = request("fraud-detector", "queued", now - DAY)
    failed = msgspec.structs.replace(old, state="failed", attempts=12, last_status=503,
                                     last_error="Service Unavailable",
                                     last_response="<html>maintenance</html>")  # fmt: skip
    finished(store, old, failed)
    sent = request("delivery-eta", "awaiting_approval", now - 300)  # newer than the open one
    delivered = msgspec.structs.replace(sent, state="delivered", attempts=1, last_status=200,
                                        delivered_at=now - 180, decided_by="bo",
                                        decided_at=now - 240,
                                        decision_comment="labels are in")  # fmt: skip
    finished(store, sent, delivered)
    waiting = request("fraud-detector", "awaiting_approval", now - 600)
    assert store.open(waiting) is Change.DONE

    log = AuditLog(redis_client, keys, 400)
    for event in trail(now, waiting):
        log.append(event)
    fence = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "test", 10_000).hold()
    assert fence is not None
    ev = WindowEvaluation("fraud-detector", WINDOW_START, "v1", "", 400, 0, now)
    EvaluationStore(redis_client, keys, 86_400_000).save(fence, ev, str(WINDOW_START), "", 0.0)
    return Stored(dep, waiting, failed, delivered, now)


def requests_table(at: AppTest) -> pd.DataFrame:
    (found,) = [d.value for d in at.dataframe if "last_answer" in d.value.columns]
    return found


def snapshot(client: redis.Redis, prefix: str) -> dict[bytes, bytes]:
    keys = sorted(client.scan_iter(match=f"{prefix}*", count=1000))
    return dict(zip(keys, [client.dump(k) for k in keys], strict=True))


def test_the_page_lists_requests_open_first_with_answers_and_decisions(
    stored: Stored, app_factory: Any, redis_client: redis.Redis
) -> None:
    prefix = stored.dep.settings.redis.key_prefix
    before = snapshot(redis_client, prefix)
    at = app_factory(stored.dep, "retraining")
    assert not at.exception
    table = requests_table(at)
    waiting, failed, delivered = stored.waiting, stored.failed, stored.delivered
    assert list(table["id"]) == [waiting.id, delivered.id, failed.id]  # open first, then newest
    assert list(table["state"]) == ["awaiting approval", "delivered", "failed"]
    rows = table.set_index("id")
    assert rows.loc[failed.id, "last_answer"] == "HTTP 503: Service Unavailable"
    assert rows.loc[failed.id, "attempts"] == 12
    assert rows.loc[waiting.id, "last_answer"] == "no attempt yet"
    assert rows.loc[delivered.id, "decision"] == "bo: labels are in"
    assert rows.loc[delivered.id, "model"] == "delivery-eta"
    assert rows.loc[waiting.id, "created"].timestamp() == pytest.approx(waiting.created_at)
    assert rows.loc[waiting.id, "reason"] == waiting.reason
    assert rows.loc[waiting.id, "model_page"] == (
        f"model?model=fraud-detector&window={WINDOW_START}"
    )
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Awaiting approval"], metrics["Failed"], metrics["Delivered"]) == (
        "1",
        "1",
        "1",
    )

    shown = texts(at)
    assert "1 request(s) await approval" in shown and "**critical** → airflow" in shown
    assert "(approval required)" in shown
    command = commands(at)[0]
    assert command == (
        f"driftwatch retrain approve {waiting.id} --by NAME --config {stored.dep.path}"
    )
    assert not at.main.button  # read-only: nothing to press
    assert snapshot(redis_client, prefix) == before


def test_filters_and_the_deep_link_narrow_the_list(stored: Stored, app_factory: Any) -> None:
    at = app_factory(stored.dep, "retraining")
    at.multiselect(key="retrain_states").set_value(["failed", "delivered"]).run()
    assert list(requests_table(at)["id"]) == [stored.delivered.id, stored.failed.id]
    at.multiselect(key="retrain_states").set_value(["rejected"]).run()
    assert "No request matches these filters" in texts(at)

    linked = app_factory(stored.dep, "retraining", model="delivery-eta")
    assert not linked.exception
    assert list(requests_table(linked)["id"]) == [stored.delivered.id]
    linked.selectbox(key="retrain_model").set_value("").run()  # all models
    assert len(requests_table(linked)) == 3


def test_a_selected_request_shows_its_details_payload_and_model_link(
    stored: Stored, app_factory: Any
) -> None:
    at = app_factory(stored.dep, "retraining")
    assert at.selectbox(key="retrain_request").value == stored.waiting.id  # the first row
    at.selectbox(key="retrain_request").set_value(stored.failed.id).run()
    assert not at.exception
    (details,) = [d.value for d in at.dataframe if list(d.value.columns) == ["field", "value"]]
    fields = dict(zip(details["field"], details["value"], strict=True))
    assert fields["id"] == stored.failed.id and fields["state"] == "failed"
    assert fields["target's response"] == "<html>maintenance</html>"
    assert fields["last answer"] == "HTTP 503: Service Unavailable"
    (payload,) = at.json
    assert json.loads(payload.value)["drifted_features"][0]["feature"] == "amount"
    assert ("model", {"model": "fraud-detector", "window": str(WINDOW_START)}) in [
        (page, params) for _, page, params in links(at)
    ]


def test_off_or_empty_says_what_to_do(
    tmp_path: Path, redis_url: str, key_prefix: str, app_factory: Any
) -> None:
    off = app_factory(deployment(tmp_path, redis_url, key_prefix, retraining=False), "retraining")
    assert not off.exception
    shown = texts(off)
    assert "Retraining is off" in shown and "docs/retraining.md" in shown
    assert "[[retraining.policies]]" in shown and not off.dataframe

    on = app_factory(deployment(tmp_path, redis_url, key_prefix, retraining=True), "retraining")
    assert not on.exception
    shown = texts(on)
    assert "No retraining request yet" in shown and "Retraining is off" not in shown
    assert "driftwatch retrain trigger --model M" in shown


def test_the_model_page_shows_incidents_mttr_and_the_trail(
    stored: Stored, app_factory: Any
) -> None:
    at = app_factory(stored.dep, "model", model="fraud-detector", view="history")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["MTTR (30 days)"] == metrics["MTTR (90 days)"] == "1 h 10 min"
    assert metrics["Mean time to detect (90 days)"] == "10 min"
    assert metrics["Mean time to acknowledge (90 days)"] == "15 min"

    (incidents,) = [d.value for d in at.dataframe if "time_to_recover" in d.value.columns]
    assert list(incidents["ended"]) == [
        "open", common.stamp(stored.now - 5 * DAY + 3600, common.zone(None))
    ]  # fmt: skip
    assert list(incidents["time_to_detect"]) == ["2 min", "10 min"]
    assert list(incidents["time_to_acknowledge"]) == ["—", "15 min"]
    assert list(incidents["time_to_recover"]) == ["—", "1 h 10 min"]

    (events,) = [d.value for d in at.dataframe if "actor" in d.value.columns]
    assert list(events["kind"]) == [
        "retraining requested", "alert fired", "alert resolved", "silence created", "alert fired"
    ]  # fmt: skip
    assert events.loc[3, "actor"] == "ana"
    assert events.loc[0, "time"].timestamp() == pytest.approx(stored.waiting.created_at)
    assert "driftwatch history --model fraud-detector" in texts(at)


def test_a_model_without_a_trail_shows_dashes(stored: Stored, app_factory: Any) -> None:
    client = redis.Redis.from_url(stored.dep.redis_url)
    keys = Keys(stored.dep.settings.redis.key_prefix)
    client.delete(keys.audit("fraud-detector"))
    at = app_factory(stored.dep, "model", model="fraud-detector", view="history")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["MTTR (30 days)"] == metrics["Mean time to acknowledge (90 days)"] == "—"
    shown = texts(at)
    assert "No incident" in shown and "Nothing recorded yet" in shown
