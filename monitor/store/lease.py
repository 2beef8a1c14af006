"""A fenced lease in Redis: at most one instance at a time runs a singleton job (window evaluation).

``SET key holder NX PX ttl`` takes a free lease; the holder renews it by comparing its own id, so
a paused instance that lost the lease cannot extend someone else's. If the holder dies the lease
expires after ``ttl_ms`` and another instance takes over on its next try.

Expiry alone does not stop a holder that was paused (GC, VM stall) past ``ttl_ms`` from finishing
its round after a successor took over. So every acquisition ``INCR``s a fencing counter kept next
to the lease, and the new value is the holder's *token* (a :class:`Fence`). Writes made under the
lease run in Lua scripts that start with :data:`FENCE_CHECK`: unless the lease still names the
holder *and* the counter still equals its token, they write nothing and report :data:`FENCED`.
Renewal keeps the token; only a new acquisition changes it. The counter never expires, so tokens
only grow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis
from redis.commands.core import Script

from monitor.errors import FencedError

#: KEYS[1] lease, KEYS[2] fencing counter; ARGV[1] holder, ARGV[2] ttl (ms). Returns the token, or
#: 0 if another holder has the lease (tokens start at 1).
_HOLD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2])) or redis.call('INCR', KEYS[2])
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

#: What a fenced script returns when it wrote nothing.
FENCED = -1

#: The first lines of every fenced script: KEYS[1] and KEYS[2] must be the fence's ``key`` and
#: ``counter``, ARGV[1] and ARGV[2] its ``holder`` and ``token``; the script's own keys and
#: arguments follow them.
FENCE_CHECK = f"""
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return {FENCED}
end
"""


@dataclass(frozen=True, slots=True)
class Fence:
    """Proof of holding a lease, presented by every write made under it."""

    key: str
    counter: str
    holder: str
    token: int

    @property
    def keys(self) -> list[str]:
        """The first KEYS of a fenced script."""
        return [self.key, self.counter]

    @property
    def args(self) -> list[str | int]:
        """The first ARGV of a fenced script."""
        return [self.holder, self.token]

    def run(
        self, script: Script, keys: Sequence[str], args: Sequence[bytes | str | int | float]
    ) -> int:
        """Run a fenced script; its result, or :class:`FencedError` if it wrote nothing because
        this fence is stale."""
        result = int(script(keys=[*self.keys, *keys], args=[*self.args, *args]))
        if result == FENCED:
            raise FencedError(
                f"lease {self.key} is no longer held by {self.holder} with token {self.token}"
            )
        return result


class Lease:
    """A named lease held by ``holder`` for ``ttl_ms`` at a time, fenced by ``counter``."""

    def __init__(
        self, client: redis.Redis, key: str, counter: str, holder: str, ttl_ms: int
    ) -> None:
        self._key = key
        self._counter = counter
        self._holder = holder
        self._ttl_ms = ttl_ms
        self._hold = client.register_script(_HOLD)
        self._release = client.register_script(_RELEASE)

    def hold(self) -> Fence | None:
        """Take or renew the lease: the fence to write with while this holder has it, else None.

        A new acquisition gets a new, higher token; a renewal keeps the one it had."""
        token = int(self._hold(keys=[self._key, self._counter], args=[self._holder, self._ttl_ms]))
        return Fence(self._key, self._counter, self._holder, token) if token else None

    def release(self) -> None:
        self._release(keys=[self._key], args=[self._holder])
