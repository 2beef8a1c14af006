"""Records partition assignment changes for the poll loop, and does nothing else.

kafka-python runs listener callbacks on its I/O loop, the one that also sends heartbeats: blocking
work there (a Redis round trip, a commit) can get the member kicked from the group. So the
callbacks only note what changed; the loop claims, seeks and drops partitions itself. Epoch
fencing covers the moment between a revocation and the loop noticing it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

from kafka import ConsumerRebalanceListener, TopicPartition


@dataclass(frozen=True, slots=True)
class Change:
    action: Literal["assign", "revoke"]
    partitions: tuple[TopicPartition, ...]


class RebalanceLog(ConsumerRebalanceListener):
    """A thread-safe queue of assignment changes, drained by the loop in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changes: list[Change] = []

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self._add("revoke", revoked)

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._add("assign", assigned)

    def on_partitions_lost(self, lost: list[TopicPartition]) -> None:
        self._add("revoke", lost)

    def drain(self) -> list[Change]:
        with self._lock:
            changes, self._changes = self._changes, []
        return changes

    def _add(self, action: Literal["assign", "revoke"], partitions: list[TopicPartition]) -> None:
        if partitions or action == "assign":  # an empty assignment still means "joined"
            with self._lock:
                self._changes.append(Change(action, tuple(partitions)))
