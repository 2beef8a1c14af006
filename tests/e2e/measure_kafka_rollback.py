"""A measurement, not a test (its name keeps it out of the suite): how many events a daemon misses
when a broker is restored from an older copy while a producer keeps sending.

    python -m pytest -s -p no:cacheprovider tests/e2e/measure_kafka_rollback.py

The broker of ``test_kafka_rollback.py`` is copied while stopped, runs 10 more seconds under a
producer sending ~1,000 predictions/s (and their outcomes), then is killed and started from the
copy while the producer goes on. Where the restored broker reuses its leader epochs, the daemon
takes the log's end when it first fetches for where the new records start, so what the producer
flushed before that is missed (docs/operations.md, Kafka). Prints the events produced, counted
and missing, and the sends the producer itself saw fail.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.services.kafka import KafkaBroker
from tests.e2e.test_kafka_rollback import kafka_bootstrap, restored, rollback_broker
from tests.e2e.test_resilience import FAULTS, Stream, simulated

__all__ = ["kafka_bootstrap", "rollback_broker"]  # the fixtures this module runs on

#: Stop waiting once the counts stood still this long after the producer finished.
SETTLED_SECONDS = 30


def test_measure_events_missed_by_a_rollback_under_a_producer(
    rollback_broker: KafkaBroker,
    deployment_factory: Any,
    daemon_factory: Any,
    wait_for: Callable[..., None],
    tmp_path: Path,
) -> None:
    dep = deployment_factory(partitions=3, simulate=FAULTS)
    events, expected = simulated(dep, 30_000, seed=41)
    total = sum(expected.predictions.values()) + sum(expected.outcomes.values())
    total += expected.malformed
    daemon = daemon_factory(dep)
    wait_for(lambda: "claimed" in daemon.log_text(), 60, "the daemon to claim its partitions")
    stream = Stream(dep.settings, events, rate=1000)
    time.sleep(8)
    rollback_broker.stop()
    backup = tmp_path / "kafka-copy"
    shutil.copytree(rollback_broker.data_dir, backup)
    rollback_broker.start()
    time.sleep(10)
    restored(rollback_broker, backup)
    stream._thread.join(timeout=300)  # not Stream.join: sends may fail here, and are reported

    def seen() -> int:
        counts = dep.counts()
        return sum(c.predictions + c.outcomes for c in counts.values()) + dep.unknown().dead

    last, still = -1, 0
    while still < SETTLED_SECONDS and last < total:
        time.sleep(1)
        now = seen()
        still, last = (still + 1 if now == last else 0), now
    print(
        f"\nevents {total:,}  counted {last:,}  missing {total - last:,}  "
        f"sends failed {stream.report.n_failed} ({stream.report.first_error})  "
        f"divergences logged {daemon.log_text().count('diverges from what this instance read')}"
    )
