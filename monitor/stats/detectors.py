"""Online change detectors from river, checkpointed with the partition they read.

Two streams per model and input partition feed a detector (``drift.detector``, ADWIN by default):

- ``error``: one value per joined pair — 1.0 if a classifier was wrong, else 0.0; for regression
  1.0 if the absolute error exceeds twice the reference MAE (a bounded indicator keeps ADWIN's
  bound meaningful whatever the target's scale);
- ``prediction``: one value per prediction — the score of a binary classifier, the prediction of a
  regression standardised by the reference prediction's mean and std, and for multiclass 1.0 when
  the reference's most frequent class is predicted.

Detector state travels with the checkpoint: each batch restores the partition's detector from its
last applied state (plain data, :mod:`monitor.stats.detector_state`), updates it, and hands the new
state to the checkpoint script, which stores it atomically with the offset. A restart or a new
owner therefore resumes the detector exactly where the applied batches left it. The bank keeps
each partition's state as of its last batch *applied by this instance*; any other outcome (a
replay, a refused or failed batch) forgets it, so the next batch reloads what Redis holds, which
is always the state at the stored offset. Change points are recorded in the model's change-point
index with the event time at which the detector fired.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from monitor.config import DriftSettings, ModelSettings
from monitor.events import Prediction, by_model
from monitor.join import Pair
from monitor.stats import detector_state
from monitor.vocab.effects import Effects
from monitor.vocab.profile import CategoricalProfile, ReferenceProfile

#: Loads one partition's stored state of a model's stream: (partition, model, stream) → state.
LoadState = Callable[[str, str, str], bytes | None]


class DetectorBank:
    """Detector state of the partitions this instance owns, as last checkpointed."""

    def __init__(
        self,
        models: Sequence[ModelSettings],
        drift: DriftSettings,
        reference: Callable[[str], ReferenceProfile | None],
        load: LoadState,
    ) -> None:
        self._models = {m.name: m for m in models}
        self._kind = drift.detector
        self._reference = reference
        self._load = load
        #: Partition → (model, stream) → state as last applied by this instance.
        self._state: dict[str, dict[tuple[str, str], bytes | None]] = {}

    def predictions(self, effects: Effects, partition: str, events: Sequence[Prediction]) -> None:
        """Feed each model's prediction stream of this batch."""
        for model, group in by_model(events).items():
            ref = self._reference(model)
            if ref is None or self._kind == "ddm":
                continue  # DDM reads errors only; without a reference there is no scale
            values = _prediction_values(self._models[model].task, ref, group)
            self._update(effects, partition, model, "prediction", values, [e.ts for e in group])

    def pairs(self, effects: Effects, partition: str, pairs: Sequence[Pair]) -> None:
        """Feed each model's error stream of this batch."""
        for model, group in by_model(pairs).items():
            task = self._models[model].task
            ref = self._reference(model)
            mae = ref.performance.get("mae") if ref is not None else None
            if task == "regression" and not mae:
                continue
            values = [_error(task, p, mae) for p in group]
            self._update(effects, partition, model, "error", values, [p.label_ts for p in group])

    def committed(self, partition: str, effects: Effects) -> None:
        """The batch was applied: its detector states are now the partition's."""
        known = self._state.get(partition)
        if known is not None:
            known.update((k, v) for k, v in effects.detectors.items() if k in known)

    def forget(self, partition: str) -> None:
        """What Redis holds for the partition may differ from what this instance knows (revoked,
        replayed, refused, failed): the next batch reloads it."""
        self._state.pop(partition, None)

    def _update(
        self,
        effects: Effects,
        partition: str,
        model: str,
        stream: str,
        values: list[float],
        times: list[float],
    ) -> None:
        known = self._state.setdefault(partition, {})
        if (model, stream) not in known:
            known[model, stream] = self._load(partition, model, stream)
        detector = detector_state.load(known[model, stream], self._kind)
        for value, ts in zip(values, times, strict=True):
            if value != value:  # NaN: no value for this event
                continue
            detector.update(value)
            if detector.drift_detected:
                effects.change_points.append((model, stream, ts))
        effects.detectors[model, stream] = detector_state.dump(detector)


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
