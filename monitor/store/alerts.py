"""Writes the alerts' states; the evaluator, under its lease, is their only writer.

One hash per model (fingerprint → the alert as MessagePack), changed by one fenced script per
evaluation: an evaluator paused past its lease writes nothing (``monitor/store/lease.py``), so a
successor's newer states are never overwritten by a stale round. Reads go through
``monitor/store/query.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import redis

from monitor.store.keys import Keys
from monitor.store.lease import FENCE_CHECK, Fence
from monitor.vocab.alerts import Alert

#: KEYS[3] the model's alert hash; ARGV[3] how many fingerprint/blob pairs follow to set, then
#: the pairs, then the fingerprints to delete.
_SAVE = (
    FENCE_CHECK
    + """
local n = tonumber(ARGV[3])
for i = 4, 3 + 2 * n, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
for i = 4 + 2 * n, #ARGV do redis.call('HDEL', KEYS[3], ARGV[i]) end
return 1
"""
)


class AlertStore:
    """Stores the alerts of each model, fenced by the evaluator lease."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._keys = keys
        self._save = client.register_script(_SAVE)

    def save(self, fence: Fence, model: str, changed: Sequence[Alert], gone: Sequence[str]) -> None:
        """Set the ``changed`` alerts and delete the fingerprints ``gone`` (inactive again)."""
        if not changed and not gone:
            return
        pairs = [x for a in changed for x in (a.fingerprint, msgspec.msgpack.encode(a))]
        fence.run(self._save, [self._keys.alerts(model)], [len(changed), *pairs, *gone])
