"""Exactly-once effects on at-least-once Kafka: one Lua script per batch, epoch-fenced.

The protocol (design §2), numbered as in ``claim.lua`` and ``apply_batch.lua``:

0. On assignment an instance *claims* the partition: a new epoch (above every earlier one, also
   after Redis lost writes), the stored next offset to seek to (Kafka's committed offset is
   advisory), and the number of dead letters still waiting in its outbox. A claim may also
   *rewind* the stored offset, when Kafka lost records that were applied (its log now ends or
   diverges before the stored offset, and the records it writes from there on are new ones):
   only if no other claim came between, and only backwards.
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from typing import Any, cast

import msgspec
import redis

from monitor.config import WindowSettings
from monitor.errors import FencedError
from monitor.store.client import is_outage, unavailable
from monitor.store.keys import MEMBER_SEP, Keys, PartitionKeys
from monitor.store.outbox import encode as encode_letter
from monitor.vocab.deadletter import DeadLetter
from monitor.vocab.effects import EXPIRED_PREDICTIONS, ORPHAN_OUTCOMES, Effects

log = logging.getLogger(__name__)

#: Pending records swept per script call at least: bounds one script's run time (Redis is
#: single-threaded). A batch sweeps twice its own size, so sweeping keeps pace with traffic.
SWEEP_MIN = 1000

_SCRIPTS = resources.files("monitor.store")
_APPLY = _SCRIPTS.joinpath("apply_batch.lua").read_text()
_CLAIM = _SCRIPTS.joinpath("claim.lua").read_text()


def _argument(
    effects: Effects,
    keys: Keys,
    pkeys: PartitionKeys,
    now_ms: int,
    retention_ms: int,
    sweep: dict[str, object],
    dead: Iterable[int],
) -> tuple[bytes, list[bytes]]:
    """The script's argument for ``effects`` — MessagePack of flat lists, decoded by Redis'
    cmsgpack — and the binary values that travel as arguments of their own (cmsgpack has no
    binary type): detector states, in the order of the argument's ``set``."""
    incr = [[pkeys.counters(m), *_flat(v.items())] for m, v in effects.counters.items()]
    fincr = [[pkeys.counters(m), *_flat(v.items(), repr)] for m, v in effects.counter_sums.items()]
    hmax = [[pkeys.counters(m), *_flat(v.items(), repr)] for m, v in effects.counter_max.items()]
    zadd: list[tuple[str, float, str]] = []
    expire_at: list[object] = []
    for (model, wid), delta in effects.windows.items():
        key = pkeys.window(model, wid)
        if delta.counts:
            incr.append([key, *_flat(delta.counts.items())])
        if delta.sums:
            fincr.append([key, *_flat(delta.sums.items(), repr)])
        expire_at += (key, now_ms + retention_ms)
        zadd.append((keys.window_index(model), delta.start, wid))
        zadd.append((keys.dirty, now_ms, f"{model}:{wid}"))
    for (model, start), reasons in effects.dead_letters.items():
        key = pkeys.dead_letters(model, start)
        incr.append([key, *_flat(reasons.items())])
        expire_at += (key, now_ms + retention_ms)
    for model, stream, ts in effects.change_points:
        zadd.append((keys.change_points(model), ts, f"{stream}|{ts:.3f}|{pkeys.tag}"))
    record = keys.join_record
    put: list[object] = [effects.join_ttl_ms]
    members: list[object] = []
    for model, event_id, value in effects.join_put:
        key = record(model, event_id)
        put += (key, value)
        members.append(model + MEMBER_SEP + key)
    bucket = effects.join_bucket_ms
    expiry = [[pkeys.expiry_bucket(bucket), bucket, *members]] if members else []
    detectors = list(effects.detectors.items())
    argument = msgspec.msgpack.encode(
        {
            "expect": [x for m, i, tag in effects.join_expect for x in (record(m, i), tag)],
            "incr": incr,
            "fincr": fincr,
            "hmax": hmax,
            "put": put,
            "expiry": expiry,
            "mark": [x for m, i, tag in effects.join_mark for x in (record(m, i), tag)],
            "zadd": zadd,
            "set": [pkeys.detector(model, stream) for (model, stream), _ in detectors],
            "expire_at": expire_at,
            "sweep": sweep,
            "dead": [str(offset) for offset in dead],
        }
    )
    return argument, [state for _, state in detectors]


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
    """What the script did with a batch; the values are the script's status codes."""

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
    #: A newer epoch owns the partition (:meth:`Checkpoint.apply` raises :class:`FencedError`).
    FENCED = -1
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
class Rewind:
    """Kafka's log of a partition diverges from what was applied at ``offset`` (an unclean
    leader election, a broker restored from an older copy): the records it holds from there on
    are new. Seen by the owner holding ``epoch``; the claim applies it only if that epoch is
    still the stored one, so an owner that claimed since (and may have applied the new records)
    is never rewound."""

    offset: int
    epoch: int


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

    def __init__(
        self, client: redis.Redis, keys: Keys, group: str, windows: WindowSettings | None = None
    ) -> None:
        """``windows``: how long windows and dead-letter counts are kept after their last write
        (the configuration's default when not given)."""
        self._redis = client
        self._keys = keys
        self._group = group
        self._retention_ms = (windows or WindowSettings()).retention_days * 86_400_000
        self._apply = client.register_script(_APPLY)
        self._claim = client.register_script(_CLAIM)

    def claim(self, topic: str, partition: int, rewind: Rewind | None = None) -> Claim:
        """Step 0: take ownership with a new epoch and read where to resume; with ``rewind``,
        first move the stored offset back to where Kafka's log diverged (see :class:`Rewind`)."""
        tag = self._keys.tag(self._group, topic, partition)
        pkeys = self._keys.partition(tag)
        args: list[object] = [tag]
        if rewind is not None:
            args += (rewind.offset, rewind.epoch)
        try:
            epoch, offset, outbox = self._claim(
                keys=[pkeys.epoch, pkeys.offset, self._keys.parts, pkeys.outbox], args=args
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

    def detector_state(self, partition: str, model: str, stream: str) -> bytes | None:
        """A partition's stored detector state of a model's stream (None: none yet)."""
        key = self._keys.partition(partition).detector(model, stream)
        try:
            state = cast(bytes | None, self._redis.get(key))  # a client without decode_responses
        except redis.RedisError as exc:
            if not is_outage(exc):
                raise
            raise unavailable("reading detector state", exc) from exc
        return state

    def apply(
        self,
        claim: Claim,
        first_offset: int,
        next_offset: int,
        effects: Effects,
        now_ms: int,
        *,
        fresh: bool = False,
        dead: Sequence[DeadLetter] = (),
    ) -> ApplyResult:
        """Steps 1–7 for the batch ``[first_offset, next_offset)``; an empty range only sweeps
        (an idle partition) after checking the offset, ``first_offset=-1`` sweeps unchecked (a
        partition with no position yet). ``fresh``: the partition had no checkpoint at its claim and
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
            "limit": max(SWEEP_MIN, 2 * len(effects.join_put)),
            "counters": pkeys.counters_prefix,
            "fields": [EXPIRED_PREDICTIONS, ORPHAN_OUTCOMES],
        }
        argument, states = _argument(
            effects,
            self._keys,
            pkeys,
            now_ms,
            self._retention_ms,
            sweep,
            (d.offset for d in dead),
        )
        try:
            reply = self._apply(
                keys=[pkeys.offset, pkeys.epoch, pkeys.expiry_index, pkeys.outbox],
                args=[
                    claim.epoch,
                    first_offset,
                    next_offset,
                    "1" if fresh else "0",
                    argument,
                    *states,
                    *map(encode_letter, dead),
                ],
            )
        except redis.RedisError as exc:
            if not is_outage(exc):
                raise  # an error of this batch's content: the loop isolates it
            raise unavailable(f"applying batch of {pkeys.tag}", exc) from exc
        code, stored, expired, orphans, detail = reply
        status = Status(int(code))
        if status is Status.FENCED:
            raise FencedError(
                f"{claim.topic}[{claim.partition}] is owned by a newer epoch than {claim.epoch}"
            )
        if status is Status.CONFLICT:
            log.debug("join snapshot changed at %s; replanning", detail)
        return ApplyResult(
            status,
            None if int(stored) < 0 else int(stored),
            int(expired),
            int(orphans),
            detail.decode() if isinstance(detail, bytes) else str(detail),
        )
