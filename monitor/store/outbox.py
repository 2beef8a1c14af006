"""The dead-letter outbox: dead letters wait in Redis until the dead-letter topic acknowledged them.

A batch's dead letters are written by its checkpoint script, in the same atomic step as its
counters and offset (``apply_batch.lua``), and published to Kafka only after the script applied
the batch. So the dead-letter topic receives exactly the dead letters of batches that were
applied: never those of an attempt that was refused (a replay, a fenced or revoked instance, a
join re-plan), which is what keeps it equal to the ``dead`` counters. Published letters are then
removed from the outbox; a crash or an outage in between leaves them there, and the partition's
next owner (or the next attempt) publishes them again — so the topic can hold a letter twice, with
the same source topic, partition and offset headers, never zero times.

One hash per input partition: field = source offset, value = the letter as MessagePack.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import msgspec
import redis

from monitor.store.client import unavailable
from monitor.store.keys import PartitionKeys
from monitor.vocab.deadletter import DeadLetter

log = logging.getLogger(__name__)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(DeadLetter)


def encode(letter: DeadLetter) -> bytes:
    """The stored form of a dead letter (its bytes travel as MessagePack binary, unchanged)."""
    return _encoder.encode(letter)


class Outbox:
    """Reads and clears one partition's unpublished dead letters."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def pending(self, pkeys: PartitionKeys) -> list[DeadLetter]:
        """Every letter still waiting, in offset order; unreadable entries are skipped.

        An entry that does not decode was not written by Driftwatch (the outbox is written only by
        the checkpoint script); it is dropped rather than published or trusted.
        """
        try:
            entries = self._redis.hgetall(pkeys.outbox)
        except redis.RedisError as exc:
            raise unavailable(f"reading the dead-letter outbox of {pkeys.tag}", exc) from exc
        letters, foreign = [], []
        for field, blob in entries.items():
            try:
                letters.append(_decoder.decode(blob))
            except msgspec.DecodeError:
                foreign.append(field)
        if foreign:
            log.warning("dropping %d unreadable outbox entries of %s", len(foreign), pkeys.tag)
            self.remove(pkeys, foreign)
        return sorted(letters, key=lambda letter: letter.offset)

    def remove(self, pkeys: PartitionKeys, offsets: Iterable[int | bytes]) -> None:
        """Forget letters the dead-letter topic acknowledged (by offset, or raw field)."""
        fields = list(offsets)
        if not fields:
            return
        try:
            self._redis.hdel(pkeys.outbox, *fields)
        except redis.RedisError as exc:
            raise unavailable(f"clearing the dead-letter outbox of {pkeys.tag}", exc) from exc
