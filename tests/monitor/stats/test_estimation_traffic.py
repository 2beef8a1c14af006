"""Performance estimated before labels, on simulated traffic run through the daemon's own code:
decode (``events.Decoder``), window counts (``stats.window.WindowAggregator``), evaluation
(``stats.evaluation.evaluate_window``) — with no label in the windows; the labels are used only to
check the estimate.

The simulated binary model is calibrated on its features (its score is a monotone function of
``P(y | x)``), so a covariate shift keeps ``P(y | score)`` — what the estimate assumes — while a
concept drift breaks it. Model ``m3``'s population sits so that shifting ``amount`` by one
standard deviation moves predictions towards the decision boundary: accuracy falls by ~9 points.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from monitor import config
from monitor.config import FaultSettings
from monitor.events import Decoder, Outcome, Prediction
from monitor.simulate import Simulator
from monitor.stats.evaluation import Judges, evaluate_window
from monitor.stats.reference import build_profile
from monitor.stats.window import WindowAggregator
from monitor.vocab.counts import WindowCounts
from monitor.vocab.effects import Effects, parse_window_id
from monitor.vocab.profile import ReferenceProfile
from monitor.vocab.verdicts import WindowEvaluation

pytestmark = pytest.mark.slow

T0 = 1_789_999_200.0  # a whole hour
HOUR = 3600
WINDOWS = 24
#: Predictions per hourly window.
PER_WINDOW = 2000
#: The fault starts with this window.
SHIFT = 12
MODEL = "m3"
SETTINGS = config.parse(
    {
        "models": [
            {
                "name": MODEL,
                "owner": "o",
                "task": "binary",
                "features": {
                    "amount": "numeric",
                    "age_days": "numeric",
                    "n_items": "numeric",
                    "country": "categorical",
                },
            }
        ],
        "windows": {"size_seconds": HOUR},
        "ingest": {"max_future_seconds": 10 * 365 * 86_400},
    }
)


def traffic(
    seed: int, n: int, faults: list[FaultSettings], rate: float
) -> tuple[list[Prediction], dict[str, float]]:
    """Decoded predictions and the label of each (every prediction is labelled)."""
    decoder = Decoder(SETTINGS.models, SETTINGS.ingest, SETTINGS.fields, clock=lambda: T0 + 1e8)
    sim = Simulator(
        SETTINGS, seed=seed, start=T0, rate=rate, faults=faults, models=[MODEL], label_rate=1.0
    )
    predictions, labels = [], {}
    for i, event in enumerate(sim.events(n)):
        if event.topic_kind == "prediction":
            decoded = decoder.prediction(i, event.key, event.value)
            assert isinstance(decoded, Prediction)
            predictions.append(decoded)
        else:
            outcome = decoder.outcome(i, event.key, event.value)
            assert isinstance(outcome, Outcome)
            labels[outcome.id] = float(outcome.label)
    return predictions, labels


def reference() -> ReferenceProfile:
    events, labels = traffic(seed=1000, n=20_000, faults=[], rate=100.0)
    m = SETTINGS.models[0]
    return build_profile(
        m,
        {f: [e.features.get(f) for e in events] for f in m.features},
        predictions=[e.prediction for e in events],
        scores=[e.score for e in events],
        labels=[labels[e.id] for e in events],
        version="ref",
        source="test",
        created_at=0.0,
    )


REFERENCE = reference()


def run(fault: FaultSettings | None) -> list[tuple[WindowEvaluation, float]]:
    """Hourly windows of unlabelled predictions, evaluated in order; each with the accuracy its
    labels (kept out of the windows) would show."""
    predictions, labels = traffic(
        seed=7, n=WINDOWS * PER_WINDOW, faults=[fault] if fault else [], rate=PER_WINDOW / HOUR
    )
    effects = Effects()
    WindowAggregator(SETTINGS.models, SETTINGS.windows, lambda _: REFERENCE).predictions(
        effects, predictions
    )
    correct: defaultdict[int, list[bool]] = defaultdict(list)
    for e in predictions:
        correct[int(e.ts // HOUR * HOUR)].append(e.prediction == labels[e.id])
    judges = Judges.of(SETTINGS)
    out: list[tuple[WindowEvaluation, float]] = []
    for (_, wid), delta in sorted(effects.windows.items(), key=lambda kv: kv[1].start):
        start, version, _ = parse_window_id(wid)
        fields = {**delta.counts, **delta.sums}
        assert not any(k.startswith("perf:") for k in fields)  # not one label in the window
        ev = evaluate_window(
            SETTINGS.models[0],
            REFERENCE,
            WindowCounts(int(fields["n"]), fields),
            window_start=start,
            version=version,
            judges=judges,
            now=0.0,
            previous=out[-1][0] if out else None,
        )
        out.append((ev, float(np.mean(correct[start]))))
    assert len(out) == WINDOWS
    return out


def degraded(ev: WindowEvaluation) -> bool:
    return any(v.status == "degraded" for v in ev.estimates_in_force())


def fault(kind: str) -> FaultSettings:
    return FaultSettings(
        kind=kind,  # type: ignore[arg-type]
        model=MODEL,
        feature="amount",
        start_seconds=SHIFT * HOUR,
        magnitude=1.0,
    )


def test_a_covariate_shift_is_estimated_without_labels_and_flagged_in_its_first_window() -> None:
    windows = run(fault("covariate_shift"))
    inside = 0
    for ev, realized in windows:
        low, high = ev.estimated_bands["accuracy"]
        inside += low <= realized <= high
        assert ev.estimation_refused == ""
    assert inside >= 0.9 * WINDOWS
    before = [ev for ev, _ in windows[:SHIFT]]
    after = [ev for ev, _ in windows[SHIFT:]]
    assert not any(degraded(ev) for ev in before)
    assert all(degraded(ev) for ev in after)  # the first shifted window included
    first = next(v for v in after[0].estimates_in_force() if v.statistic == "accuracy")
    assert first.status == "degraded" and first.reasons[0].startswith("estimated accuracy")
    drop = np.mean([ev.estimated_performance["accuracy"] for ev in before]) - np.mean(
        [ev.estimated_performance["accuracy"] for ev in after]
    )
    realized_drop = np.mean([r for _, r in windows[:SHIFT]]) - np.mean(
        [r for _, r in windows[SHIFT:]]
    )
    assert drop > 0.05
    assert drop == pytest.approx(realized_drop, abs=0.015)


def test_a_concept_drift_leaves_the_estimate_flat() -> None:
    """Only labels can show a change of ``P(y | x)``: the scores do not move, so the estimate
    stays put while the realized accuracy leaves its band (``docs/statistics.md``)."""
    windows = run(fault("concept_drift"))
    assert not any(degraded(ev) for ev, _ in windows)
    after = windows[SHIFT:]
    outside = sum(r < ev.estimated_bands["accuracy"][0] for ev, r in after)
    assert outside >= 0.9 * len(after)


def test_stable_traffic_raises_no_estimated_degradation() -> None:
    windows = run(None)
    assert not any(degraded(ev) for ev, _ in windows)
    assert all(ev.estimated_verdicts for ev, _ in windows)  # judged, not silent for lack of data
