"""Faults hit exactly what they name, impossible ones are config errors, and ``--fault`` parses."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import msgspec
import numpy as np
import pytest

from monitor.config import FaultSettings
from monitor.errors import ConfigError
from monitor.simulate import UNSEEN_CATEGORIES, SimEvent, Simulator, parse_fault
from tests.monitor.simulate.support import (
    SETTINGS,
    START,
    N,
    auc,
    fault,
    in_window,
    joined,
    predictions,
    run,
)

# --- what faults do -------------------------------------------------------------------------------


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


# --- the --fault syntax ---------------------------------------------------------------------------


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
