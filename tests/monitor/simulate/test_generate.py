"""Generation: deterministic runs, and events that keep the event contract."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from typing import Any

import jsonschema
import msgspec
import numpy as np
import pytest

from monitor import config
from monitor.events import Decoder
from monitor.simulate import SimEvent, Simulator
from monitor.vocab.deadletter import DeadLetter, InvalidReason
from tests.monitor.simulate.support import (
    RATE,
    ROOT,
    SETTINGS,
    START,
    N,
    digest,
    fault,
    predictions,
    run,
)

# --- determinism --------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_events_in_the_same_order() -> None:
    faults = [
        fault("nulls", feature="amount", magnitude=0.3),
        fault("malformed_json", magnitude=0.1),
    ]
    assert run(faults=faults) == run(faults=faults)


def test_different_seeds_give_different_events_from_the_same_population() -> None:
    a, b = run(seed=1), run(seed=2)
    assert {e.key for e in a}.isdisjoint({e.key for e in b})
    assert [e.value for e in a[:50]] != [e.value for e in b[:50]]
    # The population is a property of the model, not of the seed: no drift between seeds.
    amounts = [
        np.mean([p["features"]["amount"] for _, p in predictions(r, "fraud")]) for r in (a, b)
    ]
    assert amounts[0] == pytest.approx(amounts[1], rel=0.05)


def test_a_shorter_run_is_a_prefix_of_a_longer_one() -> None:
    short = [e for e in run(900) if e.topic_kind == "prediction"]
    long = [e for e in run(3000) if e.topic_kind == "prediction"]
    assert long[: len(short)] == short


def test_prediction_clock_is_start_plus_index_over_rate_with_models_taking_turns() -> None:
    preds = [e for e in run(30) if e.topic_kind == "prediction"]
    assert [e.ts for e in preds] == [START + i / RATE for i in range(30)]
    assert [e.model for e in preds[:6]] == ["fraud", "eta", "intent"] * 2
    first = msgspec.json.decode(preds[0].value)
    assert first["ts"] == "2027-01-15T08:00:00.000Z"
    assert preds[0].key == first["id"].encode()


def test_models_restricts_the_run_without_changing_a_models_values() -> None:
    only = [e for e in run(300, models=["eta"]) if e.topic_kind == "prediction"]
    assert {e.model for e in only} == {"eta"}
    mixed = [e for e in run(900) if e.topic_kind == "prediction" and e.model == "eta"]

    def without_ts(e: SimEvent) -> dict[str, Any]:
        return {k: v for k, v in msgspec.json.decode(e.value).items() if k != "ts"}

    assert [without_ts(e) for e in only] == [without_ts(e) for e in mixed]


def test_events_do_not_depend_on_the_process_hash_seed() -> None:
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.monitor.simulate.support import digest, run\n"
        "print(digest(run(900)))\n"
    )
    for hash_seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert result.stdout.strip() == digest(run(900))


# --- the event contract -------------------------------------------------------------------------


def test_every_valid_event_validates_against_the_json_schemas() -> None:
    schemas = {
        kind: jsonschema.Draft202012Validator(
            json.loads((ROOT / "docs" / "schemas" / f"{kind}.v1.json").read_text())
        )
        for kind in ("prediction", "outcome")
    }
    for event in run(faults=[fault("nulls", feature="country", magnitude=0.2)]):
        if event.valid:
            schemas[event.topic_kind].validate(msgspec.json.decode(event.value))


def test_every_valid_event_decodes_and_every_malformed_one_is_dead_lettered_as_bad_json() -> None:
    decoder = Decoder(SETTINGS.models, SETTINGS.ingest, SETTINGS.fields, clock=lambda: START + 3600)
    events = run(faults=[fault("malformed_json", model="intent", magnitude=0.5)])
    for offset, e in enumerate(events):
        decode = decoder.prediction if e.topic_kind == "prediction" else decoder.outcome
        decoded = decode(offset, e.key, e.value)
        if e.valid:
            assert not isinstance(decoded, DeadLetter), decoded
            assert decoded.id.encode() == e.key
        else:
            assert isinstance(decoded, DeadLetter) and decoded.reason is InvalidReason.BAD_JSON


def test_outcomes_follow_their_prediction_and_their_count_is_label_rate_of_predictions() -> None:
    events = run()
    seen: dict[bytes, float] = {}
    n_outcomes = 0
    for i, e in enumerate(events):
        if e.topic_kind == "prediction":
            seen[e.key] = e.ts
            continue
        n_outcomes += 1
        assert e.key in seen and e.ts >= seen[e.key]
        later = next((x for x in events[i:] if x.topic_kind == "prediction"), None)
        assert later is None or later.ts >= e.ts  # emitted once the clock passed its due time
    assert n_outcomes == pytest.approx(0.7 * 3 * N, abs=4 * np.sqrt(3 * N * 0.21))
    delays = [msgspec.json.decode(e.value) for e in events if e.topic_kind == "outcome"]
    assert len({d["id"] for d in delays}) == n_outcomes


def test_field_mapping_moves_fields_to_the_users_paths() -> None:
    paths = {"id": "request.uuid", "features": "inputs", "prediction": "output.label"}
    mapped = dataclasses.replace(SETTINGS, fields=config.FieldMapping(predictions=paths))
    event = next(iter(Simulator(mapped, seed=0, start=START).events(1)))
    doc = msgspec.json.decode(event.value)
    assert doc["request"]["uuid"].encode() == event.key
    assert set(doc["inputs"]) == set(SETTINGS.models[0].features)
    assert doc["output"]["label"] in (0, 1)
    assert "id" not in doc and "features" not in doc
