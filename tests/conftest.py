"""Session-wide real services for every test: Kafka (KRaft from Maven jars) and ``redis-server``.

Tests run against the real things because the guarantees Driftwatch sells (exactly-once counts,
fencing, crash recovery) live in their behaviour, which no fake reproduces. The services start once
per session, on free ports, in the session's temporary folder, with the same code as
``driftwatch services up``. To reuse running ones instead (CI with service containers, a developer's
``services up``), set both ``DW_TEST_KAFKA`` (bootstrap string) and ``DW_TEST_REDIS`` (URL). A Redis
with a password (``services up`` gives its Redis one) also needs ``DW_TEST_REDIS_PASSWORD_FILE``,
the file holding it (``.driftwatch/services/redis/password``): the session then adds an ACL user
for itself, without a password but with an unguessable name, and the tests reach Redis as that
user (``redis://dwtest-<random>@host:port/0``), so configs built from ``redis_url`` need no
secret; the user is deleted when the session ends.

A service that is missing or cannot start makes the tests that need it fail, never skip: a
green run must mean the code was exercised against Kafka and Redis.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from monitor.services import (
    KafkaBroker,
    RedisServer,
    ServiceError,
    down,
    kafka_broker,
    redis_server,
    up,
)

logger = logging.getLogger(__name__)

#: How long an external service may take to answer the first check before the session fails.
_EXTERNAL_CHECK_SECONDS = 15.0
#: Topic creation on one KRaft node takes well under a second; this bounds a sick broker.
_TOPIC_READY_MS = 30_000


@dataclass(frozen=True)
class Services:
    """What tests get from the ``services`` fixture.

    ``kafka``/``redis`` are the live process handles (``kill()``, ``start()``, ``stop()``) for crash
    and restart tests; they are None when the session reuses external services, and such tests must
    then fail rather than pretend.
    """

    kafka_bootstrap: str
    redis_url: str
    kafka: KafkaBroker | None
    redis: RedisServer | None
    state_dir: Path | None

    def require_handles(self) -> tuple[KafkaBroker, RedisServer]:
        """The process handles, or a test failure explaining why there are none."""
        if self.kafka is None or self.redis is None:
            pytest.fail(
                "this test restarts services, which needs services started by the test session; "
                "unset DW_TEST_KAFKA and DW_TEST_REDIS"
            )
        return self.kafka, self.redis


def free_ports(count: int) -> list[int]:
    """Return ``count`` distinct TCP ports that were free on 127.0.0.1 a moment ago.

    All sockets stay bound until every port is picked, so the ports are distinct; another process
    could still grab one before the service binds it, which then fails loudly (port clash).
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _check_external_kafka(bootstrap: str) -> None:
    """Fail the session unless ``bootstrap`` answers an admin metadata request."""
    deadline = time.monotonic() + _EXTERNAL_CHECK_SECONDS
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="dwtest-check")
            try:
                admin.list_topics()
            finally:
                admin.close()
            return
        except (KafkaError, OSError) as exc:
            if time.monotonic() >= deadline:
                pytest.fail(f"DW_TEST_KAFKA={bootstrap} does not answer: {exc!r}")
            time.sleep(0.5)


def _check_external_redis(url: str) -> None:
    """Fail the session unless ``url`` answers PING."""
    deadline = time.monotonic() + _EXTERNAL_CHECK_SECONDS
    client = redis.Redis.from_url(url, socket_connect_timeout=2.0)
    try:
        while True:
            try:
                client.ping()
                return
            except redis.RedisError as exc:
                if time.monotonic() >= deadline:
                    pytest.fail(f"DW_TEST_REDIS={url} does not answer PING: {exc!r}")
                time.sleep(0.5)
    finally:
        client.close()


@contextlib.contextmanager
def _session_user(url: str, password_file: Path) -> Iterator[str]:
    """An ACL user for this session on the Redis at ``url``, whose default user has the password
    in ``password_file``; yields ``url`` naming that user, deletes the user afterwards.

    The user has every right (tests create ACL users, flush keys, turn Redis into a replica) and
    no password: its random name is what keeps others out, and it lives for the session only.
    """
    try:
        password = password_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        pytest.fail(f"DW_TEST_REDIS_PASSWORD_FILE cannot be read: {exc}")
    admin = redis.Redis.from_url(url, password=password, socket_connect_timeout=2.0)
    name = f"dwtest-{uuid.uuid4().hex}"
    try:
        admin.acl_setuser(
            name, enabled=True, nopass=True, keys=["*"], channels=["*"], commands=["+@all"]
        )
    except redis.RedisError as exc:
        pytest.fail(f"DW_TEST_REDIS={url} refused the session's ACL user: {exc!r}")
    parts = urlsplit(url)
    try:
        yield parts._replace(netloc=f"{name}@{parts.hostname}:{parts.port or 6379}").geturl()
    finally:
        admin.acl_deluser(name)
        admin.close()


@pytest.fixture(scope="session")
def free_port_factory() -> Callable[[int], list[int]]:
    """``free_port_factory(n)``: n distinct free ports, for tests that start their own services."""
    return free_ports


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Real Kafka and Redis for the whole session: external ones if configured, else our own."""
    external_kafka = os.environ.get("DW_TEST_KAFKA")
    external_redis = os.environ.get("DW_TEST_REDIS")
    if external_kafka or external_redis:
        if not (external_kafka and external_redis):
            pytest.fail("set both DW_TEST_KAFKA and DW_TEST_REDIS to reuse services, or neither")
        _check_external_kafka(external_kafka)
        password_file = os.environ.get("DW_TEST_REDIS_PASSWORD_FILE")
        if not password_file:
            _check_external_redis(external_redis)
            yield Services(external_kafka, external_redis, None, None, None)
            return
        with _session_user(external_redis, Path(password_file)) as url:
            _check_external_redis(url)
            yield Services(external_kafka, url, None, None, None)
        return
    state_dir = tmp_path_factory.mktemp("services")
    kafka_port, controller_port, redis_port = free_ports(3)
    try:
        endpoints = up(
            state_dir,
            kafka_port=kafka_port,
            controller_port=controller_port,
            redis_port=redis_port,
            progress=lambda message: logger.info("services: %s", message),
        )
    except ServiceError as exc:
        pytest.fail(f"could not start test services in {state_dir}: {exc}")
    try:
        yield Services(
            kafka_bootstrap=endpoints.kafka_bootstrap,
            redis_url=endpoints.redis_url,
            kafka=kafka_broker(state_dir),
            redis=redis_server(state_dir),
            state_dir=state_dir,
        )
    finally:
        down(state_dir)


@pytest.fixture(scope="session")
def kafka_bootstrap(services: Services) -> str:
    """``bootstrap_servers`` for the session's Kafka."""
    return services.kafka_bootstrap


@pytest.fixture(scope="session")
def redis_url(services: Services) -> str:
    """URL of the session's Redis."""
    return services.redis_url


@pytest.fixture
def topic_factory(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """``make(name_hint, partitions=1) -> name``: a new, uniquely named topic, deleted afterwards.

    Topics are created explicitly (the broker would auto-create on first use, with one partition
    and a race against the test) and the call returns only once metadata shows every partition
    with a leader, so producers and consumers can use it at once.
    """
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="dwtest-topics")
    created: list[str] = []

    def make(name_hint: str, partitions: int = 1) -> str:
        hint = re.sub(r"[^A-Za-z0-9-]", "-", name_hint)[:80] or "topic"
        name = f"dwtest-{hint}-{uuid.uuid4().hex[:8]}"
        admin.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": 1}},
            timeout_ms=_TOPIC_READY_MS,
        )
        created.append(name)
        admin.wait_for_topics([name], timeout_ms=_TOPIC_READY_MS)
        return name

    try:
        yield make
    finally:
        try:
            if created:
                admin.delete_topics(created, raise_errors=False)
        except (KafkaError, OSError) as exc:  # a crash test may have left the broker down
            logger.warning("could not delete test topics %s: %r", created, exc)
        finally:
            admin.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client for the session's Redis, closed after the test."""
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    """A unique key prefix ``dwtest:<uuid8>``; every key under it is removed after the test."""
    prefix = f"dwtest:{uuid.uuid4().hex[:8]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
    finally:
        client.close()
