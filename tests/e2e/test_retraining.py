"""Retraining end to end: simulated degradation through Kafka, the daemon and Redis, to a local
orchestrator that verifies every request's Standard Webhooks signature and timestamp.

The orchestrator here behaves as Airflow does with a reused ``dag_run_id``: the first request of
an event id is accepted (200), a repeat answers 409 — so "exactly one accepted request per
incident" is what it counts, whatever at-least-once delivery re-sent.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from monitor.config import FaultSettings
from monitor.simulate import Simulator, produce
from tests.monitor.alert.support import Endpoint, serving
from tests.support import set_baseline

WINDOW = 60
FAULT_AT = 10 * WINDOW
SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


@dataclass
class Orchestrator:
    """Verifies each request as a Standard Webhooks receiver must (signature over
    ``id.timestamp.body``, timestamp within 5 minutes), then accepts an event id once."""

    fail_first: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    invalid: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            payload = Webhook(SECRET).verify(body, headers)
        except Exception as exc:  # a bad signature or timestamp: the test fails on it
            self.invalid.append(repr(exc))
            return 400
        with self.lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                return 503
            if headers["webhook-id"] in self.seen:
                return 409
            self.seen.add(headers["webhook-id"])
            self.accepted.append(payload)
            return 200


@pytest.fixture
def orchestrator(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Orchestrator, Endpoint]]:
    monkeypatch.setenv("DW_TEST_WHSEC", SECRET)
    receiver = Orchestrator()
    with serving(Endpoint(answer=receiver.answer)) as hook:
        yield receiver, hook


def retraining(hook: Endpoint, **policy: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "allowed_hosts": [hook.address],
        "base_delay_seconds": 0.5,
        "max_delay_seconds": 2.0,
        "targets": [{"name": "orchestrator", "kind": "webhook",
                     "url": f"http://{hook.address}/retrain",
                     "secret": {"env": "DW_TEST_WHSEC"}}],
        # the default matchers: critical performance degradation only
        "policies": [{"name": "performance", "target": "orchestrator",
                      "firing_for_seconds": 1.0, **policy}],
    }  # fmt: skip


ALERTING = {
    "enabled": True,
    # Drift and performance only: the replayed stream ends before now, which the stale-data
    # rule would rightly report.
    "rules": [{"kind": "feature_drift"}, {"kind": "performance"}],
    "route": {"receiver": "nobody"},
    "receivers": [{"name": "nobody"}],
}


def events_with(
    dep: Any, faults: list[FaultSettings], n: int, models: list[str] | None = None
) -> list[Any]:
    start = (int(time.time()) // WINDOW - 25) * WINDOW
    sim = Simulator(dep.settings, seed=5, start=start, faults=faults, models=models)
    return list(sim.events(n))


def counted(dep: Any, n: int) -> bool:
    return sum(c.predictions + c.outcomes for c in dep.counts().values()) >= n


def test_each_performance_drop_makes_one_signed_request_with_its_evidence(
    deployment_factory: Any,
    daemon_factory: Any,
    wait_for: Any,
    tmp_path: Path,
    orchestrator: tuple[Orchestrator, Endpoint],
) -> None:
    """delivery-eta's labels change (concept drift: its error grows); fraud-detector's
    ``amount`` shifts, which moves its scores across the decision threshold and lowers its F1.
    Each incident asks for retraining once, signed, naming its degraded metrics — and the
    shift its drifted feature — and each model's trail holds the steps in order."""
    receiver, hook = orchestrator
    dep = deployment_factory(
        partitions=3,
        windows={"size_seconds": WINDOW, "allowed_lateness_seconds": 10},
        simulate={"rate": 20.0, "label_delay_seconds": 5.0},
        alerting=ALERTING,
        retraining=retraining(hook),
    )
    for model in ("fraud-detector", "delivery-eta"):
        set_baseline(dep.path, dep.settings, model, tmp_path)
    faults = [
        FaultSettings("concept_drift", "delivery-eta", "", FAULT_AT, magnitude=1.0),
        FaultSettings("covariate_shift", "fraud-detector", "amount", FAULT_AT, magnitude=1.5),
    ]
    events = events_with(dep, faults, 24_000)
    daemon = daemon_factory(dep)
    wait_for(lambda: "claimed" in daemon.log_text(), 60, "the daemon to claim its partitions")
    produce(dep.settings, events, realtime_rate=4000)
    wait_for(lambda: counted(dep, len(events)), 180, "every event counted")
    wait_for(lambda: len(receiver.accepted) >= 2, 120, "both retraining requests")
    time.sleep(12)  # more evaluator rounds: nothing more may be sent
    assert receiver.invalid == [] and len(hook.requests) == 2
    sent = {payload["model"]: payload for payload in receiver.accepted}
    assert set(sent) == {"fraud-detector", "delivery-eta"}
    for payload in sent.values():
        degraded = [m for m in payload["performance"] if m["severity"] == "critical"]
        assert degraded and all(m["n"] > 0 and m["delta"] is not None for m in degraded)
        assert {a["alertname"] for a in payload["alerts"]} == {"PerformanceDegraded"}
    drifted = {f["feature"] for f in sent["fraud-detector"]["drifted_features"]}
    assert "amount" in drifted
    assert not sent["delivery-eta"]["drifted_features"]  # its inputs never moved
    query = dep.query()
    requests = {r.model: r for r in query.retrain_requests()}
    assert {m: (r.state, r.id) for m, r in requests.items()} == {
        m: ("delivered", p["event_id"]) for m, p in sent.items()
    }
    for model in sent:
        kinds = [e.kind for e in query.history(model)]
        steps = [k for k in kinds if k in ("alert_fired", "retrain_requested", "retrain_delivered")]
        assert steps[0] == "alert_fired", (model, kinds)
        assert steps[-2:] == ["retrain_requested", "retrain_delivered"], (model, kinds)
        assert kinds.index("version_first_seen") < kinds.index("alert_fired")


@pytest.mark.slow
def test_a_daemon_killed_between_retries_leaves_one_accepted_request(
    deployment_factory: Any,
    daemon_factory: Any,
    wait_for: Any,
    tmp_path: Path,
    orchestrator: tuple[Orchestrator, Endpoint],
) -> None:
    """The orchestrator fails the first attempts (503); the daemon is killed -9 after one of
    them; its successor (once the lease expired) goes on with the same event id until it is
    accepted, exactly once."""
    receiver, hook = orchestrator
    receiver.fail_first = 3
    dep = deployment_factory(
        partitions=2,
        windows={"size_seconds": WINDOW, "allowed_lateness_seconds": 10},
        simulate={"rate": 20.0, "label_delay_seconds": 5.0},
        alerting=ALERTING,
        retraining=retraining(hook),
    )
    set_baseline(dep.path, dep.settings, "delivery-eta", tmp_path)
    drift = FaultSettings("concept_drift", "delivery-eta", "", FAULT_AT, magnitude=1.0)
    events = events_with(dep, [drift], 24_000, models=["delivery-eta"])
    first = daemon_factory(dep)
    wait_for(lambda: "claimed" in first.log_text(), 60, "the daemon to claim its partitions")
    produce(dep.settings, events, realtime_rate=4000)
    wait_for(lambda: len(hook.requests) >= 1, 240, "the first attempt")
    first.kill9()
    second = daemon_factory(dep)
    wait_for(lambda: len(receiver.accepted) >= 1, 120, "the successor's accepted request")
    time.sleep(12)
    assert receiver.invalid == [] and len(receiver.accepted) == 1
    ids = {h["webhook-id"] for h in hook.headers}
    assert ids == {receiver.accepted[0]["event_id"]}  # every attempt: the same event
    assert len(hook.requests) >= 4  # three refused, then accepted
    (request,) = dep.query().retrain_requests()
    assert request.state == "delivered" and second.alive()
    assert json.loads(request.payload)["event_id"] == request.id
