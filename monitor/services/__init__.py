"""Local Kafka and Redis for development and tests (``driftwatch services up|down|status``).

Real services, not fakes: a KRaft Kafka broker run from Maven Central jars and a ``redis-server``
with production durability settings, both on 127.0.0.1, both owned by files under one state
folder (``kafka/`` and ``redis/``), so several checkouts or test sessions can run side by side on
different ports. Processes are found again, and stopped, only through the pid files written there.

Examples
--------
>>> from pathlib import Path
>>> from monitor import services
>>> endpoints = services.up(services.DEFAULT_STATE_DIR)  # doctest: +SKIP
>>> endpoints.kafka_bootstrap, endpoints.redis_url  # doctest: +SKIP
('127.0.0.1:9092', 'redis://127.0.0.1:6379/0')
>>> services.down(services.DEFAULT_STATE_DIR)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from monitor.services import _process
from monitor.services.errors import ServiceError
from monitor.services.jars import KAFKA_VERSION, fetch_jars, jars_cached
from monitor.services.kafka import KafkaBroker
from monitor.services.redis import RedisServer, ensure_redis_installed

__all__ = [
    "DEFAULT_STATE_DIR",
    "KAFKA_VERSION",
    "Endpoints",
    "KafkaBroker",
    "RedisServer",
    "ServiceError",
    "ServiceStatus",
    "down",
    "ensure_redis_installed",
    "fetch_jars",
    "kafka_broker",
    "redis_server",
    "status",
    "up",
]

logger = logging.getLogger(__name__)

#: Relative to the current directory, so each checkout gets its own services.
DEFAULT_STATE_DIR = Path(".driftwatch/services")

_KAFKA_SUBDIR = "kafka"
_REDIS_SUBDIR = "redis"
_LOCK_FILE = ".lock"


@dataclass(frozen=True)
class Endpoints:
    """Where clients reach the services ``up`` started or found running."""

    kafka_bootstrap: str
    redis_url: str
    #: The file holding Redis' password (for ``redis.password_file``), None without one.
    redis_password_file: Path | None = None


@dataclass(frozen=True)
class ServiceStatus:
    """One service's state as recorded under the state folder (for ``driftwatch services status``).

    ``address``/``log_file`` are None only when the service was never started in that folder.
    """

    name: str
    running: bool
    pid: int | None
    address: str | None
    log_file: Path | None
    #: Where the service's password is (never its value), None without one.
    password_file: Path | None = None


def kafka_broker(state_dir: Path) -> KafkaBroker | None:
    """The broker last started under ``state_dir`` (running or not), or None if never started."""
    return KafkaBroker.load(Path(state_dir) / _KAFKA_SUBDIR)


def redis_server(state_dir: Path) -> RedisServer | None:
    """The Redis last started under ``state_dir`` (running or not), or None if never started."""
    return RedisServer.load(Path(state_dir) / _REDIS_SUBDIR)


def up(
    state_dir: Path,
    *,
    kafka_port: int = 9092,
    controller_port: int = 9093,
    redis_port: int = 6379,
    redis_password: bool = False,
    progress: Callable[[str], None] = print,
) -> Endpoints:
    """Start Redis and Kafka under ``state_dir`` and return their endpoints.

    Idempotent: a service already running from this folder is reused as it is (if it runs on other
    ports than asked, ``progress`` says so and its real address is returned). On failure, whatever
    this call started is stopped again before the :class:`ServiceError` propagates, so a failed
    ``up`` leaves no half-started processes behind. ``redis_password``: a freshly started Redis
    gets a random password, in a 0600 file of its 0700 folder (``Endpoints.redis_password_file``).
    The state folder is made 0700 too (:func:`_make_private`): it holds the data.
    """
    state_dir = Path(state_dir)
    _make_private(state_dir)
    started: list[KafkaBroker | RedisServer] = []
    with _process.file_lock(state_dir / _LOCK_FILE):
        try:
            redis = _reuse_or_start_redis(state_dir, redis_port, redis_password, progress, started)
            kafka = _reuse_or_start_kafka(state_dir, kafka_port, controller_port, progress, started)
        except BaseException:
            for service in reversed(started):
                try:
                    service.stop()
                except ServiceError:
                    logger.exception("could not stop %r after a failed start", service)
            raise
    return Endpoints(kafka.bootstrap, redis.url, redis.password_file)


def _make_private(state_dir: Path) -> None:
    """Create ``state_dir`` readable by its owner only, or make it so when it holds nothing but
    the services' folders: a folder of other things (``--state-dir .``, ``/tmp``) is left as it
    is, since Redis' own folder, with the password, is 0700 in any case."""
    try:
        state_dir.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        if {p.name for p in state_dir.iterdir()} <= {_KAFKA_SUBDIR, _REDIS_SUBDIR, _LOCK_FILE}:
            state_dir.chmod(0o700)


def _reuse_or_start_redis(
    state_dir: Path,
    port: int,
    password: bool,
    progress: Callable[[str], None],
    started: list[KafkaBroker | RedisServer],
) -> RedisServer:
    """The running Redis from ``state_dir``, or a freshly started one on ``port``."""
    existing = redis_server(state_dir)
    if existing is not None and existing.is_running():
        note = "" if existing.port == port else f" (not on the requested port {port})"
        progress(f"Redis already running at {existing.url}{note}, pid {existing.pid}")
        return existing
    server = RedisServer(state_dir / _REDIS_SUBDIR, port, password=password)
    progress(f"starting Redis on {server.host}:{port} ...")
    began = time.monotonic()
    server.start()
    started.append(server)
    progress(
        f"Redis ready at {server.url} in {time.monotonic() - began:.1f}s (log {server.log_file})"
    )
    return server


def _reuse_or_start_kafka(
    state_dir: Path,
    port: int,
    controller_port: int,
    progress: Callable[[str], None],
    started: list[KafkaBroker | RedisServer],
) -> KafkaBroker:
    """The running broker from ``state_dir``, or a freshly started one on the given ports."""
    existing = kafka_broker(state_dir)
    if existing is not None and existing.is_running():
        note = "" if existing.port == port else f" (not on the requested port {port})"
        progress(f"Kafka already running at {existing.bootstrap}{note}, pid {existing.pid}")
        return existing
    if not jars_cached():
        progress(
            f"downloading Kafka {KAFKA_VERSION} from Maven Central with mvn (first run only) ..."
        )
        began = time.monotonic()
        fetch_jars()
        progress(f"Kafka jars downloaded in {time.monotonic() - began:.1f}s")
    broker = KafkaBroker(state_dir / _KAFKA_SUBDIR, port, controller_port)
    progress(f"starting Kafka {KAFKA_VERSION} on {broker.bootstrap} ...")
    began = time.monotonic()
    broker.start()
    started.append(broker)
    progress(
        f"Kafka ready at {broker.bootstrap} in {time.monotonic() - began:.1f}s "
        f"(log {broker.log_file})"
    )
    return broker


def down(state_dir: Path) -> None:
    """Stop the services recorded under ``state_dir`` (clean shutdown); their data stays.

    Both are attempted even if the first fails; failures are reported together.
    """
    state_dir = Path(state_dir)
    if not state_dir.is_dir():
        return
    failures: list[str] = []
    with _process.file_lock(state_dir / _LOCK_FILE):
        for service in (kafka_broker(state_dir), redis_server(state_dir)):
            if service is None:
                continue
            try:
                service.stop()
            except ServiceError as exc:
                failures.append(str(exc))
    if failures:
        raise ServiceError("; ".join(failures))


def status(state_dir: Path) -> dict[str, ServiceStatus]:
    """Report ``"kafka"`` and ``"redis"`` as recorded under ``state_dir``; never starts anything."""
    state_dir = Path(state_dir)
    result: dict[str, ServiceStatus] = {}
    broker = kafka_broker(state_dir)
    if broker is None:
        result["kafka"] = ServiceStatus("kafka", False, None, None, None)
    else:
        pid = broker.pid
        result["kafka"] = ServiceStatus(
            "kafka", pid is not None, pid, broker.bootstrap, broker.log_file
        )
    server = redis_server(state_dir)
    if server is None:
        result["redis"] = ServiceStatus("redis", False, None, None, None)
    else:
        pid = server.pid
        result["redis"] = ServiceStatus(
            "redis", pid is not None, pid, server.url, server.log_file, server.password_file
        )
    return result
