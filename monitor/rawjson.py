"""Record values the decoder cannot read as JSON, and why: nested too deep, not UTF-8, NaN.

The decoder (``monitor/events.py``) asks :func:`too_deep` before msgspec sees a value, and
:func:`json_error` after msgspec refused one, to name the dead letter's reason.
"""

from __future__ import annotations

import json
import re

import msgspec
import numpy as np

from monitor.vocab.deadletter import InvalidReason

#: JSON nested deeper than this is refused (``bad_json``) before decoding. The decoder itself
#: stops at the interpreter's recursion limit minus the current stack depth, which varies with
#: where it runs; a fixed bound keeps the verdict the same everywhere.
MAX_NESTING = 500
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_OPEN, _CLOSE = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)


def too_deep(value: bytes) -> bool:
    """Nested deeper than :data:`MAX_NESTING`; only texts with that many brackets can be, so the
    usual event is answered without scanning it."""
    return (
        len(value) > 2 * MAX_NESTING
        and value.count(b"[") + value.count(b"{") > MAX_NESTING
        and nesting(value) > MAX_NESTING
    )


def nesting(value: bytes) -> int:
    """The deepest bracket nesting of a JSON text, brackets inside strings ignored.

    >>> nesting(b'{"a": [1, {"b": "]]]"}]}')
    3
    """
    chars = np.frombuffer(_STRING.sub(b'""', value), np.uint8)
    steps = np.isin(chars, _OPEN).astype(np.int64) - np.isin(chars, _CLOSE)
    return int(np.cumsum(steps).max(initial=0))


def json_error(value: bytes, exc: msgspec.DecodeError) -> tuple[InvalidReason, str]:
    """Why msgspec refused ``value``: not UTF-8, NaN or Infinity, or other broken JSON (off the
    hot path)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as err:
        return InvalidReason.NOT_UTF8, f"invalid UTF-8 at byte {err.start}"
    try:
        json.loads(text)  # the stdlib accepts NaN and Infinity, which JSON (and msgspec) reject
    except (ValueError, RecursionError):
        return InvalidReason.BAD_JSON, str(exc)[:120]
    return InvalidReason.NON_FINITE, "NaN or Infinity is not valid JSON"
