"""Hostile input at a running daemon: arbitrary bytes and arbitrary JSON — deep nesting, huge and
tiny numbers, long strings — interleaved with good events. The daemon stays up, every good
neighbour is counted, and every other record is counted or dead-lettered exactly as the event
contract says (the contract's own decoder, run here, is the oracle of which records are valid)."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kafka import KafkaProducer

from monitor.events import Decoder, Prediction
from monitor.vocab.deadletter import UNKNOWN_MODEL, InvalidReason
from tests.e2e.test_redis_faults import read_topics
from tests.monitor.test_events import hostile_text

pytestmark = pytest.mark.slow

FIELDS = ["id", "model", "ts", "features", "prediction", "score", "version", "tags"]
FEATURES = ["amount", "age", "country", "distance_km"]
records = st.one_of(
    st.binary(max_size=400),
    hostile_text.map(str.encode),
    st.tuples(
        st.sampled_from(["fraud-detector", "delivery-eta", "nobody"]),
        st.dictionaries(st.sampled_from(FIELDS), hostile_text, max_size=4),
        st.dictionaries(st.sampled_from(FEATURES), hostile_text, max_size=4),
    ).map(lambda case: envelope(*case)),
)


def envelope(model: str, fields: dict[str, str], features: dict[str, str]) -> bytes:
    """A prediction of ``model`` whose fields and features are replaced by hostile JSON text."""
    doc = {
        "id": json.dumps(uuid.uuid4().hex),
        "model": json.dumps(model),
        "ts": json.dumps(time.time() - 60),
        "prediction": "1" if model != "delivery-eta" else "12.5",
        "features": "{"
        + ",".join(f"{json.dumps(k)}:{v}" for k, v in {"amount": "3.5", **features}.items())
        + "}",
        **fields,
    }
    return ("{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in doc.items()) + "}").encode()


def good(i: int) -> bytes:
    return json.dumps(
        {"id": f"good-{uuid.uuid4().hex}", "model": "fraud-detector", "ts": time.time() - 60,
         "features": {"amount": float(i), "age": 3, "country": "DE"}, "prediction": 1}
    ).encode()  # fmt: skip


def test_hostile_events_cost_a_running_daemon_nothing_but_themselves(
    deployment_factory: Any,
    daemon_factory: Callable[..., Any],
    wait_for: Callable[..., None],
    kafka_bootstrap: str,
) -> None:
    dep = deployment_factory(partitions=1)
    daemon = daemon_factory(dep)
    wait_for(lambda: "claimed" in daemon.log_text(), 60, "the daemon to claim its partitions")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    oracle = Decoder(dep.settings.models, dep.settings.ingest, dep.settings.fields)
    valid: Counter[str] = Counter()
    dead: Counter[tuple[str, str]] = Counter()
    ids: set[tuple[str, str]] = set()
    n_records = [0]

    def expect(value: bytes) -> None:
        event = oracle.prediction(0, None, value)
        if not isinstance(event, Prediction):
            dead[event.model, event.reason.value] += 1
        elif (event.model, event.id) in ids:
            dead[event.model, InvalidReason.DUPLICATE_ID.value] += 1
        else:
            ids.add((event.model, event.id))
            valid[event.model] += 1

    def ledger() -> tuple[dict[str, int], Counter[tuple[str, str]]]:
        counts = dep.counts()
        got_valid = {m: c.predictions for m, c in counts.items() if c.predictions}
        got_dead = Counter(
            {(m, r): n for m, c in counts.items() for r, n in c.dead_by_reason.items()}
        )
        got_dead.update({(UNKNOWN_MODEL, r): n for r, n in dep.unknown().dead_by_reason.items()})
        return got_valid, got_dead

    def accounted() -> bool:
        return ledger() == (dict(+valid), +dead)

    @settings(
        max_examples=20,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # the daemon's counts accumulate: a shrunk rerun would mislead
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(records, min_size=5, max_size=40))
    def burst(hostile: list[bytes]) -> None:
        for i, value in enumerate(hostile):
            for record in (value, good(i)):  # every hostile record has a good neighbour
                producer.send(dep.settings.kafka.predictions_topic, value=record, partition=0)
                expect(record)
                n_records[0] += 1
        producer.flush()
        deadline = time.monotonic() + 60
        while not accounted() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ledger() == (dict(+valid), +dead), hostile
        assert daemon.alive(), daemon.log_text()[-3000:]

    burst()
    producer.close()
    letters = read_topics(kafka_bootstrap, [dep.settings.kafka.dead_letter_topic])
    offsets = {int(dict(m.headers)["dw-offset"]) for m in letters}
    assert len(offsets) == sum(dead.values())
    assert sum(valid.values()) + sum(dead.values()) == n_records[0]
    assert daemon.get("/readyz")[0] == 200
