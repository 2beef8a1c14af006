"""Writes window evaluations and model health; the evaluator is their only writer.

Blobs are MessagePack (msgspec): a verdict on a window too small to judge carries NaN, which JSON
cannot hold but MessagePack stores exactly; it is also smaller and faster to read.
"""

from __future__ import annotations

import msgspec
import redis

from monitor.stats.health import Health, WindowEvaluation
from monitor.store.keys import Keys

#: Remove a dirty mark only if no batch touched the window while it was being evaluated.
_CLEAR_IF_UNCHANGED = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""


#: Fold a final window's per-partition hashes into one (KEYS[1]); a late event afterwards writes a
#: new partition hash, which readers add to the merged one, so nothing is counted twice or lost.
_MERGE_WINDOW = """
local moved = 0
for i = 2, #KEYS do
  local fields = redis.call('HGETALL', KEYS[i])
  for j = 1, #fields, 2 do redis.call('HINCRBYFLOAT', KEYS[1], fields[j], fields[j + 1]) end
  if #fields > 0 then
    redis.call('DEL', KEYS[i])
    moved = moved + 1
  end
end
if moved > 0 then redis.call('PEXPIREAT', KEYS[1], ARGV[1]) end
return moved
"""


class EvaluationStore:
    """Stores evaluations (with the windows' retention) and health summaries."""

    def __init__(self, client: redis.Redis, keys: Keys, retention_ms: int) -> None:
        self._redis = client
        self._keys = keys
        self._retention_ms = retention_ms
        self._clear = client.register_script(_CLEAR_IF_UNCHANGED)
        self._merge = client.register_script(_MERGE_WINDOW)

    def dirty(self, limit: int) -> list[tuple[str, float]]:
        """The oldest changed windows: ("<model>:<window id>", the change time to compare)."""
        rows = self._redis.zrange(self._keys.dirty, 0, limit - 1, withscores=True)
        return [(m.decode(), score) for m, score in rows]

    def save(self, ev: WindowEvaluation, wid: str, dirty_member: str, dirty_score: float) -> None:
        key = self._keys.evaluation(ev.model, wid)
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(key, msgspec.msgpack.encode(ev), pxat=ev.window_start * 1000 + self._retention_ms)
        pipe.zadd(self._keys.evaluation_index(ev.model), {wid: ev.window_start})
        pipe.zremrangebyscore(
            self._keys.evaluation_index(ev.model),
            "-inf",
            (ev.evaluated_at * 1000 - self._retention_ms) / 1000,
        )
        pipe.execute()
        self._clear(keys=[self._keys.dirty], args=[dirty_member, repr(dirty_score)])

    def merge_window(self, keys: list[str], end_ms: int) -> int:
        """Fold a final window's partition hashes (``keys[1:]``) into ``keys[0]``: memory ÷
        partitions; returns how many were folded. One script, so a checkpoint of any partition
        runs wholly before or after it."""
        return int(self._merge(keys=keys, args=[end_ms + self._retention_ms]))

    def save_rolling(self, ev: WindowEvaluation) -> None:
        self._redis.set(self._keys.rolling(ev.model), msgspec.msgpack.encode(ev))

    def save_health(self, health: Health) -> None:
        self._redis.set(self._keys.health(health.model), msgspec.msgpack.encode(health))
