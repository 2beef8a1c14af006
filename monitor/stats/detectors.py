"""Online change detectors from river, checkpointed with the partition they read.

Two streams per model and input partition feed a detector (``drift.detector``, ADWIN by default):

- ``error``: one value per joined pair — 1.0 if a classifier was wrong, else 0.0; for regression
  1.0 if the absolute error exceeds twice the reference MAE (a bounded indicator keeps ADWIN's
  bound meaningful whatever the target's scale);
- ``prediction``: one value per prediction — the score of a binary classifier, the prediction of a
  regression standardised by the reference prediction's mean and std, and for multiclass 1.0 when
  the reference's most frequent class is predicted.

Detector state travels with the checkpoint: each batch unpickles the partition's detector, updates
it, and hands the new pickle to the checkpoint script, which stores it atomically with the offset.
A restart or a new owner therefore resumes the detector exactly where the applied batches left
it, and a batch that is retried starts again from the same state. Change points are recorded in
the model's change-point index with the event time at which the detector fired.
"""

from __future__ import annotations

import logging
import math
import pickle
from collections.abc import Callable, Sequence
from typing import Any

from river.drift import ADWIN, KSWIN, PageHinkley
from river.drift.binary import DDM

from monitor.config import Settings
from monitor.events import Prediction, by_model
from monitor.join import Pair
from monitor.stats.reference import CategoricalProfile, ReferenceProfile
from monitor.store.checkpoint import Changes
from monitor.store.keys import Keys, PartitionKeys

log = logging.getLogger(__name__)

#: Bumped when the pickled state's meaning changes; older state is dropped, not misread.
SCHEMA = b"dw-detector-1:"
FACTORIES: dict[str, Callable[[], Any]] = {
    "adwin": lambda: ADWIN(delta=0.002),
    "page_hinkley": PageHinkley,
    "kswin": lambda: KSWIN(seed=0),
    "ddm": DDM,
}


class DetectorBank:
    """Detector state of the partitions this instance owns, as last checkpointed."""

    def __init__(
        self,
        settings: Settings,
        keys: Keys,
        reference: Callable[[str], ReferenceProfile | None],
        load: Callable[[list[str]], list[bytes | None]],
    ) -> None:
        self._models = {m.name: m for m in settings.models}
        self._kind = settings.drift.detector
        self._keys = keys
        self._reference = reference
        self._load = load
        self._state: dict[str, bytes | None] = {}

    def predictions(
        self, changes: Changes, pkeys: PartitionKeys, events: Sequence[Prediction]
    ) -> None:
        """Feed each model's prediction stream of this batch."""
        for model, group in by_model(events).items():
            ref = self._reference(model)
            if ref is None or self._kind == "ddm":
                continue  # DDM reads errors only; without a reference there is no scale
            values = _prediction_values(self._models[model].task, ref, group)
            self._update(changes, pkeys, model, "prediction", values, [e.ts for e in group])

    def pairs(self, changes: Changes, pkeys: PartitionKeys, pairs: Sequence[Pair]) -> None:
        """Feed each model's error stream of this batch."""
        for model, group in by_model(pairs).items():
            task = self._models[model].task
            ref = self._reference(model)
            mae = ref.performance.get("mae") if ref is not None else None
            if task == "regression" and not mae:
                continue
            values = [_error(task, p, mae) for p in group]
            self._update(changes, pkeys, model, "error", values, [p.label_ts for p in group])

    def committed(self, changes: Changes) -> None:
        """The batch was applied: its detector states are now the partition's."""
        for key, value in changes.set.items():
            if key in self._state:
                self._state[key] = value

    def forget(self, pkeys: PartitionKeys) -> None:
        """A partition was revoked: its state is the new owner's now.

        Called from the loop thread while workers add other partitions' keys: ``list()`` copies
        the keys in one step under the GIL, where iterating the live dict could fail mid-way.
        """
        for key in [k for k in list(self._state) if k.startswith(pkeys.detector_prefix)]:
            self._state.pop(key, None)

    def _update(
        self,
        changes: Changes,
        pkeys: PartitionKeys,
        model: str,
        stream: str,
        values: list[float],
        times: list[float],
    ) -> None:
        key = pkeys.detector(model, stream)
        if key not in self._state:
            self._state[key] = self._load([key])[0]
        detector = self._restore(self._state[key], key)
        for value, ts in zip(values, times, strict=True):
            if value != value:  # NaN: no value for this event
                continue
            detector.update(value)
            if detector.drift_detected:
                member = f"{stream}|{ts:.3f}|{pkeys.tag}"
                changes.zadd.append((self._keys.change_points(model), ts, member))
        changes.set[key] = SCHEMA + pickle.dumps(detector)

    def _restore(self, blob: bytes | None, key: str) -> Any:
        if blob and blob.startswith(SCHEMA):
            return pickle.loads(blob[len(SCHEMA) :])  # our own checkpointed state, never input
        if blob:
            log.warning("detector state %s has an old schema; starting it afresh", key)
        return FACTORIES[self._kind]()


def _prediction_values(
    task: str, ref: ReferenceProfile, events: Sequence[Prediction]
) -> list[float]:
    """The prediction stream's values for a batch (NaN: nothing to feed for that event)."""
    profile = ref.prediction
    if isinstance(profile, CategoricalProfile):
        top = profile.categories[0] if profile.categories else ""
        return [1.0 if str(e.prediction) == top else 0.0 for e in events]
    if task == "binary":
        return [s if type(s := e.score) is float else math.nan for e in events]
    scale = profile.std or 1.0
    return [(float(e.prediction) - profile.mean) / scale for e in events]


def _error(task: str, pair: Pair, mae: float | None) -> float:
    if task == "regression":
        return 1.0 if abs(float(pair.prediction) - float(pair.label)) > 2 * (mae or 0.0) else 0.0
    return 0.0 if pair.prediction == pair.label else 1.0
