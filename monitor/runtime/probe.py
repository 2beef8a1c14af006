"""Dependency checks and the Redis-backed gauge, refreshed in a thread of their own.

``/healthz``, ``/readyz`` and ``/metrics`` answer from memory, so a hung Redis or a dead broker
can never hold a probe or a scrape: this thread pings Redis and opens a TCP connection to the
Kafka bootstrap servers every :data:`PROBE_SECONDS` (each bounded by :data:`PROBE_TIMEOUT_SECONDS`),
and reads the group-wide pending-join counts every :data:`PENDING_SECONDS`. ``/readyz`` turns 503
within about ``PROBE_SECONDS + PROBE_TIMEOUT_SECONDS`` of a dependency becoming unreachable, even
while no traffic flows, and says which; ``/metrics`` serves the last pending-join counts with
their age.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis

from monitor.store.query import ModelIngest

log = logging.getLogger(__name__)

#: How often the dependencies are checked: bounds how late /readyz notices an outage.
PROBE_SECONDS = 2.0
#: How long one check may take: a hung dependency counts as down after this.
PROBE_TIMEOUT_SECONDS = 1.5
#: How often the pending-join gauge is refreshed (a read over every partition's counters).
PENDING_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Check:
    """One dependency's last check: an empty ``error`` means it answered."""

    error: str = ""
    at: float = 0.0


class DependencyProbe:
    """Checks Redis and Kafka in a daemon thread; readers get the last results."""

    def __init__(
        self,
        client: redis.Redis,
        bootstrap_servers: Sequence[str],
        pending: Callable[[], list[ModelIngest]],
    ) -> None:
        self._redis = client
        self._servers = list(bootstrap_servers)
        self._pending = pending
        self.redis = Check()
        self.kafka = Check()
        #: Group-wide ingestion counts behind driftwatch_pending_joins, and when they were read.
        self.pending_rows: list[ModelIngest] = []
        self.pending_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="probe", daemon=True)
        self._stop = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        next_pending = 0.0
        while not self._stop.is_set():
            self.check_once()
            now = time.monotonic()
            if now >= next_pending and not self.redis.error:
                self._read_pending()
                next_pending = now + PENDING_SECONDS
            self._stop.wait(PROBE_SECONDS)

    def check_once(self) -> None:
        """Check both dependencies now (the thread does this every PROBE_SECONDS)."""
        self.redis = Check(self._ping_redis(), time.monotonic())
        self.kafka = Check(self._reach_kafka(), time.monotonic())

    def _ping_redis(self) -> str:
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            return f"redis unreachable: {exc}"
        return ""

    def _reach_kafka(self) -> str:
        """TCP reachability of any bootstrap server (what the client itself needs first)."""
        errors = []
        for server in self._servers:
            host, _, port = server.rpartition(":")
            try:
                with socket.create_connection(
                    (host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_SECONDS
                ):
                    return ""
            except (OSError, ValueError) as exc:
                errors.append(f"{server}: {exc}")
        return "kafka unreachable: " + "; ".join(errors)

    def _read_pending(self) -> None:
        try:
            self.pending_rows = self._pending()
        except redis.RedisError as exc:
            log.debug("pending joins not read: %s", exc)
            return
        self.pending_at = time.monotonic()
