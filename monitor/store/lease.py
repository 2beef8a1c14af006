"""A lease in Redis: at most one instance at a time runs a singleton job (window evaluation).

``SET key holder NX PX ttl`` takes a free lease; the holder renews it by comparing its own id, so
a paused instance that lost the lease cannot extend someone else's. If the holder dies the lease
expires after ``ttl_ms`` and another instance takes over on its next try.
"""

from __future__ import annotations

import redis

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    """A named lease held by ``holder`` for ``ttl_ms`` at a time."""

    def __init__(self, client: redis.Redis, key: str, holder: str, ttl_ms: int) -> None:
        self._key = key
        self._holder = holder
        self._ttl_ms = ttl_ms
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def hold(self) -> bool:
        """Take or renew the lease; True while this holder has it."""
        return bool(self._renew(keys=[self._key], args=[self._holder, self._ttl_ms]))

    def release(self) -> None:
        self._release(keys=[self._key], args=[self._holder])
