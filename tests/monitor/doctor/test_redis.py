"""The Redis checks: against a redis-server of the test's own for the settings that lose data
(so no other test sees its config changed), and against the session's Redis when healthy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from monitor.doctor.findings import Status
from monitor.doctor.redis import check_redis
from monitor.services.redis import RedisServer
from monitor.store import layout
from monitor.store.keys import Keys
from tests.monitor.doctor.support import collect, settings_of


@pytest.fixture
def own_redis(
    tmp_path: Path, free_port_factory: Callable[[int], list[int]]
) -> Iterator[RedisServer]:
    """A redis-server with a password, started as ``driftwatch services up`` starts one."""
    server = RedisServer(tmp_path / "redis", free_port_factory(1)[0], password=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_session_redis_passes_every_data_safety_check(
    write_config: Callable[..., Path],
) -> None:
    found = collect(check_redis, settings_of(write_config()))
    for name in ("redis.connection", "redis.version", "redis.persistence", "redis.eviction"):
        assert found[name].status is Status.OK, found[name]
    assert "noeviction" in found["redis.eviction"].found
    assert "expected need" in found["redis.memory"].found


def test_data_of_a_newer_key_layout_fails_with_its_fix(
    write_config: Callable[..., Path], redis_client: redis.Redis
) -> None:
    settings = settings_of(write_config())
    assert collect(check_redis, settings)["redis.layout"].status is Status.OK
    redis_client.set(Keys(settings.redis.key_prefix).layout, layout.LAYOUT + 1)
    found = collect(check_redis, settings)["redis.layout"]
    assert found.status is Status.FAIL and f"key layout {layout.LAYOUT + 1}" in found.found
    assert found.fix == layout.FIX


def test_eviction_lost_persistence_and_a_full_redis_fail_with_their_fixes(
    write_config: Callable[..., Path], own_redis: RedisServer
) -> None:
    extra = f'password_file = "{own_redis.password_file}"\n'
    path = write_config(redis=own_redis.url)
    path.write_text(path.read_text().replace("[redis]\n", f"[redis]\n{extra}"))
    settings = settings_of(path)
    admin = redis.Redis.from_url(own_redis.url, password=own_redis.password())
    try:
        found = collect(check_redis, settings)
        assert found["redis.eviction"].status is Status.OK
        assert found["redis.persistence"].found == "AOF on, appendfsync everysec"

        admin.config_set("maxmemory-policy", "allkeys-lru")
        admin.config_set("appendonly", "no")
        used = int(admin.info("memory")["used_memory"])
        admin.config_set("maxmemory", used + 4096)
        found = collect(check_redis, settings)
    finally:
        admin.config_set("maxmemory", 0)
        admin.close()
    eviction = found["redis.eviction"]
    assert eviction.status is Status.FAIL
    assert "allkeys-lru" in eviction.found
    assert "CONFIG SET maxmemory-policy noeviction" in eviction.fix
    persistence = found["redis.persistence"]
    assert persistence.status is Status.FAIL and "appendonly yes" in persistence.fix
    memory = found["redis.memory"]
    assert memory.status is Status.FAIL and "about to refuse writes" in memory.found
    assert "raise maxmemory" in memory.fix


def test_a_missing_password_is_refused_naming_where_it_belongs(
    write_config: Callable[..., Path], own_redis: RedisServer
) -> None:
    found = collect(check_redis, settings_of(write_config(redis=own_redis.url)))
    assert list(found) == ["redis.connection"]
    refused = found["redis.connection"]
    assert refused.status is Status.FAIL
    assert "redis.password_env" in refused.fix
    assert own_redis.password() not in refused.found + refused.fix


def test_the_daemons_least_privilege_user_gets_a_warning_not_a_failure(
    write_config: Callable[..., Path], own_redis: RedisServer
) -> None:
    """The daemon's ACL user (docs/operations.md, Redis rights) may not run INFO: the doctor
    says how to let it, instead of guessing the settings it cannot read."""
    admin = redis.Redis.from_url(own_redis.url, password=own_redis.password())
    try:
        admin.execute_command(
            "ACL SETUSER driftwatch on nopass resetkeys ~dw:* ~dwtest:* resetchannels -@all "
            "+@read +@write +@scripting +@connection +time -@dangerous"
        )
    finally:
        admin.close()
    url = own_redis.url.replace("redis://", "redis://driftwatch@")
    found = collect(check_redis, settings_of(write_config(redis=url)))
    assert found["redis.connection"].status is Status.OK
    refused = found["redis.version"]
    assert refused.status is Status.WARN and "may not run INFO" in refused.found
    assert "+info" in refused.fix


def test_a_user_that_may_not_read_the_keys_gets_warnings_not_a_crash(
    write_config: Callable[..., Path], own_redis: RedisServer
) -> None:
    """A monitoring user allowed INFO and CONFIG GET but no key: the key reads warn."""
    admin = redis.Redis.from_url(own_redis.url, password=own_redis.password())
    try:
        admin.execute_command(
            "ACL SETUSER watcher on nopass resetkeys -@all +ping +info +config|get"
        )
    finally:
        admin.close()
    url = own_redis.url.replace("redis://", "redis://watcher@")
    found = collect(check_redis, settings_of(write_config(redis=url)))
    assert found["redis.eviction"].status is Status.OK  # INFO and CONFIG GET still read
    for name, what in (("redis.layout", "key layout"), ("redis.memory", "pending predictions")):
        assert found[name].status is Status.WARN and f"may not read the {what}" in found[name].found
        assert "Redis rights" in found[name].fix
