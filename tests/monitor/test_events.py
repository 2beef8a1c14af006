"""The event contract: valid events decode exactly, every kind of bad input gets its reason."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import config
from monitor.events import Decoder, Outcome, Prediction, by_model
from monitor.features import MAX_MAGNITUDE, FeatureSchema
from monitor.times import parse_ts
from monitor.vocab.deadletter import DeadLetter, InvalidReason

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0
SETTINGS = config.load(ROOT / "config.toml")


def decoder(settings: config.Settings = SETTINGS) -> Decoder:
    return Decoder(settings.models, settings.ingest, settings.fields, clock=lambda: NOW)


def pred(**overrides: Any) -> dict[str, Any]:
    event = {
        "id": "p-1",
        "model": "fraud-detector",
        "version": "v3",
        "ts": "2026-11-23T17:00:00Z",
        "features": {"amount": 12.5, "country": "DE", "hour": None},
        "prediction": 1,
        "score": 0.83,
        "tags": {"region": "eu"},
    }
    event.update(overrides)
    return event


def encode(obj: Any) -> bytes:
    return msgspec.json.encode(obj)


def test_valid_prediction_decodes_exactly() -> None:
    event = decoder().prediction(7, b"p-1", encode(pred()))
    assert isinstance(event, Prediction)
    assert msgspec.structs.replace(event, features={}) == Prediction(
        offset=7,
        id="p-1",
        model="fraud-detector",
        version="v3",
        ts=1_795_453_200.0,
        features={},
        prediction=1.0,
        score=0.83,
        tags={"region": "eu"},
    )
    model = SETTINGS.model("fraud-detector")
    expected = {"amount": 12.5, "country": "DE"}
    assert {name: event.features.get(name) for name in model.features} == {
        name: expected.get(name) for name in model.features
    }


def test_valid_outcome_and_epoch_millis() -> None:
    raw = {"id": "p-1", "model": "delivery-eta", "ts": 1_700_000_000_123, "label": 31.5}
    event = decoder().outcome(3, b"p-1", encode(raw))
    assert event == Outcome(3, "p-1", "delivery-eta", 1_700_000_000.123, 31.5)


def test_version_defaults_and_bool_targets() -> None:
    raw = pred(prediction=True)
    del raw["version"]
    event = decoder().prediction(0, None, encode(raw))
    assert isinstance(event, Prediction)
    assert (event.version, event.prediction) == ("unversioned", 1.0)


BAD: list[tuple[bytes | None, InvalidReason]] = [
    (b"", InvalidReason.EMPTY),
    (None, InvalidReason.EMPTY),
    (b"x" * 300_000, InvalidReason.TOO_LARGE),
    (b"\xff\xfe{}", InvalidReason.NOT_UTF8),
    (b'{"id": "a", ', InvalidReason.BAD_JSON),
    (b'{"id":"a","model":"fraud-detector","ts":1.8e9,"features":{"amount":NaN},"prediction":1}',
     InvalidReason.NON_FINITE),
    (b'{"id":"a","model":"fraud-detector","ts":1.8e9,"features":{"amount":Infinity},"prediction":1}',
     InvalidReason.NON_FINITE),
    (b"[1, 2]", InvalidReason.NOT_OBJECT),
    (encode({k: v for k, v in pred().items() if k != "id"}), InvalidReason.MISSING_FIELD),
    (encode({k: v for k, v in pred().items() if k != "model"}), InvalidReason.MISSING_FIELD),
    (encode({k: v for k, v in pred().items() if k != "features"}), InvalidReason.MISSING_FIELD),
    (encode(pred(features=[1, 2])), InvalidReason.WRONG_TYPE),
    (encode(pred(id={"x": 1})), InvalidReason.WRONG_TYPE),
    (encode(pred(prediction="yes")), InvalidReason.WRONG_TYPE),
    (encode(pred(tags={"region": 3})), InvalidReason.WRONG_TYPE),
    (encode(pred(model="nobody")), InvalidReason.UNKNOWN_MODEL),
    (encode(pred(ts="yesterday")), InvalidReason.BAD_TIMESTAMP),
    (encode(pred(ts="2026-11-23T17:00:00")), InvalidReason.BAD_TIMESTAMP),  # no zone
    (encode(pred(ts=0)), InvalidReason.BAD_TIMESTAMP),
    (encode(pred(ts=NOW + 10 * 86400)), InvalidReason.BAD_TIMESTAMP),
    (encode(pred(score=1.5)), InvalidReason.BAD_SCORE),
]  # fmt: skip


@pytest.mark.parametrize(("value", "reason"), BAD)
def test_bad_predictions_get_their_reason(value: bytes | None, reason: InvalidReason) -> None:
    event = decoder().prediction(5, b"k", value)
    assert isinstance(event, DeadLetter)
    assert event.reason is reason
    assert (event.offset, event.key, event.value) == (5, b"k", value)
    assert event.detail


def test_dead_letter_keeps_model_when_known() -> None:
    event = decoder().prediction(0, None, encode(pred(score="high")))
    assert isinstance(event, DeadLetter)
    assert event.model == "fraud-detector"


def test_regression_label_must_be_numeric() -> None:
    raw = {"id": "p", "model": "delivery-eta", "ts": NOW, "label": "late"}
    event = decoder().outcome(0, None, encode(raw))
    assert isinstance(event, DeadLetter)
    assert event.reason is InvalidReason.WRONG_TYPE


def test_field_mapping_reads_user_paths() -> None:
    mapped = dataclasses.replace(
        SETTINGS,
        fields=config.FieldMapping(
            predictions={"id": "request.uuid", "features": "inputs", "prediction": "out.y"},
            outcomes={"label": "truth"},
        ),
    )
    raw = pred(request={"uuid": "u-9"}, inputs={"amount": 1.0}, out={"y": 0})
    for name in ("id", "features", "prediction"):
        del raw[name]
    event = decoder(mapped).prediction(0, None, encode(raw))
    assert isinstance(event, Prediction)
    assert (event.id, event.features.get("amount"), event.prediction) == ("u-9", 1.0, 0.0)
    outcome = decoder(mapped).outcome(
        0, None, encode({"id": "u-9", "model": "churn", "ts": NOW, "truth": 1})
    )
    assert isinstance(outcome, Outcome)
    assert outcome.label == 1.0


def test_a_batch_keeps_order_and_splits() -> None:
    records = [(0, None, encode(pred(id="a"))), (1, None, b"{"), (2, None, encode(pred(id="b")))]
    valid, dead = decoder().predictions(records)
    assert [e.id for e in valid] == ["a", "b"]
    assert [d.offset for d in dead] == [1]


def test_features_of_another_type_keep_the_event_valid() -> None:
    """A string in a numeric feature is a data-quality finding (the row stays a dict)."""
    event = decoder().prediction(0, None, encode(pred(features={"amount": "12.5", "x": [1]})))
    assert isinstance(event, Prediction)
    assert event.features == {"amount": "12.5", "x": [1]}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b'{"id":"a","model":"fraud-detector","ts":1.8e9,"features":{"amount":1e400},'
         b'"prediction":1}', InvalidReason.NON_FINITE),
        (b'{"id":"a","model":"fraud-detector","ts":1.8e9,"features":"x","prediction":1}',
         InvalidReason.WRONG_TYPE),
        (b'{"id":"a","model":"fraud-detector","ts":1.8e9,"features":null,"prediction":1}',
         InvalidReason.WRONG_TYPE),
    ],
)  # fmt: skip
def test_unreadable_features_are_dead_lettered(value: bytes, reason: InvalidReason) -> None:
    event = decoder().prediction(0, None, value)
    assert isinstance(event, DeadLetter)
    assert (event.reason, event.model) == (reason, "fraud-detector")


def test_by_model_groups_in_arrival_order() -> None:
    events = [Outcome(i, str(i), model, NOW, 1.0) for i, model in enumerate("abab")]
    assert {m: [e.offset for e in g] for m, g in by_model(events).items()} == {
        "a": [0, 2],
        "b": [1, 3],
    }
    assert by_model(events[:1]) == {"a": events[:1]}
    assert by_model([]) == {}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-23T17:00:00Z", 1_795_453_200.0),
        ("2026-11-23T18:00:00+01:00", 1_795_453_200.0),
        (1_795_453_200, 1_795_453_200.0),
        (1_795_453_200_500, 1_795_453_200.5),
        ("2026-11-23 17:00:00", None),
        (True, None),
        ([1], None),
        # RFC 3339 as msgspec reads it (the decoder's fast path): lower case, rounded fractions
        ("2026-11-23t17:00:00z", 1_795_453_200.0),
        ("2026-11-23T17:00:00.1234567Z", 1_795_453_200.123457),
        ("2026-11-23T17:00:00.9999996Z", 1_795_453_201.0),
        # other ISO 8601 forms, as datetime.fromisoformat reads them
        ("20261123T170000Z", 1_795_453_200.0),
        ("2026-11-23T18:00:00+01", 1_795_453_200.0),
        ("2026-11-23T17:00Z", 1_795_453_200.0),
        ("2026-11-23T17:00:00.5", None),
        ("2026-11-23T25:00:00Z", None),
    ],
)
def test_parse_ts(raw: Any, expected: float | None) -> None:
    assert parse_ts(raw) == expected


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.none()))
def test_decode_never_raises_on_arbitrary_bytes(value: bytes | None) -> None:
    for decode in (decoder().prediction, decoder().outcome):
        event = decode(0, None, value)
        assert isinstance(event, Prediction | Outcome | DeadLetter)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["id", "model", "ts", "features", "prediction", "score", "tags", "version", "label"]
        ),
        json_values,
    )
)
def test_decode_never_raises_on_arbitrary_objects(obj: dict[str, Any]) -> None:
    obj.setdefault("model", "fraud-detector")
    value = json.dumps(obj).encode()
    for decode in (decoder().prediction, decoder().outcome):
        assert isinstance(decode(0, None, value), Prediction | Outcome | DeadLetter)


#: Hostile JSON values, as text: numbers at and beyond every limit, deep nesting, long strings.
hostile_numbers = st.sampled_from(
    ["1e308", "-1.7976931348623157e308", "1e400", "-1e-400", "5e-324", "-0", "1.4e154",
     "1e150", "-1.0000001e150", "1" + "0" * 400, "123456789012345678901234567890.5"]
)  # fmt: skip
hostile_text = st.one_of(
    hostile_numbers,
    st.integers(0, 3000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(0, 3000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.text(max_size=3000).map(lambda text: json.dumps(text)),
    json_values.map(json.dumps),
)
FIELDS = ["id", "model", "ts", "features", "prediction", "score", "version", "label"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["fraud-detector", "delivery-eta"]),
            st.dictionaries(st.sampled_from([*FIELDS, "amount", "distance_km"]), hostile_text),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_hostile_events_never_cost_their_neighbours(
    cases: list[tuple[str, dict[str, str]]],
) -> None:
    """Any mix of deep nesting, huge and tiny numbers and long strings, anywhere in an event
    (the envelope or a feature): each record becomes one event or one dead letter, the good
    events around them stay valid, and whatever is valid sums to finite window statistics."""
    records = []
    for i, (model, fields) in enumerate(cases):
        good = pred(id=f"g{i}", model=model, ts=NOW - 60)
        if model == "delivery-eta":
            good.update(prediction=31.5, score=None)
        records.append((2 * i, None, encode(good)))
        envelope = {k: v for k, v in fields.items() if k in FIELDS}
        features = {k: v for k, v in fields.items() if k not in FIELDS}
        text = {**{k: json.dumps(v) for k, v in good.items()}, **envelope}
        if features:
            text["features"] = "{" + ",".join(f'"{k}":{v}' for k, v in features.items()) + "}"
        raw = "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in text.items()) + "}"
        records.append((2 * i + 1, None, raw.encode()))
    for decode in (decoder().predictions, decoder().outcomes):
        valid, dead = decode(records)
        assert sorted([e.offset for e in valid] + [d.offset for d in dead]) == list(
            range(len(records))
        )
    valid, _ = decoder().predictions(records)
    assert {e.offset for e in valid} >= set(range(0, len(records), 2))
    for event in valid:
        model = SETTINGS.model(event.model)
        assert model is not None
        schema = FeatureSchema(model)
        columns = schema.columns([event.features])
        assert np.isfinite(np.nansum(np.square(columns.numeric)))
        if model.task == "regression":
            assert abs(float(event.prediction)) <= MAX_MAGNITUDE


def test_a_scoring_binary_model_may_leave_its_decision_out() -> None:
    """Without ``prediction`` a binary model's decision is ``score >= threshold``; a model that
    sends both is judged on its own decision; other tasks still need the prediction."""
    model = SETTINGS.model("fraud-detector")
    assert model is not None
    raw = pred(score=model.threshold)
    del raw["prediction"]
    event = decoder().prediction(0, None, encode(raw))
    assert isinstance(event, Prediction) and event.prediction == 1.0
    event = decoder().prediction(0, None, encode({**raw, "score": model.threshold - 0.01}))
    assert isinstance(event, Prediction) and event.prediction == 0.0
    event = decoder().prediction(0, None, encode({**raw, "prediction": 0}))
    assert isinstance(event, Prediction) and event.prediction == 0.0  # its own cut-off
    del raw["score"]
    letter = decoder().prediction(0, None, encode(raw))
    assert isinstance(letter, DeadLetter) and letter.reason is InvalidReason.MISSING_FIELD
    regression = pred(model="delivery-eta", score=None)
    del regression["prediction"]
    letter = decoder().prediction(0, None, encode(regression))
    assert isinstance(letter, DeadLetter) and letter.reason is InvalidReason.MISSING_FIELD


@pytest.mark.parametrize(
    ("version", "valid"),
    [("v3", True), ("2026-11-23.1+build:7/a@b_c", True), ("x" * 64, True), ("x" * 65, False),
     ("a|b", False), ("with space", False), ("", False)],
)  # fmt: skip
def test_versions_are_short_and_plain(version: str, valid: bool) -> None:
    """A version is part of window ids and keys: 1-64 plain characters, else wrong_type."""
    event = decoder().prediction(0, None, encode(pred(version=version)))
    if valid:
        assert isinstance(event, Prediction) and event.version == version
    else:
        assert isinstance(event, DeadLetter) and event.reason is InvalidReason.WRONG_TYPE


def verdict(event: Prediction | Outcome | DeadLetter) -> Any:
    """What a decoded record says, comparable across decoders (their feature row types differ)."""
    if isinstance(event, DeadLetter):
        return event.reason, event.detail, event.model
    return msgspec.json.encode(event)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["fraud-detector", "delivery-eta", "nope"]),
    st.dictionaries(st.sampled_from(FIELDS[:-1]), json_values),
    st.dictionaries(
        st.sampled_from(["amount", "country", "hour", "distance_km", "x"]), json_values
    ),
)
def test_the_fast_path_gives_the_general_paths_verdicts(
    model: str, envelope: dict[str, Any], features: dict[str, Any]
) -> None:
    """A prediction decodes in one C call into its model's wire struct when it can; whatever it
    is, the event or dead letter (reason, detail, model) is the one the general path gives."""
    general = decoder()
    general._typed_decoder = None  # the general path alone
    good = pred(model=model, ts=NOW - 60, features=features)
    for obj in (good, {**good, **envelope}):
        value = encode(obj)
        assert verdict(decoder().prediction(3, None, value)) == verdict(
            general.prediction(3, None, value)
        )


#: Timestamps of every form: RFC 3339 ones both paths read, others only the general path reads
#: (or refuses), times out of range, numbers, and text that is no time at all.
timestamps = st.one_of(
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3, minutes=-30))])).map(
        lambda d: d.isoformat()
    ),
    st.builds(
        "{}T{:02d}:{:02d}:{:02d}{}{}".format,
        st.sampled_from(["2026-11-23", "20261123", "2026-02-30"]),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 61),
        st.sampled_from(["", ".5", ".123456789", ",25"]),
        st.sampled_from(["", "Z", "z", "+01:00", "+01", "+0100", "-00:00"]),
    ).map(lambda s: s.lower() if s.endswith("z") else s),
    st.floats(allow_nan=False) | st.integers(),
    st.text(max_size=12),
)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["fraud-detector", "delivery-eta", "nope"]),
    timestamps,
    st.dictionaries(st.sampled_from(["id", "model", "label", "ts"]), json_values, max_size=2),
)
def test_the_fast_paths_read_every_timestamp_as_the_general_paths(
    model: str, ts: Any, envelope: dict[str, Any]
) -> None:
    """Predictions and outcomes both have a fast path that parses ``ts`` in C; for any ``ts`` (and
    any other envelope) the event or dead letter is the one the general path gives."""
    general = decoder()
    general._typed_decoder = general._typed_outcome = None  # the general paths alone
    fast = decoder()
    outcome = {"id": "p-1", "model": model, "ts": ts, "label": 1}
    for decode, obj in (
        ("prediction", pred(model=model, ts=ts)),
        ("outcome", outcome),
        ("outcome", {**outcome, **envelope}),
    ):
        value = encode(obj)
        assert verdict(getattr(fast, decode)(3, None, value)) == verdict(
            getattr(general, decode)(3, None, value)
        ), value
