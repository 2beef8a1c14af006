"""A model's features: decoded straight into typed rows, read back as columns.

Decoding an event's ``features`` object into a dict and picking each value out again costs more
than the rest of the daemon's work per event. Each model gets a msgspec struct instead
(:class:`FeatureSchema`): one field per configured feature, numeric ones first, typed the way a
good value can be (numbers and bools; strings, numbers and bools for a category). One C call
then decodes and type-checks a row, and ``astuple`` turns a batch of rows into columns.

A value of another type (a string in a numeric feature, an object in a categorical one) is a
data-quality finding, not an invalid event: such a row stays a plain dict and
:meth:`FeatureSchema.columns` counts its type errors — the slow path, taken only by rows that
need it. Features the model does not declare are ignored either way.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import msgspec
import numpy as np
from numpy.typing import NDArray

from monitor.config import ModelSettings
from monitor.vocab.profile import PLAIN_CATEGORY_TYPES, category, numeric_values

#: Largest magnitude of a numeric value: its square, summed over a window for the std, must stay
#: finite (1e150² × 10⁸ values < 1.8e308). Beyond it an event is invalid (``non_finite``).
MAX_MAGNITUDE = 1e150
#: The types a good value can have. bools count as 0/1 in numeric features (as in the reference,
#: ``stats.reference.numeric_values``) and as "True"/"False" in categorical ones; a boolean
#: feature takes JSON true and false only (its categories are "True" and "False").
NUMERIC_TYPE = Annotated[float, msgspec.Meta(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)] | bool | None
CATEGORICAL_TYPE = str | int | float | bool | None
BOOLEAN_TYPE = bool | None
_NUMBER_TYPES = {int, float, bool, type(None)}
_CATEGORY_TYPES = {str, int, float, bool, type(None)}
_BOOLEAN_TYPES = {bool, type(None)}


class FeatureError(ValueError):
    """An event's ``features`` cannot be read at all: not an object, or a number beyond
    :data:`MAX_MAGNITUDE` (``out_of_range``)."""

    def __init__(self, message: str, *, out_of_range: bool = False) -> None:
        super().__init__(message)
        self.out_of_range = out_of_range


class FeatureRow(msgspec.Struct, gc=False):
    """Base of the per-model row types; reads like the ``features`` mapping it came from."""

    #: Feature name → attribute name; set on each model's row type.
    _attrs: ClassVar[dict[str, str]] = {}

    def get(self, name: str) -> Any:
        """The feature's value, None when missing (as ``dict.get``)."""
        attr = self._attrs.get(name)
        return None if attr is None else getattr(self, attr)


@dataclass(slots=True)
class Columns:
    """A batch's feature values by column, ready for binning.

    ``numeric`` is rows × numeric features (float64, NaN = missing or not a number);
    ``categorical`` holds one list per categorical feature (``str``, or ``None`` when missing or
    not a category); ``missing`` and ``wrong_type`` count per feature.
    """

    numeric: NDArray[np.float64]
    categorical: list[list[str | None]]
    missing: dict[str, int]
    wrong_type: dict[str, int]


class FeatureSchema:
    """The typed row of one model's features, and the columns of a batch of rows."""

    def __init__(self, model: ModelSettings) -> None:
        self.numeric = [name for name, kind in model.features.items() if kind == "numeric"]
        #: Categorical and boolean features: both are counted by category.
        self.categorical = [name for name, kind in model.features.items() if kind != "numeric"]
        self._good_types = {
            name: _BOOLEAN_TYPES if model.features[name] == "boolean" else _CATEGORY_TYPES
            for name in self.categorical
        }
        names = self.numeric + self.categorical
        types = {"numeric": NUMERIC_TYPE, "categorical": CATEGORICAL_TYPE, "boolean": BOOLEAN_TYPE}
        # Attribute names f0, f1, ... (renamed to the feature names on the wire) because feature
        # names need not be Python identifiers.
        attrs = {name: f"f{i}" for i, name in enumerate(names)}
        self.row_type: type[FeatureRow] = msgspec.defstruct(
            f"Features_{model.name}",
            [(attrs[name], types[model.features[name]], None) for name in names],
            bases=(FeatureRow,),
            rename={attr: name for name, attr in attrs.items()},
            namespace={"_attrs": attrs},
        )
        self._decoder = msgspec.json.Decoder(self.row_type)

    def decode(self, raw: bytes) -> FeatureRow | dict[str, Any]:
        """A row, or a dict when a value has another type; :class:`FeatureError` if unreadable."""
        try:
            return self._decoder.decode(raw)
        except msgspec.ValidationError:
            pass
        try:
            obj = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:  # valid JSON (it was scanned), but beyond a float
            raise FeatureError(str(exc), out_of_range=True) from None
        return self.from_mapping(obj)

    def from_mapping(self, obj: object) -> FeatureRow | dict[str, Any]:
        """A row from a decoded ``features`` value, or the dict itself when a value has a type the
        row cannot hold (the slow path of :meth:`decode`)."""
        if not isinstance(obj, dict):
            raise FeatureError(f"features must be an object, not {type(obj).__name__}")
        try:
            return msgspec.convert(obj, self.row_type)
        except msgspec.ValidationError:
            pass
        for name in self.numeric:
            value = obj.get(name)
            if type(value) in (int, float) and not abs(value) <= MAX_MAGNITUDE:
                raise FeatureError(f"{name} beyond ±{MAX_MAGNITUDE:g}", out_of_range=True)
        return obj

    def columns(self, rows: Sequence[FeatureRow | Mapping[str, Any]]) -> Columns:
        """Columns of a batch of rows; typed rows go through C, dicts through the slow path.

        Rows come out typed ones first, not in input order: columns feed order-free aggregates
        (counts, sums, histograms), and all columns share the one order.
        """
        typed: Sequence[FeatureRow | Mapping[str, Any]] = rows
        loose: list[Mapping[str, Any]] = []
        if not all(map(isinstance, rows, itertools.repeat(FeatureRow))):  # checked in C
            typed = [r for r in rows if isinstance(r, FeatureRow)]
            loose = [r for r in rows if not isinstance(r, FeatureRow)]
        k, n = len(self.numeric), len(self.numeric) + len(self.categorical)
        # Rows × features as Python objects (references only; fromiter, unlike np.array, need not
        # find the shape), then sliced by kind in C: astype turns None into NaN and bools into
        # 0/1, as the reference does.
        values = itertools.chain.from_iterable(map(msgspec.structs.astuple, typed))
        table = np.fromiter(values, dtype=object, count=len(typed) * n).reshape(len(typed), n)
        numeric = table[:, :k].astype(np.float64)
        categorical = [_categories(table[:, j].tolist()) for j in range(k, n)]
        wrong = dict.fromkeys(self.numeric + self.categorical, 0)
        if loose:
            numeric, categorical = self._add_loose(loose, numeric, categorical, wrong)
        missing = {
            name: int(n)
            for name, n in zip(self.numeric, np.isnan(numeric).sum(axis=0), strict=True)
        }
        for name in self.numeric:
            missing[name] -= wrong[name]
        for name, column in zip(self.categorical, categorical, strict=True):
            missing[name] = column.count(None) - wrong[name]
        return Columns(numeric, categorical, missing, wrong)

    def _add_loose(
        self,
        rows: Sequence[Mapping[str, Any]],
        numeric: NDArray[np.float64],
        categorical: list[list[str | None]],
        wrong: dict[str, int],
    ) -> tuple[NDArray[np.float64], list[list[str | None]]]:
        """Append dict rows, counting values of the wrong type (they read as missing)."""
        extra = np.empty((len(rows), len(self.numeric)), dtype=np.float64)
        for j, name in enumerate(self.numeric):
            column = [r.get(name) for r in rows]
            wrong[name] = sum(1 for v in column if type(v) not in _NUMBER_TYPES)
            extra[:, j] = numeric_values(column)
        merged = []
        for name, column in zip(self.categorical, categorical, strict=True):
            values = [r.get(name) for r in rows]
            allowed = self._good_types[name]
            good = [v if type(v) in allowed else None for v in values]
            wrong[name] = sum(1 for v in values if type(v) not in allowed)
            merged.append(column + _categories(good))
        return np.concatenate((numeric, extra)), merged


def _categories(values: list[Any]) -> list[str | None]:
    """Category values as strings (``None`` for missing), as the reference profiles them."""
    if set(map(type, values)) <= PLAIN_CATEGORY_TYPES:
        return values
    return [category(v) for v in values]
