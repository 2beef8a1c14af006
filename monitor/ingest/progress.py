"""Kafka's view of this instance's progress: advisory offset commits and the lag gauges.

Redis holds the checkpoint; Kafka's committed offsets are only a copy, so lag tools (and the
``driftwatch_consumer_lag_records`` gauge) see progress. They are never read back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError

from monitor.ingest.partition import Owned
from monitor.metrics import Metrics

log = logging.getLogger(__name__)


class Progress:
    """Reports the applied positions of the partitions this instance owns."""

    def __init__(self, consumer: KafkaConsumer, metrics: Metrics) -> None:
        self._consumer = consumer
        self._metrics = metrics

    def commit(self, owned: Mapping[TopicPartition, Owned], *, sync: bool) -> None:
        """Copy Redis checkpoints to Kafka so lag tools see progress (never read back)."""
        offsets = {
            tp: OffsetAndMetadata(p.position, "", -1)
            for tp, p in owned.items()
            if p.position is not None
        }
        if not offsets:
            return
        try:
            if sync:
                self._consumer.commit(offsets)
            else:
                self._consumer.commit_async(offsets)
        except KafkaError as exc:
            log.info("advisory offset commit failed (%s); Redis holds the checkpoint", exc)

    def forget(self, tp: TopicPartition) -> None:
        """Stop reporting a partition that moved to another instance: its owner reports it now,
        and a stale value here would add lag that does not exist (every rolling update would
        look like a growing backlog)."""
        self._metrics.consumer_lag.remove(tp.topic, str(tp.partition))  # a no-op if unreported

    def update_lag(self, owned: Mapping[TopicPartition, Owned]) -> None:
        """Lag counts from the applied offset: fetched records still queued are not done."""
        for tp, p in owned.items():
            try:
                high = self._consumer.highwater(tp)
                applied = p.position
                if applied is None:
                    applied = self._consumer.position(tp, timeout_ms=0)
            except KafkaError:
                continue
            if high is not None and applied is not None:
                self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(high - applied)
