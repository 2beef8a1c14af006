"""The retrainer (the evaluator's step 7) on a real Redis, delivering to a real local endpoint.

The endpoint verifies nothing itself: each test checks the Standard Webhooks signature of what
arrived with the reference library, as an orchestrator would.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import redis
from standardwebhooks import Webhook

from monitor import config
from monitor.errors import FencedError
from monitor.runtime.retrainer import Retrainer
from monitor.store.audit import AuditLog
from monitor.store.keys import Keys
from monitor.store.lease import Fence, Lease
from monitor.store.query import ModelStatus, Query
from monitor.vocab.alerts import Alert
from monitor.vocab.counts import IngestCounts
from monitor.vocab.retrain import RetrainRequest
from tests.monitor.alert.support import Endpoint, serving

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
HOUR = 3600.0


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    monkeypatch.setenv("DW_TEST_WHSEC", SECRET)
    with serving(Endpoint()) as endpoint:
        yield endpoint


class Rig:
    """A retrainer for one model "m" whose performance alert fired two hours ago."""

    def __init__(self, client: redis.Redis, prefix: str, hook: Endpoint, **policy: Any) -> None:
        self.settings = config.parse(
            {
                "redis": {"key_prefix": prefix},
                "models": [{"name": "m", "owner": "o", "task": "binary",
                            "features": {"a": "numeric"}}],
                "alerting": {"enabled": True, "route": {"receiver": "nobody"},
                             "receivers": [{"name": "nobody"}]},
                "retraining": {
                    "enabled": True,
                    "allowed_hosts": [hook.address],
                    "base_delay_seconds": 0.01,
                    "max_delay_seconds": 0.01,
                    "max_attempts": 3,
                    "targets": [{"name": "orchestrator", "kind": "webhook",
                                 "url": f"http://{hook.address}/retrain",
                                 "secret": {"env": "DW_TEST_WHSEC"}}],
                    "policies": [{"name": "perf", "target": "orchestrator", **policy}],
                },
            }
        )  # fmt: skip
        self.keys = Keys(prefix)
        self.client = client
        self.query = Query(client, self.settings)
        self.retrainer = Retrainer(
            self.settings, client, self.keys, AuditLog(client, self.keys, 400)
        )
        self.fence = self.take("first")
        now = time.time()
        labels = {"alertname": "PerformanceDegraded", "model": "m", "severity": "critical",
                  "owner": "o", "feature": "roc_auc"}  # fmt: skip
        notes = {"summary": "performance degraded: roc_auc", "value": "0.61", "n": "900"}
        fired = Alert(labels, notes, "firing", now - 2 * HOUR, now - 2 * HOUR, now, 1)
        self.alerts = {"m": {fired.fingerprint: fired}}
        self.incident: float | None = fired.fired_at
        self.row = ModelStatus(self.settings.models[0], IngestCounts(joined=5000), None, None, None)

    def take(self, holder: str) -> Fence:
        lease = Lease(self.client, self.keys.evaluator_lease, self.keys.evaluator_fence, holder,
                      60_000)  # fmt: skip
        fence = lease.hold()
        assert fence is not None
        return fence

    def round(self, fence: Fence | None = None) -> list[RetrainRequest]:
        requests = self.query.retrain_requests()
        incidents = {"m": self.incident}
        now = time.time()
        self.retrainer.run_once(
            fence or self.fence, [self.row], self.alerts, incidents, requests, now
        )
        assert self.retrainer.wait(30.0)
        return self.query.retrain_requests("m")

    def trail(self) -> list[str]:
        return [e.kind for e in self.query.history("m")]


def verified(hook: Endpoint, index: int) -> dict[str, Any]:
    """The index-th delivery, its signature checked as the receiver would."""
    path, body, headers = hook.requests[index][0], hook.raw[index], hook.headers[index]
    assert path == "/retrain"
    return Webhook(SECRET).verify(body, headers)  # type: ignore[no-any-return]


def test_a_firing_performance_alert_is_delivered_once_signed_with_its_evidence(
    redis_client: redis.Redis, key_prefix: str, hook: Endpoint
) -> None:
    rig = Rig(redis_client, key_prefix, hook)
    (request,) = rig.round()
    assert (request.state, request.attempts, request.last_status) == ("delivered", 1, 200)
    assert len(hook.requests) == 1
    sent = verified(hook, 0)
    assert sent["event_id"] == request.id and hook.headers[0]["webhook-id"] == request.id
    assert sent["model"] == "m" and sent["alerts"][0]["alertname"] == "PerformanceDegraded"
    assert sent["reason"] == "performance degraded: roc_auc"
    rig.round()  # the same incident: nothing more
    assert len(hook.requests) == 1
    assert rig.trail() == ["retrain_requested", "retrain_delivered"]


def test_a_request_held_for_approval_goes_only_once_approved(
    redis_client: redis.Redis, key_prefix: str, hook: Endpoint
) -> None:
    rig = Rig(redis_client, key_prefix, hook, approval="required")
    (waiting,) = rig.round()
    assert waiting.state == "awaiting_approval" and hook.requests == []
    approved = msgspec.structs.replace(waiting, state="queued", decided_by="ana")
    rig.query.retrain_store().change(waiting, approved)
    (done,) = rig.round()
    assert done.state == "delivered" and done.decided_by == "ana" and len(hook.requests) == 1


def test_a_failing_target_is_retried_with_the_same_event_id_then_dead_lettered(
    redis_client: redis.Redis, key_prefix: str, hook: Endpoint
) -> None:
    hook.statuses = [503, 503, 503]
    rig = Rig(redis_client, key_prefix, hook)
    (first,) = rig.round()
    assert (first.state, first.attempts, first.last_status) == ("queued", 1, 503)
    for _ in range(3):
        time.sleep(0.05)  # past the (tiny) backoff
        (latest,) = rig.round()
    assert (latest.state, latest.attempts) == ("failed", 3)  # max_attempts
    assert len({h["webhook-id"] for h in hook.headers}) == 1 and len(hook.requests) == 3
    assert rig.trail() == ["retrain_requested", "retrain_failed"]


def test_a_4xx_is_not_retried(redis_client: redis.Redis, key_prefix: str, hook: Endpoint) -> None:
    hook.statuses = [400]
    rig = Rig(redis_client, key_prefix, hook)
    (request,) = rig.round()
    assert (request.state, request.attempts, request.last_status) == ("failed", 1, 400)
    time.sleep(0.05)
    rig.round()
    assert len(hook.requests) == 1


def test_an_evaluator_that_lost_its_lease_records_nothing_and_its_successor_resends_the_same_id(
    redis_client: redis.Redis, key_prefix: str, hook: Endpoint
) -> None:
    """The delivery of a paused instance reached the target but could not be recorded: the
    next holder sends the same event id again, which the target takes as a duplicate."""
    rig = Rig(redis_client, key_prefix, hook, approval="required")
    (waiting,) = rig.round()
    rig.query.retrain_store().change(waiting, msgspec.structs.replace(waiting, state="queued"))
    stale = rig.fence
    redis_client.delete(rig.keys.evaluator_lease)  # the lease expired during a pause
    successor = rig.take("second")
    (queued,) = rig.round(stale)  # sent, but its record is refused
    assert queued.state == "queued" and len(hook.requests) == 1
    with pytest.raises(FencedError):
        rig.query.retrain_store().open(queued, stale)
    hook.statuses = [409]  # the target saw this event id already
    (done,) = rig.round(successor)
    assert done.state == "delivered" and done.last_status == 409
    assert [h["webhook-id"] for h in hook.headers] == [done.id, done.id]
    assert json.loads(hook.raw[0])["event_id"] == json.loads(hook.raw[1])["event_id"]


def test_a_drift_alone_asks_for_nothing_under_the_default_policy(
    redis_client: redis.Redis, key_prefix: str, hook: Endpoint
) -> None:
    """A covariate shift that leaves performance intact: FeatureDrift fires for hours, the
    default policy (critical performance degradation) stays quiet."""
    rig = Rig(redis_client, key_prefix, hook)
    (fired,) = rig.alerts["m"].values()
    labels = {**fired.labels, "alertname": "FeatureDrift", "feature": "a"}
    drift = msgspec.structs.replace(fired, labels=labels)
    rig.alerts = {"m": {drift.fingerprint: drift}}
    assert rig.round() == [] and hook.requests == []


def test_a_429_waits_as_long_as_retry_after_says(
    redis_client: redis.Redis, key_prefix: str, hook: Endpoint
) -> None:
    """The backoff here is 10 ms at most; the target asks for 120 s, and gets them."""
    hook.statuses = [429]
    hook.response_headers = {"Retry-After": "120"}
    rig = Rig(redis_client, key_prefix, hook)
    before = time.time()
    (request,) = rig.round()
    assert (request.state, request.last_status) == ("queued", 429)
    assert request.next_attempt_at >= before + 120
    rig.round()  # not due yet: nothing sent
    assert len(hook.requests) == 1
