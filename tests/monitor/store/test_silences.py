"""Silences in Redis: added and expired by people (unfenced), listed through the query module,
swept 120 h after their end by the next write."""

from __future__ import annotations

import time

import msgspec
import redis

from monitor import config
from monitor.store.keys import Keys
from monitor.store.query import Query
from monitor.store.silences import RETENTION_SECONDS, SilenceStore
from monitor.vocab.silences import Silence

HOUR = 3600.0


def make(key_prefix: str, client: redis.Redis) -> tuple[SilenceStore, Query]:
    settings = config.parse(
        {"models": [{"name": "m", "owner": "o", "task": "binary", "features": {"a": "numeric"}}],
         "redis": {"key_prefix": key_prefix}}
    )  # fmt: skip
    query = Query(client, settings)
    return query.silence_store(), query


def silence(model: str, start: float, hours: float = 1.0) -> Silence:
    return Silence.new([f"model={model}"], hours * HOUR, "ana", f"mute {model}", now=start)


def test_silences_are_added_listed_and_expired(redis_client: redis.Redis, key_prefix: str) -> None:
    store, query = make(key_prefix, redis_client)
    now = time.time()
    a, b = silence("a", now - 10), silence("b", now - 5)
    later = msgspec.structs.replace(silence("c", now), starts_at=now + HOUR, ends_at=now + 2 * HOUR)
    for s in (later, b, a):
        store.add(s)
    assert query.silences(now) == [a, b, later]  # oldest start first
    assert query.silences() == [a, b, later]  # the clock by default

    ended = store.expire(a.id, now, "ana")
    assert ended == msgspec.structs.replace(a, ends_at=now)
    assert query.silences(now) == [b, later]
    assert query.silences(now, include_expired=True) == [ended, b, later]
    assert store.expire(a.id, now + 1, "ana") == ended  # already expired: left as it was
    assert store.expire("no-such-id", now, "ana") is None

    never = store.expire(later.id, now, "ana")  # a pending silence ends before it starts
    assert never == msgspec.structs.replace(later, starts_at=now, ends_at=now)
    assert never is not None and never.state(now) == "expired"
    assert query.silences(now) == [b]


def test_the_next_write_sweeps_silences_ended_120_hours_ago(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    store, query = make(key_prefix, redis_client)
    now = time.time()
    ancient = silence("ancient", now - RETENTION_SECONDS - 2 * HOUR)  # ended 121 h ago
    old = silence("old", now - RETENTION_SECONDS)  # ended 119 h ago
    current = silence("current", now - HOUR, hours=10)
    for s in (ancient, old, current):
        redis_client.hset(Keys(key_prefix).silences, s.id, msgspec.msgpack.encode(s))
    assert query.silences(now, include_expired=True) == [ancient, old, current]

    fresh = silence("fresh", now)
    store.add(fresh)  # sweeps by the clock
    assert query.silences(now, include_expired=True) == [old, current, fresh]

    two_hours_on = now + 2 * HOUR
    ended = store.expire(current.id, two_hours_on, "ana")  # sweeps by the time it is given
    assert query.silences(two_hours_on, include_expired=True) == [ended, fresh]
