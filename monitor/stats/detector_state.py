"""River detector state as plain data: what a detector needs to resume, never code.

Detector state is checkpointed in Redis with the partition it was computed from. Loading a pickle
would run whatever its bytes say, so anyone able to write one Redis key could run code as the
daemon. Instead each detector kind has a msgspec struct of exactly its fields — numbers, lists of
numbers, and for ADWIN the bytes of river's own state, which river's Rust core reads as data —
and decoding checks every type. State that does not decode, or belongs to another detector kind,
is dropped with a warning and the detector starts afresh (a detector restarting costs a detection
delay, never a count).

>>> from river.drift import PageHinkley
>>> detector = PageHinkley()
>>> for x in [0.1, 0.2, 0.3]:
...     _ = detector.update(x)
>>> restored = load(dump(detector), "page_hinkley")
>>> (restored._x_mean.n, restored._x_mean.get()) == (detector._x_mean.n, detector._x_mean.get())
True
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec
from river.drift import ADWIN, KSWIN, PageHinkley
from river.drift.binary import DDM

log = logging.getLogger(__name__)

#: Bumped when a stored state's meaning changes; older state is dropped, never misread.
SCHEMA = b"dw-detector-2:"
#: ADWIN keeps O(log n) buckets: a few KB after 10⁹ values. Larger bytes were not written by us.
ADWIN_STATE_MAX_BYTES = 1 << 20

FACTORIES: dict[str, Callable[[], Any]] = {
    "adwin": lambda: ADWIN(delta=0.002),
    "page_hinkley": PageHinkley,
    "kswin": lambda: KSWIN(seed=0),
    "ddm": DDM,
}


class _Adwin(msgspec.Struct, tag="adwin", array_like=True):
    drift: bool
    #: river's Rust ``AdaptiveWindowing`` state (its own ``__getstate__``).
    window: bytes


class _PageHinkley(msgspec.Struct, tag="page_hinkley", array_like=True):
    drift: bool
    n: float
    mean: float
    sum_increase: float
    sum_decrease: float
    min_increase: float
    max_decrease: float


class _Kswin(msgspec.Struct, tag="kswin", array_like=True):
    drift: bool
    p_value: float
    n: int
    window: list[float]
    #: ``random.Random.getstate()``: version, 625 words, gauss_next.
    rng_version: int
    rng_words: list[int]
    rng_gauss: float | None


class _Ddm(msgspec.Struct, tag="ddm", array_like=True):
    drift: bool
    warning: bool
    n: float
    mean: float
    p_min: float | None
    s_min: float | None
    ps_min: float


_State = _Adwin | _PageHinkley | _Kswin | _Ddm
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_State)


def dump(detector: Any) -> bytes:
    """The detector's state as versioned MessagePack."""
    return SCHEMA + _encoder.encode(_state(detector))


def load(blob: bytes | None, kind: str) -> Any:
    """A ``kind`` detector resumed from ``blob``, or a fresh one (with a warning when ``blob``
    held something else: an older schema, another kind, or bytes we did not write)."""
    detector = FACTORIES[kind]()
    if not blob:
        return detector
    if not blob.startswith(SCHEMA):
        log.warning("detector state of an older schema (never loaded); starting afresh")
        return detector
    try:
        state = _decoder.decode(blob[len(SCHEMA) :])
        if type(state).__struct_config__.tag != kind:
            raise ValueError(f"state of a {type(state).__struct_config__.tag} detector")
        _restore(detector, state)
    except (msgspec.DecodeError, ValueError, TypeError, OverflowError) as exc:
        log.warning("unreadable %s detector state (%s); starting afresh", kind, exc)
        return FACTORIES[kind]()
    return detector


def _state(d: Any) -> _State:
    if isinstance(d, ADWIN):
        return _Adwin(d.drift_detected, d._helper.__getstate__())
    if isinstance(d, PageHinkley):
        return _PageHinkley(
            d.drift_detected,
            d._x_mean.n,
            d._x_mean._mean,
            d._sum_increase,
            d._sum_decrease,
            d._min_increase,
            d._max_decrease,
        )
    if isinstance(d, KSWIN):
        version, words, gauss = d._rng.getstate()
        return _Kswin(
            d.drift_detected, float(d.p_value), d.n, list(d.window), version, list(words), gauss
        )
    if isinstance(d, DDM):
        return _Ddm(
            d.drift_detected,
            d.warning_detected,
            d._p.n,
            d._p._mean,
            d._p_min,
            d._s_min,
            d._ps_min,
        )
    raise TypeError(f"no state codec for {type(d).__name__}")


def _restore(d: Any, s: _State) -> None:
    """Set the fresh detector ``d`` to state ``s`` (raises ValueError on impossible values)."""
    d._drift_detected = s.drift
    if isinstance(s, _Adwin):
        if len(s.window) > ADWIN_STATE_MAX_BYTES:
            raise ValueError(f"ADWIN state of {len(s.window)} bytes")
        try:
            d._helper.__setstate__(s.window)
        except BaseException as exc:  # river's Rust core panics (a BaseException) on bad bytes
            if type(exc).__name__ != "PanicException":
                raise
            raise ValueError("ADWIN state rejected by river") from None
    elif isinstance(s, _PageHinkley):
        d._x_mean.n, d._x_mean._mean = s.n, s.mean
        d._sum_increase, d._sum_decrease = s.sum_increase, s.sum_decrease
        d._min_increase, d._max_decrease = s.min_increase, s.max_decrease
    elif isinstance(s, _Kswin):
        if len(s.window) > d.window_size:
            raise ValueError(f"KSWIN window of {len(s.window)} > {d.window_size}")
        d.p_value, d.n = s.p_value, s.n
        d.window = deque(s.window, maxlen=d.window_size)
        rng = random.Random()
        rng.setstate((s.rng_version, tuple(s.rng_words), s.rng_gauss))
        d._rng = rng
    else:
        d._warning_detected = s.warning
        d._p.n, d._p._mean = s.n, s.mean
        d._p_min, d._s_min, d._ps_min = s.p_min, s.s_min, s.ps_min
