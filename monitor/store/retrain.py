"""The retraining outbox: every request by event id, and each model's request in flight.

Two writers share it. The evaluator, under its lease, opens requests and records delivery
attempts (fenced: a paused, expired holder writes nothing, so it can neither open a second
request nor undo a successor's record). People approve, reject and trigger from the CLI and the
dashboard (not fenced: nobody waits for the lease to press a button).

Every change is one Lua script that holds two rules whatever interleaving happens:

- **one request in flight per model**: opening needs the model's slot in ``retrain_open`` free
  and an unused event id, and takes the slot; reaching a final state frees it;
- **no lost update**: a change names the request as it read it (its state and attempts, which
  every change moves on; the script reads them from the stored MessagePack with Redis' bundled
  ``cmsgpack``) and is refused if the request changed meanwhile — an approval racing a
  rejection — so the caller reads again and decides again.

Reads go through ``monitor/store/query.py``.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec
import redis

from monitor.store.keys import Keys
from monitor.store.lease import FENCE_CHECK, Fence
from monitor.vocab.retrain import RetrainRequest


class Change(IntEnum):
    """What a script did; FENCED (0) comes from the fence check."""

    DONE = 1
    #: Opening: the model has a request in flight, or the event id was used already.
    BUSY = 2
    #: Changing: the request is not as the caller read it (or is gone).
    STALE = 3


_OPEN = """
if redis.call('HEXISTS', KEYS[{k2}], ARGV[{a1}]) == 1
   or redis.call('HEXISTS', KEYS[{k1}], ARGV[{a2}]) == 1 then
  return 2
end
redis.call('HSET', KEYS[{k1}], ARGV[{a2}], ARGV[{a3}])
redis.call('HSET', KEYS[{k2}], ARGV[{a1}], ARGV[{a2}])
return 1
"""
_CHANGE = """
local stored = redis.call('HGET', KEYS[{k1}], ARGV[{a2}])
if not stored then
  return 3
end
local current = cmsgpack.unpack(stored)
if current.state ~= ARGV[{a3}] or tostring(current.attempts) ~= ARGV[{a4}] then
  return 3
end
redis.call('HSET', KEYS[{k1}], ARGV[{a2}], ARGV[{a5}])
if ARGV[{a6}] == '1' and redis.call('HGET', KEYS[{k2}], ARGV[{a1}]) == ARGV[{a2}] then
  redis.call('HDEL', KEYS[{k2}], ARGV[{a1}])
end
return 1
"""


def _placed(body: str, fenced: bool) -> str:
    """The script with its own KEYS and ARGV after the fence's two of each, if fenced."""
    shift = 2 if fenced else 0
    names = {f"k{i}": i + shift for i in (1, 2)} | {f"a{i}": i + shift for i in range(1, 7)}
    return (FENCE_CHECK if fenced else "") + body.format(**names)


class RetrainStore:
    """Writes retraining requests; ``fence`` given: the evaluator's writes, else a person's."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._keys = [keys.retrain_requests, keys.retrain_open]
        self._open = {f: client.register_script(_placed(_OPEN, f)) for f in (False, True)}
        self._change = {f: client.register_script(_placed(_CHANGE, f)) for f in (False, True)}

    def open(self, request: RetrainRequest, fence: Fence | None = None) -> Change:
        """Store a new request and take its model's slot; BUSY if the model has a request in
        flight or the event id was used before."""
        args: list[str | bytes] = [request.model, request.id, msgspec.msgpack.encode(request)]
        return self._run(self._open, fence, args)

    def change(
        self, before: RetrainRequest, after: RetrainRequest, fence: Fence | None = None
    ) -> Change:
        """Replace ``before`` (as read) by ``after``; STALE if it changed meanwhile. A final state
        frees the model's slot."""
        final = "0" if after.open else "1"
        args: list[str | bytes] = [
            after.model,
            after.id,
            before.state,
            str(before.attempts),
            msgspec.msgpack.encode(after),
            final,
        ]
        return self._run(self._change, fence, args)

    def _run(
        self,
        scripts: dict[bool, redis.commands.core.Script],
        fence: Fence | None,
        args: list[str | bytes],
    ) -> Change:
        if fence is None:
            return Change(int(scripts[False](keys=self._keys, args=args)))
        return Change(fence.run(scripts[True], self._keys, args))
