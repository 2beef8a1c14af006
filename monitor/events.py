"""Event contract v1: decode and validate raw Kafka records into typed events or dead letters.

``docs/events.md`` is the user-facing description and ``docs/schemas/*.json`` the JSON Schemas;
this module is their executable form. Validation stops at the envelope: an event whose
``features`` hold a string where a number was expected is still a valid event (the statistics count
it as a data-quality type error), but an event without an id, with an unknown model or with a
timestamp we cannot place in a window is dead-lettered, because nothing downstream could use it.

Decoding never raises on input: every record becomes exactly one of :class:`Prediction`,
:class:`Outcome` or :class:`DeadLetter` — also when the decoder itself fails on a record (a bug,
or input it cannot handle): that record is dead-lettered, its neighbours decode.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import operator
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, NoReturn, Protocol, TypeVar

import msgspec

from monitor.config import FieldMapping, IngestSettings, ModelSettings
from monitor.features import MAX_MAGNITUDE, FeatureError, FeatureRow, FeatureSchema
from monitor.rawjson import MAX_NESTING, json_error, too_deep
from monitor.times import parse_ts
from monitor.vocab.deadletter import UNKNOWN_MODEL, DeadLetter, InvalidReason

log = logging.getLogger(__name__)

#: Event times before this are certainly wrong (epoch 0, a seconds/ms mix-up): 2000-01-01.
EARLIEST_TS = 946_684_800.0
MAX_ID_LENGTH = 256
UNVERSIONED = "unversioned"
#: A model version is part of window ids and Redis keys: short, and no "|" (the window id's
#: separator) or spaces.
_VERSION = re.compile(r"[A-Za-z0-9._:/+@-]{1,64}")
VERSION_RULE = "version must be 1-64 characters of A-Z a-z 0-9 . _ : / + @ -"
#: Distinct valid versions remembered by a decoder (they repeat: a cache, not a limit).
VERSION_MEMORY = 10_000


Scalar = float | str
_W = TypeVar("_W", bound=msgspec.Struct)


class _HasModel(Protocol):
    @property
    def model(self) -> str: ...


_M = TypeVar("_M", bound=_HasModel)
_MODEL = operator.attrgetter("model")
#: A Kafka record as the daemon passes it around: (offset, key, value).
Record = tuple[int, bytes | None, bytes | None]


class Prediction(msgspec.Struct, gc=False):
    """A validated prediction; ``offset`` is its position in the source partition.

    ``features`` is the model's typed row (:mod:`monitor.features`), or a plain dict when a value
    has a type the row cannot hold; both read with ``features.get(name)``.
    """

    offset: int
    id: str
    model: str
    version: str
    ts: float
    features: FeatureRow | Mapping[str, Any]
    prediction: Scalar
    score: float | Mapping[str, float] | None = None
    tags: Mapping[str, str] = {}


class Outcome(msgspec.Struct, gc=False):
    """A validated outcome (ground-truth label) for prediction ``id``."""

    offset: int
    id: str
    model: str
    ts: float
    label: Scalar


_E = TypeVar("_E", Prediction, Outcome)


class _Invalid(Exception):
    def __init__(self, reason: InvalidReason, detail: str, model: str = UNKNOWN_MODEL) -> None:
        self.reason = reason
        self.detail = detail
        self.model = model


class _WirePrediction(msgspec.Struct):
    """Prediction v1 as it travels: the types JSON allows; unknown fields are ignored.

    ``features`` stays raw JSON until the model is known, then decodes into the model's row.
    """

    id: str | int
    model: str
    ts: str | float
    features: msgspec.Raw
    #: Optional only for a binary model that sends a score: its class is then score >= threshold.
    prediction: str | int | float | bool | None = None
    version: str | int | None = None
    score: float | dict[str, float] | None = None
    tags: dict[str, str] = {}


#: :class:`_WirePrediction`'s fields but ``model``, in its order, as ``msgspec.defstruct`` takes
#: them (a default factory as a ``msgspec.field``).
_WIRE_PREDICTION_FIELDS = [
    (f.name, f.type, f.default)
    if f.default_factory is msgspec.NODEFAULT
    else (f.name, f.type, msgspec.field(default_factory=f.default_factory))
    for f in msgspec.structs.fields(_WirePrediction)
    if f.name != "model"
]


class _WireOutcome(msgspec.Struct):
    """Outcome v1 as it travels."""

    id: str | int
    model: str
    ts: str | float
    label: str | int | float | bool


#: ``ts`` on the fast paths: an RFC 3339 string with a zone is parsed in C. Any other string (no
#: zone, another ISO 8601 form) fails the fast path, and the general path's ``parse_ts`` reads it
#: (or names why not): it reads RFC 3339 as msgspec does, so both paths give the same time.
_TYPED_TS: Any = Annotated[datetime, msgspec.Meta(tz=True)] | float
#: :class:`_WireOutcome` with the fast path's ``ts``.
_TypedOutcome = msgspec.defstruct(
    "_TypedOutcome",
    [
        (f.name, _TYPED_TS if f.name == "ts" else f.type, f.default)
        for f in msgspec.structs.fields(_WireOutcome)
    ],
)


_MISSING = re.compile(r"missing required field `(\w+)`")
_AT = re.compile(r"- at `\$\.?(\w*)")


class Decoder:
    """Turns raw record values of one topic kind into events, applying the field mapping.

    Without a mapping, msgspec decodes and type-checks an event into a struct in one pass (about
    4x faster than loading a dict and checking it in Python); with one, the event is loaded as a
    dict, its fields are picked by path, and the same struct type checks them. Either way the
    rules that need the model's settings (task, classes, score range) and the clock follow, and
    the features decode into the model's typed row once the model is known.

    A prediction first tries the fast path (no mapping): one C call decodes the envelope *and*
    the features into its model's wire struct (:func:`_typed_predictions`). An event that fails it
    for any reason takes the general path above, which finds the same values for every event the
    fast path accepts and names the reason for every other, so verdicts do not depend on the path.
    """

    def __init__(
        self,
        models: Sequence[ModelSettings],
        ingest: IngestSettings,
        fields: FieldMapping,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._models: dict[str, ModelSettings] = {m.name: m for m in models}
        self._max_bytes = ingest.max_event_bytes
        self._max_future = ingest.max_future_seconds
        self._clock = clock
        self._pred_paths = _paths(fields.predictions)
        self._out_paths = _paths(fields.outcomes)
        self._schemas = {m.name: FeatureSchema(m) for m in models}
        self._pred_decoder = msgspec.json.Decoder(_WirePrediction)
        #: The fast path's decoder and its struct types' models; none with a field mapping (the
        #: fast path reads the standard layout only).
        self._typed_decoder, self._typed_models = _typed_predictions(
            [] if self._pred_paths else models, self._schemas
        )
        #: Model versions already found valid.
        self._versions: set[str] = set()
        self._out_decoder = msgspec.json.Decoder(_WireOutcome)
        #: The outcomes' fast path (None with a field mapping): the standard layout, ``ts`` in C.
        self._typed_outcome: msgspec.json.Decoder[Any] | None = (
            None if self._out_paths else msgspec.json.Decoder(_TypedOutcome)
        )

    def predictions(self, records: Sequence[Record]) -> tuple[list[Prediction], list[DeadLetter]]:
        """Decode a batch of prediction records into valid events and dead letters, in order."""
        return self._batch(records, self._prediction)

    def outcomes(self, records: Sequence[Record]) -> tuple[list[Outcome], list[DeadLetter]]:
        """Decode a batch of outcome records into valid events and dead letters, in order."""
        return self._batch(records, self._outcome)

    def _batch(
        self, records: Sequence[Record], decode: Callable[[int, bytes | None, float], _E]
    ) -> tuple[list[_E], list[DeadLetter]]:
        latest = self._clock() + self._max_future  # once per batch, not per event
        valid: list[_E] = []
        dead: list[DeadLetter] = []
        for offset, key, value in records:
            try:
                valid.append(decode(offset, value, latest))
            except _Invalid as exc:
                dead.append(DeadLetter(offset, exc.reason, exc.detail, exc.model, key, value))
            except RecursionError:
                detail = "JSON nested deeper than the decoder recurses"
                reason = InvalidReason.BAD_JSON
                dead.append(DeadLetter(offset, reason, detail, UNKNOWN_MODEL, key, value))
            except Exception as exc:  # a decoder bug must cost one record, not the partition
                log.warning("decoding the record at offset %d failed", offset, exc_info=True)
                detail = f"decoder failed: {type(exc).__name__}: {exc}"[:160]
                reason = InvalidReason.UNPROCESSABLE
                dead.append(DeadLetter(offset, reason, detail, UNKNOWN_MODEL, key, value))
        return valid, dead

    def prediction(
        self, offset: int, key: bytes | None, value: bytes | None
    ) -> Prediction | DeadLetter:
        """Decode one prediction record."""
        valid, dead = self.predictions([(offset, key, value)])
        return valid[0] if valid else dead[0]

    def outcome(self, offset: int, key: bytes | None, value: bytes | None) -> Outcome | DeadLetter:
        """Decode one outcome record."""
        valid, dead = self.outcomes([(offset, key, value)])
        return valid[0] if valid else dead[0]

    # The per-event work below is written for speed: the common case calls few functions.
    def _prediction(self, offset: int, value: bytes | None, latest: float) -> Prediction:
        value = self._readable(value)
        wire: Any = None
        if self._typed_decoder is not None:
            try:  # (not contextlib.suppress: a context manager per event costs more than it saves)
                wire = self._typed_decoder.decode(value)
            except msgspec.DecodeError:
                wire = None
        if wire is None:  # unusual in any way: the general path names what is wrong
            wire = self._wire(value, self._pred_decoder, _WirePrediction, self._pred_paths)
            model = self._models.get(wire.model) or self._unknown(wire.model)
            row = None  # the features are checked where the general path always checked them
        else:
            model = self._typed_models[type(wire)]
            row = wire.features
        name = model.name
        version = wire.version
        if type(version) is not str:
            version = UNVERSIONED if version is None else str(version)
        if version not in self._versions:  # few distinct versions: each is checked once
            if not _VERSION.fullmatch(version):
                raise _Invalid(InvalidReason.WRONG_TYPE, VERSION_RULE, name)
            if len(self._versions) < VERSION_MEMORY:
                self._versions.add(version)
        score = None if wire.score is None else _score(model, wire.score)
        prediction = wire.prediction
        if prediction is None and model.task == "binary" and type(score) is float:
            prediction = score >= model.threshold  # the model's decision, when it sends none
        return Prediction(
            offset,
            _id(wire.id, name),
            name,
            version,
            self._ts(wire.ts, name, latest),
            self._features(name, wire.features) if row is None else row,
            _target(model, prediction, "prediction"),
            score,
            wire.tags,
        )

    def _outcome(self, offset: int, value: bytes | None, latest: float) -> Outcome:
        value = self._readable(value)
        wire: Any = None
        if self._typed_outcome is not None:
            try:
                wire = self._typed_outcome.decode(value)
            except msgspec.DecodeError:
                wire = None
        if wire is None:  # unusual in any way: the general path names what is wrong
            wire = self._wire(value, self._out_decoder, _WireOutcome, self._out_paths)
        model = self._models.get(wire.model) or self._unknown(wire.model)
        return Outcome(
            offset,
            _id(wire.id, model.name),
            model.name,
            self._ts(wire.ts, model.name, latest),
            _target(model, wire.label, "label"),
        )

    def _features(self, model: str, raw: msgspec.Raw) -> FeatureRow | dict[str, Any]:
        try:
            return self._schemas[model].decode(raw)
        except FeatureError as exc:
            reason = InvalidReason.NON_FINITE if exc.out_of_range else InvalidReason.WRONG_TYPE
            raise _Invalid(reason, f"features: {exc}"[:160], model) from None

    def _readable(self, value: bytes | None) -> bytes:
        """``value``, unless it is empty, too large or nested too deep to hand to a decoder."""
        if not value:
            raise _Invalid(InvalidReason.EMPTY, "empty record value")
        if len(value) > self._max_bytes:
            raise _Invalid(InvalidReason.TOO_LARGE, f"{len(value)} bytes > {self._max_bytes}")
        if too_deep(value):
            raise _Invalid(InvalidReason.BAD_JSON, f"JSON nested deeper than {MAX_NESTING} levels")
        return value

    def _wire(
        self,
        value: bytes,
        decoder: msgspec.json.Decoder[_W],
        wire_type: type[_W],
        paths: _Paths,
    ) -> _W:
        try:
            if not paths:
                return decoder.decode(value)
            obj = msgspec.json.decode(value)
            if isinstance(obj, dict):
                obj = {name: _get(obj, paths, name) for name in wire_type.__struct_fields__}
                obj = {name: v for name, v in obj.items() if v is not None}
                if "features" in obj:  # raw, as without a mapping (Decoder._features reads it)
                    obj["features"] = msgspec.Raw(msgspec.json.encode(obj["features"]))
            return msgspec.convert(obj, wire_type)
        except msgspec.ValidationError as exc:  # a subclass of DecodeError: test it first
            raise self._classify_validation_error(value, str(exc), paths) from None
        except msgspec.DecodeError as exc:
            raise _Invalid(*json_error(value, exc)) from None

    def _classify_validation_error(self, value: bytes, message: str, paths: _Paths) -> _Invalid:
        """Name the reason, and the model when the event still says which (off the hot path)."""
        missing = _MISSING.search(message)
        at = _AT.search(message)
        field_name = missing.group(1) if missing else at.group(1) if at else ""
        if missing:
            reason = InvalidReason.MISSING_FIELD
        elif message.startswith("Number out of range"):
            reason = InvalidReason.NON_FINITE
        elif not field_name:
            reason = InvalidReason.NOT_OBJECT
        elif field_name == "score":
            reason = InvalidReason.BAD_SCORE
        else:
            reason = InvalidReason.WRONG_TYPE
        model = UNKNOWN_MODEL
        with contextlib.suppress(msgspec.DecodeError):
            obj = msgspec.json.decode(value)
            name = _get(obj, paths, "model") if isinstance(obj, dict) else None
            if isinstance(name, str) and name in self._models:
                model = name
        return _Invalid(reason, message[:160], model)

    def _unknown(self, name: str) -> NoReturn:
        raise _Invalid(InvalidReason.UNKNOWN_MODEL, f"model {name[:64]!r} is not configured")

    def _ts(self, raw: str | float | datetime, model: str, latest: float) -> float:
        if type(raw) is float and EARLIEST_TS <= raw <= latest:
            return raw  # epoch seconds in range: the common case of numeric timestamps
        # A datetime comes from a fast path, with a zone (_TYPED_TS); the rest is parse_ts'.
        ts = raw.timestamp() if type(raw) is datetime else parse_ts(raw)
        if ts is None:
            raise _Invalid(InvalidReason.BAD_TIMESTAMP, f"unreadable ts {str(raw)[:40]!r}", model)
        if ts < EARLIEST_TS or ts > latest:
            raise _Invalid(InvalidReason.BAD_TIMESTAMP, f"ts {ts:.0f} out of range", model)
        return ts


_Paths = dict[str, tuple[str, ...]]


def _typed_predictions(
    models: Sequence[ModelSettings], schemas: Mapping[str, FeatureSchema]
) -> tuple[msgspec.json.Decoder[Any] | None, dict[type, ModelSettings]]:
    """A decoder of predictions straight into per-model wire structs, and each struct's model.

    Each struct is :class:`_WirePrediction` with the model's typed feature row for ``features``
    and :data:`_TYPED_TS` for ``ts``, tagged by the ``model`` field, so msgspec picks the model's
    struct by name: one C call instead of a decode, a lookup and a second decode of the features.
    Anything it refuses (an unknown model, a value the row cannot hold, broken JSON, a ``ts`` it
    cannot read) raises ``msgspec.DecodeError``.
    """
    types: dict[type, ModelSettings] = {}
    for i, model in enumerate(models):
        typed = {"features": schemas[model.name].row_type, "ts": _TYPED_TS}
        fields = [
            (name, typed.get(name, hint), default)
            for name, hint, default in _WIRE_PREDICTION_FIELDS
        ]
        wire = msgspec.defstruct(f"_WirePrediction{i}", fields, tag_field="model", tag=model.name)
        types[wire] = model
    if not types:
        return None, types
    union: Any = functools.reduce(operator.or_, types)
    return msgspec.json.Decoder(union), types


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


def _id(raw: str | int, model: str) -> str:
    event_id = raw if type(raw) is str else str(raw)
    if not event_id:
        raise _Invalid(InvalidReason.MISSING_FIELD, "id is empty", model)
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
        if not abs(raw) <= MAX_MAGNITUDE:  # its square would overflow the error sums
            raise _Invalid(
                InvalidReason.NON_FINITE, f"{name} beyond ±{MAX_MAGNITUDE:g}", model.name
            )
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
    if type(raw) is float and 0.0 <= raw <= 1.0 and model.task == "binary":
        return raw  # the usual score, answered before the general tests below
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


def by_model(items: Iterable[_M]) -> dict[str, list[_M]]:
    """Events (or pairs) grouped by their ``model``, in arrival order."""
    items = list(items)
    models = set(map(_MODEL, items))
    if len(models) == 1:  # the usual batch: found in C
        return {models.pop(): items}
    groups: dict[str, list[_M]] = {}
    for item in items:
        groups.setdefault(item.model, []).append(item)
    return groups
