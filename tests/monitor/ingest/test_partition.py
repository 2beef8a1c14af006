"""One owned partition: records enter once, in order, and a resume point Kafka lost is said."""

from __future__ import annotations

import dataclasses
from typing import Any

import redis

from monitor.ingest.partition import Owned
from monitor.store.checkpoint import Checkpoint
from monitor.store.keys import Keys
from tests.monitor.ingest.conftest import PREDICTIONS, Message


def test_kafka_not_holding_the_resume_offset_is_said(
    caplog: Any, redis_client: redis.Redis, key_prefix: str
) -> None:
    """The first records fetched after a claim start where Redis said, one offset later (a
    transaction marker), or the operator is told what Kafka no longer holds. (Records before it
    are ones already held: a log that lost records never delivers them, the consumer raises -
    ``test_consumer.py::test_kafka_losing_applied_records_rewinds_redis_and_counts_the_new_ones``.)"""
    claim = Checkpoint(redis_client, Keys(key_prefix), "g").claim(PREDICTIONS, 0)
    cases = ((100, 100, None), (100, 101, None), (None, 7, None), (100, 250, "deleted"),
             (100, 0, None))  # fmt: skip
    with caplog.at_level("WARNING", logger="monitor.ingest.partition"):
        for resume, first, gap in cases:
            partition = Owned.claimed(dataclasses.replace(claim, next_offset=resume))
            messages = [Message(first, None, b"{}"), Message(first + 1, None, b"{}")]
            assert partition.fetch(messages, 0.0) == gap
            assert [o for o, _, _ in partition.queued] == [
                o for o in (first, first + 1) if resume is None or o >= resume
            ]
            assert partition.fetch([Message(first + 2, None, b"{}")], 0.0) is None  # said once
    (warning,) = (r.getMessage() for r in caplog.records)
    assert "no longer holds offsets 100..249" in warning
