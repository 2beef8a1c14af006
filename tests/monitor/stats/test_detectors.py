"""River detectors through the checkpoint: same detections as river, state carried by batches."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from river.datasets import synth
from river.drift import ADWIN

from monitor import config
from monitor.join import Pair
from monitor.stats.detectors import DetectorBank
from monitor.store.checkpoint import Changes
from monitor.store.keys import Keys

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = config.load(ROOT / "config.toml")
KEYS = Keys("t")
PKEYS = KEYS.partition(KEYS.tag("g", "out", 0))


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

    stored: dict[str, bytes] = {}
    bank = DetectorBank(SETTINGS, KEYS, lambda _: None, lambda keys: [stored.get(k) for k in keys])
    detected = []
    items = pairs(errors, t0=0.0)
    for start in range(0, len(items), 500):  # 12 batches, state checkpointed between them
        changes = Changes()
        bank.pairs(changes, PKEYS, items[start : start + 500])
        bank.committed(PKEYS, changes)
        detected += [int(ts) for _, ts, _ in changes.zadd]
        for key, value in changes.set.items():
            stored[key] = value
        if start == 2500:  # a restart: a fresh bank resumes from what was checkpointed
            bank = DetectorBank(
                SETTINGS, KEYS, lambda _: None, lambda keys: [stored.get(k) for k in keys]
            )
    assert [ts - 5 for ts in detected] == expected


def test_an_unapplied_batch_leaves_the_state_untouched() -> None:
    bank = DetectorBank(SETTINGS, KEYS, lambda _: None, lambda keys: [None for _ in keys])
    first = Changes()
    bank.pairs(first, PKEYS, pairs([False] * 100, 0.0))
    retry = Changes()
    bank.pairs(retry, PKEYS, pairs([False] * 100, 0.0))  # the first was never committed
    assert first.set == retry.set


def test_page_hinkley_is_selectable() -> None:
    settings = dataclasses.replace(
        SETTINGS, drift=dataclasses.replace(SETTINGS.drift, detector="page_hinkley")
    )
    bank = DetectorBank(settings, KEYS, lambda _: None, lambda keys: [None for _ in keys])
    changes = Changes()
    bank.pairs(changes, PKEYS, pairs(error_stream(), 0.0))
    assert changes.zadd, "Page-Hinkley detects the jump from 10 % to 40 % errors"


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
    bank = DetectorBank(SETTINGS, KEYS, lambda _: None, lambda keys: [None for _ in keys])
    changes = Changes()
    bank.pairs(changes, PKEYS, items)
    detections = sorted(ts for _, ts, _ in changes.zadd)
    assert detections, "ADWIN misses the concept change"
    assert 4900 <= detections[0] <= 6500  # after the drift point (width 100), within 1500 pairs
