"""The client's command packer writes the bytes redis-py's own packer writes, for any command.

Pure logic: both packers run side by side on the same arguments; no server is needed to compare
the RESP they produce (the daemon's tests run every command through it against a real Redis).
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st
from redis.connection import Encoder, HiredisRespSerializer, PythonRespSerializer

from monitor.store.client import CommandPacker

_ENCODE = Encoder(encoding="utf-8", encoding_errors="strict", decode_responses=False).encode
#: What a redis-py connection packs with when it is given no packer (hiredis installed).
REDIS_PY = HiredisRespSerializer(PythonRespSerializer(6000, _ENCODE).pack, _ENCODE)

arguments = st.one_of(
    st.text(),
    st.binary(),
    st.integers(),
    st.floats(),  # NaN and ±inf included: both write Python's repr
    st.booleans(),
    st.none(),
    st.binary().map(bytearray),
    st.binary().map(memoryview),
)
names = st.sampled_from(["MGET", "EVALSHA", "SET", "CONFIG GET", "CLIENT SETNAME", b"MGET"])


def packed(pack: Any, args: tuple[Any, ...]) -> bytes | str:
    """The packed bytes, or the error's type and message."""
    try:
        return b"".join(bytes(chunk) for chunk in pack(*args))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


@given(names, st.lists(arguments, max_size=8))
def test_packs_every_command_as_redis_py_does(name: str | bytes, args: list[Any]) -> None:
    command = (name, *args)
    assert packed(CommandPacker().pack, command) == packed(REDIS_PY.pack, command)


@pytest.mark.parametrize(
    "value", [0.1, 1e16, 1e-7, 5e-324, -0.0, 2.0**53 + 1, 1.7976931348623157e308, 2**70, -(2**63)]
)
def test_numbers_are_written_as_their_repr(value: float) -> None:
    [ours] = CommandPacker().pack("SET", "k", value)
    assert [ours] == REDIS_PY.pack("SET", "k", value)
    assert ours.endswith(f"${len(repr(value))}\r\n{value!r}\r\n".encode())


def test_a_surrogate_fails_as_in_redis_py() -> None:
    with pytest.raises(UnicodeEncodeError):
        REDIS_PY.pack("SET", "k", "\ud800")
    with pytest.raises(UnicodeEncodeError):
        CommandPacker().pack("SET", "k", "\ud800")


def test_a_bool_is_refused_as_in_redis_py() -> None:
    with pytest.raises(redis.DataError, match="bool"):
        CommandPacker().pack("SET", "k", True)
