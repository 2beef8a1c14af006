"""One partition batch, from raw records to its atomic checkpoint, then its dead letters.

The stages run in the one direction of the data path (``monitor/ingest/stages.py``)::

    decode + validate → join plan → counters and windows → detectors → checkpoint → dead letters

The checkpoint script stores the batch's dead letters in the partition's outbox together with its
counters and offset; only once it reports the batch applied are they published, then removed from
the outbox. A refused attempt (a fenced instance, a join re-plan, an offset that disagrees)
therefore publishes nothing, and a letter whose publication failed, or whose batch was applied by
an attempt that never heard back, waits in the outbox until a later batch drains it — after its
own checkpoint, when every earlier script has certainly run. When the checkpoint reports a join
conflict the batch is planned again from a fresh snapshot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import redis

from monitor.config import Settings
from monitor.errors import BatchRejectedError, DriftwatchError
from monitor.events import Decoder, Record, by_model
from monitor.ingest.deadletter import DeadLetterSink
from monitor.ingest.stages import E, Stage, Work, outcome_stages, prediction_stages
from monitor.join import Joiner
from monitor.metrics import Metrics
from monitor.stats.detectors import DetectorBank
from monitor.stats.window import WindowAggregator
from monitor.store.checkpoint import ApplyResult, Checkpoint, Claim, Status
from monitor.store.joins import JoinRecords
from monitor.store.keys import Keys
from monitor.store.outbox import Outbox
from monitor.store.references import ReferenceCache, ReferenceStore
from monitor.vocab.deadletter import UNKNOWN_MODEL, DeadLetter, InvalidReason
from monitor.vocab.effects import Effects

log = logging.getLogger(__name__)

#: Join conflicts need a prediction and its outcome to land in the same few milliseconds on two
#: instances; more than a handful in a row means something else is wrong.
MAX_CONFLICT_RETRIES = 20

Kind = Literal["prediction", "outcome"]


@dataclass(frozen=True, slots=True)
class Batch:
    """One unit of work for a partition: its records and where they start."""

    claim: Claim
    #: (offset, key, value) in offset order; empty: only drain the outbox and sweep expired joins.
    records: Sequence[Record]
    #: The partition's position: the first offset the batch covers (≤ its first record's).
    first_offset: int
    #: The partition had no checkpoint at its claim and none was applied since.
    fresh: bool = False
    #: Then publish dead letters left in the outbox (after a failure, or by a former owner).
    drain_outbox: bool = False
    #: Non-empty: dead-letter every record as ``unprocessable`` with this detail (a record that
    #: failed alone twice, set aside so the partition moves on).
    unprocessable: str = ""

    @property
    def next_offset(self) -> int:
        return self.records[-1][0] + 1 if self.records else self.first_offset


@dataclass(frozen=True, slots=True)
class BatchResult:
    status: Status
    #: The partition's stored next offset after the batch (None: none stored).
    stored_offset: int | None


class BatchProcessor:
    """Processes batches of one daemon; between batches only the detector cache is kept."""

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
        self.checkpoint = Checkpoint(client, keys, settings.kafka.group_id, settings.windows)
        self.references = ReferenceCache(
            ReferenceStore(client, keys), [m.name for m in settings.models]
        )
        reference = self.references.current
        windows = WindowAggregator(settings.models, settings.windows, reference)
        self.detectors = DetectorBank(
            settings.models, settings.drift, reference, self.checkpoint.detector_state
        )
        joiner = Joiner(JoinRecords(client, keys).read, settings.ingest.label_horizon_seconds)
        #: The stages of each kind of batch, in order; a later stage can be appended.
        self.prediction_stages = prediction_stages(joiner, windows, self.detectors)
        self.outcome_stages = outcome_stages(joiner, windows, self.detectors)
        self._outbox = Outbox(client)
        self._decoder = Decoder(settings.models, settings.ingest, settings.fields, clock=clock)
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

    def process(self, batch: Batch) -> BatchResult:
        """Apply one batch exactly once and publish its dead letters (and the outbox's, if asked
        or if the batch turns out to have been applied before).

        Raises :class:`FencedError`, :class:`StoreUnavailableError` and
        :class:`SinkUnavailableError` (the batch may have been applied: a retry of the same batch
        reports ``ALREADY_APPLIED`` and publishes what the outbox still holds), and
        :class:`BatchRejectedError`.
        """
        claim = batch.claim
        try:
            result = self._apply(batch) if batch.records else self._sweep(batch)
            if result.status.in_step and (
                batch.drain_outbox or result.status is Status.ALREADY_APPLIED
            ):
                self._drain(claim)
        except Exception:
            self.detectors.forget(claim.keys.tag)  # whatever Redis holds now, reload it
            raise
        return result

    def _apply(self, batch: Batch) -> BatchResult:
        if self.kind(batch.claim.topic) == "prediction":
            return self._run(batch, "prediction", self._decoder.predictions, self.prediction_stages)
        return self._run(batch, "outcome", self._decoder.outcomes, self.outcome_stages)

    def _run(
        self,
        batch: Batch,
        kind: Kind,
        decode: Callable[[Sequence[Record]], tuple[list[E], list[DeadLetter]]],
        stages: Sequence[Stage[E]],
    ) -> BatchResult:
        """Decode once, then run the stages and the checkpoint until the join plan holds."""
        started = time.perf_counter()
        claim, records = batch.claim, batch.records
        tag = claim.keys.tag
        if batch.unprocessable:
            valid: list[E] = []
            dead = [
                DeadLetter(o, InvalidReason.UNPROCESSABLE, batch.unprocessable, UNKNOWN_MODEL, k, v)
                for o, k, v in records
            ]
        else:
            valid, dead = decode(records)
        for attempt in range(MAX_CONFLICT_RETRIES):
            now_ms = int(self._clock() * 1000)
            snapshot = attempt > 0 or tag in self._snapshot_first
            work = Work(tag, records, valid, dead, now_ms, snapshot)
            for stage in stages:
                stage(work)
            written = time.perf_counter()
            result = self.checkpoint.apply(
                claim,
                batch.first_offset,
                batch.next_offset,
                work.effects,
                now_ms,
                fresh=batch.fresh,
                dead=work.letters,
            )
            self._metrics.redis_write.observe(time.perf_counter() - written)
            if result.status is not Status.CONFLICT:
                self._learn_order(tag, kind, work)
                break
            self._metrics.batches.labels("conflict").inc()
        else:
            raise DriftwatchError(
                f"{claim.topic}[{claim.partition}]: join kept conflicting after "
                f"{MAX_CONFLICT_RETRIES} attempts; check for two deployments sharing a key prefix"
            )
        if result.status is Status.INVALID:
            raise BatchRejectedError(f"{claim.topic}[{claim.partition}]: {result.detail}")
        if result.status is not Status.APPLIED:
            self.detectors.forget(tag)
            self._metrics.batches.labels(_result_label(result.status)).inc()
            return BatchResult(result.status, result.stored_offset)
        self.detectors.committed(tag, work.effects)
        self._observe(kind, result, work)
        self._metrics.batch_duration.observe(time.perf_counter() - started)
        self._publish(claim, work.letters)
        return BatchResult(result.status, result.stored_offset)

    def _publish(self, claim: Claim, letters: Sequence[DeadLetter]) -> None:
        """Publish an applied batch's dead letters, then clear them from the outbox."""
        if letters:
            self._sink.send(claim.topic, claim.partition, letters)
            self._outbox.remove(claim.keys, [d.offset for d in letters])

    def _drain(self, claim: Claim) -> None:
        """Publish what earlier attempts or owners left in the outbox."""
        letters = self._outbox.pending(claim.keys)
        if letters:
            log.info(
                "publishing %d dead letters of %s[%d] left in the outbox",
                len(letters), claim.topic, claim.partition,
            )  # fmt: skip
            self._publish(claim, letters)

    def _sweep(self, batch: Batch) -> BatchResult:
        """Expire pending records of an idle partition (no records, no offset change), checking
        its offset as a batch's is checked: a Redis that lost acknowledged writes is found out
        even when no record follows them (a partition without a position is not checked)."""
        at = batch.first_offset
        result = self.checkpoint.apply(batch.claim, at, at, Effects(), int(self._clock() * 1000))
        self._count_expired(result)
        return BatchResult(result.status, result.stored_offset)

    def _learn_order(self, partition: str, kind: Kind, work: Work[E]) -> None:
        """Plan a partition's predictions without reading join records while that works: after
        a conflict (an outcome came first) read them up front until a snapshot finds none."""
        if kind != "prediction" or not work.snapshot:
            return
        if work.plan.found:
            self._snapshot_first.add(partition)
        else:
            self._snapshot_first.discard(partition)

    def _observe(self, kind: Kind, result: ApplyResult, work: Work[E]) -> None:
        """Prometheus counters follow Redis: only an applied batch counts."""
        self._metrics.batches.labels("applied").inc()
        self._count_expired(result)
        for model, events in by_model(work.counted).items():
            self._metrics.events.labels(kind, model, "valid").inc(len(events))
        for letter in work.letters:
            self._metrics.events.labels(kind, letter.model, "dead").inc()
            self._metrics.dead_letters.labels(letter.model, letter.reason.value).inc()
        for model, pairs in by_model(work.plan.pairs).items():
            self._metrics.joined.labels(model).inc(len(pairs))

    def _count_expired(self, result: ApplyResult) -> None:
        if result.expired_predictions:
            self._metrics.expired.labels("prediction").inc(result.expired_predictions)
        if result.orphan_outcomes:
            self._metrics.expired.labels("outcome").inc(result.orphan_outcomes)


def _result_label(status: Status) -> str:
    """``driftwatch_batches_total``'s ``result`` label of a batch the script did not apply."""
    return "replayed" if status is Status.ALREADY_APPLIED else status.name.lower()
