"""Audit trails in Redis: appended by time, trimmed by age, refused to a stale evaluator, and read
by period through ``Query.history``."""

from __future__ import annotations

import time

import pytest
import redis

from monitor import config
from monitor.errors import FencedError
from monitor.store.audit import AuditLog
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.query import Query
from monitor.vocab.audit import DAEMON, AuditEvent

DAY = 86400.0


def event(ts: float, model: str = "fraud", version: str = "v1") -> AuditEvent:
    return AuditEvent(ts, "version_first_seen", model, DAEMON, f"{version} first seen",
                      {"version": version})  # fmt: skip


@pytest.fixture
def query(redis_client: redis.Redis, key_prefix: str, redis_url: str) -> Query:
    settings = config.parse(
        {
            "redis": {"url": redis_url, "key_prefix": key_prefix},
            "models": [
                {"name": "fraud", "owner": "o", "task": "binary", "features": {"a": "numeric"}}
            ],
        }
    )
    return Query(redis_client, settings)


def test_events_are_filed_by_their_time_and_read_back_with_their_ids(
    redis_client: redis.Redis, key_prefix: str, query: Query
) -> None:
    log = AuditLog(redis_client, Keys(key_prefix), retention_days=400)
    now = time.time()
    events = [event(now - 30, version="a"), event(now - 20.0005, version="b")]
    for e in events:
        log.append(e)
    read = query.history("fraud")
    assert [e.id for e in read] == [f"{int((now - 30) * 1000)}-0",
                                    f"{int((now - 20.0005) * 1000)}-0"]  # fmt: skip
    assert [e.details["version"] for e in read] == ["a", "b"]
    assert read[1] == AuditEvent(now - 20.0005, "version_first_seen", "fraud", DAEMON,
                                 "b first seen", {"version": "b"}, id=read[1].id)  # fmt: skip
    assert query.history("churn") == [] and query.history("nobody") == []


def test_an_event_older_than_the_newest_is_filed_after_it_and_keeps_its_time(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    log = AuditLog(redis_client, Keys(key_prefix), retention_days=400)
    now = time.time()
    ms = int(now * 1000)
    log.append(event(now, version="late clock"))
    log.append(event(now - 5, version="lagging clock"))
    log.append(event(now, version="same millisecond"))
    read = log.events("fraud")
    assert [e.id for e in read] == [f"{ms}-0", f"{ms}-1", f"{ms}-2"]
    assert [e.ts for e in read] == [now, now - 5, now]


def test_appending_trims_what_is_older_than_the_retention(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    now = time.time()
    long_kept = AuditLog(redis_client, keys, retention_days=1000)
    for age_days in (400, 120, 80):
        long_kept.append(event(now - age_days * DAY, version=f"{age_days}d"))
    assert redis_client.xlen(keys.audit("fraud")) == 3
    AuditLog(redis_client, keys, retention_days=90).append(event(now, version="new"))
    assert [e.details["version"] for e in long_kept.events("fraud")] == ["80d", "new"]
    # an event older than the retention is not kept, even by the call appending it
    AuditLog(redis_client, keys, retention_days=90).append(event(now - 91 * DAY, "churn"))
    assert long_kept.events("churn") == []


def test_a_trail_trimmed_empty_still_files_later_events_after_its_last_id(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    now = time.time()
    AuditLog(redis_client, keys, retention_days=1000).append(event(now - 95 * DAY))
    # filed after the first (…-1), then both trimmed by the same call
    AuditLog(redis_client, keys, retention_days=90).append(event(now - 100 * DAY))
    assert redis_client.xlen(keys.audit("fraud")) == 0
    log = AuditLog(redis_client, keys, retention_days=1000)
    log.append(event(now - 99 * DAY, version="older than the last id"))
    assert [e.id for e in log.events("fraud")] == [f"{int((now - 95 * DAY) * 1000)}-2"]


def test_a_fenced_append_records_events_of_several_models_unless_the_fence_is_stale(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    log = AuditLog(redis_client, keys, retention_days=400)
    lease = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "a", 10_000)
    fence = lease.hold()
    assert fence is not None
    now = time.time()
    log.append_fenced(fence, [event(now - 2, "fraud"), event(now - 1, "churn"), event(now)])
    log.append_fenced(fence, [])  # nothing to record: no call
    assert [e.ts for e in log.events("fraud")] == [now - 2, now]
    assert [e.ts for e in log.events("churn")] == [now - 1]
    lease.release()
    assert Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "b", 10_000).hold()
    with pytest.raises(FencedError):
        log.append_fenced(fence, [event(now + 1, "fraud"), event(now + 1, "churn")])
    assert len(log.events("fraud")) == 2 and len(log.events("churn")) == 1


def test_history_reads_a_period_inclusively_and_the_newest_events_first_cut(
    redis_client: redis.Redis, key_prefix: str, query: Query
) -> None:
    log = AuditLog(redis_client, Keys(key_prefix), retention_days=400)
    start = float(int(time.time()) - 100)
    for i in range(6):
        log.append(event(start + 10 * i, version=f"v{i}"))

    def versions(
        since: float | None = None, until: float | None = None, limit: int | None = None
    ) -> list[str]:
        return [e.details["version"] for e in query.history("fraud", since, until, limit)]

    assert versions() == [f"v{i}" for i in range(6)]
    assert versions(since=start + 10, until=start + 30) == ["v1", "v2", "v3"]
    assert versions(since=start + 10.001) == ["v2", "v3", "v4", "v5"]
    assert versions(until=start + 9.999) == ["v0"]
    assert versions(limit=2) == ["v4", "v5"]
    assert versions(since=start + 10, until=start + 30, limit=2) == ["v2", "v3"]
    assert versions(since=start + 60) == []
