"""The retraining outbox in Redis: one request in flight per model, no lost update, fenced."""

from __future__ import annotations

import msgspec
import pytest
import redis

from monitor import config
from monitor.errors import FencedError
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.query import Query
from monitor.store.retrain import Change, RetrainStore
from monitor.vocab.retrain import RetrainRequest, RetrainState

T0 = 1_800_000_000.0


def request(id: str, state: RetrainState = "queued", model: str = "m") -> RetrainRequest:
    return RetrainRequest(id, model, "perf", "airflow", state, T0, "driftwatch", "why", "{}")


def query(client: redis.Redis, prefix: str) -> Query:
    settings = config.parse(
        {"redis": {"key_prefix": prefix},
         "models": [{"name": "m", "owner": "o", "task": "binary", "features": {"a": "numeric"}}]}
    )  # fmt: skip
    return Query(client, settings)


def test_a_model_has_one_request_in_flight_and_an_event_id_is_used_once(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    store = RetrainStore(redis_client, Keys(key_prefix))
    first = request("retrain:m:1")
    assert store.open(first) is Change.DONE
    assert store.open(request("retrain:m:2")) is Change.BUSY  # m has one in flight
    assert store.open(request("retrain:n:1", model="n")) is Change.DONE  # another model may
    done = msgspec.structs.replace(first, state="delivered", attempts=1, delivered_at=T0 + 5)
    assert store.change(first, done) is Change.DONE
    assert store.open(request("retrain:m:1")) is Change.BUSY  # the same incident, again
    assert store.open(request("retrain:m:2")) is Change.DONE  # a final state freed the slot
    found = query(redis_client, key_prefix).retrain_requests("m")
    assert {r.id: r.state for r in found} == {"retrain:m:1": "delivered", "retrain:m:2": "queued"}


def test_a_change_to_a_request_that_changed_meanwhile_is_refused(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    store = RetrainStore(redis_client, Keys(key_prefix))
    waiting = request("retrain:m:1", state="awaiting_approval")
    store.open(waiting)
    approved = msgspec.structs.replace(waiting, state="queued", decided_by="ana")
    rejected = msgspec.structs.replace(waiting, state="rejected", decided_by="bo")
    assert store.change(waiting, approved) is Change.DONE
    assert store.change(waiting, rejected) is Change.STALE  # bo read it before ana approved
    tried = msgspec.structs.replace(approved, attempts=1, last_status=503)
    assert store.change(approved, tried) is Change.DONE
    assert store.change(approved, tried) is Change.STALE  # the same attempt recorded twice
    assert store.change(request("retrain:m:9"), tried) is Change.STALE  # unknown id
    (stored,) = query(redis_client, key_prefix).retrain_requests()
    assert stored == tried and store.open(request("retrain:m:2")) is Change.BUSY


def test_a_stale_evaluator_can_neither_open_nor_record(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    store = RetrainStore(redis_client, keys)
    lease = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "a", 10_000)
    fence = lease.hold()
    assert fence is not None
    queued = request("retrain:m:1")
    assert store.open(queued, fence) is Change.DONE
    lease.release()
    assert Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "b", 10_000).hold()
    with pytest.raises(FencedError):
        store.change(queued, msgspec.structs.replace(queued, state="delivered"), fence)
    with pytest.raises(FencedError):
        store.open(request("retrain:n:1", model="n"), fence)
    assert [r.state for r in query(redis_client, key_prefix).retrain_requests()] == ["queued"]
