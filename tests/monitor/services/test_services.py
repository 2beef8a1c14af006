"""Real Kafka and Redis brought up, used, crashed, restarted and brought down by monitor.services.

These tests own their services (a private state folder and ports), separate from the session's
``services`` fixture, because they stop and kill them. Nothing is mocked and nothing is skipped:
if Maven, Java or redis-server is missing, they fail with the ServiceError that says what to do.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from monitor.cli import main
from monitor.errors import DriftwatchError
from monitor.services import (
    DEFAULT_STATE_DIR,
    Endpoints,
    KafkaBroker,
    RedisServer,
    ServiceError,
    down,
    kafka_broker,
    redis_server,
    status,
    up,
)
from monitor.services.jars import fetch_jars, jars_cached
from monitor.services.kafka import new_cluster_id

#: Generous bounds for a loaded 2-core CI machine; a healthy run needs a few seconds each.
_CONSUME_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Stack:
    """Services started by this module: where they live and how clients reach them."""

    state_dir: Path
    endpoints: Endpoints
    ports: tuple[int, int, int]


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, free_port_factory: Callable[[int], list[int]]
) -> Iterator[Stack]:
    """Kafka and Redis started with ``up`` in a private folder; ``down`` is the safety net."""
    state_dir = tmp_path_factory.mktemp("services-under-test")
    kafka_port, controller_port, redis_port = free_port_factory(3)
    messages: list[str] = []
    endpoints = up(
        state_dir,
        kafka_port=kafka_port,
        controller_port=controller_port,
        redis_port=redis_port,
        progress=messages.append,
    )
    assert any("Kafka ready" in message for message in messages), messages
    try:
        yield Stack(state_dir, endpoints, (kafka_port, controller_port, redis_port))
    finally:
        down(state_dir)


def _broker(stack: Stack) -> KafkaBroker:
    broker = kafka_broker(stack.state_dir)
    assert broker is not None
    return broker


def _redis(stack: Stack) -> RedisServer:
    server = redis_server(stack.state_dir)
    assert server is not None
    return server


def _create_topic(bootstrap: str, name: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="dwtest-services")
    try:
        admin.create_topics({name: {"num_partitions": 1, "replication_factor": 1}})
        admin.wait_for_topics([name], timeout_ms=30_000)
    finally:
        admin.close()


def _produce(bootstrap: str, topic: str, value: bytes) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(topic, value=value, key=b"k").get(timeout=30)
    finally:
        producer.close()


def _read_all(bootstrap: str, topic: str) -> list[bytes]:
    """Every value in partition 0, from offset 0 to the end as of now (waits while recovering)."""
    deadline = time.monotonic() + _CONSUME_TIMEOUT_SECONDS
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        end = consumer.end_offsets([partition])[partition]
        values: list[bytes] = []
        while consumer.position(partition) < end:
            if time.monotonic() >= deadline:
                pytest.fail(f"read {len(values)} of {end} records from {topic} before the deadline")
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(record.value for record in records)
        return values
    finally:
        consumer.close()


# -- pure pieces ---------------------------------------------------------------------------


def test_cluster_ids_are_urlsafe_unpadded_and_never_start_with_a_dash() -> None:
    ids = {new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    for cluster_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id), cluster_id
        assert not cluster_id.startswith("-")


def test_service_error_is_a_runtime_error_and_a_driftwatch_error() -> None:
    assert issubclass(ServiceError, RuntimeError)
    assert issubclass(ServiceError, DriftwatchError)


def test_default_state_dir_is_relative_to_the_working_directory() -> None:
    assert not DEFAULT_STATE_DIR.is_absolute()


def test_jar_cache_holds_exactly_one_slf4j_binding() -> None:
    libs = fetch_jars()
    assert jars_cached()
    assert fetch_jars() == libs  # second call is a cache hit
    jars = sorted(path.name for path in libs.glob("*.jar"))
    bindings = [jar for jar in jars if "slf4j" in jar and jar != "slf4j-api-1.7.36.jar"]
    assert bindings == [next(jar for jar in jars if jar.startswith("log4j-slf4j-impl-2.25."))]
    assert "log4j-core" in " ".join(jars) and "log4j-api" in " ".join(jars)


def test_missing_maven_is_an_actionable_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No mvn on PATH and an empty cache: no fallback, and the message says what to install.
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(ServiceError, match="not on PATH") as raised:
        fetch_jars(tmp_path / "cache")
    assert "apt-get install -y maven" in str(raised.value)
    assert not jars_cached(tmp_path / "cache")


# -- lifecycle -----------------------------------------------------------------------------


def test_up_is_idempotent(stack: Stack) -> None:
    before = status(stack.state_dir)
    messages: list[str] = []
    kafka_port, controller_port, redis_port = stack.ports
    again = up(
        stack.state_dir,
        kafka_port=kafka_port,
        controller_port=controller_port,
        redis_port=redis_port,
        progress=messages.append,
    )
    assert again == stack.endpoints
    assert status(stack.state_dir) == before
    assert all("already running" in message for message in messages), messages


def test_status_reports_both_services(stack: Stack) -> None:
    report = status(stack.state_dir)
    assert set(report) == {"kafka", "redis"}
    kafka, redis_status = report["kafka"], report["redis"]
    assert kafka.running and redis_status.running
    assert isinstance(kafka.pid, int) and isinstance(redis_status.pid, int)
    assert kafka.address == stack.endpoints.kafka_bootstrap == f"127.0.0.1:{stack.ports[0]}"
    assert redis_status.address == stack.endpoints.redis_url
    assert kafka.log_file is not None and "Kafka Server started" in kafka.log_file.read_text()
    assert redis_status.log_file is not None and redis_status.log_file.exists()


def test_status_of_an_unused_folder_reports_nothing_running(tmp_path: Path) -> None:
    report = status(tmp_path)
    assert not report["kafka"].running and report["kafka"].pid is None
    assert not report["redis"].running and report["redis"].address is None


def test_redis_runs_with_the_durability_settings_the_design_requires(stack: Stack) -> None:
    client = redis.Redis.from_url(stack.endpoints.redis_url, decode_responses=True)
    try:
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("bind") == {"bind": "127.0.0.1"}
    finally:
        client.close()


def test_produce_and_consume_one_message(stack: Stack) -> None:
    bootstrap = stack.endpoints.kafka_bootstrap
    _create_topic(bootstrap, "dwtest-roundtrip")
    _produce(bootstrap, "dwtest-roundtrip", b"hello drift")
    assert _read_all(bootstrap, "dwtest-roundtrip") == [b"hello drift"]


@pytest.mark.slow
def test_kafka_restart_keeps_data(stack: Stack) -> None:
    bootstrap = stack.endpoints.kafka_bootstrap
    _create_topic(bootstrap, "dwtest-restart")
    _produce(bootstrap, "dwtest-restart", b"before stop")
    broker = _broker(stack)
    old_pid = broker.pid

    broker.stop()
    assert not broker.is_running() and not status(stack.state_dir)["kafka"].running
    broker.start()
    assert broker.pid not in (None, old_pid)
    assert _read_all(bootstrap, "dwtest-restart") == [b"before stop"]

    _produce(bootstrap, "dwtest-restart", b"before crash")
    broker.kill()
    assert not broker.is_running()
    broker.start()
    assert _read_all(bootstrap, "dwtest-restart") == [b"before stop", b"before crash"]


@pytest.mark.slow
def test_redis_survives_sigkill_and_restart(stack: Stack) -> None:
    server = _redis(stack)
    client = redis.Redis.from_url(stack.endpoints.redis_url)
    try:
        client.set("dwtest:services:crash", b"kept")
        old_pid = server.pid
        server.kill()
        assert not server.is_running() and not status(stack.state_dir)["redis"].running
        server.start()
        assert server.pid not in (None, old_pid)
        assert client.get("dwtest:services:crash") == b"kept"  # replayed from the AOF
        client.delete("dwtest:services:crash")
    finally:
        client.close()


def test_a_port_in_use_is_refused_with_its_number(
    tmp_path: Path, free_port_factory: Callable[[int], list[int]]
) -> None:
    (controller_port,) = free_port_factory(1)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        taken = listener.getsockname()[1]
        with pytest.raises(ServiceError, match=f"port {taken} "):
            RedisServer(tmp_path / "redis", taken).start()
        with pytest.raises(ServiceError, match=f"port {taken} "):
            KafkaBroker(tmp_path / "kafka", taken, controller_port).start()


def test_kafka_that_cannot_bind_fails_fast_with_the_cause(
    tmp_path: Path, free_port_factory: Callable[[int], list[int]]
) -> None:
    # Bound but not listening: the pre-check sees a free port, the JVM's bind fails. This is the
    # race a real clash takes, and start() must notice the dead JVM instead of waiting 90 s.
    (controller_port,) = free_port_factory(1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        taken = blocker.getsockname()[1]
        broker = KafkaBroker(tmp_path / "kafka", taken, controller_port)
        began = time.monotonic()
        with pytest.raises(ServiceError, match="Address already in use"):
            broker.start(timeout=90)
        assert time.monotonic() - began < 45
        assert not broker.is_running()


def test_down_stops_everything_and_is_idempotent(stack: Stack) -> None:
    kafka_port, controller_port, redis_port = stack.ports
    down(stack.state_dir)
    report = status(stack.state_dir)
    assert not report["kafka"].running and not report["redis"].running
    for port in (kafka_port, controller_port, redis_port):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    down(stack.state_dir)  # nothing left to stop: a no-op


# -- the session fixtures every other test uses ---------------------------------------------


def test_session_fixtures_give_usable_topics_and_keys(
    services: Any,
    topic_factory: Callable[..., str],
    key_prefix: str,
    redis_client: redis.Redis,
) -> None:
    topic = topic_factory("fixture check", partitions=3)
    assert topic.startswith("dwtest-fixture-check-")
    admin = KafkaAdminClient(bootstrap_servers=services.kafka_bootstrap, client_id="dwtest-check")
    try:
        (described,) = admin.describe_topics([topic])
    finally:
        admin.close()
    assert len(described["partitions"]) == 3
    assert re.fullmatch(r"dwtest:[0-9a-f]{8}", key_prefix)
    redis_client.set(f"{key_prefix}:probe", b"1")
    assert redis_client.get(f"{key_prefix}:probe") == b"1"
    if services.state_dir is not None:  # started by the session, not reused
        assert services.kafka is not None and services.kafka.is_running()
        assert services.redis is not None and services.redis.is_running()


def test_a_redis_with_a_password_keeps_it_private_and_across_restarts(
    tmp_path: Path, free_port_factory: Callable[[int], list[int]]
) -> None:
    """What ``driftwatch services up`` asks for: a random password in a 0600 file of a 0700
    folder, the same after a restart (configs name the file), shown by path only."""
    state_dir = tmp_path / "services"
    server = RedisServer(state_dir / "redis", free_port_factory(1)[0], password=True)
    server.start()
    try:
        assert server.password_file is not None
        password = server.password_file.read_text().strip()
        assert len(password) >= 40
        for path, mode in [
            (server.password_file, 0o600),
            (server.config_path, 0o600),
            (server.state_dir, 0o700),
            (server.data_dir, 0o700),
        ]:
            assert path.stat().st_mode & 0o777 == mode, path
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(server.url).ping()
        assert redis.Redis.from_url(server.url, password=password).ping()

        server.stop()
        again = RedisServer.load(server.state_dir)
        assert again is not None and again.password_file == server.password_file
        again.start()
        assert redis.Redis.from_url(server.url, password=password).ping()
        assert status(state_dir)["redis"].password_file == server.password_file

        result = CliRunner().invoke(main, ["services", "status", "--state-dir", str(state_dir)])
        assert f"password in {server.password_file}" in result.output
        assert password not in result.output
    finally:
        server.kill()


def test_up_keeps_its_folder_private_and_gives_redis_no_password_unless_asked(
    stack: Stack,
) -> None:
    """Test sessions call ``up`` without ``redis_password``: configs built from their URL need no
    secret. ``driftwatch services up`` asks for one (above)."""
    assert stack.state_dir.stat().st_mode & 0o777 == 0o700
    assert stack.endpoints.redis_password_file is None  # and the tests above connect without
