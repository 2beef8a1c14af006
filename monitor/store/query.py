"""The one read API over Driftwatch's state: the CLI, alerting and the dashboard all use it.

Per-partition aggregates are merged here, at read time (design §2.5): nothing ever
read-modify-writes a total shared by two partitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from monitor.config import ModelSettings, Settings
from monitor.events import UNKNOWN_MODEL
from monitor.stats.counters import IngestCounts
from monitor.store.keys import Keys


@dataclass(frozen=True, slots=True)
class ModelIngest:
    """A configured model and its ingestion totals."""

    model: ModelSettings
    counts: IngestCounts


class Query:
    """Reads one deployment's state (one key prefix and consumer group)."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self._redis = client
        self._settings = settings
        self._keys = Keys(settings.redis.key_prefix)

    def partition_tags(self) -> list[str]:
        """Tags of the partitions this deployment's consumer group has claimed."""
        mine = f"{{{self._settings.kafka.group_id}:"
        tags = (t.decode() for t in self._redis.smembers(self._keys.parts))
        return sorted(t for t in tags if t.startswith(mine))

    def ingest(self, models: list[str] | None = None) -> list[ModelIngest]:
        """Ingestion totals of the configured models (or of ``models``), one round trip."""
        chosen = [m for m in self._settings.models if models is None or m.name in models]
        tags = self.partition_tags()
        pipe = self._redis.pipeline(transaction=False)
        for model in chosen:
            for tag in tags:
                pipe.hgetall(self._keys.partition(tag).counters(model.name))
        replies = pipe.execute()
        out = []
        for i, model in enumerate(chosen):
            hashes = replies[i * len(tags) : (i + 1) * len(tags)]
            out.append(ModelIngest(model, IngestCounts.merge(hashes)))
        return out

    def unknown_model_counts(self) -> IngestCounts:
        """Dead letters whose model could not be read or is not configured."""
        pipe = self._redis.pipeline(transaction=False)
        for tag in self.partition_tags():
            pipe.hgetall(self._keys.partition(tag).counters(UNKNOWN_MODEL))
        return IngestCounts.merge(pipe.execute())
