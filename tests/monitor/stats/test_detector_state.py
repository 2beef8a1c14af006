"""Detector state as plain data: every kind resumes exactly; nothing stored can run code."""

from __future__ import annotations

import logging
import pickle
import random
from pathlib import Path
from typing import Any

import pytest

from monitor.stats import detector_state
from monitor.stats.detector_state import FACTORIES, SCHEMA, dump, load


def stream(kind: str, n: int, seed: int) -> list[float]:
    """A stream with a change half-way, so detectors fire and reset along the way."""
    rng = random.Random(seed)
    if kind == "ddm":  # an error indicator
        return [float(rng.random() < (0.1 if i < n // 2 else 0.5)) for i in range(n)]
    return [rng.gauss(0.0 if i < n // 2 else 1.5, 1.0) for i in range(n)]


def detections(detector: Any, values: list[float]) -> list[int]:
    fired = []
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            fired.append(i)
    return fired


@pytest.mark.parametrize("kind", sorted(FACTORIES))
@pytest.mark.parametrize("cut", [0, 7, 700, 1500])
def test_a_restored_detector_continues_exactly(kind: str, cut: int) -> None:
    """Stop anywhere (even right after a detection), store, restore: the rest of the stream
    gives the same detections as a detector that never stopped."""
    values = stream(kind, 3000, seed=cut)
    whole = detections(FACTORIES[kind](), values)
    assert whole, "the stream must make the detector fire for this test to mean anything"
    first = FACTORIES[kind]()
    before = detections(first, values[:cut])
    resumed = load(dump(first), kind)
    after = [cut + i for i in detections(resumed, values[cut:])]
    assert before + after == whole


def test_pickled_state_is_never_loaded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The old format was a pickle: loading one would run this payload. It starts afresh."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (Path.touch, (marker,))

    for blob in (b"dw-detector-1:" + pickle.dumps(Payload()), pickle.dumps(Payload())):
        with caplog.at_level(logging.WARNING, logger=detector_state.__name__):
            detector = load(blob, "adwin")
        assert not marker.exists()
        assert detector.width == 0  # a fresh ADWIN
    assert "older schema" in caplog.text


@pytest.mark.parametrize(
    "blob",
    [
        SCHEMA + b"\xff\x00garbage",
        SCHEMA + b"",
        SCHEMA + dump(FACTORIES["ddm"]())[len(SCHEMA) :],  # another kind's state
        SCHEMA + b"\x93\xa5adwin\xc2\xc4\x03abc",  # ADWIN bytes river's core cannot read
        SCHEMA + b"\x93\xa5adwin\xc2\xc6\x00\x20\x00\x00" + b"\x00" * (1 << 21),  # oversized
    ],
)
def test_state_we_did_not_write_starts_a_fresh_detector(
    blob: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=detector_state.__name__):
        detector = load(blob, "adwin")
    assert detector.width == 0
    assert "starting afresh" in caplog.text


def test_tampered_fields_of_the_right_kind_are_refused() -> None:
    """A KSWIN state with a window longer than the detector's, or not of numbers: refused."""
    good = FACTORIES["kswin"]()
    for x in stream("kswin", 150, seed=1):
        good.update(x)
    state = detector_state._decoder.decode(dump(good)[len(SCHEMA) :])
    assert good.n > 0
    assert load(SCHEMA + detector_state._encoder.encode(state), "kswin").n == good.n
    for window in (state.window * 5, ["not a number"] * 10):
        state.window = window
        assert load(SCHEMA + detector_state._encoder.encode(state), "kswin").n == 0
