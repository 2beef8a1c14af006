"""The simulator against the real broker: every generated record arrives byte for byte."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from monitor import config
from monitor.simulate import SimEvent, Simulator, produce

#: Records of a few thousand events reach a local broker in well under this.
READ_TIMEOUT_SECONDS = 60.0
PARTITIONS = 3

MODELS: list[dict[str, Any]] = [
    {
        "name": "fraud-detector",
        "owner": "risk@example.com",
        "task": "binary",
        "features": {"amount": "numeric", "n_items": "numeric", "country": "categorical"},
    },
    {
        "name": "delivery-eta",
        "owner": "eta@example.com",
        "task": "regression",
        "features": {"distance_km": "numeric", "city": "categorical"},
    },
    {
        "name": "intent",
        "owner": "nlp@example.com",
        "task": "multiclass",
        "classes": ["buy", "browse", "support"],
        "features": {"dwell_seconds": "numeric", "device": "categorical"},
    },
]
SIMULATE: dict[str, Any] = {
    "rate": 500.0,
    "label_rate": 0.8,
    "label_delay_seconds": 2.0,
    "faults": [
        {"kind": "malformed_json", "model": "intent", "start_seconds": 2, "magnitude": 0.05},
        {"kind": "nulls", "model": "fraud-detector", "feature": "amount", "magnitude": 0.1},
    ],
}


def read_all(
    bootstrap: str, topics: list[str], expected: int
) -> list[tuple[str, int, bytes, bytes]]:
    """Every record of ``topics`` as (topic, partition, key, value), once ``expected`` arrived."""
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"dwtest-sim-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    records: list[tuple[str, int, bytes, bytes]] = []
    deadline = time.monotonic() + READ_TIMEOUT_SECONDS
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records += [(r.topic, r.partition, r.key, r.value) for r in batch]
        # Anything beyond the expected count would be a duplicate: give it a moment to show.
        for batch in consumer.poll(timeout_ms=1000).values():
            records += [(r.topic, r.partition, r.key, r.value) for r in batch]
    finally:
        consumer.close()
    return records


def test_produced_events_arrive_exactly_once_byte_for_byte(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    settings = config.parse(
        {
            "kafka": {
                "bootstrap_servers": [kafka_bootstrap],
                "predictions_topic": topic_factory("sim-pred", PARTITIONS),
                "outcomes_topic": topic_factory("sim-out", PARTITIONS),
                "dead_letter_topic": topic_factory("sim-dlq", 1),
            },
            "models": MODELS,
            "simulate": SIMULATE,
        }
    )
    events = list(Simulator(settings, seed=3, start=time.time() - 10).events(5000))
    report = produce(settings, events, realtime_rate=None)

    topic_of = {
        "prediction": settings.kafka.predictions_topic,
        "outcome": settings.kafka.outcomes_topic,
    }
    expected = Counter((e.topic_kind, e.model) for e in events)
    assert report.counts == expected
    assert report.n_failed == 0 and not report.interrupted
    assert report.n_invalid == sum(not e.valid for e in events) > 0
    assert report.n_predictions == 5000

    records = read_all(kafka_bootstrap, list(topic_of.values()), len(events))
    generated: dict[tuple[str, bytes, bytes], SimEvent] = {
        (topic_of[e.topic_kind], e.key, e.value): e for e in events
    }
    assert len(generated) == len(events)  # (topic, key, value) identifies an event
    assert Counter((t, k, v) for t, _, k, v in records) == Counter(list(generated))
    arrived = Counter(
        (generated[t, k, v].topic_kind, generated[t, k, v].model) for t, _, k, v in records
    )
    assert arrived == expected
    # Key = prediction id and equal partition counts: an outcome lands on its prediction's
    # partition number, so the join stays partition-local.
    partition_of = {k: p for t, p, k, _ in records if t == settings.kafka.predictions_topic}
    outcomes = [(p, k) for t, p, k, _ in records if t == settings.kafka.outcomes_topic]
    assert outcomes and all(partition_of[k] == p for p, k in outcomes)


def test_cli_simulate_produces_the_expected_counts(
    deployment_factory: Callable[..., Any], kafka_bootstrap: str
) -> None:
    deployment = deployment_factory(partitions=PARTITIONS, models=MODELS, simulate=SIMULATE)
    settings: config.Settings = deployment.settings
    driftwatch = Path(sys.executable).with_name("driftwatch")
    result = subprocess.run(
        [
            str(driftwatch),
            "simulate",
            "--events",
            "500",
            "--fast",
            "--seed",
            "1",
            "--config",
            str(deployment.path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr

    # Counts depend on the seed alone (not on the start time the CLI picked), so an in-process
    # run with the same seed predicts them exactly.
    events = list(Simulator(settings, seed=1, start=0.0).events(500))
    expected = Counter(
        (
            settings.kafka.predictions_topic
            if e.topic_kind == "prediction"
            else settings.kafka.outcomes_topic,
            e.model,
        )
        for e in events
    )
    records = read_all(
        kafka_bootstrap,
        [settings.kafka.predictions_topic, settings.kafka.outcomes_topic],
        len(events),
    )
    # Ids read MODEL-RUNTAG-NUMBER, and malformed values cannot be parsed: the key names the model.
    arrived = Counter((t, k.rsplit(b"-", 2)[0].decode()) for t, _, k, _ in records)
    assert arrived == expected
    for (topic, model), count in expected.items():
        assert f"{topic:<28} {model:<24} {count:>10,}" in result.stdout
    assert "500 predictions" in result.stdout


def test_ctrl_c_then_sigterm_stops_the_simulator_once_and_flushes(
    deployment_factory: Callable[..., Any],
) -> None:
    """Ctrl-C in a script reaches the whole process group, and the script then often sends
    SIGTERM to its children (as deploy/local/demo does): one stop, everything sent flushed."""
    import signal

    deployment = deployment_factory(partitions=PARTITIONS, models=MODELS, simulate=SIMULATE)
    driftwatch = Path(sys.executable).with_name("driftwatch")
    command = [str(driftwatch), "simulate", "--config", str(deployment.path)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(4.0)
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()  # a no-op once it exited; never leave a simulator behind a failed test
    assert proc.returncode == 0, out
    assert "everything sent was flushed" in out
