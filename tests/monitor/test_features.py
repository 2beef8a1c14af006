"""Typed feature rows: the fast path reads exactly what the plain-dict definition says."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import ModelSettings
from monitor.features import MAX_MAGNITUDE, FeatureError, FeatureRow, FeatureSchema
from monitor.vocab.profile import category, numeric_values

MODEL = ModelSettings(
    name="m",
    owner="o",
    task="binary",
    # Names need not be identifiers, and the declared order mixes kinds.
    features={
        "amount-usd": "numeric",
        "country": "categorical",
        "n.items": "numeric",
        "get": "categorical",
        "flag": "boolean",
    },
)
SCHEMA = FeatureSchema(MODEL)

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(-MAX_MAGNITUDE, MAX_MAGNITUDE, allow_nan=False, width=64),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
rows = st.lists(
    st.dictionaries(st.sampled_from([*MODEL.features, "extra"]), values, max_size=5), max_size=40
)


def expected(dicts: list[dict[str, Any]]) -> dict[str, Any]:
    """The definition: numeric_values and category over plain dicts, type errors counted."""
    out: dict[str, Any] = {}
    for name, kind in MODEL.features.items():
        column = [d.get(name) for d in dicts]
        if kind == "numeric":
            wrong = sum(1 for v in column if v is not None and not isinstance(v, int | float))
            x = numeric_values(column)
            out[name] = (sorted(x[~np.isnan(x)].tolist()), int(np.isnan(x).sum()) - wrong, wrong)
        else:
            good = (bool,) if kind == "boolean" else (str, int, float, bool)
            wrong = sum(1 for v in column if v is not None and not isinstance(v, good))
            cats = [category(v) if isinstance(v, good) else None for v in column]
            present = sorted(c for c in cats if c is not None)
            out[name] = (present, cats.count(None) - wrong, wrong)
    return out


def observed(decoded: list[FeatureRow | dict[str, Any]]) -> dict[str, Any]:
    columns = SCHEMA.columns(decoded)
    out: dict[str, Any] = {}
    for j, name in enumerate(SCHEMA.numeric):
        x = columns.numeric[:, j]
        out[name] = (
            sorted(x[~np.isnan(x)].tolist()),
            columns.missing[name],
            columns.wrong_type[name],
        )
    for name, column in zip(SCHEMA.categorical, columns.categorical, strict=True):
        present = sorted(c for c in column if c is not None)
        out[name] = (present, columns.missing[name], columns.wrong_type[name])
    return out


@settings(max_examples=300, deadline=None)
@given(rows)
def test_columns_match_the_definition_whatever_the_types(dicts: list[dict[str, Any]]) -> None:
    decoded = [SCHEMA.decode(msgspec.json.encode(d)) for d in dicts]
    assert observed(decoded) == expected(dicts)


def test_a_good_row_is_typed_and_reads_like_a_mapping() -> None:
    row = SCHEMA.decode(b'{"amount-usd": 3, "country": "DE", "get": true, "other": [1]}')
    assert isinstance(row, FeatureRow)
    assert [row.get(n) for n in ("amount-usd", "country", "n.items", "get", "other")] == [
        3.0, "DE", None, True, None,
    ]  # fmt: skip


def test_a_value_of_another_type_keeps_the_row_a_dict() -> None:
    assert SCHEMA.decode(b'{"amount-usd": "3"}') == {"amount-usd": "3"}
    assert SCHEMA.from_mapping({"country": {"a": 1}}) == {"country": {"a": 1}}
    assert isinstance(SCHEMA.from_mapping({"country": "DE"}), FeatureRow)


@pytest.mark.parametrize(
    ("raw", "out_of_range"),
    [
        (b"[1]", False),
        (b'"x"', False),
        (b'{"amount-usd": 1e999}', True),
        # Finite, but its square summed for the std would not be: the event is refused whole,
        # on the fast path and on the slow one (another value has the wrong type).
        (b'{"amount-usd": -1.4e154}', True),
        (b'{"amount-usd": 1' + b"0" * 200 + b"}", True),
        (b'{"n.items": 2e150, "amount-usd": "x"}', True),
    ],
)
def test_unreadable_features_raise(raw: bytes, out_of_range: bool) -> None:
    with pytest.raises(FeatureError) as info:
        SCHEMA.decode(raw)
    assert info.value.out_of_range is out_of_range


def test_typed_and_loose_rows_mix_in_one_batch() -> None:
    decoded = [SCHEMA.decode(b'{"amount-usd": 1}'), SCHEMA.decode(b'{"amount-usd": "x"}')]
    columns = SCHEMA.columns(decoded)
    assert columns.numeric.shape == (2, 2)
    assert columns.wrong_type["amount-usd"] == 1
    assert columns.missing == {"amount-usd": 0, "n.items": 2, "country": 2, "get": 2, "flag": 2}


def test_a_boolean_feature_takes_json_booleans_only() -> None:
    """1, "true" and "yes" are what a boolean feature is not: counted as wrong types (and so
    raised by the data-quality verdict), not silently read as categories of their own."""
    rows = [SCHEMA.decode(raw) for raw in (b'{"flag": true}', b'{"flag": false}', b"{}")]
    assert all(isinstance(r, FeatureRow) for r in rows)
    rows += [SCHEMA.decode(raw) for raw in (b'{"flag": 1}', b'{"flag": "true"}')]
    columns = SCHEMA.columns(rows)
    flag = columns.categorical[SCHEMA.categorical.index("flag")]
    assert sorted(c for c in flag if c is not None) == ["False", "True"]
    assert (columns.missing["flag"], columns.wrong_type["flag"]) == (1, 2)
