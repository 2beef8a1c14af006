"""Writes window evaluations and model health; the evaluator is their only writer.

Blobs are MessagePack (msgspec): a verdict on a window too small to judge carries NaN, which JSON
cannot hold but MessagePack stores exactly; it is also smaller and faster to read.

Every write presents the evaluator lease's :class:`~monitor.store.lease.Fence` and is one Lua
script that first checks it (``FENCE_CHECK``): an evaluator that lost the lease while paused must
not overwrite what its successor wrote, so a stale fence writes nothing and raises
:class:`~monitor.errors.FencedError`. One script per write also makes each write atomic.
"""

from __future__ import annotations

import msgspec
import redis

from monitor.store.keys import Keys
from monitor.store.lease import FENCE_CHECK, Fence
from monitor.vocab.verdicts import Health, WindowEvaluation

#: KEYS[3] evaluation, KEYS[4] evaluation index, KEYS[5] dirty set, KEYS[6] window index, KEYS[7]
#: change points; ARGV[3] blob, ARGV[4] its expiry (ms), ARGV[5] window id, ARGV[6] window start,
#: ARGV[7] the model's evaluation key prefix, ARGV[8] dirty member, ARGV[9] its change time when
#: read, ARGV[10] the next window's id ("" if it need not be evaluated again), ARGV[11] the model's
#: dirty member prefix, ARGV[12] now (ms), ARGV[13] change points kept.
#: The dirty mark is removed only if no batch touched the window while it was being evaluated;
#: the next window, if it has counts, is marked dirty (its confirmation read this window). The
#: oldest few entries of both indexes are dropped once their evaluation expired (retention runs
#: from the last evaluation, so a backfilled old window stays as long as a new one) and the window
#: is not waiting for one; change points beyond the newest ARGV[13] are dropped.
_SAVE = (
    FENCE_CHECK
    + """
redis.call('SET', KEYS[3], ARGV[3], 'PXAT', ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[5])
local score = redis.call('ZSCORE', KEYS[5], ARGV[8])
if score and tonumber(score) == tonumber(ARGV[9]) then redis.call('ZREM', KEYS[5], ARGV[8]) end
if ARGV[10] ~= '' and redis.call('ZSCORE', KEYS[6], ARGV[10]) then
  redis.call('ZADD', KEYS[5], 'NX', ARGV[12], ARGV[11] .. ARGV[10])
end
for _, index in ipairs({KEYS[4], KEYS[6]}) do
  for _, wid in ipairs(redis.call('ZRANGE', index, 0, 4)) do
    local evaluated = redis.call('EXISTS', ARGV[7] .. wid) == 1
    if not evaluated and not redis.call('ZSCORE', KEYS[5], ARGV[11] .. wid) then
      redis.call('ZREM', index, wid)
    end
  end
end
redis.call('ZREMRANGEBYRANK', KEYS[7], 0, -tonumber(ARGV[13]) - 1)
return 1
"""
)

#: Fold a final window's per-partition hashes (KEYS[4..]) into one (KEYS[3]); a late event
#: afterwards writes a new partition hash, which readers add to the merged one, so nothing is
#: counted twice or lost. ARGV[3]: the merged hash's expiry (ms).
_MERGE_WINDOW = (
    FENCE_CHECK
    + """
local moved = 0
for i = 4, #KEYS do
  local fields = redis.call('HGETALL', KEYS[i])
  for j = 1, #fields, 2 do redis.call('HINCRBYFLOAT', KEYS[3], fields[j], fields[j + 1]) end
  if #fields > 0 then
    redis.call('DEL', KEYS[i])
    moved = moved + 1
  end
end
if moved > 0 then redis.call('PEXPIREAT', KEYS[3], ARGV[3]) end
return moved
"""
)

#: KEYS[3] = ARGV[3]: the health summary or the rolling view.
_SET = FENCE_CHECK + "redis.call('SET', KEYS[3], ARGV[3])\nreturn 1\n"
#: ZREM KEYS[3] ARGV[3]: a dirty mark nobody will clear otherwise.
_FORGET = FENCE_CHECK + "redis.call('ZREM', KEYS[3], ARGV[3])\nreturn 1\n"
#: Change points kept per model: a bound whatever the detectors do (the newest are kept).
CHANGE_POINTS_KEPT = 10_000


class EvaluationStore:
    """Stores evaluations (kept ``retention`` after they were made) and health summaries, fenced."""

    def __init__(self, client: redis.Redis, keys: Keys, retention_ms: int) -> None:
        self._redis = client
        self._keys = keys
        self._retention_ms = retention_ms
        self._save = client.register_script(_SAVE)
        self._merge = client.register_script(_MERGE_WINDOW)
        self._set = client.register_script(_SET)
        self._forget = client.register_script(_FORGET)

    def dirty(self, limit: int) -> list[tuple[str, float]]:
        """The oldest changed windows: ("<model>:<window id>", the change time to compare)."""
        rows = self._redis.zrange(self._keys.dirty, 0, limit - 1, withscores=True)
        return [(m.decode(), score) for m, score in rows]

    def save(
        self,
        fence: Fence,
        ev: WindowEvaluation,
        wid: str,
        dirty_member: str,
        dirty_score: float,
        *,
        next_wid: str = "",
    ) -> None:
        """Store ``ev``, index it, drop index entries past retention and clear the dirty mark;
        ``next_wid``: a window to evaluate again (if it has counts), its predecessor changed."""
        keys = [
            self._keys.evaluation(ev.model, wid),
            self._keys.evaluation_index(ev.model),
            self._keys.dirty,
            self._keys.window_index(ev.model),
            self._keys.change_points(ev.model),
        ]
        args: list[bytes | str | int | float] = [
            msgspec.msgpack.encode(ev),
            int(ev.evaluated_at * 1000) + self._retention_ms,
            wid,
            ev.window_start,
            self._keys.evaluation(ev.model, ""),
            dirty_member,
            repr(dirty_score),
            next_wid,
            f"{ev.model}:",
            int(ev.evaluated_at * 1000),
            CHANGE_POINTS_KEPT,
        ]
        fence.run(self._save, keys, args)

    def forget(self, fence: Fence, dirty_member: str) -> None:
        """Drop a changed window that will never be evaluated (its model left the config)."""
        fence.run(self._forget, [self._keys.dirty], [dirty_member])

    def merge_window(self, fence: Fence, keys: list[str], now_ms: int) -> int:
        """Fold a final window's partition hashes (``keys[1:]``) into ``keys[0]``: memory ÷
        partitions; returns how many were folded. One script, so a checkpoint of any partition
        runs wholly before or after it. The merged hash is kept ``retention`` from now."""
        return fence.run(self._merge, keys, [now_ms + self._retention_ms])

    def save_rolling(self, fence: Fence, ev: WindowEvaluation) -> None:
        fence.run(self._set, [self._keys.rolling(ev.model)], [msgspec.msgpack.encode(ev)])

    def save_health(self, fence: Fence, health: Health) -> None:
        fence.run(self._set, [self._keys.health(health.model)], [msgspec.msgpack.encode(health)])
