"""A batch's stages: each one step of the data path with one method, run in a typed pipeline.

Predictions and outcomes each run their own list of stages (:func:`prediction_stages`,
:func:`outcome_stages`) over a :class:`Work` item::

    decode → join → duplicates → count → windows → detectors → checkpoint

Decoding happens once per batch (``monitor/ingest/batch.py``); the stages from the join on run
once per *attempt*: a join conflict reported by the checkpoint plans the batch again from a fresh
snapshot with a new :class:`Work`. A stage reads what earlier stages left in the work item and adds
its part to ``work.effects``; nothing reaches Redis before the checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from monitor.events import Outcome, Prediction, Record
from monitor.join import Joiner, JoinPlan
from monitor.stats.counters import count_batch
from monitor.stats.detectors import DetectorBank
from monitor.stats.window import WindowAggregator
from monitor.vocab.deadletter import DeadLetter, InvalidReason
from monitor.vocab.effects import Effects

E = TypeVar("E", Prediction, Outcome)


@dataclass(slots=True)
class Work(Generic[E]):
    """One attempt at a batch as it passes the stages."""

    #: The input partition (its tag): detector state is kept per partition.
    partition: str
    records: Sequence[Record]
    #: Valid events as decoded, and the records that failed validation.
    decoded: Sequence[E]
    invalid: Sequence[DeadLetter]
    now_ms: int
    #: Plan the join from a snapshot of the join records (outcomes always do).
    snapshot: bool
    effects: Effects = field(default_factory=Effects)
    plan: JoinPlan = field(default_factory=JoinPlan)
    #: Valid events that count: the decoded ones less those the join refused as duplicates.
    counted: list[E] = field(default_factory=list)
    #: Every dead letter of the batch, in offset order: the invalid and the duplicates.
    letters: list[DeadLetter] = field(default_factory=list)


#: A stage: adds its part of the batch to the work item.
Stage = Callable[[Work[E]], None]


class JoinPredictions:
    def __init__(self, joiner: Joiner) -> None:
        self._joiner = joiner

    def __call__(self, work: Work[Prediction]) -> None:
        work.plan = self._joiner.plan_predictions(
            work.decoded, work.effects, work.now_ms, snapshot=work.snapshot
        )


class JoinOutcomes:
    def __init__(self, joiner: Joiner) -> None:
        self._joiner = joiner

    def __call__(self, work: Work[Outcome]) -> None:
        work.plan = self._joiner.plan_outcomes(work.decoded, work.effects, work.now_ms)


def refuse_duplicates(work: Work[E]) -> None:
    """Events whose id the join had seen become ``duplicate_id`` dead letters, byte for byte."""
    if not work.plan.duplicates:
        work.counted, work.letters = list(work.decoded), list(work.invalid)
        return
    raw = {offset: (key, value) for offset, key, value in work.records}
    duplicates: list[DeadLetter] = [
        DeadLetter(e.offset, InvalidReason.DUPLICATE_ID, f"id {e.id[:64]!r} seen before",
                   e.model, *raw[e.offset])
        for e in work.plan.duplicates
    ]  # fmt: skip
    refused = {e.offset for e in work.plan.duplicates}
    work.counted = [e for e in work.decoded if e.offset not in refused]
    work.letters = sorted((*work.invalid, *duplicates), key=lambda d: d.offset)


def count(work: Work[E]) -> None:
    count_batch(work.effects, work.counted, work.letters, work.plan.pairs, work.now_ms / 1000)


class PredictionWindows:
    """Predictions, the pairs they formed and the batch's dead letters, into their windows."""

    def __init__(self, windows: WindowAggregator) -> None:
        self._windows = windows

    def __call__(self, work: Work[Prediction]) -> None:
        self._windows.predictions(work.effects, work.counted)
        self._windows.pairs(work.effects, work.plan.pairs)
        self._windows.dead_letters(work.effects, work.letters, work.now_ms)


class OutcomeWindows:
    """The pairs outcomes formed and the batch's dead letters, into their windows."""

    def __init__(self, windows: WindowAggregator) -> None:
        self._windows = windows

    def __call__(self, work: Work[Outcome]) -> None:
        self._windows.pairs(work.effects, work.plan.pairs)
        self._windows.dead_letters(work.effects, work.letters, work.now_ms)


class PredictionDetectors:
    def __init__(self, detectors: DetectorBank) -> None:
        self._detectors = detectors

    def __call__(self, work: Work[Prediction]) -> None:
        self._detectors.predictions(work.effects, work.partition, work.counted)
        self._detectors.pairs(work.effects, work.partition, work.plan.pairs)


class OutcomeDetectors:
    def __init__(self, detectors: DetectorBank) -> None:
        self._detectors = detectors

    def __call__(self, work: Work[Outcome]) -> None:
        self._detectors.pairs(work.effects, work.partition, work.plan.pairs)


def prediction_stages(
    joiner: Joiner, windows: WindowAggregator, detectors: DetectorBank
) -> list[Stage[Prediction]]:
    return [
        JoinPredictions(joiner),
        refuse_duplicates,
        count,
        PredictionWindows(windows),
        PredictionDetectors(detectors),
    ]


def outcome_stages(
    joiner: Joiner, windows: WindowAggregator, detectors: DetectorBank
) -> list[Stage[Outcome]]:
    return [
        JoinOutcomes(joiner),
        refuse_duplicates,
        count,
        OutcomeWindows(windows),
        OutcomeDetectors(detectors),
    ]
