"""False alarms on stable traffic: 5 models × 30 days at 100-event and 100k-event windows,
drift and data quality; and performance at 100, 1,000 and 100,000 labels per window.

Small windows run the daemon's own code on simulated events: decode (``events.Decoder``), window
counts (``stats.window.WindowAggregator``), evaluation (``stats.health.evaluate_window``), one
window per hour for 30 days. Large windows of 100k events per day would need 15M simulated events;
instead each day's window is a multinomial draw of 100k events from the bin distribution of 300k
simulated stable events per model — the same i.i.d. traffic, resampled. Requirements: no critical
verdict at all, and windows with any drift no more often than the stated rate (2 × FDR plus
three binomial standard deviations; docs/statistics.md).

Performance windows are drawn the same way: each day's labelled pairs are a resample of 90k
simulated stable (prediction, score, label) pairs of the model, and the reference has the
labels of its own 10k simulated rows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import numpy as np
import pytest

from monitor import config
from monitor.events import Decoder, Prediction
from monitor.simulate import Simulator
from monitor.stats import performance
from monitor.stats.evaluation import Judges, evaluate_window
from monitor.stats.reference import build_profile
from monitor.stats.window import WindowAggregator
from monitor.vocab.counts import WindowCounts
from monitor.vocab.effects import Effects, parse_window_id
from monitor.vocab.profile import ReferenceProfile
from monitor.vocab.verdicts import PREDICTION, WindowEvaluation

pytestmark = pytest.mark.slow

DAY = 86_400
T0 = 1_789_999_200.0  # a whole hour: 30 × 24 windows exactly
NUMERIC = [
    ["amount", "age_days", "n_items"],
    ["distance_km", "prep_minutes"],
    ["tenure_months", "monthly_spend", "tickets"],
    ["temperature", "pressure", "vibration"],
    ["clicks", "dwell_seconds", "hour"],
]
CATEGORICAL = ["country", "weather", "plan", "site", "device"]
FEATURES = [
    {**{f: "numeric" for f in numeric}, category: "categorical"}
    for numeric, category in zip(NUMERIC, CATEGORICAL, strict=True)
]
TASKS = ["binary", "regression", "binary", "regression", "binary"]


def settings(min_samples: int) -> config.Settings:
    return config.parse(
        {
            "models": [
                {"name": f"m{i}", "owner": "o", "task": TASKS[i], "features": FEATURES[i]}
                for i in range(5)
            ],
            "windows": {"size_seconds": 3600, "retention_days": 30},
            "drift": {"min_samples": min_samples},
            "ingest": {"max_future_seconds": 10 * 365 * DAY},
        }
    )


def predictions(
    s: config.Settings, model: str, seed: int, n: int, rate: float
) -> Iterator[Prediction]:
    decoder = Decoder(s.models, s.ingest, s.fields, clock=lambda: T0 + 400 * DAY)
    sim = Simulator(s, seed=seed, start=T0, rate=rate, faults=[], models=[model])
    for i, event in enumerate(sim.events(n)):
        if event.topic_kind == "prediction":
            decoded = decoder.prediction(i, event.key, event.value)
            assert isinstance(decoded, Prediction)
            yield decoded


def labelled_pairs(
    s: config.Settings, model: str, seed: int, n: int
) -> tuple[list[Prediction], list[float]]:
    """Simulated predictions that received a label, and their labels (binary 0/1, or values)."""
    decoder = Decoder(s.models, s.ingest, s.fields, clock=lambda: T0 + 400 * DAY)
    sim = Simulator(s, seed=seed, start=T0, rate=100.0, faults=[], models=[model])
    pending: dict[str, Prediction] = {}
    out: tuple[list[Prediction], list[float]] = ([], [])
    for i, event in enumerate(sim.events(n)):
        if event.topic_kind == "prediction":
            decoded = decoder.prediction(i, event.key, event.value)
            assert isinstance(decoded, Prediction)
            pending[decoded.id] = decoded
        elif (outcome := decoder.outcome(i, event.key, event.value)).id in pending:  # type: ignore[union-attr]
            out[0].append(pending.pop(outcome.id))  # type: ignore[union-attr]
            out[1].append(outcome.label)  # type: ignore[union-attr]
    return out


def reference(s: config.Settings, model: str) -> ReferenceProfile:
    events, labels = labelled_pairs(s, model, seed=1000, n=10_000)
    m = s.model(model)
    columns = {f: [e.features.get(f) for e in events] for f in m.features}
    return build_profile(
        m,
        columns,
        predictions=[e.prediction for e in events],
        scores=[e.score for e in events] if m.task == "binary" else None,
        labels=labels,
        version="ref",
        source="test",
        created_at=0.0,
    )


def evaluate_all(
    s: config.Settings, model: str, ref: ReferenceProfile, windows: dict[str, dict[str, float]]
) -> list[WindowEvaluation]:
    judges = Judges.of(s)
    out: list[WindowEvaluation] = []
    for wid, fields in sorted(windows.items(), key=lambda kv: parse_window_id(kv[0])[0]):
        start, version, _ = parse_window_id(wid)
        out.append(
            evaluate_window(
                s.model(model),
                ref,
                WindowCounts(int(fields.get("n", 0)), fields),
                window_start=start,
                version=version,
                judges=judges,
                now=0.0,
                previous=out[-1] if out else None,
            )
        )
    return out


def summarise(evaluations: list[WindowEvaluation]) -> tuple[int, int, int, int]:
    """(windows with a verdict, windows with any drift, windows with a data-quality rate
    raised, critical verdicts of any kind)."""
    judged = [e for e in evaluations if any(v.status != "insufficient" for v in e.verdicts)]
    drifted = [e for e in judged if any(v.status == "drift" for v in e.verdicts)]
    quality = [e for e in judged if any(v.status == "degraded" for v in e.quality_verdicts)]
    critical = sum(
        v.severity == "critical"
        for e in evaluations
        for v in (*e.verdicts, *e.quality_verdicts, *e.performance_verdicts)
    )
    return len(judged), len(drifted), len(quality), critical


def perf_sums(task: str, rows: np.ndarray, scores: np.ndarray, preds: np.ndarray,
              labels: np.ndarray) -> dict[str, float]:  # fmt: skip
    """The performance sums of the pairs ``rows`` (indices), as a window keeps them."""
    if task == "binary":
        return performance.binary_sums(scores[rows], preds[rows], labels[rows])
    return performance.regression_sums(preds[rows], labels[rows])


def allowed(n_windows: int, fdr: float) -> float:
    rate = 2 * fdr
    return n_windows * rate + 3 * math.sqrt(n_windows * rate * (1 - rate))


def test_hourly_100_event_windows_for_30_days_raise_no_critical_and_few_warnings() -> None:
    s = settings(min_samples=100)
    totals = [0, 0, 0, 0]
    for m in s.models:
        ref = reference(s, m.name)
        changes = Effects()
        aggregator = WindowAggregator(s.models, s.windows, lambda _, ref=ref: ref)
        events = list(predictions(s, m.name, seed=7, n=30 * 24 * 100, rate=100 / 3600))
        aggregator.predictions(changes, events)
        windows = {wid: {**d.counts, **d.sums} for (_, wid), d in changes.windows.items()}
        assert len(windows) == 30 * 24
        judged, drifted, quality, critical = summarise(evaluate_all(s, m.name, ref, windows))
        assert judged == len(windows)
        totals = [a + b for a, b in zip(totals, (judged, drifted, quality, critical), strict=True)]
    judged, drifted, quality, critical = totals
    assert critical == 0
    assert drifted <= allowed(judged, s.drift.fdr), (drifted, judged)
    assert quality <= allowed(judged, s.quality.alpha / 2), (quality, judged)


def test_daily_100k_event_windows_for_30_days_raise_no_critical_and_few_warnings() -> None:
    s = settings(min_samples=200)
    rng = np.random.default_rng(11)
    totals = [0, 0, 0, 0]
    for m in s.models:
        ref = reference(s, m.name)
        population = Effects()
        wide = dataclass_replace_size(s, 10 * 365 * DAY)
        aggregator = WindowAggregator(wide.models, wide.windows, lambda _, ref=ref: ref)
        aggregator.predictions(
            population, list(predictions(s, m.name, seed=8, n=300_000, rate=100.0))
        )
        (window,) = population.windows.values()
        fields = window.counts
        windows: dict[str, dict[str, float]] = {}
        for day in range(30):
            window: dict[str, float] = {"n": 100_000}
            for feature, profile in [*ref.features.items(), (PREDICTION, ref.prediction)]:
                counts = np.array(
                    [fields.get(f"b:{feature}:{b}", 0) for b in range(profile.n_bins)]
                )
                draw = rng.multinomial(100_000, counts / counts.sum())
                window |= {f"b:{feature}:{b}": float(c) for b, c in enumerate(draw) if c}
            windows[f"{int(T0) + day * DAY}|v|ref"] = window
        judged, drifted, quality, critical = summarise(evaluate_all(s, m.name, ref, windows))
        assert judged == 30
        totals = [a + b for a, b in zip(totals, (judged, drifted, quality, critical), strict=True)]
    judged, drifted, quality, critical = totals
    assert critical == 0
    assert drifted <= allowed(judged, s.drift.fdr), (drifted, judged)
    assert quality <= allowed(judged, s.quality.alpha / 2), (quality, judged)


def dataclass_replace_size(s: config.Settings, size: int) -> config.Settings:
    """One window spanning the whole population sample."""
    return dataclasses.replace(s, windows=dataclasses.replace(s.windows, size_seconds=size))


@pytest.mark.parametrize("labels_per_window", [100, 1_000, 100_000])
def test_stable_labels_raise_no_critical_and_few_performance_warnings(
    labels_per_window: int,
) -> None:
    """5 models × 30 daily windows of ``labels_per_window`` labelled pairs each, resampled from
    90k stable simulated pairs: windows with a degraded metric no more often than ``alpha``
    (here ≤ 2·alpha + 3 binomial σ, as the drift bound), no critical verdict (with the
    confirmation every window gets)."""
    s = dataclasses.replace(
        settings(min_samples=100),
        performance=dataclasses.replace(config.PerformanceSettings(), min_labels=100),
    )
    rng = np.random.default_rng(labels_per_window)
    flagged = critical = judged = 0
    for m in s.models:
        ref = reference(s, m.name)
        assert ref.labelled is not None
        events, labels = labelled_pairs(s, m.name, seed=9, n=100_000)
        scores = np.array([np.nan if e.score is None else e.score for e in events])
        preds = np.array([e.prediction for e in events], dtype=np.float64)
        y = np.array(labels, dtype=np.float64)
        windows = {}
        for day in range(30):
            rows = rng.integers(0, len(events), size=labels_per_window)
            sums = perf_sums(m.task, rows, scores, preds, y)
            fields = {"n": 10_000.0} | {f"perf:{k}": v for k, v in sums.items()}
            windows[f"{int(T0) + day * DAY}|v|ref"] = fields
        for ev in evaluate_all(s, m.name, ref, windows):
            verdicts = ev.performance_verdicts
            assert verdicts and all(v.status != "insufficient" for v in verdicts), verdicts
            judged += 1
            flagged += any(v.status == "degraded" for v in verdicts)
            critical += sum(v.severity == "critical" for v in verdicts)
    assert judged == 150
    assert critical == 0
    assert flagged <= allowed(judged, s.performance.alpha / 2), flagged
