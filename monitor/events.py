"""Event contract v1: decode and validate raw Kafka records into typed events or dead letters.

``docs/events.md`` is the user-facing description and ``docs/schemas/*.json`` the JSON Schemas;
this module is their executable form. Validation stops at the envelope: an event whose
``features`` hold a string where a number was expected is still a valid event (the statistics count
it as a data-quality type error), but an event without an id, with an unknown model or with a
timestamp we cannot place in a window is dead-lettered, because nothing downstream could use it.

Decoding never raises on input: every record becomes exactly one of :class:`Prediction`,
:class:`Outcome` or :class:`DeadLetter`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from monitor.config import ModelSettings, Settings

#: Event times before this are certainly wrong (epoch 0, a seconds/ms mix-up): 2000-01-01.
EARLIEST_TS = 946_684_800.0
#: Numbers above this are epoch milliseconds (as seconds they would be after the year 5000).
MILLIS_THRESHOLD = 1e11
MAX_ID_LENGTH = 256
UNVERSIONED = "unversioned"
#: Dead letters whose model cannot be read are counted under this name.
UNKNOWN_MODEL = "_unknown"


class InvalidReason(StrEnum):
    """Why an event was dead-lettered: the DLQ ``dw-reason`` header and the metric label."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    BAD_JSON = "bad_json"
    NON_FINITE = "non_finite"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_MODEL = "unknown_model"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_SCORE = "bad_score"
    DUPLICATE_ID = "duplicate_id"


Scalar = float | str


@dataclass(frozen=True, slots=True)
class Prediction:
    """A validated prediction; ``offset`` is its position in the source partition."""

    offset: int
    id: str
    model: str
    version: str
    ts: float
    features: Mapping[str, Any]
    prediction: Scalar
    score: float | Mapping[str, float] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A validated outcome (ground-truth label) for prediction ``id``."""

    offset: int
    id: str
    model: str
    ts: float
    label: Scalar


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An invalid record, kept byte for byte with the reason it was rejected."""

    offset: int
    reason: InvalidReason
    detail: str
    model: str
    key: bytes | None
    value: bytes | None


class _Invalid(Exception):
    def __init__(self, reason: InvalidReason, detail: str, model: str = UNKNOWN_MODEL) -> None:
        self.reason = reason
        self.detail = detail
        self.model = model


class Decoder:
    """Turns raw record values of one topic kind into events, applying the field mapping.

    Built once per daemon from the settings: field paths are pre-split so the per-event cost is a
    few dictionary look-ups.
    """

    def __init__(self, settings: Settings, *, clock: Any = time.time) -> None:
        self._models: dict[str, ModelSettings] = {m.name: m for m in settings.models}
        self._max_bytes = settings.ingest.max_event_bytes
        self._max_future = settings.ingest.max_future_seconds
        self._clock = clock
        self._pred_paths = _paths(settings.fields.predictions)
        self._out_paths = _paths(settings.fields.outcomes)

    def prediction(
        self, offset: int, key: bytes | None, value: bytes | None
    ) -> Prediction | DeadLetter:
        """Decode one prediction record."""
        try:
            obj = self._load(value)
            paths = self._pred_paths
            model = self._model(obj, paths)
            event_id = _id(obj, paths, model.name)
            features = _get(obj, paths, "features")
            if features is None:
                raise _Invalid(InvalidReason.MISSING_FIELD, "features", model.name)
            if not isinstance(features, dict):
                raise _Invalid(InvalidReason.WRONG_TYPE, "features must be an object", model.name)
            version = _get(obj, paths, "version")
            if version is None:
                version = UNVERSIONED
            elif not isinstance(version, str | int) or isinstance(version, bool):
                raise _Invalid(InvalidReason.WRONG_TYPE, "version must be a string", model.name)
            tags = _get(obj, paths, "tags") or {}
            if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
                raise _Invalid(InvalidReason.WRONG_TYPE, "tags must map to strings", model.name)
            return Prediction(
                offset=offset,
                id=event_id,
                model=model.name,
                version=str(version),
                ts=self._ts(obj, paths, model.name),
                features=features,
                prediction=_target(model, _get(obj, paths, "prediction"), "prediction"),
                score=_score(model, _get(obj, paths, "score")),
                tags=tags,
            )
        except _Invalid as exc:
            return DeadLetter(offset, exc.reason, exc.detail, exc.model, key, value)

    def outcome(self, offset: int, key: bytes | None, value: bytes | None) -> Outcome | DeadLetter:
        """Decode one outcome record."""
        try:
            obj = self._load(value)
            paths = self._out_paths
            model = self._model(obj, paths)
            return Outcome(
                offset=offset,
                id=_id(obj, paths, model.name),
                model=model.name,
                ts=self._ts(obj, paths, model.name),
                label=_target(model, _get(obj, paths, "label"), "label"),
            )
        except _Invalid as exc:
            return DeadLetter(offset, exc.reason, exc.detail, exc.model, key, value)

    def _load(self, value: bytes | None) -> dict[str, Any]:
        if not value:
            raise _Invalid(InvalidReason.EMPTY, "empty record value")
        if len(value) > self._max_bytes:
            raise _Invalid(InvalidReason.TOO_LARGE, f"{len(value)} bytes > {self._max_bytes}")
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise _classify_json_error(value, exc) from None
        if not isinstance(obj, dict):
            raise _Invalid(InvalidReason.NOT_OBJECT, f"top level is {type(obj).__name__}")
        return obj

    def _model(self, obj: dict[str, Any], paths: _Paths) -> ModelSettings:
        name = _get(obj, paths, "model")
        if name is None:
            raise _Invalid(InvalidReason.MISSING_FIELD, "model")
        if not isinstance(name, str):
            raise _Invalid(InvalidReason.WRONG_TYPE, "model must be a string")
        model = self._models.get(name)
        if model is None:
            raise _Invalid(InvalidReason.UNKNOWN_MODEL, f"model {name[:64]!r} is not configured")
        return model

    def _ts(self, obj: dict[str, Any], paths: _Paths, model: str) -> float:
        raw = _get(obj, paths, "ts")
        if raw is None:
            raise _Invalid(InvalidReason.MISSING_FIELD, "ts", model)
        ts = parse_ts(raw)
        if ts is None:
            raise _Invalid(InvalidReason.BAD_TIMESTAMP, f"unreadable ts {str(raw)[:40]!r}", model)
        if ts < EARLIEST_TS or ts > self._clock() + self._max_future:
            raise _Invalid(InvalidReason.BAD_TIMESTAMP, f"ts {ts:.0f} out of range", model)
        return ts


def parse_ts(raw: Any) -> float | None:
    """Epoch seconds from an RFC 3339 string with zone, or epoch seconds/milliseconds."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            return None
        return raw / 1000.0 if raw > MILLIS_THRESHOLD else float(raw)
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            return None
        return parsed.timestamp() if parsed.tzinfo is not None else None
    return None


_Paths = dict[str, tuple[str, ...]]


def _paths(mapping: Mapping[str, str]) -> _Paths:
    return {name: tuple(path.split(".")) for name, path in mapping.items()}


def _get(obj: dict[str, Any], paths: _Paths, name: str) -> Any:
    path = paths.get(name)
    if path is None:
        return obj.get(name)
    value: Any = obj
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _id(obj: dict[str, Any], paths: _Paths, model: str) -> str:
    raw = _get(obj, paths, "id")
    if raw is None or raw == "":
        raise _Invalid(InvalidReason.MISSING_FIELD, "id", model)
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise _Invalid(InvalidReason.WRONG_TYPE, "id must be a string", model)
    event_id = str(raw)
    if len(event_id) > MAX_ID_LENGTH:
        raise _Invalid(InvalidReason.WRONG_TYPE, f"id longer than {MAX_ID_LENGTH}", model)
    return event_id


def _target(model: ModelSettings, raw: Any, name: str) -> Scalar:
    """Validate a prediction or label against the model's task; binary targets become 0.0/1.0."""
    if raw is None:
        raise _Invalid(InvalidReason.MISSING_FIELD, name, model.name)
    if model.task == "binary":
        if isinstance(raw, bool) or raw in (0, 1):
            return float(raw)
        raise _Invalid(InvalidReason.WRONG_TYPE, f"binary {name} must be 0, 1 or bool", model.name)
    if model.task == "regression":
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise _Invalid(InvalidReason.WRONG_TYPE, f"{name} must be a number", model.name)
        return float(raw)
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise _Invalid(InvalidReason.WRONG_TYPE, f"{name} must be a class label", model.name)
    label = str(raw)
    if model.classes and label not in model.classes:
        raise _Invalid(
            InvalidReason.WRONG_TYPE, f"{name} {label[:32]!r} not in classes", model.name
        )
    return label


def _score(model: ModelSettings, raw: Any) -> float | dict[str, float] | None:
    if raw is None:
        return None
    if model.task == "binary":
        if isinstance(raw, int | float) and not isinstance(raw, bool) and 0.0 <= raw <= 1.0:
            return float(raw)
        raise _Invalid(InvalidReason.BAD_SCORE, "score must be a probability in [0, 1]", model.name)
    if model.task == "multiclass" and isinstance(raw, dict):
        scores = {str(k): v for k, v in raw.items()}
        if all(
            isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1
            for v in scores.values()
        ):
            return {k: float(v) for k, v in scores.items()}
    raise _Invalid(
        InvalidReason.BAD_SCORE, f"score is not valid for a {model.task} model", model.name
    )


def _classify_json_error(value: bytes, exc: orjson.JSONDecodeError) -> _Invalid:
    """Tell non-UTF-8 and NaN/Infinity apart from other broken JSON (off the hot path)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as err:
        return _Invalid(InvalidReason.NOT_UTF8, f"invalid UTF-8 at byte {err.start}")
    try:
        json.loads(text)  # the stdlib accepts NaN, Infinity and 1e999, which orjson rejects
    except (ValueError, RecursionError):
        return _Invalid(InvalidReason.BAD_JSON, str(exc)[:120])
    return _Invalid(InvalidReason.NON_FINITE, "NaN or Infinity is not valid JSON")


def decode_many(
    decode: Any, records: Sequence[tuple[int, bytes | None, bytes | None]]
) -> tuple[list[Any], list[DeadLetter]]:
    """Split ``(offset, key, value)`` records into valid events and dead letters, in order."""
    valid: list[Any] = []
    dead: list[DeadLetter] = []
    for offset, key, value in records:
        event = decode(offset, key, value)
        (dead if isinstance(event, DeadLetter) else valid).append(event)
    return valid, dead
