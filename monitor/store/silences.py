"""Writes the silences: one hash per deployment, silence id → the silence as MessagePack.

People write silences (``driftwatch silence``, later the dashboard), not the evaluator, so these
writes are not fenced: someone muting a page must not wait for, or be refused by, the evaluator's
lease. Concurrent writers cannot undo each other's work either: a write sets only the field of the
silence it changes, and the sweep deletes only silences that ended :data:`RETENTION_SECONDS` ago,
which nothing changes any more. The sweep runs on every write, so the hash stays as small as the
silences of the last few days without a background job. Every silence made or ended is also
filed in the audit trail of each model it concerns (``driftwatch history``: a silence is how an
incident is acknowledged). Reads go through ``monitor/store/query.py``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec
import redis

from monitor.store.audit import AuditLog
from monitor.store.keys import Keys
from monitor.vocab.audit import concerned_models, silence_created, silence_expired
from monitor.vocab.silences import Silence

#: How long an expired silence stays listable (``silence list --expired``): Alertmanager's
#: ``--data.retention`` default, 120 h.
RETENTION_SECONDS = 120 * 3600

_decoder = msgspec.msgpack.Decoder(Silence)


class SilenceStore:
    """The silences of one deployment."""

    def __init__(
        self, client: redis.Redis, keys: Keys, trail: AuditLog, models: Sequence[str]
    ) -> None:
        """``trail`` and ``models``: where, and for which configured models, silences are
        filed."""
        self._redis = client
        self._keys = keys
        self._trail = trail
        self._models = list(models)

    def add(self, silence: Silence) -> None:
        """Store a new silence (the clock dates the sweep of old ones)."""
        self._write(silence, self._stored(), time.time())
        for model in concerned_models(silence, self._models):
            self._trail.append(silence_created(silence, model))

    def expire(self, silence_id: str, now: float, actor: str) -> Silence | None:
        """``actor`` ends the silence ``now`` if it has not ended yet (a pending one never
        starts); returns it as stored: unchanged if it had already expired, None if the id is
        unknown."""
        stored = self._stored()
        found = stored.get(silence_id)
        if found is None or found.state(now) == "expired":
            return found
        ended = msgspec.structs.replace(found, starts_at=min(found.starts_at, now), ends_at=now)
        self._write(ended, stored, now)
        for model in concerned_models(ended, self._models):
            self._trail.append(silence_expired(ended, model, now, actor))
        return ended

    def _stored(self) -> dict[str, Silence]:
        blobs = self._redis.hgetall(self._keys.silences)
        return {key.decode(): _decoder.decode(blob) for key, blob in blobs.items()}

    def _write(self, silence: Silence, stored: dict[str, Silence], now: float) -> None:
        """Set ``silence`` and drop those past retention, in one atomic step."""
        old = [sid for sid, s in stored.items() if s.ends_at + RETENTION_SECONDS <= now]
        pipe = self._redis.pipeline()
        pipe.hset(self._keys.silences, silence.id, msgspec.msgpack.encode(silence))
        if old:
            pipe.hdel(self._keys.silences, *old)
        pipe.execute()
