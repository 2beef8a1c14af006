"""Reference profiles in Redis: a version history per model and a current pointer.

A profile is computed once (``driftwatch baseline set``) and reused by every window; windows record
the reference version they were binned on, so switching references never mixes incomparable
counts. Daemons read the current version through :class:`ReferenceCache`, which refreshes it on a
timer instead of asking Redis per batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import msgspec
import redis

from monitor.errors import StoreUnavailableError
from monitor.store.keys import Keys
from monitor.vocab.profile import ReferenceProfile

#: How stale a daemon's view of the current references may get: a new baseline is picked up
#: within this delay by every instance.
REFRESH_SECONDS = 15.0

_decoder = msgspec.msgpack.Decoder(ReferenceProfile)


class ReferenceStore:
    """Reads and writes reference profiles."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def put(self, profile: ReferenceProfile) -> None:
        """Store ``profile`` and make it the model's current reference, atomically."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(
            self._keys.reference(profile.model, profile.version), msgspec.msgpack.encode(profile)
        )
        pipe.zadd(self._keys.references(profile.model), {profile.version: profile.created_at})
        pipe.set(self._keys.current_reference(profile.model), profile.version)
        pipe.execute()

    def get(self, model: str, version: str) -> ReferenceProfile | None:
        blob = self._redis.get(self._keys.reference(model, version))
        return None if blob is None else _decoder.decode(blob)

    def current_versions(self, models: Iterable[str]) -> dict[str, str | None]:
        names = list(models)
        values = self._redis.mget([self._keys.current_reference(m) for m in names]) if names else []
        return {
            m: (v.decode() if v is not None else None) for m, v in zip(names, values, strict=True)
        }

    def current(self, model: str) -> ReferenceProfile | None:
        version = self.current_versions([model])[model]
        return None if version is None else self.get(model, version)

    def history(self, model: str) -> list[tuple[str, float]]:
        """(version, created at) pairs, oldest first."""
        rows = self._redis.zrange(self._keys.references(model), 0, -1, withscores=True)
        return [(v.decode(), score) for v, score in rows]


class ReferenceCache:
    """The current reference of each model, as seen by one daemon; thread-safe."""

    def __init__(
        self,
        store: ReferenceStore,
        models: Iterable[str],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._models = list(models)
        self._clock = clock
        self._lock = threading.Lock()
        self._profiles: dict[str, ReferenceProfile | None] = {}
        self._loaded_at = float("-inf")

    def current(self, model: str) -> ReferenceProfile | None:
        """The model's current reference, refreshed when older than :data:`REFRESH_SECONDS`."""
        with self._lock:
            if self._clock() - self._loaded_at >= REFRESH_SECONDS:
                self._refresh()
            return self._profiles.get(model)

    def _refresh(self) -> None:
        try:
            versions = self._store.current_versions(self._models)
            for model, version in versions.items():
                held = self._profiles.get(model)
                if version is None:
                    self._profiles[model] = None
                elif held is None or held.version != version:
                    self._profiles[model] = self._store.get(model, version)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailableError(f"reading reference profiles: {exc}") from exc
        self._loaded_at = self._clock()
