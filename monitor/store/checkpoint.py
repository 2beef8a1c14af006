"""Exactly-once effects on at-least-once Kafka: one Lua script per batch, epoch-fenced.

The protocol (design §2), numbered as in ``claim.lua`` and ``apply_batch.lua``:

0. On assignment an instance *claims* the partition: a new epoch (above every earlier one, also
   after Redis lost writes), the stored next offset to seek to (Kafka's committed offset is
   advisory), and the number of dead letters still waiting in its outbox.
1. Every batch presents its epoch. A newer stored epoch means another owner: the batch is refused
   and the instance drops the partition (a zombie never writes). An *older* stored epoch means
   Redis lost the claim (restored from an older copy): the instance must claim again.
2. A batch declares the offsets it covers, ``[first, next)``, where ``first`` is the partition's
   position (the previous batch's ``next``, or the claimed offset), so offsets Kafka skips
   (compaction, transaction markers) never look like a gap. The script accepts exactly the next
   records: ``first`` equal to the stored offset (or, for a partition with no checkpoint at its
   claim, anything while none is stored). Otherwise it applies nothing and reports the stored
   offset: wholly behind it (already applied), straddling it (overlap), or ahead of it (a gap:
   Redis lost acknowledged writes). The caller claims the partition again, which seeks to the
   stored offset; Kafka still holds the records, so nothing is lost and nothing counts twice.
3. Everything is validated before the first write (float sums stay finite), so a batch applies
   whole or not at all.
4. The late-label join was planned in Python from a snapshot of the pending records; the script
   checks the snapshot still holds, otherwise the caller plans again (optimistic concurrency,
   needed only when a prediction and its outcome arrive on two partitions at the same moment).
5. Counters, pending records, joined markers, detector state and the batch's dead letters (into
   the outbox, ``monitor/store/outbox.py``) are applied.
6. Pending records past their label horizon are swept and counted, exactly once.
7. The next offset is stored — in the same atomic step as the effects.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from typing import Any

import msgspec
import redis

from monitor.errors import FencedError
from monitor.events import DeadLetter
from monitor.store.client import is_outage, unavailable
from monitor.store.keys import Keys, PartitionKeys
from monitor.store.outbox import encode as encode_letter

log = logging.getLogger(__name__)

#: Pending records swept per script call at least: bounds one script's run time (Redis is
#: single-threaded). A batch sweeps twice its own size, so sweeping keeps pace with traffic.
SWEEP_MIN = 1000
EXPIRED_PREDICTIONS = "expired_predictions"
ORPHAN_OUTCOMES = "orphan_outcomes"

_SCRIPTS = resources.files("monitor.store")
_APPLY = _SCRIPTS.joinpath("apply_batch.lua").read_text()
_CLAIM = _SCRIPTS.joinpath("claim.lua").read_text()


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

    def encode(self, sweep: dict[str, object], dead: Iterable[int]) -> bytes:
        """The script's argument: MessagePack of flat lists, decoded by Redis' cmsgpack (which
        has no binary type: the values of ``set`` and the dead letters, at offsets ``dead``,
        travel as arguments of their own)."""
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
                "dead": [str(offset) for offset in dead],
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
    """What the script did with a batch (a stale epoch raises :class:`FencedError` instead)."""

    #: Applied, offset advanced.
    APPLIED = 1
    #: Every record lies behind the stored offset: applied before (a retry, a replay).
    ALREADY_APPLIED = 0
    #: The stored offset lies inside the batch: another writer applied part of it.
    OVERLAP = 2
    #: The stored offset lies before the batch: Redis lost acknowledged writes.
    GAP = 3
    #: The stored epoch is older than the claim's: Redis lost the claim itself.
    CLAIM_LOST = 4
    #: The join snapshot changed: plan the batch again.
    CONFLICT = -2
    #: A value would make a stored sum non-finite; nothing was written.
    INVALID = -3

    @property
    def in_step(self) -> bool:
        """False when the partition's position disagrees with Redis: claim it again."""
        return self not in (Status.OVERLAP, Status.GAP, Status.CLAIM_LOST)


@dataclass(frozen=True, slots=True)
class Claim:
    """This instance's ownership of one partition: the epoch it must present."""

    topic: str
    partition: int
    epoch: int
    next_offset: int | None
    keys: PartitionKeys
    #: Dead letters of applied batches not yet acknowledged by the dead-letter topic.
    outbox: int = 0


@dataclass(frozen=True, slots=True)
class ApplyResult:
    status: Status
    #: The partition's stored next offset after the call (None: it has none).
    stored_offset: int | None = None
    expired_predictions: int = 0
    orphan_outcomes: int = 0
    #: The conflicting key (CONFLICT) or the sum that would overflow (INVALID).
    detail: str = ""


class Checkpoint:
    """Claims partitions and applies batches; the only writer of per-partition state."""

    def __init__(self, client: redis.Redis, keys: Keys, group: str) -> None:
        self._redis = client
        self._keys = keys
        self._group = group
        self._apply = client.register_script(_APPLY)
        self._claim = client.register_script(_CLAIM)

    def claim(self, topic: str, partition: int) -> Claim:
        """Step 0: take ownership with a new epoch and read where to resume."""
        tag = self._keys.tag(self._group, topic, partition)
        pkeys = self._keys.partition(tag)
        try:
            epoch, offset, outbox = self._claim(
                keys=[pkeys.epoch, pkeys.offset, self._keys.parts, pkeys.outbox], args=[tag]
            )
        except redis.RedisError as exc:
            raise unavailable(f"claiming {topic}[{partition}]", exc) from exc
        return Claim(
            topic,
            partition,
            int(epoch),
            None if offset is None else int(offset),
            pkeys,
            int(outbox),
        )

    def apply(
        self,
        claim: Claim,
        first_offset: int,
        next_offset: int,
        changes: Changes,
        now_ms: int,
        *,
        fresh: bool = False,
        dead: Sequence[DeadLetter] = (),
    ) -> ApplyResult:
        """Steps 1–7 for the batch ``[first_offset, next_offset)``; ``first_offset=-1`` only
        sweeps (idle partitions). ``fresh``: the partition had no checkpoint at its claim and
        none was applied since, so the batch may start at any offset while none is stored.
        ``dead``: the batch's dead letters, stored in the outbox with the batch.

        Raises :class:`FencedError` when a newer owner holds the partition and
        :class:`StoreUnavailableError` when Redis cannot be reached (nothing was applied, or the
        whole batch was: a retry of the same batch then reports ``ALREADY_APPLIED``) or refuses
        writes (at its ``maxmemory``, or a read-only replica). A refusal comes at the script's
        first write, before any effect (Redis lets a script that has written go on), so nothing
        of the batch was applied.
        """
        pkeys = claim.keys
        sweep = {
            "now": now_ms,
            "limit": max(SWEEP_MIN, 2 * len(changes.put)),
            "counters": pkeys.counters_prefix,
            "fields": [EXPIRED_PREDICTIONS, ORPHAN_OUTCOMES],
        }
        try:
            reply = self._apply(
                keys=[pkeys.offset, pkeys.epoch, pkeys.expiry_index, pkeys.outbox],
                args=[
                    claim.epoch,
                    first_offset,
                    next_offset,
                    "1" if fresh else "0",
                    changes.encode(sweep, (d.offset for d in dead)),
                    *changes.set.values(),
                    *map(encode_letter, dead),
                ],
            )
        except redis.RedisError as exc:
            if not is_outage(exc):
                raise  # an error of this batch's content: the loop isolates it
            raise unavailable(f"applying batch of {pkeys.tag}", exc) from exc
        code, stored, expired, orphans, detail = reply
        if code == -1:
            raise FencedError(
                f"{claim.topic}[{claim.partition}] is owned by a newer epoch than {claim.epoch}"
            )
        status = Status(int(code))
        if status is Status.CONFLICT:
            log.debug("join snapshot changed at %s; replanning", detail)
        return ApplyResult(
            status,
            None if int(stored) < 0 else int(stored),
            int(expired),
            int(orphans),
            detail.decode() if isinstance(detail, bytes) else str(detail),
        )
