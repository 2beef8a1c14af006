"""The notification log: per receiver and alert group, what was last sent and when.

Written only after a receiver accepted a notification, under the evaluator's fence: a send that
failed, or an instance that crashed between sending and logging, leaves the log as it was, so the
next round sends again — at least once, never silently dropped (design §6). An entry is dropped
once older than twice its route's ``repeat_interval`` (by then a still-firing group was repeated).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
import redis

from monitor.store.keys import Keys
from monitor.store.lease import FENCE_CHECK, Fence
from monitor.vocab.alerts import LogEntry

#: KEYS[3] the receiver's log; ARGV[3] group key, ARGV[4] the entry.
_WRITE = FENCE_CHECK + "redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])\nreturn 1\n"
#: KEYS[3] the receiver's log; ARGV[3..] group keys to drop.
_DROP = FENCE_CHECK + "redis.call('HDEL', KEYS[3], unpack(ARGV, 3))\nreturn 1\n"

_decoder = msgspec.msgpack.Decoder(LogEntry)


class NotificationLog:
    """The notification log of one deployment."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys
        self._write = client.register_script(_WRITE)
        self._drop = client.register_script(_DROP)

    def entries(self, receiver: str) -> dict[str, LogEntry]:
        """The receiver's entries by group key."""
        stored = self._redis.hgetall(self._keys.notification_log(receiver))
        return {key.decode(): _decoder.decode(blob) for key, blob in stored.items()}

    def record(self, fence: Fence, receiver: str, group_key: str, entry: LogEntry) -> None:
        """After a successful send: the receiver now knows ``entry``."""
        key = self._keys.notification_log(receiver)
        fence.run(self._write, [key], [group_key, msgspec.msgpack.encode(entry)])

    def drop(self, fence: Fence, receiver: str, group_keys: Iterable[str]) -> None:
        """Forget entries (expired, or of groups that no longer exist)."""
        keys = list(group_keys)
        if keys:
            fence.run(self._drop, [self._keys.notification_log(receiver)], keys)
