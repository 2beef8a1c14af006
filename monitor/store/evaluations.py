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


class EvaluationStore:
    """Stores evaluations (with the windows' retention) and health summaries."""

    def __init__(self, client: redis.Redis, keys: Keys, retention_ms: int) -> None:
        self._redis = client
        self._keys = keys
        self._retention_ms = retention_ms
        self._clear = client.register_script(_CLEAR_IF_UNCHANGED)

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

    def save_rolling(self, ev: WindowEvaluation) -> None:
        self._redis.set(self._keys.rolling(ev.model), msgspec.msgpack.encode(ev))

    def save_health(self, health: Health) -> None:
        self._redis.set(self._keys.health(health.model), msgspec.msgpack.encode(health))
