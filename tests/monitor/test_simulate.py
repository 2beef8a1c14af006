"""The traffic simulator: deterministic, realistic, and faults hit exactly what they name."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import numpy as np
import pytest

from monitor import config
from monitor.config import FaultSettings
from monitor.errors import ConfigError
from monitor.events import DeadLetter, Decoder, InvalidReason
from monitor.simulate import (
    UNSEEN_CATEGORIES,
    SimEvent,
    Simulator,
    parse_fault,
    parse_start,
)

ROOT = Path(__file__).resolve().parents[2]
START = 1_800_000_000.0
RATE = 100.0
#: Predictions per model in most runs: 3 models take turns, so 3 × N events.
N = 3000
SETTINGS = config.parse(
    {
        "models": [
            {
                "name": "fraud",
                "owner": "risk@example.com",
                "task": "binary",
                "threshold": 0.4,
                "features": {
                    "amount": "numeric",
                    "n_items": "numeric",
                    "hour": "numeric",
                    "score_a": "numeric",
                    "country": "categorical",
                    "channel": "categorical",
                },
            },
            {
                "name": "eta",
                "owner": "eta@example.com",
                "task": "regression",
                "features": {"distance_km": "numeric", "city": "categorical"},
            },
            {
                "name": "intent",
                "owner": "nlp@example.com",
                "task": "multiclass",
                "classes": ["buy", "browse", "support"],
                "features": {"dwell": "numeric", "device": "categorical"},
            },
        ],
        "simulate": {"rate": RATE, "label_rate": 0.7, "label_delay_seconds": 5.0},
    }
)
#: A window in the middle of the run: from 10 s to 20 s of simulated time.
WINDOW = (10.0, 20.0)


def run(n: int = 3 * N, **kwargs: Any) -> list[SimEvent]:
    kwargs = {"seed": 0, "start": START, "faults": (), **kwargs}
    return list(Simulator(SETTINGS, **kwargs).events(n))


def fault(kind: str, model: str = "fraud", feature: str = "", magnitude: float = 1.0) -> Any:
    return FaultSettings(kind, model, feature, WINDOW[0], WINDOW[1], magnitude)  # type: ignore[arg-type]


def predictions(events: list[SimEvent], model: str) -> list[tuple[float, dict[str, Any]]]:
    """(seconds after start, decoded event) of a model's valid predictions."""
    return [
        (e.ts - START, msgspec.json.decode(e.value))
        for e in events
        if e.topic_kind == "prediction" and e.model == model and e.valid
    ]


def in_window(rel: float) -> bool:
    return WINDOW[0] <= rel < WINDOW[1]


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney AUC (scores have few ties at 4 decimals)."""
    ranks = np.argsort(np.argsort(scores)) + 1
    n_pos = labels.sum()
    return float(
        (ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(labels) - n_pos))
    )


def joined(events: list[SimEvent], model: str) -> list[tuple[float, dict[str, Any], Any]]:
    """(seconds after start, prediction, label) for the model's labelled predictions."""
    labels = {
        e.key: msgspec.json.decode(e.value)["label"] for e in events if e.topic_kind == "outcome"
    }
    return [
        (rel, p, labels[p["id"].encode()])
        for rel, p in predictions(events, model)
        if p["id"].encode() in labels
    ]


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


def digest(events: list[SimEvent]) -> str:
    h = hashlib.sha256()
    for e in events:
        h.update(f"{e.topic_kind}|{e.model}|{e.ts!r}|{e.valid}|".encode() + e.key + b"|" + e.value)
    return h.hexdigest()


def test_events_do_not_depend_on_the_process_hash_seed() -> None:
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_simulate import digest, run\n"
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


# --- realism and the contract -------------------------------------------------------------------


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
    decoder = Decoder(SETTINGS, clock=lambda: START + 3600)
    events = run(faults=[fault("malformed_json", model="intent", magnitude=0.5)])
    for offset, e in enumerate(events):
        decode = decoder.prediction if e.topic_kind == "prediction" else decoder.outcome
        decoded = decode(offset, e.key, e.value)
        if e.valid:
            assert not isinstance(decoded, DeadLetter), decoded
            assert decoded.id.encode() == e.key
        else:
            assert isinstance(decoded, DeadLetter) and decoded.reason is InvalidReason.BAD_JSON


def test_features_look_like_real_data() -> None:
    preds = [p for _, p in predictions(run(), "fraud")]
    assert all(isinstance(p["features"]["n_items"], int) for p in preds)
    assert {p["features"]["hour"] for p in preds} <= set(range(24))
    assert min(p["features"]["amount"] for p in preds) > 0  # lognormal money
    countries = Counter(p["features"]["country"] for p in preds)
    assert 3 <= len(countries) <= 8 and set(countries) <= {
        "US",
        "DE",
        "GB",
        "FR",
        "BR",
        "IN",
        "JP",
        "NG",
    }
    shares = sorted(countries.values(), reverse=True)
    assert shares[0] > 2 * shares[-1]  # skewed, not uniform
    assert {p["tags"]["region"] for p in preds} <= {"eu-west", "us-east", "ap-south"}


def test_model_quality_is_good_but_not_perfect() -> None:
    events = run(3 * 6000)
    rows = joined(events, "fraud")
    labels = np.array([y for _, _, y in rows])
    scores = np.array([p["score"] for _, p, _ in rows])
    assert 0.75 < auc(labels, scores) < 0.95
    assert all(p["prediction"] == int(p["score"] >= 0.4) for _, p, _ in rows)
    eta = joined(events, "eta")
    y, yhat = np.array([y for *_, y in eta]), np.array([p["prediction"] for _, p, _ in eta])
    r2 = 1 - np.mean((y - yhat) ** 2) / np.var(y)
    assert 0.5 < r2 < 0.95 and y.min() > 0
    intent = joined(events, "intent")
    accuracy = np.mean([p["prediction"] == y for _, p, y in intent])
    assert 0.5 < accuracy < 0.95
    assert all(set(p["score"]) == {"buy", "browse", "support"} for _, p, _ in intent)


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


# --- faults ---------------------------------------------------------------------------------------


def split(baseline: list[SimEvent], faulty: list[SimEvent], model: str) -> tuple[list, list]:
    """Pairs of (baseline, faulty) decoded predictions outside and inside the fault window."""
    pairs = list(zip(predictions(baseline, model), predictions(faulty, model), strict=True))
    outside = [(a, b) for (rel, a), (_, b) in pairs if not in_window(rel)]
    inside = [(a, b) for (rel, a), (_, b) in pairs if in_window(rel)]
    return outside, inside


def test_covariate_shift_moves_only_its_feature_and_only_in_the_window() -> None:
    baseline = run()
    shifted = run(faults=[fault("covariate_shift", feature="amount", magnitude=2.0)])
    outside, inside = split(baseline, shifted, "fraud")
    assert all(a == b for a, b in outside)
    std = np.std([a["features"]["amount"] for a, _ in outside])
    deltas = [b["features"]["amount"] - a["features"]["amount"] for a, b in inside]
    assert np.mean(deltas) == pytest.approx(2.0 * std, rel=0.15)
    for a, b in inside:
        assert {k: v for k, v in a["features"].items() if k != "amount"} == {
            k: v for k, v in b["features"].items() if k != "amount"
        }
    assert all(a == b for a, b in split(baseline, shifted, "eta")[1])  # other models untouched


def test_categorical_covariate_shift_moves_mass_to_the_rarest_category() -> None:
    baseline = run()
    shifted = run(faults=[fault("covariate_shift", feature="country", magnitude=2.0)])
    outside, inside = split(baseline, shifted, "fraud")
    reference = Counter(a["features"]["country"] for a, _ in outside)
    gained = Counter(b["features"]["country"] for _, b in inside)
    gained.subtract(a["features"]["country"] for a, _ in inside)
    (winner, gain), *_ = gained.most_common(1)
    assert gain > 0.4 * len(inside)  # 1 - exp(-2 / 2) = 63 % of the mass moves
    assert reference[winner] <= 1.3 * min(reference.values())  # to the rarest category


@pytest.mark.parametrize(
    ("kind", "feature", "magnitude", "affected"),
    [
        ("nulls", "amount", 0.2, lambda v, ref: v is None),
        ("nulls", "country", 0.3, lambda v, ref: v is None),
        ("out_of_range", "amount", 0.25, lambda v, ref: abs(v - ref[0]) >= 9.9 * ref[1]),
        ("unseen_category", "channel", 0.15, lambda v, ref: v in UNSEEN_CATEGORIES),
    ],
)
def test_data_quality_faults_hit_their_share_of_events_in_the_window(
    kind: str, feature: str, magnitude: float, affected: Any
) -> None:
    baseline = run()
    faulty = run(faults=[fault(kind, feature=feature, magnitude=magnitude)])
    outside, inside = split(baseline, faulty, "fraud")
    assert all(a == b for a, b in outside)
    values = [a["features"][feature] for a, _ in outside]
    ref = (np.mean(values), np.std(values)) if kind == "out_of_range" else None
    hits = [affected(b["features"][feature], ref) for _, b in inside]
    n = len(hits)
    assert sum(hits) == pytest.approx(
        magnitude * n, abs=4 * np.sqrt(n * magnitude * (1 - magnitude))
    )
    for a, b in inside:  # the other features are untouched
        assert {k: v for k, v in a["features"].items() if k != feature} == {
            k: v for k, v in b["features"].items() if k != feature
        }


def test_concept_drift_changes_labels_but_not_predictions() -> None:
    baseline = run(3 * 6000)
    drifted = run(3 * 6000, faults=[fault("concept_drift", magnitude=1.0)])
    before = [e for e in baseline if e.topic_kind == "prediction"]
    assert before == [e for e in drifted if e.topic_kind == "prediction"]

    def window_auc(events: list[SimEvent]) -> float:
        rows = [(y, p["score"]) for rel, p, y in joined(events, "fraud") if in_window(rel)]
        return auc(np.array([y for y, _ in rows]), np.array([s for _, s in rows]))

    assert window_auc(baseline) > 0.75
    assert window_auc(drifted) < 0.65


def test_prediction_shift_moves_scores_but_not_labels() -> None:
    baseline = run()
    shifted = run(faults=[fault("prediction_shift", magnitude=1.0)])
    assert [e for e in baseline if e.topic_kind == "outcome"] == [
        e for e in shifted if e.topic_kind == "outcome"
    ]
    outside, inside = split(baseline, shifted, "fraud")
    assert all(a == b for a, b in outside)
    assert all(b["score"] >= a["score"] for a, b in inside)
    assert np.mean([b["prediction"] for _, b in inside]) > np.mean(
        [a["prediction"] for a, _ in inside]
    )


def test_malformed_json_is_invalid_flagged_and_never_gets_an_outcome() -> None:
    events = run(faults=[fault("malformed_json", model="eta", magnitude=0.2)])
    bad = [e for e in events if not e.valid]
    in_window_eta = [
        e
        for e in events
        if e.topic_kind == "prediction" and e.model == "eta" and in_window(e.ts - START)
    ]
    n = len(in_window_eta)
    assert len(bad) == pytest.approx(0.2 * n, abs=4 * np.sqrt(n * 0.16))
    for e in bad:
        assert e.topic_kind == "prediction" and e.model == "eta" and in_window(e.ts - START)
        with pytest.raises(msgspec.DecodeError):
            msgspec.json.decode(e.value)
    outcome_keys = {e.key for e in events if e.topic_kind == "outcome"}
    assert outcome_keys.isdisjoint({e.key for e in bad})


def test_fault_without_end_lasts_to_the_end_and_empty_feature_means_first_fitting_one() -> None:
    forever = FaultSettings("unseen_category", "fraud", "", 5.0, 0.0, 1.0)
    events = run(faults=[forever])
    preds = predictions(events, "fraud")
    assert all((p["features"]["country"] in UNSEEN_CATEGORIES) == (rel >= 5.0) for rel, p in preds)


@pytest.mark.parametrize(
    "bad",
    [
        FaultSettings("out_of_range", "fraud", "country"),
        FaultSettings("unseen_category", "eta", "distance_km"),
        FaultSettings("nulls", "fraud", "amount", magnitude=1.5),
        FaultSettings("nulls", "fraud", "no_such_feature"),
        FaultSettings("nulls", "no_such_model"),
    ],
)
def test_impossible_faults_are_config_errors(bad: FaultSettings) -> None:
    with pytest.raises(ConfigError):
        Simulator(SETTINGS, faults=[bad])


def test_config_faults_are_the_default() -> None:
    with_config = dataclasses.replace(
        SETTINGS,
        simulate=dataclasses.replace(SETTINGS.simulate, faults=(fault("nulls", feature="amount"),)),
    )
    events = list(Simulator(with_config, seed=0, start=START).events(3 * N))
    nulls = [rel for rel, p in predictions(events, "fraud") if p["features"]["amount"] is None]
    assert nulls and all(in_window(rel) for rel in nulls)


# --- command-line values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "covariate_shift:fraud:amount@300-600x1.5",
            ("covariate_shift", "fraud", "amount", 300, 600, 1.5),
        ),
        ("concept_drift:delivery-eta@10m-", ("concept_drift", "delivery-eta", "", 600, 0, 1.0)),
        ("nulls:churn:plan@0-1hx0.2", ("nulls", "churn", "plan", 0, 3600, 0.2)),
        ("malformed_json:m.v2@-90sx0.01", ("malformed_json", "m.v2", "", 0, 90, 0.01)),
        ("prediction_shift:x-ray@1d-2dx-1", ("prediction_shift", "x-ray", "", 86400, 172800, -1.0)),
    ],
)
def test_parse_fault(spec: str, expected: tuple[Any, ...]) -> None:
    assert dataclasses.astuple(parse_fault(spec)) == expected


@pytest.mark.parametrize(
    "spec", ["nulls:churn", "drift:churn@0-1", "nulls:churn@0-1xlots", "nulls:churn@5q-", ""]
)
def test_parse_fault_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_fault(spec)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", START),
        ("now-3d", START - 3 * 86400),
        ("now+90m", START + 5400),
        ("2027-01-15T08:00:00Z", START),
        ("2027-01-15T09:00:00+01:00", START),
        ("2027-01-15 08:00:00", START),
    ],
)
def test_parse_start(text: str, expected: float) -> None:
    assert parse_start(text, START) == expected


def test_parse_start_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_start("yesterday", START)
