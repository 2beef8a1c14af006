"""``driftwatch retrain``: list, show, approve, reject and trigger against the real Redis; each
decision is kept with the request and filed in the model's trail, once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result

from monitor import config
from monitor.cli.retrain import retrain_group
from monitor.store.keys import Keys
from monitor.store.query import Query
from monitor.store.retrain import RetrainStore
from monitor.vocab.retrain import RetrainRequest

T0 = 1_800_000_000.0
CONFIG = """
[redis]
url = "{url}"
key_prefix = "{prefix}"

[[models]]
name = "fraud"
owner = "o"
task = "binary"
features = {{ a = "numeric" }}

[alerting]
enabled = true
[alerting.route]
receiver = "nobody"
[[alerting.receivers]]
name = "nobody"

[retraining]
enabled = true
allowed_hosts = ["127.0.0.1:1"]
[[retraining.targets]]
name = "orchestrator"
kind = "webhook"
url = "http://127.0.0.1:1/retrain"
[[retraining.policies]]
name = "perf"
target = "orchestrator"
approval = "required"
"""


@pytest.fixture
def config_path(tmp_path: Path, redis_url: str, key_prefix: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(url=redis_url, prefix=key_prefix))
    return path


def run(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(retrain_group, [*args, "--config", str(config_path)])


def waiting(redis_client: redis.Redis, key_prefix: str) -> RetrainRequest:
    request = RetrainRequest(
        "retrain:fraud:1800000000", "fraud", "perf", "orchestrator", "awaiting_approval", T0,
        "driftwatch", "performance degraded: f1", json.dumps({"event_id": "x", "model": "fraud"}),
    )  # fmt: skip
    RetrainStore(redis_client, Keys(key_prefix)).open(request)
    return request


def query(config_path: Path) -> Query:
    settings = config.load(config_path)
    return Query(redis.Redis.from_url(settings.redis.url), settings)


def test_a_request_awaiting_approval_is_listed_shown_and_approved_once(
    config_path: Path, redis_client: redis.Redis, key_prefix: str
) -> None:
    request = waiting(redis_client, key_prefix)
    listed = run(config_path, "list")
    assert listed.exit_code == 0, listed.output
    assert "awaiting_approval" in listed.output and request.id in listed.output
    docs = json.loads(run(config_path, "list", "--state", "awaiting_approval", "--json").output)
    assert [(d["id"], d["created_at"]) for d in docs] == [(request.id, "2027-01-15T08:00:00Z")]
    assert json.loads(run(config_path, "list", "--state", "failed", "--json").output) == []
    shown = json.loads(run(config_path, "show", request.id, "--json").output)
    assert shown["payload"] == {"event_id": "x", "model": "fraud"}

    approved = run(config_path, "approve", request.id, "--by", "ana", "--comment", "go")
    assert approved.exit_code == 0 and "approved" in approved.output, approved.output
    again = run(config_path, "reject", request.id, "--by", "bo", "--comment", "no")
    assert again.exit_code == 1 and "is queued, not awaiting approval" in again.output
    (stored,) = query(config_path).retrain_requests()
    assert (stored.state, stored.decided_by, stored.decision_comment) == ("queued", "ana", "go")
    trail = query(config_path).history("fraud")
    assert [(e.kind, e.actor) for e in trail] == [("retrain_approved", "ana")]
    assert trail[0].details["comment"] == "go"


def test_a_rejection_needs_a_reason_and_is_kept(
    config_path: Path, redis_client: redis.Redis, key_prefix: str
) -> None:
    request = waiting(redis_client, key_prefix)
    assert run(config_path, "reject", request.id, "--by", "bo").exit_code == 2  # no --comment
    rejected = run(config_path, "reject", request.id, "--by", "bo", "--comment", "bad labels")
    assert rejected.exit_code == 0, rejected.output
    (stored,) = query(config_path).retrain_requests()
    assert (stored.state, stored.decided_by) == ("rejected", "bo")
    unknown = run(config_path, "show", "retrain:nope:1")
    assert unknown.exit_code == 1 and "no retraining request" in unknown.output


def test_trigger_queues_a_manual_request_but_never_a_second_in_flight(
    config_path: Path, redis_client: redis.Redis, key_prefix: str
) -> None:
    made = run(config_path, "trigger", "--model", "fraud", "--by", "ana", "--reason", "new data")
    assert made.exit_code == 0, made.output
    (request,) = query(config_path).retrain_requests()
    assert (request.state, request.policy, request.target) == ("queued", "manual", "orchestrator")
    assert request.requested_by == "ana" and request.id.startswith("retrain:fraud:manual-")
    payload = json.loads(request.payload)
    assert (payload["event_id"], payload["requested_by"]) == (request.id, "ana")
    busy = run(config_path, "trigger", "--model", "fraud", "--by", "bo", "--reason", "again")
    assert busy.exit_code == 1 and f"in flight ({request.id})" in busy.output
    nope = run(config_path, "trigger", "--model", "frod", "--by", "bo", "--reason", "x")
    assert nope.exit_code == 2 and "did you mean 'fraud'? configured: fraud" in nope.output
    assert [e.kind for e in query(config_path).history("fraud")] == ["retrain_requested"]
