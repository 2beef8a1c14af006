"""Each model's audit trail: one Redis stream per model, appended to and trimmed by age.

An entry's id is the event's time in milliseconds (``<ms>-<seq>``), so a period is a range of ids
(``XRANGE``) and retention is a ``MINID`` trim done by the same ``XADD`` that appends — the trail
never needs a sweeper. Its one field, ``e``, is the :class:`~monitor.vocab.audit.AuditEvent` as
MessagePack; readers fill the event's ``id`` with the entry's.

Trimming is exact (``MINID =``), not approximate (``~``): a trail grows by a few entries an hour,
so the exact trim costs nothing, and the trail then keeps what ``[audit] retention_days`` says —
with ``~`` Redis drops only whole nodes of 100 entries, keeping older ones for months on a quiet
model. An event is filed by its own time, but a stream's ids only grow: when a writer's event is
older than the newest entry (two daemons' clocks, a CLI on a laptop), the script files it just
after that entry instead of failing, and its ``ts`` stays what happened, so readers order by ``ts``.

Writers that hold the evaluator lease append with :meth:`AuditLog.append_fenced`, one fenced
script (``monitor/store/lease.py``), so an evaluator paused past its lease cannot add what its
successor already recorded. People's actions (silences, references) append without a fence, like
their other writes. Needs Redis 6.2 or later (``XADD … MINID``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import cast

import msgspec
import redis

from monitor.store.keys import Keys
from monitor.store.lease import FENCE_CHECK, Fence
from monitor.vocab.audit import DAEMON, AuditEvent

#: Appends events after the ``K`` first KEYS and ``A`` first ARGV (the fence's, if any): KEYS[K +
#: i] the streams; ARGV[A + 1] the oldest id to keep (ms), then per event the index of its
#: stream among those KEYS, its time (ms) and its blob. ``last-generated-id`` rather than the
#: newest entry: the stream may have been trimmed empty, and its ids must still grow.
_APPEND = """
local function next_id(stream, ms)
  if redis.call('EXISTS', stream) == 1 then
    local info = redis.call('XINFO', 'STREAM', stream)
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then
        local last, seq = string.match(info[i + 1], '^(%d+)-(%d+)$')
        if tonumber(last) >= ms then return string.format('%s-%d', last, tonumber(seq) + 1) end
      end
    end
  end
  return string.format('%d-0', ms)
end
for i = A + 2, #ARGV, 3 do
  local stream = KEYS[K + tonumber(ARGV[i])]
  local id = next_id(stream, tonumber(ARGV[i + 1]))
  redis.call('XADD', stream, 'MINID', '=', ARGV[A + 1], id, 'e', ARGV[i + 2])
end
return 1
"""
_PLAIN = "local K, A = 0, 0\n" + _APPEND
_FENCED = FENCE_CHECK + "local K, A = 2, 2\n" + _APPEND
#: KEYS[3] the model's versions set, ARGV[3] the version: appended only if the set lacked it.
_FIRST_SEEN = (
    FENCE_CHECK
    + "if redis.call('SADD', KEYS[3], ARGV[3]) == 0 then return 1 end\n"
    + "local K, A = 3, 3\n"
    + _APPEND
)

_DAY = 86400
#: Stream entries as redis-py returns them to a client without ``decode_responses``.
_Entries = list[tuple[bytes, dict[bytes, bytes]]]
_decoder = msgspec.msgpack.Decoder(AuditEvent)


class AuditLog:
    """The audit trails of one deployment, each kept ``retention_days``."""

    def __init__(self, client: redis.Redis, keys: Keys, retention_days: int) -> None:
        self._redis = client
        self._keys = keys
        self._retention_seconds = retention_days * _DAY
        self._plain = client.register_script(_PLAIN)
        self._fenced = client.register_script(_FENCED)
        self._first_seen = client.register_script(_FIRST_SEEN)

    def append(self, event: AuditEvent) -> None:
        """Record what a person did (or anything written without the evaluator lease)."""
        keys, args = self._arguments([event])
        self._plain(keys=keys, args=args)

    def append_fenced(self, fence: Fence, events: Sequence[AuditEvent]) -> None:
        """Record events of any models in one step, only while ``fence`` holds the evaluator
        lease: a stale one raises :class:`~monitor.errors.FencedError` and records nothing."""
        if events:
            fence.run(self._fenced, *self._arguments(events))

    def version_seen(self, fence: Fence, model: str, version: str, ts: float) -> None:
        """File ``version_first_seen`` the first time the model's ``version`` is seen (a set
        of the versions seen decides, in the same fenced step as the append)."""
        event = AuditEvent(
            ts,
            "version_first_seen",
            model,
            DAEMON,
            f"version {version} first seen",
            {"version": version},
        )
        streams, args = self._arguments([event])
        fence.run(self._first_seen, [self._keys.versions(model), *streams], [version, *args])

    def events(
        self,
        model: str,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """The model's events filed from ``since`` to ``until`` (inclusive), oldest first;
        ``limit``: only the newest ones. Empty for a model without a trail."""
        key = self._keys.audit(model)
        low = "-" if since is None else str(_ms(since))
        high = "+" if until is None else str(_ms(until))
        if limit is None:
            entries = cast(_Entries, self._redis.xrange(key, low, high))
        else:
            entries = cast(_Entries, self._redis.xrevrange(key, high, low, count=limit))[::-1]
        return [
            msgspec.structs.replace(_decoder.decode(fields[b"e"]), id=entry_id.decode())
            for entry_id, fields in entries
        ]

    def _arguments(self, events: Sequence[AuditEvent]) -> tuple[list[str], list[bytes | int]]:
        streams = list(dict.fromkeys(self._keys.audit(e.model) for e in events))
        args: list[bytes | int] = [_ms(time.time() - self._retention_seconds)]
        for event in events:
            stream = streams.index(self._keys.audit(event.model)) + 1
            args += [stream, _ms(event.ts), msgspec.msgpack.encode(event)]
        return streams, args


def _ms(ts: float) -> int:
    """A stream id's milliseconds for a Unix time (ids cannot be negative)."""
    return max(0, int(ts * 1000))
