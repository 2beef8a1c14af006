"""One partition batch, from raw records to its atomic checkpoint.

The stages run in the one direction of the data path::

    decode + validate → join plan → counters and window increments → dead letters → checkpoint

Dead letters are produced before the checkpoint (a crash repeats them, never loses them). When the
checkpoint reports a join conflict the batch is planned again from a fresh snapshot, keeping the
dead-letter decisions already published so the dead-letter topic and the counters agree.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import redis

from monitor.config import Settings
from monitor.errors import DriftwatchError, StoreUnavailableError
from monitor.events import (
    DeadLetter,
    Decoder,
    InvalidReason,
    Outcome,
    Prediction,
    Record,
    by_model,
)
from monitor.ingest.deadletter import DeadLetterSink
from monitor.join import Joiner, JoinPlan
from monitor.runtime.metrics import Metrics
from monitor.stats.counters import count_batch
from monitor.stats.detectors import DetectorBank
from monitor.stats.window import WindowAggregator
from monitor.store.checkpoint import ApplyResult, Changes, Checkpoint, Claim, Status
from monitor.store.keys import Keys
from monitor.store.references import ReferenceCache, ReferenceStore

log = logging.getLogger(__name__)

#: Join conflicts need a prediction and its outcome to land in the same few milliseconds on two
#: instances; more than a handful in a row means something else is wrong.
MAX_CONFLICT_RETRIES = 20

Kind = Literal["prediction", "outcome"]


@dataclass(frozen=True, slots=True)
class BatchResult:
    status: Status
    n_valid: int
    n_dead: int
    n_pairs: int


class BatchProcessor:
    """Processes batches of one daemon; stateless between batches (all state is in Redis)."""

    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        sink: DeadLetterSink,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        keys = Keys(settings.redis.key_prefix)
        self.checkpoint = Checkpoint(client, keys, settings.kafka.group_id)
        self.references = ReferenceCache(
            ReferenceStore(client, keys), [m.name for m in settings.models]
        )
        self._windows = WindowAggregator(settings, keys, self.references.current)
        self.detectors = DetectorBank(settings, keys, self.references.current, self._read)
        self._redis = client
        self._joiner = Joiner(client, keys, settings.ingest.label_horizon_seconds)
        self._decoder = Decoder(settings, clock=clock)
        self._sink = sink
        self._metrics = metrics
        self._clock = clock
        #: Partitions whose predictions are planned from a snapshot (outcomes came first there).
        self._snapshot_first: set[str] = set()
        self._kinds: dict[str, Kind] = {
            settings.kafka.predictions_topic: "prediction",
            settings.kafka.outcomes_topic: "outcome",
        }

    def kind(self, topic: str) -> Kind:
        return self._kinds[topic]

    def process(self, claim: Claim, records: Sequence[Record]) -> BatchResult:
        """Apply one batch exactly once; raises the errors of :meth:`Checkpoint.apply`."""
        started = time.perf_counter()
        kind = self.kind(claim.topic)
        decode = self._decoder.predictions if kind == "prediction" else self._decoder.outcomes
        valid, dead = decode(records)
        published: dict[int, DeadLetter] = {}
        for attempt in range(MAX_CONFLICT_RETRIES):
            now_ms = int(self._clock() * 1000)
            accepted = [e for e in valid if e.offset not in published] if published else valid
            snapshot = attempt > 0 or claim.keys.tag in self._snapshot_first
            changes, plan, counted, letters = self._stages(
                kind, claim, records, accepted, [*dead, *published.values()], now_ms, snapshot
            )
            fresh = [d for d in letters if d.offset not in published]
            self._sink.send(claim.topic, claim.partition, fresh)
            published.update((d.offset, d) for d in fresh)
            written = time.perf_counter()
            result = self.checkpoint.apply(
                claim, records[0][0], records[-1][0] + 1, changes, now_ms
            )
            self._metrics.redis_write.observe(time.perf_counter() - written)
            if result.status is Status.APPLIED:
                self.detectors.committed(changes)
            if result.status is not Status.CONFLICT:
                self._learn_order(claim, kind, snapshot, plan)
                break
            self._metrics.batches.labels("conflict").inc()
        else:
            raise DriftwatchError(
                f"{claim.topic}[{claim.partition}]: join kept conflicting after "
                f"{MAX_CONFLICT_RETRIES} attempts; check for two deployments sharing a key prefix"
            )
        self._observe(kind, result, counted, letters, plan)
        self._metrics.batch_duration.observe(time.perf_counter() - started)
        return BatchResult(result.status, len(counted), len(letters), len(plan.pairs))

    def _stages(
        self,
        kind: Kind,
        claim: Claim,
        records: Sequence[Record],
        accepted: Sequence[Prediction] | Sequence[Outcome],
        dead: Sequence[DeadLetter],
        now_ms: int,
        snapshot: bool,
    ) -> tuple[Changes, JoinPlan, list[Any], list[DeadLetter]]:
        """Join, counters, windows, detectors: everything the batch changes, not yet applied."""
        changes = Changes()
        if kind == "prediction":
            plan = self._joiner.plan_predictions(
                accepted,
                claim.keys,
                changes,
                now_ms,
                snapshot=snapshot,  # type: ignore[arg-type]
            )
        else:
            plan = self._joiner.plan_outcomes(accepted, claim.keys, changes, now_ms)  # type: ignore[arg-type]
        duplicates = [
            DeadLetter(e.offset, InvalidReason.DUPLICATE_ID, f"id {e.id[:64]!r} seen before",
                       e.model, *_raw(records, e.offset))
            for e in plan.duplicates
        ]  # fmt: skip
        letters = list({d.offset: d for d in (*dead, *duplicates)}.values())
        if plan.duplicates:
            dup_offsets = {e.offset for e in plan.duplicates}
            counted = [e for e in accepted if e.offset not in dup_offsets]
        else:
            counted = list(accepted)
        count_batch(changes, claim.keys, counted, letters, plan.pairs)
        if kind == "prediction":
            self._windows.predictions(changes, claim.keys, counted, now_ms)
            self.detectors.predictions(changes, claim.keys, counted)
        self._windows.pairs(changes, claim.keys, plan.pairs, now_ms)
        self._windows.dead_letters(changes, claim.keys, letters, now_ms)
        self.detectors.pairs(changes, claim.keys, plan.pairs)
        return changes, plan, counted, letters

    def _read(self, keys: list[str]) -> list[bytes | None]:
        try:
            return self._redis.mget(keys)  # type: ignore[no-any-return]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailableError(f"reading detector state: {exc}") from exc

    def sweep(self, claim: Claim) -> ApplyResult:
        """Expire pending records of an idle partition (no records, no offset change)."""
        result = self.checkpoint.apply(claim, -1, -1, Changes(), int(self._clock() * 1000))
        self._count_expired(result)
        return result

    def _learn_order(self, claim: Claim, kind: Kind, snapshot: bool, plan: JoinPlan) -> None:
        """Plan a partition's predictions without reading join records while that works: after
        a conflict (an outcome came first) read them up front until a snapshot finds none."""
        if kind != "prediction" or not snapshot:
            return
        if plan.found:
            self._snapshot_first.add(claim.keys.tag)
        else:
            self._snapshot_first.discard(claim.keys.tag)

    def _observe(
        self,
        kind: Kind,
        result: ApplyResult,
        counted: Sequence[Prediction | Outcome],
        letters: Sequence[DeadLetter],
        plan: JoinPlan,
    ) -> None:
        """Prometheus counters follow Redis: a replayed batch is not counted again."""
        if result.status is Status.ALREADY_APPLIED:
            self._metrics.batches.labels("replayed").inc()
            return
        self._metrics.batches.labels("applied").inc()
        self._count_expired(result)
        for model, events in by_model(counted).items():
            self._metrics.events.labels(kind, model, "valid").inc(len(events))
        for letter in letters:
            self._metrics.events.labels(kind, letter.model, "dead").inc()
            self._metrics.dead_letters.labels(letter.model, letter.reason.value).inc()
        for model, pairs in by_model(plan.pairs).items():
            self._metrics.joined.labels(model).inc(len(pairs))

    def _count_expired(self, result: ApplyResult) -> None:
        if result.expired_predictions:
            self._metrics.expired.labels("prediction").inc(result.expired_predictions)
        if result.orphan_outcomes:
            self._metrics.expired.labels("outcome").inc(result.orphan_outcomes)


def _raw(records: Sequence[Record], offset: int) -> tuple[bytes | None, bytes | None]:
    """The original key and value of the record at ``offset`` (duplicates are rare)."""
    for record_offset, key, value in records:
        if record_offset == offset:
            return key, value
    raise KeyError(offset)
