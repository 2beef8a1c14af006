"""Writes the alerts' states; the evaluator, under its lease, is their only writer.

One hash per model (fingerprint → the alert as MessagePack) and the start of its current
incident, changed by one fenced script per evaluation that changed them: an evaluator paused
past its lease writes nothing (``monitor/store/lease.py``), so a successor's newer states are
never overwritten by a stale round. Reads go through ``monitor/store/query.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import redis

from monitor.store.keys import Keys
from monitor.store.lease import FENCE_CHECK, Fence
from monitor.vocab.alerts import Alert

#: KEYS[3] the model's alert hash, KEYS[4] its incident start; ARGV[3] the incident start ("" for
#: none), ARGV[4] how many fingerprint/blob pairs follow to set, then the pairs, then the
#: fingerprints to delete.
_SAVE = (
    FENCE_CHECK
    + """
if ARGV[3] == '' then redis.call('DEL', KEYS[4]) else redis.call('SET', KEYS[4], ARGV[3]) end
local n = tonumber(ARGV[4])
for i = 5, 4 + 2 * n, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
for i = 5 + 2 * n, #ARGV do redis.call('HDEL', KEYS[3], ARGV[i]) end
return 1
"""
)


class AlertStore:
    """Stores the alerts of each model, fenced by the evaluator lease."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._keys = keys
        self._save = client.register_script(_SAVE)

    def save(
        self,
        fence: Fence,
        model: str,
        changed: Sequence[Alert],
        gone: Sequence[str],
        incident_start: float | None,
    ) -> None:
        """Set the ``changed`` alerts, delete the fingerprints ``gone`` (inactive again) and
        record when the model's current incident began (None: no alert fires)."""
        pairs = [x for a in changed for x in (a.fingerprint, msgspec.msgpack.encode(a))]
        start = "" if incident_start is None else repr(incident_start)
        keys = [self._keys.alerts(model), self._keys.incident(model)]
        fence.run(self._save, keys, [start, len(changed), *pairs, *gone])
