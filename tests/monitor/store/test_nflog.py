"""The notification log in Redis: written under the evaluator's fence, entries dropped on demand."""

from __future__ import annotations

import pytest
import redis

from monitor.errors import FencedError
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.nflog import NotificationLog
from monitor.vocab.alerts import LogEntry


def test_entries_are_recorded_dropped_and_refused_to_a_stale_fence(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    log = NotificationLog(redis_client, keys)
    lease = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "a", 10_000)
    fence = lease.hold()
    assert fence is not None
    first, second = LogEntry(["f1"], [], 10.0), LogEntry([], ["f1"], 20.0)
    log.record(fence, "owners/0", "g1", first)
    log.record(fence, "owners/0", "g2", second)
    assert log.entries("owners/0") == {"g1": first, "g2": second}
    log.drop(fence, "owners/0", ["g1"])
    log.drop(fence, "owners/0", [])  # nothing to drop: no call
    assert log.entries("owners/0") == {"g2": second}
    lease.release()
    assert Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "b", 10_000).hold()
    with pytest.raises(FencedError):
        log.record(fence, "owners/0", "g3", first)
    assert log.entries("owners/0") == {"g2": second}
