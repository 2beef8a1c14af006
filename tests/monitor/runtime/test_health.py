"""Health endpoints that nothing can hold: idle clients, a hung Redis, a dead broker."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
import redis
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import KafkaSettings, RedisSettings
from monitor.metrics import PendingJoins
from monitor.runtime import health
from monitor.runtime.health import HealthServer
from monitor.runtime.probe import PROBE_TIMEOUT_SECONDS, DependencyProbe, ModelReading, Watch
from monitor.store.client import connect


def nothing() -> ModelReading:
    """A reading of no model (for probes whose reading the test does not look at)."""
    return ModelReading([], {}, time.monotonic())


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HealthServer]:
    monkeypatch.setattr(health._QuietHandler, "timeout", 1.0)
    srv = HealthServer(
        "127.0.0.1", 0, CollectorRegistry(), time.monotonic, lambda: (True, "3 partitions")
    )
    srv.start()
    yield srv
    srv.stop()


def test_an_idle_half_sent_request_neither_blocks_others_nor_stays_open(
    server: HealthServer,
) -> None:
    idle = socket.create_connection(("127.0.0.1", server.port))
    idle.sendall(b"GET /heal")  # and nothing more
    started = time.monotonic()
    assert get(server.port, "/healthz")[0] == 200
    assert get(server.port, "/readyz") == (200, "ok: 3 partitions\n")
    assert get(server.port, "/metrics")[0] == 200
    assert time.monotonic() - started < 2.0
    idle.settimeout(10)
    assert idle.recv(1024) == b""  # dropped after the client timeout
    assert time.monotonic() - started < 5.0
    idle.close()


def test_a_scrape_never_waits_on_redis(redis_client: redis.Redis) -> None:
    """The pending-join gauge is read by the probe thread; a scrape copies the last reading,
    with its age, even while the read itself hangs."""
    hang, release = threading.Event(), threading.Event()

    def hung_read() -> ModelReading:
        hang.set()
        release.wait(30)
        return nothing()

    probe = DependencyProbe(redis_client, KafkaSettings(), read=hung_read)
    registry = CollectorRegistry()
    registry.register(PendingJoins(probe))
    srv = HealthServer("127.0.0.1", 0, registry, time.monotonic, lambda: (True, ""))
    srv.start()
    try:
        assert "driftwatch_pending_joins" not in get(srv.port, "/metrics")[1]  # never read yet
        probe.reading = ModelReading([], {}, time.monotonic() - 42)
        probe.start()
        assert hang.wait(5)
        started = time.monotonic()
        status, text = get(srv.port, "/metrics")
        assert status == 200 and time.monotonic() - started < 1.0
        samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
        assert samples["driftwatch_pending_joins_age_seconds"] >= 42
    finally:
        release.set()
        probe.stop()
        srv.stop()


def test_the_probe_tells_which_dependency_is_unreachable(
    redis_url: str, kafka_bootstrap: str, closed_port: int
) -> None:
    def kafka(*servers: str) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=servers)

    up = DependencyProbe(redis.Redis.from_url(redis_url), kafka(kafka_bootstrap), read=nothing)
    up.check_once()
    assert (up.redis.problem, up.kafka.problem) == ("", "")

    dead_redis = connect(
        RedisSettings(url=f"redis://127.0.0.1:{closed_port}/0"),
        timeout_seconds=1,
        retry_connection_errors=0,
    )
    down = DependencyProbe(dead_redis, kafka(f"127.0.0.1:{closed_port}"), read=nothing)
    down.check_once()
    assert down.redis.problem.startswith("redis unreachable")
    assert down.kafka.problem.startswith("kafka unreachable")
    # One answering bootstrap server is enough.
    some = DependencyProbe(dead_redis, kafka(f"127.0.0.1:{closed_port}", kafka_bootstrap), nothing)
    some.check_once()
    assert some.kafka.problem == ""
    for probe in (up, down, some):
        probe.stop()


def test_a_check_that_hangs_counts_as_down_before_it_returns() -> None:
    """A dependency that accepts connections but never answers (a stopped process): the check
    is still waiting, and the dependency already counts as down once the timeout passed."""
    release = threading.Event()
    watch = Watch("kafka", lambda: "" if release.wait(30) else "never")
    thread = threading.Thread(target=watch.once)
    thread.start()
    try:
        assert watch.problem == ""  # not yet: the check has only just started
        time.sleep(PROBE_TIMEOUT_SECONDS + 0.5)
        assert watch.problem.startswith("kafka not answering for")
    finally:
        release.set()
        thread.join()
    assert watch.problem == ""
