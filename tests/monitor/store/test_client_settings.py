"""What ``[redis]`` accepts for Sentinel and TLS, and what the client says when they fail.

The failover itself, with real sentinels and a daemon, is tests/e2e/test_sentinel.py; TLS against
a real server is test_tls.py. Here: the rules ``config check`` applies, a sentinel group nobody
answers for, and a primary refusing writes for want of replicas (a real ``redis-server``).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from monitor.config import RedisSettings
from monitor.errors import AccessRefusedError, ConfigError, StoreUnavailableError
from monitor.services import RedisServer, ensure_redis_installed
from monitor.store.client import check_access, connect, is_outage, unavailable


def problems(**values: object) -> dict[str, str]:
    """``config check``'s findings for ``[redis]`` with ``values``, its secrets and files
    included: key → message."""
    errors: list[ConfigError] = []
    settings = RedisSettings(**values)  # type: ignore[arg-type]
    settings.validate("redis", errors)
    for key, secret in settings.secrets("redis"):
        secret.check(key, errors)
    found: dict[str, str] = {}
    for e in errors:
        found[e.key] = f"{found[e.key]} | {e}" if e.key in found else str(e)
    return found


SENTINELS = ("10.0.0.1:26379", "10.0.0.2:26379")


def test_sentinels_with_a_url_naming_the_service_are_accepted() -> None:
    named = {"sentinels": SENTINELS, "service_name": "mymaster"}
    assert problems(url="redis://driftwatch@mymaster/0", **named) == {}
    assert problems(url="rediss://mymaster/2", **named) == {}


@pytest.mark.parametrize(
    ("values", "key", "says"),
    [
        ({"sentinels": SENTINELS}, "redis.service_name", "sentinel monitor NAME"),
        (
            {"sentinels": SENTINELS, "service_name": "mymaster"},
            "redis.url",
            "write redis://mymaster/0",
        ),
        (
            {
                "url": "redis://app@mymaster:6379/0",
                "sentinels": SENTINELS,
                "service_name": "mymaster",
            },
            "redis.url",
            "write redis://app@mymaster/0",
        ),
        (
            {"url": "redis://m/0", "sentinels": ("10.0.0.1",), "service_name": "m"},
            "redis.sentinels[0]",
            "write host:port",
        ),
        (
            {"url": "redis://m/0", "sentinels": (":pw@h:26379",), "service_name": "m"},
            "redis.sentinels[0]",
            "credentials must not be here",
        ),
        ({"service_name": "mymaster"}, "redis.service_name", "only used with redis.sentinels"),
        ({"sentinel_password_env": "X"}, "redis.sentinel_password_env", "only used with"),
        ({"ssl_cafile": "/etc/hosts"}, "redis.ssl_cafile", "write the URL as rediss://"),
        (
            {"url": "rediss://h:6379/0", "ssl_cafile": "/nonexistent/ca.crt"},
            "redis.ssl_cafile",
            "does not exist",
        ),
        (
            {"url": "rediss://h:6379/0", "ssl_certfile": "/etc/hosts"},
            "redis.ssl_keyfile",
            "set both ssl_certfile and ssl_keyfile",
        ),
    ],
)
def test_config_check_names_the_key_and_the_fix(
    values: dict[str, object], key: str, says: str
) -> None:
    found = problems(**values)
    assert key in found, found
    assert says in found[key]
    assert "pw" not in found[key]


def test_an_unanswered_sentinel_group_is_unreachable_naming_the_sentinel_keys(
    free_port_factory: Callable[[int], list[int]],
) -> None:
    port = free_port_factory(1)[0]
    settings = RedisSettings(
        url="redis://mymaster/0", sentinels=(f"127.0.0.1:{port}",), service_name="mymaster"
    )
    with pytest.raises(StoreUnavailableError) as raised:
        check_access(connect(settings, timeout_seconds=1.0), settings)
    message = str(raised.value)
    assert message.startswith(
        f"Redis is unreachable through sentinels 127.0.0.1:{port} (primary 'mymaster', "
        f"redis://mymaster/0): no sentinel names a reachable primary (127.0.0.1:{port} Error "
        "111 connecting"
    )
    assert message.endswith("fix redis.sentinels and redis.service_name")
    assert "<redis" not in message


def test_a_primary_without_enough_replicas_is_an_outage_to_wait_out(
    tmp_path: Path, free_port_factory: Callable[[int], list[int]]
) -> None:
    """``min-replicas-to-write`` (docs/operations.md, Sentinel) refuses writes, from scripts
    too, with NOREPLICAS: the daemon must wait, not dead-letter the records it was applying."""
    server = RedisServer(tmp_path / "redis", free_port_factory(1)[0])
    server.start()
    try:
        client = connect(RedisSettings(url=server.url))
        client.config_set("min-replicas-to-write", 1)
        for write in (
            lambda: client.set("k", 1),
            lambda: client.eval("return redis.call('SET', KEYS[1], 1)", 1, "k"),
        ):
            with pytest.raises(redis.ResponseError) as raised:
                write()
            assert is_outage(raised.value)
            assert "min-replicas-to-write is not met" in str(unavailable("applying", raised.value))
    finally:
        server.kill()


SENTINEL_PASSWORD = "sentinel-" + uuid.uuid4().hex


@pytest.fixture
def guarded_sentinel(
    tmp_path: Path, free_port_factory: Callable[[int], list[int]]
) -> Iterator[tuple[int, int]]:
    """A real sentinel with ``requirepass``, monitoring ``mymaster`` at a port nobody serves:
    (the sentinel's port, the primary's)."""
    port, primary = free_port_factory(2)
    (tmp_path / "sentinel.conf").write_text(
        f"bind 127.0.0.1\nport {port}\ndaemonize no\ndir {tmp_path}\n"
        f"requirepass {SENTINEL_PASSWORD}\nsentinel monitor mymaster 127.0.0.1 {primary} 1\n"
    )
    process = subprocess.Popen(
        [ensure_redis_installed(), str(tmp_path / "sentinel.conf"), "--sentinel"],
        stdout=(tmp_path / "sentinel.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port, password=SENTINEL_PASSWORD).ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, (tmp_path / "sentinel.log").read_text()
                time.sleep(0.05)
        yield port, primary
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize(
    ("password", "service", "error", "says"),
    [
        (None, "mymaster", AccessRefusedError, "they want a password: name the environment "
         "variable holding it in redis.sentinel_password_env"),
        ("wrong", "mymaster", AccessRefusedError, "refused the credentials (invalid username-"
         "password pair or user is disabled.): check the password in $DW_TEST_SENTINEL_PASSWORD "
         "(redis.sentinel_password_env)"),
        (SENTINEL_PASSWORD, "mymaster", StoreUnavailableError, "(Error 111 connecting to "
         "127.0.0.1:{primary}."),
        (SENTINEL_PASSWORD, "other", StoreUnavailableError, "does not monitor 'other'"),
    ],
)  # fmt: skip
def test_a_sentinel_that_names_no_primary_says_why(
    guarded_sentinel: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
    password: str | None,
    service: str,
    error: type[Exception],
    says: str,
) -> None:
    port, primary = guarded_sentinel
    if password is not None:
        monkeypatch.setenv("DW_TEST_SENTINEL_PASSWORD", password)
    settings = RedisSettings(
        url=f"redis://{service}/0",
        sentinels=(f"127.0.0.1:{port}",),
        service_name=service,
        sentinel_password_env="DW_TEST_SENTINEL_PASSWORD" if password is not None else "",
    )
    with pytest.raises(error) as raised:
        check_access(connect(settings, timeout_seconds=1.0), settings)
    message = str(raised.value)
    unreachable = "" if error is AccessRefusedError else "is unreachable "
    assert message.startswith(
        f"Redis {unreachable}through sentinels 127.0.0.1:{port} (primary {service!r}, "
        f"redis://{service}/0)"
    )
    assert says.format(primary=primary) in message
    assert SENTINEL_PASSWORD not in message and "<redis" not in message
