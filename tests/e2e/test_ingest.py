"""Ingestion end to end on real Kafka and Redis: exact counts, dead letters, the late-label join."""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from kafka import KafkaConsumer, KafkaProducer

from monitor.simulate import SimEvent, Simulator, produce


@dataclass
class Expected:
    """Ground truth computed from the events that were produced."""

    predictions: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    joined: Counter[str] = field(default_factory=Counter)
    malformed: int = 0

    @classmethod
    def of(cls, events: Iterable[SimEvent]) -> Expected:
        exp = cls()
        ids: set[bytes] = set()
        for e in events:
            if not e.valid:
                exp.malformed += 1
            elif e.topic_kind == "prediction":
                exp.predictions[e.model] += 1
                ids.add(e.key)
            else:
                exp.outcomes[e.model] += 1
                exp.joined[e.model] += e.key in ids
        return exp


def assert_exact(deployment: Any, expected: Expected) -> None:
    counts = deployment.counts()
    for model in ("fraud-detector", "delivery-eta"):
        got = counts[model]
        assert (got.predictions, got.outcomes, got.joined) == (
            expected.predictions[model],
            expected.outcomes[model],
            expected.joined[model],
        ), model
        assert got.dead == 0
    assert deployment.unknown().dead_by_reason.get("bad_json", 0) == expected.malformed


def reached(deployment: Any, expected: Expected) -> Callable[[], bool]:
    total = sum(expected.predictions.values()) + sum(expected.outcomes.values())

    def done() -> bool:
        counts = deployment.counts()
        seen = sum(c.predictions + c.outcomes for c in counts.values())
        return seen >= total and deployment.unknown().dead >= expected.malformed

    return done


def read_all(bootstrap: str, topic: str, n: int, timeout: float = 30) -> list[Any]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(messages) < n and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            messages.extend(batch)
    consumer.close()
    return messages


def test_counts_are_exact_and_malformed_events_are_dead_lettered(
    deployment_factory: Any, daemon_factory: Any, wait_for: Any, kafka_bootstrap: str
) -> None:
    dep = deployment_factory(
        partitions=3,
        simulate={
            "rate": 1000.0,
            "label_delay_seconds": 3.0,
            "faults": [{"kind": "malformed_json", "model": "fraud-detector", "magnitude": 0.02}],
        },
    )
    events = list(Simulator(dep.settings, seed=7, start=time.time() - 600).events(20_000))
    expected = Expected.of(events)
    assert expected.malformed > 100
    report = produce(dep.settings, events, realtime_rate=None)
    assert report.n_failed == 0
    daemon = daemon_factory(dep)
    wait_for(reached(dep, expected), 120, "all events counted")
    assert_exact(dep, expected)
    assert_observable(daemon, dep, expected, wait_for)
    assert daemon.terminate() == 0
    assert_exact(dep, expected)  # a clean stop neither loses nor adds anything

    letters = read_all(kafka_bootstrap, dep.settings.kafka.dead_letter_topic, expected.malformed)
    assert len(letters) == expected.malformed
    malformed_values = {e.value for e in events if not e.valid}
    for letter in letters:
        headers = dict(letter.headers)
        assert headers["dw-reason"] == b"bad_json"
        assert headers["dw-topic"] == dep.settings.kafka.predictions_topic.encode()
        assert letter.value in malformed_values  # original bytes, untouched
        assert int(headers["dw-offset"]) >= 0


def assert_observable(daemon: Any, dep: Any, expected: Expected, wait_for: Any) -> None:
    """Health, readiness and metrics of one daemon that consumed the whole stream alone."""
    assert daemon.get("/healthz")[0] == 200
    status, body = daemon.get("/readyz")
    assert status == 200 and "6 partitions" in body, body

    def lags() -> dict[frozenset[tuple[str, str]], float]:
        gauge = "driftwatch_consumer_lag_records"
        return {k: v for (name, k), v in daemon.metrics().items() if name == gauge}

    # Lag gauges are refreshed every few seconds; all six partitions end fully applied.
    wait_for(lambda: len(lags()) == 6 and not any(lags().values()), 30, "zero lag everywhere")

    def pending() -> dict[tuple[str, str], float]:
        gauge = "driftwatch_pending_joins"
        return {
            (dict(k)["model"], dict(k)["kind"]): v
            for (name, k), v in daemon.metrics().items()
            if name == gauge
        }

    # Pending joins are read from Redis by the probe thread every few seconds, never by a scrape.
    final = {}
    for model in ("fraud-detector", "delivery-eta"):
        p, o, j = expected.predictions[model], expected.outcomes[model], expected.joined[model]
        final[model, "prediction"], final[model, "outcome"] = p - j, o - j
    wait_for(lambda: pending() == final, 30, "the pending-join gauge to catch up")
    m = daemon.metrics()

    def sample(name: str, **labels: str) -> float:
        return m[name, frozenset(labels.items())]

    for model in ("fraud-detector", "delivery-eta"):
        p, o, j = expected.predictions[model], expected.outcomes[model], expected.joined[model]
        events = "driftwatch_events_total"
        assert sample(events, kind="prediction", model=model, result="valid") == p
        assert sample(events, kind="outcome", model=model, result="valid") == o
        assert sample("driftwatch_joined_total", model=model) == j
    assert 0 <= sample("driftwatch_pending_joins_age_seconds") < 30
    assert (
        sample("driftwatch_dead_letters_total", model="_unknown", reason="bad_json")
        == expected.malformed
    )
    assert sample("driftwatch_batch_duration_seconds_count") > 0
    assert sample("driftwatch_redis_write_seconds_count") > 0
    assert sample("driftwatch_partitions_owned") == 6


def _pred(event_id: str, model: str = "fraud-detector", **extra: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "model": model,
        "version": "v1",
        "ts": time.time() - 5,
        "features": {"amount": 10.0, "age": 3, "country": "DE"},
        "prediction": 1,
        "score": 0.9,
        **extra,
    }


def test_every_kind_of_bad_input_is_dead_lettered_with_its_reason(
    deployment_factory: Any, daemon_factory: Any, wait_for: Any, kafka_bootstrap: str
) -> None:
    dep = deployment_factory(partitions=1, ingest={"max_event_bytes": 4096})
    good = msgspec.json.encode
    bad: list[tuple[bytes | None, str]] = [
        (b'{"id": "x", "model": ', "bad_json"),
        (b"\xff\xfe\x00garbage", "not_utf8"),
        (good({k: v for k, v in _pred("m1").items() if k != "id"}), "missing_field"),
        (good({k: v for k, v in _pred("m2").items() if k != "model"}), "missing_field"),
        (good(_pred("w1", features="not-an-object")), "wrong_type"),
        (good(_pred("w2", prediction="maybe")), "wrong_type"),
        (msgspec.json.encode(_pred("n1")).replace(b"10.0", b"NaN"), "non_finite"),
        (msgspec.json.encode(_pred("n2")).replace(b"10.0", b"Infinity"), "non_finite"),
        (good(_pred("big", pad="x" * 5000)), "too_large"),
        (good(_pred("u1", model="nobody")), "unknown_model"),
        (good(_pred("t1", ts="last tuesday")), "bad_timestamp"),
        (b"", "empty"),
        (good(_pred("dup")), "duplicate_id"),  # the second copy of "dup" below
        (good(_pred("s1", score=7)), "bad_score"),
        (b'"just a string"', "not_object"),
    ]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    topic = dep.settings.kafka.predictions_topic
    valid_ids = []
    for i, (value, _reason) in enumerate(bad):
        vid = f"ok-{i}"
        valid_ids.append(vid)
        producer.send(topic, key=vid.encode(), value=good(_pred(vid)))
        if _reason == "duplicate_id":
            producer.send(topic, key=b"dup", value=good(_pred("dup")))
        producer.send(topic, key=b"bad", value=value)
    producer.flush()
    producer.close()
    daemon_factory(dep)
    n_valid = len(valid_ids) + 1  # the first "dup" is valid
    wait_for(lambda: dep.counts()["fraud-detector"].predictions >= n_valid, 60, "valid events")
    letters = read_all(kafka_bootstrap, dep.settings.kafka.dead_letter_topic, len(bad))
    reasons = Counter(dict(m.headers)["dw-reason"].decode() for m in letters)
    assert reasons == Counter(reason for _, reason in bad)
    assert len(reasons) >= 10
    fraud = dep.counts()["fraud-detector"]
    assert fraud.predictions == n_valid
    unknown = dep.unknown()
    by_reason = Counter(fraud.dead_by_reason) + Counter(unknown.dead_by_reason)
    assert by_reason == Counter(reason for _, reason in bad)
    # The same dead letters, by window of arrival (the data-quality view per window).
    size = dep.settings.windows.size_seconds
    starts = {math.floor(t / size) * size for t in (time.time(), time.time() - 120)}
    per_window: Counter[str] = Counter()
    for start in starts:
        per_window.update(dep.query().dead_letters("fraud-detector", start))
    assert per_window == Counter(fraud.dead_by_reason)
    for letter in letters:
        assert dict(letter.headers)["dw-topic"] == topic.encode()


def test_late_label_join_in_either_order_with_expiry_and_duplicates(
    deployment_factory: Any, daemon_factory: Any, wait_for: Any, kafka_bootstrap: str
) -> None:
    dep = deployment_factory(partitions=2, ingest={"label_horizon_seconds": 4})
    kafka = dep.settings.kafka
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)

    def send(topic: str, event: dict[str, Any]) -> None:
        producer.send(topic, key=event["id"].encode(), value=msgspec.json.encode(event))
        producer.flush()

    def outcome(event_id: str, label: int = 1) -> dict[str, Any]:
        return {"id": event_id, "model": "fraud-detector", "ts": time.time(), "label": label}

    daemon_factory(dep)
    fraud = lambda: dep.counts()["fraud-detector"]  # noqa: E731

    # Outcome first, then its prediction: they pair.
    send(kafka.outcomes_topic, outcome("early"))
    wait_for(lambda: fraud().outcomes == 1, 60, "early outcome")
    send(kafka.predictions_topic, _pred("early"))
    wait_for(lambda: fraud().joined == 1, 30, "outcome-first pair")

    # Prediction first, then outcome, then the same outcome again: one pair, one duplicate.
    send(kafka.predictions_topic, _pred("normal"))
    send(kafka.outcomes_topic, outcome("normal"))
    wait_for(lambda: fraud().joined == 2, 30, "prediction-first pair")
    send(kafka.outcomes_topic, outcome("normal", label=0))
    wait_for(lambda: fraud().dead_by_reason.get("duplicate_id") == 1, 30, "duplicate outcome")

    # A prediction whose outcome comes after the horizon: it expires unlabelled, and the late
    # outcome (like an outcome for an unknown id) waits, then expires as an orphan.
    send(kafka.predictions_topic, _pred("late"))
    wait_for(lambda: fraud().expired_predictions == 1, 30, "expiry of the unlabelled prediction")
    send(kafka.outcomes_topic, outcome("late"))
    send(kafka.outcomes_topic, outcome("never-predicted"))
    wait_for(lambda: fraud().orphan_outcomes == 2, 30, "orphan outcomes expire")

    final = fraud()
    assert (final.predictions, final.outcomes, final.joined) == (3, 4, 2)
    assert final.expired_predictions == 1
    assert final.label_coverage == pytest.approx(2 / 3)
    assert sum(final.delay_histogram.values()) == 2
    producer.close()
