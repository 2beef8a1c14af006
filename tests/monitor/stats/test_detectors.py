"""River detectors through the checkpoint: same detections as river, state carried by batches."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from river.datasets import synth
from river.drift import ADWIN

from monitor import config
from monitor.join import Pair
from monitor.stats.detectors import DetectorBank, LoadState
from monitor.vocab.effects import Effects

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = config.load(ROOT / "config.toml")
PARTITION = "{g:out:0}"


def bank_of(settings: config.Settings, load: LoadState) -> DetectorBank:
    return DetectorBank(settings.models, settings.drift, lambda _: None, load)


def nothing_stored(partition: str, model: str, stream: str) -> None:
    return None


def error_stream(seed: int = 3) -> list[bool]:
    """10% errors for 3000 pairs, then 40%: one change, near index 3000."""
    rng = np.random.default_rng(seed)
    return list(rng.uniform(size=3000) < 0.1) + list(rng.uniform(size=3000) < 0.4)


def pairs(errors: list[bool], t0: float) -> list[Pair]:
    return [
        Pair("fraud-detector", "v1", t0 + i, 1.0, None, 0.0 if wrong else 1.0, t0 + i + 5)
        for i, wrong in enumerate(errors)
    ]


def test_detections_match_river_and_survive_checkpoints_between_batches() -> None:
    errors = error_stream()
    river_detector = ADWIN(delta=0.002)
    expected = []
    for i, wrong in enumerate(errors):
        river_detector.update(float(wrong))
        if river_detector.drift_detected:
            expected.append(i)
    assert expected and min(expected) > 3000  # pinned: no false alarm before the change

    stored: dict[tuple[str, str], bytes] = {}

    def load(partition: str, model: str, stream: str) -> bytes | None:
        return stored.get((model, stream))

    bank = bank_of(SETTINGS, load)
    detected = []
    items = pairs(errors, t0=0.0)
    for start in range(0, len(items), 500):  # 12 batches, state checkpointed between them
        changes = Effects()
        bank.pairs(changes, PARTITION, items[start : start + 500])
        bank.committed(PARTITION, changes)
        detected += [int(ts) for _, _, ts in changes.change_points]
        stored.update(changes.detectors)
        if start == 2500:  # a restart: a fresh bank resumes from what was checkpointed
            bank = bank_of(SETTINGS, load)
    assert [ts - 5 for ts in detected] == expected


def test_an_unapplied_batch_leaves_the_state_untouched() -> None:
    bank = bank_of(SETTINGS, nothing_stored)
    first = Effects()
    bank.pairs(first, PARTITION, pairs([False] * 100, 0.0))
    retry = Effects()
    bank.pairs(retry, PARTITION, pairs([False] * 100, 0.0))  # the first was never committed
    assert first.detectors == retry.detectors


def test_page_hinkley_is_selectable() -> None:
    settings = dataclasses.replace(
        SETTINGS, drift=dataclasses.replace(SETTINGS.drift, detector="page_hinkley")
    )
    bank = bank_of(settings, nothing_stored)
    changes = Effects()
    bank.pairs(changes, PARTITION, pairs(error_stream(), 0.0))
    assert changes.change_points, "Page-Hinkley detects the jump from 10 % to 40 % errors"


def test_river_concept_drift_stream_is_detected_after_its_known_drift_point() -> None:
    """SEA concept 0 becomes concept 3 around position 5000; the model keeps concept 0's rule."""
    stream = synth.ConceptDriftStream(
        stream=synth.SEA(variant=0, seed=1),
        drift_stream=synth.SEA(variant=3, seed=2),
        position=5000,
        width=100,
        seed=3,
    )
    items = []
    for i, (x, y) in enumerate(stream.take(10_000)):
        predicted = x[0] + x[1] <= 8.0  # SEA concept 0's rule
        items.append(Pair("fraud-detector", "v1", float(i), predicted, None, bool(y), float(i)))
    bank = bank_of(SETTINGS, nothing_stored)
    changes = Effects()
    bank.pairs(changes, PARTITION, items)
    detections = sorted(ts for _, _, ts in changes.change_points)
    assert detections, "ADWIN misses the concept change"
    assert 4900 <= detections[0] <= 6500  # after the drift point (width 100), within 1500 pairs
