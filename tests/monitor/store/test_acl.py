"""The Redis ACL users documented in docs/operations.md, run against a real Redis: the daemon can
do all it does, the dashboard can read and nothing more."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from monitor import config
from monitor.errors import StoreUnavailableError
from monitor.store.checkpoint import Checkpoint, Status
from monitor.store.evaluations import EvaluationStore
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.outbox import Outbox
from monitor.store.query import Query
from monitor.vocab.deadletter import DeadLetter, InvalidReason
from monitor.vocab.effects import Effects

DOC = Path(__file__).resolve().parents[3] / "docs" / "operations.md"


@pytest.fixture
def users(redis_client: redis.Redis, key_prefix: str) -> Iterator[dict[str, redis.Redis]]:
    """The documented ``ACL SETUSER`` lines, for this test's prefix and its own user names."""
    lines = re.findall(r"^ACL SETUSER .+$", DOC.read_text(), flags=re.MULTILINE)
    assert len(lines) == 2, "docs/operations.md should document the daemon and dashboard users"
    suffix = uuid.uuid4().hex[:6]
    clients, names = {}, []
    for line in lines:
        _, _, name, *rules = line.split()
        user, password = f"{name}-{suffix}", uuid.uuid4().hex
        rules = [
            f">{password}" if r.startswith(">") else r.replace("dw:*", f"{key_prefix}:*")
            for r in rules
        ]
        redis_client.acl_setuser(user, reset=True)
        redis_client.execute_command("ACL", "SETUSER", user, *rules)
        names.append(user)
        kwargs = redis_client.connection_pool.connection_kwargs
        clients[name] = redis.Redis(
            host=kwargs["host"], port=kwargs["port"], username=user, password=password
        )
    yield clients
    for user in names:
        redis_client.acl_deluser(user)


def test_the_daemon_user_can_checkpoint_and_evaluate(
    users: dict[str, redis.Redis], key_prefix: str
) -> None:
    daemon = users["driftwatch"]
    keys = Keys(key_prefix)
    checkpoint = Checkpoint(daemon, keys, "g")
    claim = checkpoint.claim("t", 0)
    changes = Effects()
    changes.counters["m"]["predictions"] += 1
    changes.window("m", "0|v|r", 0).sums["sum:x"] += 1.5
    letter = DeadLetter(0, InvalidReason.EMPTY, "empty", "m", None, None)
    result = checkpoint.apply(claim, 0, 1, changes, 0, fresh=True, dead=[letter])
    assert result.status is Status.APPLIED
    outbox = Outbox(daemon)
    assert outbox.pending(claim.keys) == [letter]
    outbox.remove(claim.keys, [0])
    lease = Lease(daemon, keys.evaluator_lease, keys.evaluator_fence, "me", 10_000)
    fence = lease.hold()
    assert fence is not None
    EvaluationStore(daemon, keys, 10**9)  # registers its scripts
    lease.release()


def test_the_dashboard_user_reads_and_cannot_write(
    users: dict[str, redis.Redis], key_prefix: str, redis_url: str
) -> None:
    settings = config.parse(
        {
            "redis": {"url": redis_url, "key_prefix": key_prefix},
            "models": [{"name": "m", "owner": "o", "task": "binary", "features": {"x": "numeric"}}],
        }
    )
    dashboard = users["driftwatch-dashboard"]
    query = Query(dashboard, settings)
    assert [row.model.name for row in query.status()] == ["m"]
    assert query.ingest()[0].counts.predictions == 0
    with pytest.raises(redis.exceptions.NoPermissionError):
        dashboard.set(f"{key_prefix}:x", 1)
    with pytest.raises(StoreUnavailableError, match="lacks a right Driftwatch needs"):
        Checkpoint(dashboard, Keys(key_prefix), "g").claim("t", 0)
    with pytest.raises(redis.exceptions.NoPermissionError):
        dashboard.get("another-prefix:x")
