"""SIGTERM and SIGINT at any moment of start-up, or after, stop the daemon cleanly with exit 0."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("delay", [1.0, 3.0, 6.0])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_during_start_up_exits_0(
    deployment_factory: Any, daemon_factory: Callable[..., Any], delay: float, signum: int
) -> None:
    """From the first second (heavy imports, connecting to Redis and Kafka, joining the group) to
    steady state: the signal is a stop request, never a kill (exit -15) or a traceback."""
    daemon = daemon_factory(deployment_factory(partitions=1))
    time.sleep(delay)
    daemon.proc.send_signal(signum)
    code = daemon.proc.wait(timeout=60)
    log = daemon.log_text()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert "driftwatch stopped" in log  # drained, not killed


def test_a_stop_signal_while_kafka_is_unreachable_exits_0(
    deployment_factory: Any, daemon_factory: Callable[..., Any], free_port_factory: Any
) -> None:
    """Start-up waiting on a broker that is not there is cut short cleanly too: kafka-python
    waits 30 s for a first broker, longer than the stop bound (5 s here), and an exit during
    start-up is a clean one (nothing was applied), not a drain cut short."""
    (port,) = free_port_factory(1)
    dep = deployment_factory(partitions=1, runtime={"shutdown_timeout_seconds": 5})
    text = dep.path.read_text().replace(
        dep.settings.kafka.bootstrap_servers[0], f"127.0.0.1:{port}"
    )
    dep.path.write_text(text)
    daemon = daemon_factory(dep)
    time.sleep(3.0)
    daemon.proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert daemon.proc.wait(timeout=60) == 0, daemon.log_text()[-3000:]
    assert time.monotonic() - started < 20  # the bound, not kafka-python's bootstrap wait
