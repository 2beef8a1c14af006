"""No event lost, none counted twice: kill -9, scale-out, Redis and Kafka restarts mid-stream.

Each test produces a stream with the simulator while daemons consume it, breaks something on
purpose, and then requires the per-model totals in Redis to equal the produced counts exactly.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from monitor.simulate import SimEvent, Simulator, produce
from tests.e2e.test_ingest import Expected, assert_exact, reached

pytestmark = pytest.mark.slow


class Stream:
    """Produces ``events`` in a background thread at ``rate`` events/s (None = flat out)."""

    def __init__(self, settings: Any, events: list[SimEvent], rate: float | None) -> None:
        self.report: Any = None
        self._thread = threading.Thread(
            target=lambda: setattr(self, "report", produce(settings, events, realtime_rate=rate)),
            daemon=True,
        )
        self._thread.start()

    def join(self) -> None:
        self._thread.join(timeout=300)
        assert self.report is not None and self.report.n_failed == 0


def simulated(dep: Any, n_predictions: int, seed: int) -> tuple[list[SimEvent], Expected]:
    events = list(
        Simulator(dep.settings, seed=seed, start=time.time() - 3600).events(n_predictions)
    )
    return events, Expected.of(events)


FAULTS = {
    "rate": 1000.0,
    "label_delay_seconds": 2.0,
    "faults": [{"kind": "malformed_json", "model": "delivery-eta", "magnitude": 0.001}],
}


def test_kill_9_at_random_points_loses_and_duplicates_nothing(
    deployment_factory: Any, daemon_factory: Any, wait_for: Callable[..., None]
) -> None:
    dep = deployment_factory(partitions=3, simulate=FAULTS)
    events, expected = simulated(dep, 106_000, seed=11)
    assert len(events) >= 200_000
    stream = Stream(dep.settings, events, rate=40_000)
    rng = random.Random(2026)
    daemon = daemon_factory(dep)
    done = reached(dep, expected)
    kills = 0
    while kills < 5 and not done():
        time.sleep(rng.uniform(1.0, 4.0))
        daemon.kill9()
        kills += 1
        daemon = daemon_factory(dep)
    assert kills == 5, "the stream finished before five kills; lower the rate"
    stream.join()
    wait_for(done, 240, "every event counted after the last restart")
    time.sleep(1)  # anything counted twice would show up now
    assert_exact(dep, expected)


def test_two_instances_share_partitions_and_survive_losing_one(
    deployment_factory: Any, daemon_factory: Any, wait_for: Callable[..., None]
) -> None:
    dep = deployment_factory(partitions=6, simulate=FAULTS)
    events, expected = simulated(dep, 40_000, seed=12)
    first, second = daemon_factory(dep), daemon_factory(dep)
    wait_for(
        lambda: "claimed" in first.log_text() and "claimed" in second.log_text(),
        60,
        "both instances to claim partitions",
    )
    stream = Stream(dep.settings, events, rate=15_000)
    time.sleep(2.5)
    first.kill9()
    stream.join()
    wait_for(reached(dep, expected), 180, "the survivor to finish the stream")
    time.sleep(1)
    assert_exact(dep, expected)
    assert second.alive()
    assert second.terminate() == 0


def test_redis_crash_pauses_then_resumes_exactly(
    services: Any, deployment_factory: Any, daemon_factory: Any, wait_for: Callable[..., None]
) -> None:
    _, redis_server = services.require_handles()
    dep = deployment_factory(partitions=3, simulate=FAULTS)
    events, expected = simulated(dep, 40_000, seed=13)
    daemon = daemon_factory(dep)
    # Start-up needs Redis (the daemon refuses to start without it): break it only mid-stream.
    wait_for(lambda: "claimed" in daemon.log_text(), 60, "the daemon to claim its partitions")
    stream = Stream(dep.settings, events, rate=10_000)
    time.sleep(2.0)
    redis_server.kill()
    wait_for(lambda: daemon.get("/readyz")[0] == 503, 30, "/readyz to report the outage")
    assert "redis unavailable" in daemon.get("/readyz")[1]
    assert daemon.get("/healthz")[0] == 200  # alive: the loop keeps turning, only waiting
    redis_server.start()
    stream.join()
    assert daemon.alive(), daemon.log_text()[-2000:]
    wait_for(lambda: daemon.get("/readyz")[0] == 200, 60, "/readyz to recover")
    wait_for(reached(dep, expected), 180, "every event counted after the Redis restart")
    time.sleep(1)
    assert_exact(dep, expected)
    assert daemon.alive(), daemon.log_text()[-2000:]
    assert "redis unavailable" in daemon.log_text()


def test_a_full_redis_pauses_then_resumes_exactly(
    deployment_factory: Any, daemon_factory: Any, wait_for: Callable[..., None]
) -> None:
    """Redis at its maxmemory (noeviction) refuses writes: the daemon waits, says why on
    /readyz, and once Redis has room again applies every held-back event exactly once."""
    dep = deployment_factory(partitions=3, simulate=FAULTS)
    events, expected = simulated(dep, 30_000, seed=15)
    client = redis.Redis.from_url(dep.redis_url)
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    limit = client.config_get("maxmemory")["maxmemory"]
    daemon = daemon_factory(dep)
    wait_for(lambda: "claimed" in daemon.log_text(), 60, "the daemon to claim its partitions")
    stream = Stream(dep.settings, events, rate=10_000)
    time.sleep(2.0)
    client.config_set("maxmemory", 1)
    try:
        wait_for(lambda: daemon.get("/readyz")[0] == 503, 30, "/readyz to report the full Redis")
        assert "maxmemory: raise it" in daemon.get("/readyz")[1]
        assert daemon.get("/healthz")[0] == 200
        stream.join()
        time.sleep(1.0)
    finally:
        client.config_set("maxmemory", limit)
    wait_for(lambda: daemon.get("/readyz")[0] == 200, 60, "/readyz to recover")
    wait_for(reached(dep, expected), 180, "every event counted once Redis has room")
    time.sleep(1)
    assert_exact(dep, expected)
    assert daemon.alive(), daemon.log_text()[-2000:]


def test_a_hung_redis_never_trips_the_poll_interval_and_loses_nothing(
    deployment_factory: Any, daemon_factory: Any, wait_for: Callable[..., None]
) -> None:
    """Redis holds every write (CLIENT PAUSE) longer than the Redis socket timeout and than
    kafka.max_poll_interval_ms. The poll loop keeps polling, so the member never leaves its
    group; batches time out and are retried. (Under CLIENT PAUSE Redis drops a timed-out
    client's command: a batch Redis runs *after* its client gave up is the SIGSTOP test's case,
    in test_redis_faults.py.)"""
    dep = deployment_factory(partitions=3, simulate=FAULTS, kafka={"max_poll_interval_ms": 10_000})
    events, expected = simulated(dep, 30_000, seed=16)
    client = redis.Redis.from_url(dep.redis_url)
    daemon = daemon_factory(dep)
    wait_for(lambda: daemon.log_text().count("claimed") == 6, 60, "six partitions claimed")
    stream = Stream(dep.settings, events, rate=10_000)
    time.sleep(2.0)
    client.client_pause(15_000, all=False)  # writes (and scripts) wait; reads go on
    wait_for(lambda: daemon.get("/readyz")[0] == 503, 30, "/readyz to report the hung Redis")
    assert "redis unavailable" in daemon.get("/readyz")[1]
    stream.join()
    wait_for(lambda: daemon.get("/readyz")[0] == 200, 60, "/readyz to recover")
    wait_for(reached(dep, expected), 180, "every event counted once Redis answers again")
    time.sleep(1)
    assert_exact(dep, expected)
    log = daemon.log_text()
    assert "max_poll_interval_ms" not in log, log[-3000:]  # kafka-python's word for leaving
    assert log.count("claimed") == 6, log[-3000:]  # a member that left would claim them again


def test_kafka_restart_reconnects_and_resumes_exactly(
    services: Any, deployment_factory: Any, daemon_factory: Any, wait_for: Callable[..., None]
) -> None:
    kafka_broker, _ = services.require_handles()
    dep = deployment_factory(partitions=3, simulate=FAULTS)
    events, expected = simulated(dep, 60_000, seed=14)
    produce(dep.settings, events, realtime_rate=None)
    daemon = daemon_factory(dep)
    wait_for(
        lambda: sum(c.predictions for c in dep.counts().values()) > 1000, 60, "consumption starts"
    )
    kafka_broker.stop()
    wait_for(lambda: daemon.get("/readyz")[0] == 503, 15, "/readyz to report the broker down")
    assert "kafka unreachable" in daemon.get("/readyz")[1]
    kafka_broker.start()
    wait_for(reached(dep, expected), 240, "every event counted after the broker restart")
    time.sleep(1)
    assert_exact(dep, expected)
    assert daemon.alive(), daemon.log_text()[-2000:]
    assert daemon.terminate() == 0


def test_a_hung_broker_is_reported_and_survived_exactly(
    services: Any, deployment_factory: Any, daemon_factory: Any, wait_for: Callable[..., None]
) -> None:
    """The broker stops answering without closing a connection (SIGSTOP): /readyz says so
    within seconds, and once it answers again every event is counted once."""
    kafka_broker, _ = services.require_handles()
    dep = deployment_factory(partitions=3, simulate=FAULTS)
    events, expected = simulated(dep, 20_000, seed=17)
    daemon = daemon_factory(dep)
    wait_for(lambda: "claimed" in daemon.log_text(), 60, "the daemon to claim its partitions")
    stream = Stream(dep.settings, events, rate=5_000)
    time.sleep(2.0)
    os.kill(kafka_broker.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: daemon.get("/readyz")[0] == 503, 15, "/readyz to report the hung broker")
        assert "kafka" in daemon.get("/readyz")[1]
        assert daemon.get("/healthz")[0] == 200
    finally:
        os.kill(kafka_broker.pid, signal.SIGCONT)
    stream.join()
    wait_for(reached(dep, expected), 180, "every event counted after the broker answers again")
    wait_for(lambda: daemon.get("/readyz")[0] == 200, 60, "/readyz to recover")
    time.sleep(1)
    assert_exact(dep, expected)
    assert daemon.alive(), daemon.log_text()[-2000:]
