"""Generic TOML → dataclass conversion, and the checks several sections share.

The type annotations of the settings are the schema. One walker handles every section, so unknown
keys, wrong types and missing values are reported the same way everywhere and no section repeats
that work; each section's ``validate`` method then states only the rules its types cannot express.
A field whose key cannot be a Python name (``continue``) names its key in its metadata:
``field(metadata={"key": "continue"})``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from monitor.errors import ConfigError


def _type_name(tp: Any) -> str:
    """How a type reads in an error message: in TOML words (list, table), not Python's."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (tuple, list):
        return "list"
    if origin in (dict, Mapping) or (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        return "table"
    if origin in (types.UnionType, typing.Union):
        return " | ".join(_type_name(a) for a in args if a is not types.NoneType)
    return getattr(tp, "__name__", str(tp))


def build(cls: type, raw: Any, key: str) -> Any:
    """Instantiate dataclass ``cls`` from a TOML table, rejecting unknown and mistyped keys."""
    if not isinstance(raw, Mapping):
        raise ConfigError(key or "<root>", f"expected a table, got {type(raw).__name__}", "fix it")
    hints = typing.get_type_hints(cls)
    known = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls)}
    for name in raw:
        if name not in known:
            where = f"{key}.{name}" if key else name
            raise ConfigError(
                where, "unknown key", f"remove it or use one of: {', '.join(sorted(known))}"
            )
    values: dict[str, Any] = {}
    for name, f in known.items():
        where = f"{key}.{name}" if key else name
        if name not in raw:
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required:
                raise ConfigError(where, "missing required value", f"add {name} = …")
            continue
        values[f.name] = _convert(hints[f.name], raw[name], where)
    return cls(**values)


def _convert(tp: Any, value: Any, key: str) -> Any:
    """Check one TOML value against annotation ``tp`` and return it as that type."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    # Where tables are expected the value is not echoed: secrets are tables ({ env = "VAR" }), and
    # one pasted into the file instead must not reach an error message or a log.
    tables = dataclasses.is_dataclass(args[0] if origin is tuple else tp)
    got = type(value).__name__ if tables else f"{type(value).__name__} {value!r}"
    wrong = ConfigError(key, f"expected {_type_name(tp)}, got {got}", "correct the type")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return build(tp, value, key)
    if origin is Literal:
        if value not in args:
            raise ConfigError(key, f"{value!r} is not allowed", f"use one of {_type_name(tp)}")
        return value
    if origin in (types.UnionType, typing.Union):
        for arg in args:
            if arg is types.NoneType:  # TOML has no null: an unset optional key is left out
                continue
            try:
                return _convert(arg, value, key)
            except ConfigError:
                continue
        raise wrong
    if origin is tuple:
        if not isinstance(value, list):
            raise wrong
        return tuple(_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise wrong
        return {str(k): _convert(args[1], v, f"{key}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            raise wrong
        return value
    raise TypeError(f"unsupported config type {tp!r} at {key}")  # a bug in Settings, not input


def require_positive(key: str, value: float) -> None:
    """Sizes, counts and durations: zero or less would stall or disable the component."""
    if value <= 0:
        raise ConfigError(key, f"must be positive, got {value}", "use a number above 0")


def require_probability(key: str, value: float, fix: str) -> None:
    """Error rates: 0 and 1 are excluded, they would make every or no change significant."""
    if not 0.0 < value < 1.0:
        raise ConfigError(key, f"{value} is not a probability", fix)
