"""Redis Sentinel: the primary is killed mid-stream, a replica is promoted, the daemon follows.

Real processes only: a primary and a replica (``redis-server`` as ``driftwatch services`` runs
it: AOF everysec, noeviction) and three sentinels (``redis-server --sentinel``, which is what
Debian's ``redis-sentinel`` package runs), quorum 2, ``down-after-milliseconds`` 1000. The daemon
knows only the sentinels (``redis.sentinels``). Replication is asynchronous: what the primary
acknowledged but had not yet sent to the replica when it died is lost on promotion. The daemon's
gap check (docs/operations.md, "When Redis loses acknowledged writes") must then re-read that
span from Kafka, so the ledger ends exact either way; the test prints whether it happened.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from monitor.services import RedisServer, ensure_redis_installed
from monitor.store.client import connect
from monitor.store.query import Query
from tests.e2e.test_redis_faults import SIMULATE, assert_counts, traffic
from tests.e2e.test_resilience import Stream

pytestmark = pytest.mark.slow

SERVICE = "dwtest-primary"
#: How long a silent primary is "subjectively down" for a sentinel; small, to keep the test short.
DOWN_AFTER_MS = 1000


@dataclass
class SentinelGroup:
    """A primary, its replica and the sentinels watching them."""

    primary: RedisServer
    replica: RedisServer
    sentinel_ports: list[int]

    def sentinel(self, i: int = 0) -> redis.Redis:
        return redis.Redis(port=self.sentinel_ports[i], socket_timeout=2.0, decode_responses=True)

    def primary_port(self) -> int:
        """The primary's port as the first sentinel sees it."""
        return int(self.sentinel().sentinel_get_master_addr_by_name(SERVICE)[1])


def wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def sentinel_group(
    tmp_path: Path, free_port_factory: Callable[[int], list[int]]
) -> Iterator[SentinelGroup]:
    primary_port, replica_port, *sentinel_ports = free_port_factory(5)
    primary = RedisServer(tmp_path / "primary", primary_port)
    replica = RedisServer(tmp_path / "replica", replica_port)
    sentinels: list[subprocess.Popen[bytes]] = []
    try:
        primary.start()
        replica.start()
        redis.Redis(port=replica_port).replicaof("127.0.0.1", primary_port)
        for port in sentinel_ports:
            folder = tmp_path / f"sentinel-{port}"
            folder.mkdir()
            (folder / "sentinel.conf").write_text(  # Sentinel rewrites it: a file of its own
                f"bind 127.0.0.1\nport {port}\ndaemonize no\ndir {folder}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {SERVICE} 4000\n"
            )
            sentinels.append(
                subprocess.Popen(
                    [ensure_redis_installed(), str(folder / "sentinel.conf"), "--sentinel"],
                    stdout=(folder / "sentinel.log").open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        group = SentinelGroup(primary, replica, sentinel_ports)
        # Sentinels find the replica and each other through the primary (hello messages every
        # 2 s); a failover needs both.
        for i in range(len(sentinel_ports)):
            wait(
                lambda i=i: (
                    len(group.sentinel(i).sentinel_sentinels(SERVICE)) == 2
                    and len(group.sentinel(i).sentinel_slaves(SERVICE)) == 1
                ),
                30,
                f"sentinel {i} to see the replica and the other sentinels",
            )
        yield group
    finally:
        for process in sentinels:
            process.terminate()
        for process in sentinels:
            process.wait(10)
        for server in (primary, replica):
            server.kill()


@pytest.mark.parametrize("how", ["killed", "killed while the replica lagged", "demoted"])
def test_the_daemon_follows_a_failover_and_counts_stay_exact(
    how: str,
    sentinel_group: SentinelGroup,
    deployment_factory: Any,
    daemon_factory: Any,
    wait_for: Callable[..., None],
) -> None:
    group = sentinel_group
    dep = deployment_factory(
        partitions=3,
        simulate=SIMULATE,
        redis={
            "url": f"redis://{SERVICE}/0",
            "sentinels": [f"127.0.0.1:{port}" for port in group.sentinel_ports],
            "service_name": SERVICE,
        },
    )
    query = Query(connect(dep.settings.redis), dep.settings)

    def counted() -> int:
        """Records accounted for (valid or dead-lettered), through the sentinels."""
        try:
            counts = [row.counts for row in query.ingest()]
            unknown = query.unknown_model_counts()
        except redis.RedisError:
            return -1
        return sum(c.predictions + c.outcomes + c.dead for c in counts) + unknown.dead

    t = traffic(dep.settings, 16_000, seed=31)
    daemon = daemon_factory(dep)
    wait_for(lambda: daemon.log_text().count("claimed") == 6, 60, "six partitions claimed")
    stream = Stream(dep.settings, t.events, rate=2000)
    wait_for(lambda: counted() > len(t.events) // 4, 60, "a quarter of the stream counted")

    lag = fail_over(group, how)
    began = time.monotonic()
    wait(lambda: group.primary_port() == group.replica.port, 30, "Sentinel to promote the replica")
    promoted_after = time.monotonic() - began

    stream.join()
    wait_for(lambda: counted() == len(t.events), 120, "every record accounted for")
    time.sleep(1)  # anything counted twice would show up now
    assert counted() == len(t.events)
    counts = {row.model.name: row.counts for row in query.ingest()}
    assert_counts(t, counts, query.unknown_model_counts())
    assert daemon.alive(), daemon.log_text()[-3000:]
    wait_for(lambda: daemon.get("/readyz")[0] == 200, 30, "/readyz to recover")
    gaps = sum(
        value
        for (name, labels), value in daemon.metrics().items()
        if name == "driftwatch_resyncs_total" and ("kind", "gap") in labels
    )
    lost = daemon.log_text().count("Redis lost acknowledged writes")
    print(  # the measurement docs/operations.md quotes (run with -s to see it)
        f"\nsentinel failover ({how}): replica {lag} bytes behind the primary, promoted "
        f"{promoted_after:.1f}s later; gap resyncs {gaps:.0f}, 'lost acknowledged writes' "
        f"logged {lost}x"
    )
    if how == "killed while the replica lagged":  # acknowledged state was lost, and re-read
        assert lag > 0 and gaps > 0 and lost > 0


def fail_over(group: SentinelGroup, how: str) -> int:
    """Make Sentinel promote the replica; return how many bytes of the primary's replication
    stream the replica had not received when the primary stopped serving.

    ``killed``: SIGKILL, as a crash. ``killed while the replica lagged``: the replica is frozen
    (SIGSTOP) and cut off for a second first, so the primary acknowledges writes that never
    reach it; then SIGKILL, and the replica resumes (in time to stay eligible). ``demoted``:
    ``SENTINEL FAILOVER``, the primary stays up and becomes a replica: its clients get READONLY.
    """
    primary = redis.Redis(port=group.primary.port)
    if how == "demoted":
        group.sentinel().execute_command("SENTINEL FAILOVER", SERVICE)
        return 0
    if how == "killed":
        lag = int(primary.info("replication")["master_repl_offset"]) - replica_offset(group)
        group.primary.kill()
        return lag
    frozen = group.replica.pid
    assert frozen is not None
    os.kill(frozen, signal.SIGSTOP)
    try:
        primary.client_kill_filter(_type="replica")  # what it receives from now on is lost
        time.sleep(1.0)
        sent = int(primary.info("replication")["master_repl_offset"])
        group.primary.kill()
    finally:
        os.kill(frozen, signal.SIGCONT)
    return sent - replica_offset(group)


def replica_offset(group: SentinelGroup) -> int:
    """The replication offset the replica has applied."""
    info = redis.Redis(port=group.replica.port).info("replication")
    return int(info.get("slave_repl_offset", info["master_repl_offset"]))
