"""Alert states in Redis: written under the evaluator's fence, read through the query module."""

from __future__ import annotations

import pytest
import redis

from monitor import config
from monitor.errors import FencedError
from monitor.store.alerts import AlertStore
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.query import Query
from monitor.vocab.alerts import Alert, AlertState


def alert(feature: str, state: AlertState = "firing") -> Alert:
    labels = {"alertname": "FeatureDrift", "model": "m", "severity": "critical", "owner": "o",
              "feature": feature}  # fmt: skip
    return Alert(labels, {"summary": f"feature drift: {feature}"}, state, 1.0, 2.0, 2.0)


def test_alerts_are_saved_and_forgotten_under_the_fence_and_read_back(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    settings = config.parse(
        {"models": [{"name": "m", "owner": "o", "task": "binary", "features": {"a": "numeric"}}],
         "redis": {"key_prefix": key_prefix}}
    )  # fmt: skip
    keys = Keys(key_prefix)
    store = AlertStore(redis_client, keys)
    lease = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "a", 10_000)
    fence = lease.hold()
    assert fence is not None
    a, b = alert("a"), alert("b", "pending")
    store.save(fence, "m", [a, b], [], None)
    query = Query(redis_client, settings)
    assert query.alerts() == {"m": {a.fingerprint: a, b.fingerprint: b}}
    store.save(fence, "m", [], [b.fingerprint], None)
    assert query.alerts(["m"]) == {"m": {a.fingerprint: a}}

    lease.release()  # a successor takes the lease: the old fence writes nothing
    successor = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "b", 10_000)
    assert successor.hold() is not None
    with pytest.raises(FencedError):
        store.save(fence, "m", [alert("c")], [a.fingerprint], None)
    assert query.alerts(["m"]) == {"m": {a.fingerprint: a}}
