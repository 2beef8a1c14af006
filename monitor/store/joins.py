"""Reads the late-label join's records: the snapshot a batch's join is planned on.

The join (``monitor/join.py``) asks by (model, id); the keys are named here, and the checkpoint
script re-checks every record the plan relies on as it writes it.
"""

from __future__ import annotations

from typing import cast

import redis

from monitor.store.client import is_outage, unavailable
from monitor.store.keys import Keys


class JoinRecords:
    """The join records of one deployment (one key prefix)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def read(self, ids: list[tuple[str, str]]) -> list[bytes | None]:
        """Each (model, id)'s record as it is now, in one ``MGET`` (None: there is none)."""
        try:
            keys = self._keys.join_records(ids)
            return cast(list[bytes | None], self._redis.mget(keys))  # no decode_responses
        except redis.RedisError as exc:
            if not is_outage(exc):
                raise
            raise unavailable("reading pending joins", exc) from exc
