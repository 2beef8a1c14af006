"""Generic TOML → dataclass conversion, and the checks several sections share.

The type annotations of the settings are the schema. One walker handles every section, so unknown
keys, wrong types and missing values are reported the same way everywhere and no section repeats
that work; each section's ``validate`` method then states only the rules its types cannot express.
A field whose key cannot be a Python name (``continue``) names its key in its metadata:
``field(metadata={"key": "continue"})``.

Both passes have two modes: the daemon stops at the first problem, ``config check`` lists them
all. :func:`build` takes an ``errors`` list for that, and so does every ``validate``, which reports
through a :class:`Report` instead of raising.

Values of the keys that name a secret's source (``password_env``, ``{ file = … }``) are never
repeated in a message: a secret pasted there by mistake must not reach a terminal or a log.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Collection, Mapping
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


class Report:
    """Where a ``validate`` method puts the problems it finds.

    Without a list (the daemon, :func:`~monitor.config.parse`) the first problem raises; with one
    (``config check``) every problem is appended and checking goes on, so a method reports all
    its independent problems and returns early only where a later check would judge a value an
    earlier one already refused.
    """

    __slots__ = ("errors",)

    def __init__(self, errors: list[ConfigError] | None) -> None:
        self.errors = errors

    def __call__(self, key: str, problem: str, fix: str) -> None:
        self.add(ConfigError(key, problem, fix))

    def add(self, error: ConfigError) -> None:
        if self.errors is None:
            raise error
        self.errors.append(error)


class Unbuildable(Exception):
    """Raised by the collecting pass (``errors`` given) when a table cannot be built at all: its
    problems are already in ``errors``, so the caller only skips what depends on it."""


def build(cls: type, raw: Any, key: str, errors: list[ConfigError] | None = None) -> Any:
    """Instantiate dataclass ``cls`` from a TOML table, rejecting unknown and mistyped keys.

    Without ``errors`` the first problem raises (the daemon stops at once). With a list, every
    problem is appended to it and checking goes on (``config check`` reports them all): a bad key
    that has a default is left at its default, and a table missing a required value raises
    :class:`Unbuildable`.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(
            key or "<root>",
            f"expected a table, got {type(raw).__name__}",
            f"write it as a table: [{key}] with one key = value per line, or {{ key = value }}",
        )
    hints = typing.get_type_hints(cls)
    known = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls)}
    report = Report(errors)
    failed = False
    for name in raw:
        if name not in known:
            report.add(unknown_key(f"{key}.{name}" if key else name, name, known))
    values: dict[str, Any] = {}
    for name, f in known.items():
        where = f"{key}.{name}" if key else name
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name not in raw:
            if required:
                report(where, "missing required value", f"add {name} = …")
                failed = True
            continue
        try:
            values[f.name] = _convert(hints[f.name], raw[name], where, errors)
        except ConfigError as error:
            report.add(error)
            failed = failed or required
        except Unbuildable:
            failed = failed or required
    if failed:
        raise Unbuildable(key)
    return cls(**values)


def unknown_key(where: str, name: str, known: Collection[str]) -> ConfigError:
    """An unknown key, with the near miss it most likely meant (``grup_id`` → ``group_id``), or
    the keys it may be when nothing is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        return ConfigError(where, "unknown key", f"rename it to {close[0]}")
    return ConfigError(
        where, "unknown key", f"remove it, or use one of: {', '.join(sorted(known))}"
    )


def _convert(tp: Any, value: Any, key: str, errors: list[ConfigError] | None = None) -> Any:
    """Check one TOML value against annotation ``tp`` and return it as that type; ``errors`` as
    in :func:`build` (a list or table with a bad item raises :class:`Unbuildable` then)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    # Where tables are expected the value is not echoed: secrets are tables ({ env = "VAR" }), and
    # one pasted into the file instead must not reach an error message or a log. Nor is the value
    # of a key naming a secret's source (password_env = "…", env = "…"), for the same reason.
    tables = dataclasses.is_dataclass(args[0] if origin is tuple else tp)
    hidden = tables or names_secret_source(key)
    got = type(value).__name__ if hidden else f"{type(value).__name__} {value!r}"
    wrong = ConfigError(key, f"expected {_type_name(tp)}, got {got}", _write_as(tp))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return build(tp, value, key, errors)
    if origin is Literal:
        if value not in args:
            fix = f"use one of {_type_name(tp)}"
            if isinstance(value, str):
                close = difflib.get_close_matches(value, [str(a) for a in args], n=1)
                fix = f"use {close[0]!r}" if close else fix
            raise ConfigError(key, f"{value!r} is not allowed", fix)
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
        items = [(f"{key}[{i}]", v) for i, v in enumerate(value)]
        return tuple(_convert_all(args[0], items, errors).values())
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise wrong
        converted = _convert_all(args[1], [(f"{key}.{k}", v) for k, v in value.items()], errors)
        return {str(k): v for k, v in zip(value, converted.values(), strict=True)}
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


def _convert_all(
    tp: Any, items: list[tuple[str, Any]], errors: list[ConfigError] | None
) -> dict[str, Any]:
    """The items of a list or table converted in order, keyed by their config key; with
    ``errors``, every bad item is reported before :class:`Unbuildable` is raised."""
    out: dict[str, Any] = {}
    report = Report(errors)
    failed = False
    for where, v in items:
        try:
            out[where] = _convert(tp, v, where, errors)
        except ConfigError as error:
            report.add(error)
            failed = True
        except Unbuildable:
            failed = True
    if failed:
        raise Unbuildable(items[0][0])
    return out


def _write_as(tp: Any) -> str:
    """The fix for a value of the wrong type: what a right one looks like in TOML."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_write_as(a) for a in typing.get_args(tp) if a is not types.NoneType)
    if origin in (tuple, list):
        return 'write a list in brackets, e.g. ["a", "b"]'
    if origin in (dict, Mapping) or (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        return "write a table, e.g. { key = value }"
    examples = {
        float: "write a number without quotes, e.g. 0.5",
        int: "write a whole number without quotes, e.g. 10",
        str: 'write a string in quotes, e.g. "name"',
        bool: "write true or false, without quotes",
    }
    return examples.get(tp, f"write a {_type_name(tp)}")


def require_positive(report: Report, key: str, value: float) -> None:
    """Sizes, counts and durations: zero or less would stall or disable the component."""
    if value <= 0:
        report(key, f"must be positive, got {value}", "use a number above 0")


def require_probability(report: Report, key: str, value: float, fix: str) -> None:
    """Error rates: 0 and 1 are excluded, they would make every or no change significant."""
    if not 0.0 < value < 1.0:
        report(key, f"{value} is not a probability", fix)


#: The last part of a key that names where a secret comes from: ``password_env``,
#: ``sasl_password_file``, or ``env`` / ``file`` inside a secret's table.
_SECRET_SOURCE = re.compile(r"(?:^|[._])(?:env|file)$")


def names_secret_source(key: str) -> bool:
    """Whether ``key`` names a secret's source, whose value no message may repeat."""
    return _SECRET_SOURCE.search(key) is not None
