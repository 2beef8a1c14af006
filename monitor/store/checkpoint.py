"""Exactly-once effects on at-least-once Kafka: one Lua script per batch, epoch-fenced.

The protocol (design §2), numbered as in ``apply_batch.lua``:

0. On assignment an instance *claims* the partition: ``INCR`` its epoch key and keeps the value,
   then seeks the consumer to the offset stored in Redis (Kafka's committed offset is advisory).
1. Every batch passes the epoch; the script refuses a stale one, so an instance that lost the
   partition (paused, partitioned, a zombie) can never write the new owner's state.
2. If the stored next offset is beyond the batch's first offset, the batch was applied already:
   a replay after a crash changes nothing.
3. The late-label join was planned in Python from a snapshot of the pending records; the script
   checks the snapshot still holds, otherwise the caller plans again (optimistic concurrency,
   needed only when a prediction and its outcome arrive on two partitions at the same moment).
4. Counters, pending records and joined markers are applied.
5. Pending records past their label horizon are swept and counted, exactly once.
6. The next offset is stored — in the same atomic step as the effects.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from typing import Any

import msgspec
import redis

from monitor.errors import FencedError, StoreUnavailableError
from monitor.store.keys import Keys, PartitionKeys

log = logging.getLogger(__name__)

#: Pending records swept per script call at least: bounds one script's run time (Redis is
#: single-threaded). A batch sweeps twice its own size, so sweeping keeps pace with traffic.
SWEEP_MIN = 1000
EXPIRED_PREDICTIONS = "expired_predictions"
ORPHAN_OUTCOMES = "orphan_outcomes"

_SCRIPT = resources.files("monitor.store").joinpath("apply_batch.lua").read_text()


@dataclass(slots=True)
class Changes:
    """Everything one batch changes in Redis; built by the join and the statistics stages."""

    #: Join records a duplicate was judged on: (key, first byte it must still start with).
    expect: list[tuple[str, str]] = field(default_factory=list)
    incr: defaultdict[str, defaultdict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    fincr: defaultdict[str, defaultdict[str, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float))
    )
    hmax: defaultdict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    #: New pending join records (key, value), created only where no record exists (SET NX).
    put: list[tuple[str, str]] = field(default_factory=list)
    put_ttl_ms: int = 0
    #: (expiry bucket key, its end in ms) → members ("model<SEP>record key") it gains.
    expiry: defaultdict[tuple[str, int], list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    #: Join records that became pairs: (key, the waiting side 'P' or 'O' it must still hold);
    #: marked 'J' (TTL kept) so a repeated id is a duplicate.
    mark: list[tuple[str, str]] = field(default_factory=list)
    #: Sorted-set members to add or refresh: (key, score, member); idempotent across partitions.
    zadd: list[tuple[str, float, str]] = field(default_factory=list)
    #: Opaque binary state replaced whole (detectors): key → value.
    set: dict[str, bytes] = field(default_factory=dict)
    #: Retention: key → absolute expiry in ms (PEXPIREAT).
    expire_at: dict[str, int] = field(default_factory=dict)

    def maximum(self, key: str, name: str, value: float) -> None:
        current = self.hmax[key].get(name)
        if current is None or value > current:
            self.hmax[key][name] = value

    def encode(self, sweep: dict[str, object]) -> bytes:
        """The script's argument: MessagePack of flat lists, decoded by Redis' cmsgpack (which
        has no binary type: the values of ``set`` travel as arguments of their own)."""
        return msgspec.msgpack.encode(
            {
                "expect": _flat(self.expect),
                "incr": [[k, *_flat(v.items())] for k, v in self.incr.items()],
                "fincr": [[k, *_flat(v.items(), repr)] for k, v in self.fincr.items()],
                "hmax": [[k, *_flat(v.items(), repr)] for k, v in self.hmax.items()],
                "put": [self.put_ttl_ms, *_flat(self.put)],
                "expiry": [[k, end, *v] for (k, end), v in self.expiry.items()],
                "mark": _flat(self.mark),
                "zadd": self.zadd,
                "set": list(self.set),
                "expire_at": _flat(self.expire_at.items()),
                "sweep": sweep,
            }
        )


def _flat(
    pairs: Iterable[tuple[object, Any]], fmt: Callable[[Any], object] | None = None
) -> list[object]:
    """``[(a, 1), (b, 2)]`` → ``[a, 1, b, 2]`` (values through ``fmt``: floats as exact text)."""
    out: list[object] = []
    for name, value in pairs:
        out.append(name)
        out.append(value if fmt is None else fmt(value))
    return out


class Status(Enum):
    APPLIED = 1
    ALREADY_APPLIED = 0
    CONFLICT = -2


@dataclass(frozen=True, slots=True)
class Claim:
    """This instance's ownership of one partition: the epoch it must present."""

    topic: str
    partition: int
    epoch: int
    next_offset: int | None
    keys: PartitionKeys


@dataclass(frozen=True, slots=True)
class ApplyResult:
    status: Status
    expired_predictions: int = 0
    orphan_outcomes: int = 0


class Checkpoint:
    """Claims partitions and applies batches; the only writer of per-partition state."""

    def __init__(self, client: redis.Redis, keys: Keys, group: str) -> None:
        self._redis = client
        self._keys = keys
        self._group = group
        self._script = client.register_script(_SCRIPT)

    def claim(self, topic: str, partition: int) -> Claim:
        """Step 0: take ownership with a new epoch and read where to resume."""
        tag = self._keys.tag(self._group, topic, partition)
        pkeys = self._keys.partition(tag)
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.incr(pkeys.epoch)
            pipe.get(pkeys.offset)
            pipe.sadd(self._keys.parts, tag)
            epoch, offset, _ = pipe.execute()
        except redis.RedisError as exc:
            raise _unavailable(f"claiming {topic}[{partition}]", exc) from exc
        return Claim(topic, partition, int(epoch), None if offset is None else int(offset), pkeys)

    def apply(
        self,
        claim: Claim,
        first_offset: int,
        next_offset: int,
        changes: Changes,
        now_ms: int,
    ) -> ApplyResult:
        """Steps 1–6 for one batch; ``first_offset=-1`` only sweeps (idle partitions).

        Raises :class:`FencedError` when a newer owner holds the partition and
        :class:`StoreUnavailableError` when Redis cannot be reached (nothing was applied, or the
        whole batch was: the caller retries and step 2 makes the retry safe) or refuses writes
        (at its ``maxmemory``, or a read-only replica). A refusal comes at the script's first
        write, before any effect (Redis lets a script that has written go on), so nothing of the
        batch was applied.
        """
        pkeys = claim.keys
        sweep = {
            "now": now_ms,
            "limit": max(SWEEP_MIN, 2 * len(changes.put)),
            "counters": pkeys.counters_prefix,
            "fields": [EXPIRED_PREDICTIONS, ORPHAN_OUTCOMES],
        }
        try:
            reply = self._script(
                keys=[pkeys.offset, pkeys.epoch, pkeys.expiry_index],
                args=[
                    claim.epoch,
                    first_offset,
                    next_offset,
                    changes.encode(sweep),
                    *changes.set.values(),
                ],
            )
        except (
            redis.ConnectionError,
            redis.TimeoutError,
            redis.exceptions.OutOfMemoryError,
            redis.exceptions.ReadOnlyError,
        ) as exc:
            raise _unavailable(f"applying batch of {pkeys.tag}", exc) from exc
        status = int(reply[0])
        if status == -1:
            raise FencedError(
                f"{claim.topic}[{claim.partition}] is owned by a newer epoch than {claim.epoch}"
            )
        if status == Status.CONFLICT.value:
            log.debug("join snapshot changed at %s; replanning", reply[3])
        return ApplyResult(Status(status), int(reply[1]), int(reply[2]))


def _unavailable(action: str, exc: redis.RedisError) -> StoreUnavailableError:
    """The outage to wait out, saying what to do when waiting alone will not end it."""
    hint = ""
    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        hint = (
            "; Redis is at its maxmemory: raise it, or shorten ingest.label_horizon_seconds "
            "(memory budget in docs/operations.md)"
        )
    elif isinstance(exc, redis.exceptions.ReadOnlyError):
        hint = "; this Redis is a read-only replica: point redis.url at the primary"
    return StoreUnavailableError(f"{action}: {exc}{hint}")
