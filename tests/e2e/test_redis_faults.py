"""Redis faults and a paused daemon, mid-stream, with every event accounted for.

Each test streams simulated traffic (with malformed events and repeated ids) through a real
daemon while it breaks something — Redis stopped past the client's timeout and resumed, Redis
killed and restarted, Redis restored from an older copy of its AOF, a daemon paused past its
session timeout while another takes over — and then audits the whole ledger:

- per model, the counters equal the produced counts: predictions, outcomes, joined pairs, dead
  letters by reason;
- the join records agree with the counters (pending, early and joined records);
- every partition's stored offset equals its topic's end offset;
- the dead-letter topic holds exactly the invalid records, with their reasons and original bytes
  (the same source offset may appear twice after a fault, as documented; nothing else may).

Each test runs against a Redis of its own (the faults would disturb the session's).
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kafka import KafkaConsumer, TopicPartition

from monitor.services import RedisServer
from monitor.simulate import SimEvent, Simulator
from monitor.store.keys import Keys
from tests.e2e.test_resilience import Stream

pytestmark = pytest.mark.slow

MODELS = ("fraud-detector", "delivery-eta")
SIMULATE = {
    "rate": 1000.0,
    "label_delay_seconds": 2.0,
    "faults": [{"kind": "malformed_json", "model": "delivery-eta", "magnitude": 0.002}],
}


@pytest.fixture
def private_redis(tmp_path: Path, free_port_factory: Callable[[int], list[int]]) -> Iterator[Any]:
    server = RedisServer(tmp_path / "redis", free_port_factory(1)[0])
    server.start()
    try:
        yield server
    finally:
        server.kill()


@dataclasses.dataclass
class Traffic:
    """Simulated events plus repeats of some predictions, and what the ledger must show."""

    events: list[SimEvent]
    predictions: Counter[str]
    outcomes: Counter[str]
    joined: Counter[str]
    duplicates: Counter[str]
    malformed: int


def traffic(settings: Any, n_predictions: int, seed: int) -> Traffic:
    events = list(Simulator(settings, seed=seed, start=time.time() - 3600).events(n_predictions))
    rng = random.Random(seed)
    predictions = [i for i, e in enumerate(events) if e.topic_kind == "prediction" and e.valid]
    repeats = sorted(rng.sample(predictions, 40), reverse=True)
    for i in repeats:  # the same record sent again a little later: a duplicate id
        events.insert(min(len(events), i + rng.randint(1, 500)), dataclasses.replace(events[i]))
    t = Traffic(events, Counter(), Counter(), Counter(), Counter(), 0)
    seen: set[bytes] = set()
    for e in events:
        if not e.valid:
            t.malformed += 1
        elif e.topic_kind == "prediction":
            if e.key in seen:
                t.duplicates[e.model] += 1
            else:
                seen.add(e.key)
                t.predictions[e.model] += 1
        else:
            t.outcomes[e.model] += 1
            t.joined[e.model] += e.key in seen
    return t


def counted(dep: Any) -> Callable[[], int]:
    """Records accounted for so far (valid or dead-lettered), over every model."""

    def total() -> int:
        try:
            counts = dep.counts()
            unknown = dep.unknown()
        except redis.RedisError:
            return -1
        return sum(c.predictions + c.outcomes + c.dead for c in counts.values()) + unknown.dead

    return total


def audit(dep: Any, t: Traffic, kafka_bootstrap: str) -> None:
    counts = dep.counts()
    assert_counts(t, counts, dep.unknown())
    audit_join_records(dep, counts)
    audit_offsets(dep, kafka_bootstrap)
    audit_dead_letters(dep, t, kafka_bootstrap)


def assert_counts(t: Traffic, counts: dict[str, Any], unknown: Any) -> None:
    """Every model's counts and dead letters, and those naming no model, exactly ``t``'s."""
    for model in MODELS:
        got = counts[model]
        assert (got.predictions, got.outcomes, got.joined) == (
            t.predictions[model],
            t.outcomes[model],
            t.joined[model],
        ), model
        assert got.dead_by_reason == (
            {"duplicate_id": t.duplicates[model]} if t.duplicates[model] else {}
        ), model
    assert unknown.dead_by_reason == {"bad_json": t.malformed}


def audit_join_records(dep: Any, counts: dict[str, Any]) -> None:
    client = redis.Redis.from_url(dep.settings.redis.url)
    keys = Keys(dep.settings.redis.key_prefix)
    for model in MODELS:
        states: Counter[bytes] = Counter()
        for key in client.scan_iter(keys.join_record(model, "*"), count=5000):
            value = client.get(key)
            states[value[:1] if value else b"gone"] += 1
        c = counts[model]
        assert states[b"J"] == c.joined, model
        assert states[b"P"] == c.predictions - c.joined - c.expired_predictions, model
        assert states[b"O"] == c.outcomes - c.joined - c.orphan_outcomes, model


def audit_offsets(dep: Any, kafka_bootstrap: str) -> None:
    client = redis.Redis.from_url(dep.settings.redis.url)
    keys = Keys(dep.settings.redis.key_prefix)
    k = dep.settings.kafka
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        for topic in (k.predictions_topic, k.outcomes_topic):
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            for tp, end in consumer.end_offsets(partitions).items():
                stored = client.get(
                    keys.partition(keys.tag(k.group_id, topic, tp.partition)).offset
                )
                assert int(stored or 0) == end, tp
    finally:
        consumer.close()


def audit_dead_letters(dep: Any, t: Traffic, kafka_bootstrap: str) -> None:
    """Every dead letter is an invalid source record with its reason and bytes; every invalid
    record has one (repeats of one source offset are allowed)."""
    k = dep.settings.kafka
    source = {
        (m.topic, m.partition, m.offset): m.value
        for m in read_topics(kafka_bootstrap, [k.predictions_topic, k.outcomes_topic])
    }
    malformed = {e.value for e in t.events if not e.valid}
    reasons: dict[tuple[str, int, int], bytes] = {}
    for letter in read_topics(kafka_bootstrap, [k.dead_letter_topic]):
        h = dict(letter.headers)
        where = (h["dw-topic"].decode(), int(h["dw-partition"]), int(h["dw-offset"]))
        assert letter.value == source[where], where  # the original bytes of that record
        assert reasons.setdefault(where, h["dw-reason"]) == h["dw-reason"], where
        if h["dw-reason"] == b"bad_json":
            assert letter.value in malformed, where
    assert Counter(reasons.values()) == {
        b"bad_json": t.malformed,
        b"duplicate_id": sum(t.duplicates.values()),
    }


def read_topics(kafka_bootstrap: str, topics: list[str]) -> list[Any]:
    """Every record of ``topics``, read until none arrives for three seconds."""
    consumer = KafkaConsumer(*topics, bootstrap_servers=kafka_bootstrap, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False)  # fmt: skip
    records: list[Any] = []
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < 3:
        polled = consumer.poll(timeout_ms=500)
        for batch in polled.values():
            records += batch
        if polled:
            idle_since = time.monotonic()
    consumer.close()
    return records


@dataclasses.dataclass
class Run:
    """One daemon on a private Redis with simulated traffic streaming in."""

    dep: Any
    traffic: Traffic
    daemon: Any
    stream: Stream

    def finish(self, wait_for: Callable[..., None], kafka_bootstrap: str) -> None:
        """Let the stream end, wait until every record is accounted for, and audit."""
        self.stream.join()
        wait_for(lambda: counted(self.dep)() == len(self.traffic.events), 180,
                 "every record accounted for")  # fmt: skip
        wait_for(lambda: self.daemon.get("/readyz")[0] == 200, 60, "/readyz to recover")
        time.sleep(1)  # anything counted twice would show up now
        try:
            audit(self.dep, self.traffic, kafka_bootstrap)
        except AssertionError as exc:  # what the daemon saw: warnings and errors, not the claims
            noted = [line for line in self.daemon.log_text().splitlines() if '"INFO"' not in line]
            counts = {m: c.dead_by_reason for m, c in self.dep.counts().items()}
            raise AssertionError(f"{exc}\ndead letters: {counts}\n" + "\n".join(noted)) from exc
        assert self.daemon.alive(), self.daemon.log_text()[-3000:]


@pytest.fixture
def run_on_private_redis(
    private_redis: Any,
    deployment_factory: Any,
    daemon_factory: Any,
    wait_for: Callable[..., None],
) -> Callable[..., Run]:
    """``start(n_predictions, seed, rate)``: a daemon claims its partitions, then traffic flows."""

    def start(n_predictions: int, seed: int, rate: float) -> Run:
        dep = deployment_factory(partitions=3, simulate=SIMULATE, redis={"url": private_redis.url})
        t = traffic(dep.settings, n_predictions, seed=seed)
        daemon = daemon_factory(dep)
        wait_for(lambda: daemon.log_text().count("claimed") == 6, 60, "six partitions claimed")
        return Run(dep, t, daemon, Stream(dep.settings, t.events, rate=rate))

    return start


def test_redis_paused_past_the_client_timeout_four_times_loses_nothing(
    private_redis: Any,
    run_on_private_redis: Callable[..., Run],
    wait_for: Callable[..., None],
    kafka_bootstrap: str,
) -> None:
    """SIGSTOP Redis for 7 s (the client gives up after 5 s) and resume it, four times while
    traffic flows. Redis runs the timed-out scripts when it resumes, after their clients gave
    up: each retry must be recognised as applied and never merged with newer records. On the
    old loop every pause lost the records queued behind the retried batch."""
    run = run_on_private_redis(50_000, seed=21, rate=2000)
    for _ in range(4):
        time.sleep(3.0)
        os.kill(private_redis.pid, signal.SIGSTOP)
        time.sleep(7.0)
        os.kill(private_redis.pid, signal.SIGCONT)
    run.finish(wait_for, kafka_bootstrap)
    assert "redis unavailable" in run.daemon.log_text()


def test_redis_killed_and_restarted_three_times_loses_nothing(
    private_redis: Any,
    run_on_private_redis: Callable[..., Run],
    wait_for: Callable[..., None],
    kafka_bootstrap: str,
) -> None:
    run = run_on_private_redis(40_000, seed=22, rate=2500)
    for _ in range(3):
        time.sleep(3.0)
        private_redis.kill()
        wait_for(lambda: run.daemon.get("/readyz")[0] == 503, 30, "/readyz to report it")
        assert "redis" in run.daemon.get("/readyz")[1]
        private_redis.start()
    run.finish(wait_for, kafka_bootstrap)


def test_redis_restored_from_an_older_copy_is_re_read_exactly(
    private_redis: Any,
    run_on_private_redis: Callable[..., Run],
    wait_for: Callable[..., None],
    kafka_bootstrap: str,
) -> None:
    """Redis comes back behind what it acknowledged (a restore from backup; an OS crash under
    appendfsync everysec and a failover to a lagging replica look the same). The daemon finds
    Redis' offsets behind its own, claims again, re-reads the lost span from Kafka and ends
    exact; the old daemon kept its position and lost the span."""
    run = run_on_private_redis(40_000, seed=23, rate=3000)
    time.sleep(4.0)
    backup = private_redis.data_dir.parent / "backup"
    redis.Redis.from_url(private_redis.url).execute_command("BGREWRITEAOF")
    time.sleep(1.0)
    shutil.copytree(private_redis.data_dir, backup)
    time.sleep(4.0)  # the daemon applies more, which the restore will take back
    acknowledged = counted(run.dep)()
    private_redis.kill()
    shutil.rmtree(private_redis.data_dir)
    shutil.copytree(backup, private_redis.data_dir)
    private_redis.start()
    assert counted(run.dep)() < acknowledged  # Redis really lost acknowledged work
    run.finish(wait_for, kafka_bootstrap)
    assert "Redis lost acknowledged writes" in run.daemon.log_text()
    status, metrics = run.daemon.get("/metrics")
    assert status == 200 and 'driftwatch_resyncs_total{kind="gap"}' in metrics


def test_a_paused_daemon_resumed_after_a_takeover_publishes_no_dead_letter(
    deployment_factory: Any,
    daemon_factory: Any,
    wait_for: Callable[..., None],
    kafka_bootstrap: str,
) -> None:
    """A daemon stopped (SIGSTOP) past its session timeout loses its partitions to the other;
    resumed, it still holds batches planned before the pause. Its writes are fenced — and so are
    its dead letters: the topic gets none of the false ``duplicate_id`` letters it used to. Twice,
    while traffic flows."""
    dep = deployment_factory(partitions=6, simulate=SIMULATE)
    t = traffic(dep.settings, 40_000, seed=24)
    first, second = daemon_factory(dep), daemon_factory(dep)
    wait_for(
        lambda: "claimed" in first.log_text() and "claimed" in second.log_text(),
        60,
        "both instances to claim partitions",
    )
    stream = Stream(dep.settings, t.events, rate=2500)
    for _ in range(2):
        time.sleep(2.0)
        first.proc.send_signal(signal.SIGSTOP)
        claims = second.log_text().count("claimed")
        wait_for(lambda c=claims: second.log_text().count("claimed") >= c + 3, 60,
                 "the other daemon to take over")  # fmt: skip
        time.sleep(2.0)
        first.proc.send_signal(signal.SIGCONT)
    stream.join()
    wait_for(lambda: counted(dep)() == len(t.events), 180, "every record accounted for")
    time.sleep(2)
    audit(dep, t, kafka_bootstrap)
    assert first.alive() and second.alive()
    assert first.terminate() == 0 and second.terminate() == 0


def test_redis_rolled_back_three_times_while_traffic_flows_is_re_read_exactly(
    private_redis: Any,
    run_on_private_redis: Callable[..., Run],
    wait_for: Callable[..., None],
    kafka_bootstrap: str,
) -> None:
    """Three rollbacks in a row, each to a copy a couple of seconds old, while traffic flows:
    what a kill under appendfsync everysec on a busy disk does (Redis may postpone its AOF write
    while an fsync is slow and still answer). Each time the daemon re-reads the lost span, also
    of the partitions it re-claimed after the previous rollback."""
    run = run_on_private_redis(40_000, seed=25, rate=3000)
    backup = private_redis.data_dir.parent / "backup"
    for _ in range(3):
        time.sleep(2.0)
        redis.Redis.from_url(private_redis.url).execute_command("BGREWRITEAOF")
        time.sleep(1.0)
        shutil.rmtree(backup, ignore_errors=True)
        shutil.copytree(private_redis.data_dir, backup)
        time.sleep(2.0)
        private_redis.kill()
        shutil.rmtree(private_redis.data_dir)
        shutil.copytree(backup, private_redis.data_dir)
        private_redis.start()
    run.finish(wait_for, kafka_bootstrap)
    assert run.daemon.log_text().count("Redis lost acknowledged writes") >= 3
