"""Driftwatch's side of the benchmark: the daemon's own code on the generated rows, timed.

Profile, aggregation and evaluation call what the daemon calls (``report.py --help`` says what
each timer covers). Driftwatch is imported inside the functions that use it because the
Evidently worker imports this package too, from a venv without Driftwatch.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import FEATURE_KINDS, FEATURES, PREDICTION, Table, generate, window_plan

if TYPE_CHECKING:
    from monitor.config import ModelSettings, Settings
    from monitor.events import Prediction
    from monitor.stats.calibration import NullCalibrator
    from monitor.vocab.counts import WindowCounts
    from monitor.vocab.profile import ReferenceProfile
    from monitor.vocab.verdicts import WindowEvaluation

WINDOW_START = 1_767_225_600  # 2026-01-01T00:00:00Z, a window boundary for 1-hour windows


def make_settings(n_models: int) -> Settings:
    """Validated settings (defaults everywhere) for ``n_models`` binary models of 30 features."""
    from monitor import config

    features = {f.name: f.kind for f in FEATURES}
    models = [
        {"name": f"m{i:02d}", "owner": "bench", "task": "binary", "features": features}
        for i in range(n_models)
    ]
    return config.parse({"models": models})


def build_reference(model: ModelSettings, table: Table, version: str) -> ReferenceProfile:
    """The reference profile, from columns as a reference file would give them."""
    from monitor.stats.reference import build_profile

    scores = table[PREDICTION]
    return build_profile(
        model,
        {name: table[name] for name in model.features},
        predictions=(scores >= model.threshold).astype(np.float64).tolist(),
        scores=scores.tolist(),
        version=version,
        source="benchmark",
        created_at=0.0,
    )


def to_predictions(model: ModelSettings, table: Table) -> list[Prediction]:
    """Events as the decoder delivers them: Python scalars, None for missing (untimed)."""
    from monitor.events import Prediction

    names = list(model.features)
    columns = [
        [None if v != v else v for v in table[n].tolist()]
        if FEATURE_KINDS[n] == "numeric"
        # a numpy str column's tolist() gives plain str, as msgspec does
        else table[n].tolist()
        for n in names
    ]
    scores = table[PREDICTION].tolist()
    n = len(scores)
    return [
        Prediction(
            offset=i,
            id=f"e{i}",
            model=model.name,
            version="v1",
            ts=WINDOW_START + i * (3000.0 / n),  # all inside one 1-hour window
            features=dict(zip(names, row, strict=True)),
            prediction=1.0 if s >= model.threshold else 0.0,
            score=s,
        )
        for i, (s, *row) in enumerate(zip(scores, *columns, strict=True))
    ]


def aggregate(
    settings: Settings, references: dict[str, ReferenceProfile], events: list[Prediction]
) -> tuple[WindowCounts, float]:
    """A window's counts from its events, and the seconds ``WindowAggregator`` took."""
    from monitor.stats.window import WindowAggregator
    from monitor.vocab.counts import WindowCounts
    from monitor.vocab.effects import Effects

    aggregator = WindowAggregator(settings.models, settings.windows, references.get)
    batch = settings.kafka.max_poll_records
    fields: dict[str, float] = {}
    elapsed = 0.0
    for start in range(0, len(events), batch):
        changes = Effects()
        t = time.perf_counter()
        aggregator.predictions(changes, events[start : start + batch])
        elapsed += time.perf_counter() - t
        if len(changes.windows) != 1:
            raise RuntimeError(f"expected one window per batch, got {len(changes.windows)}")
        (window,) = changes.windows.values()
        for increments in (window.counts, window.sums):
            for name, value in increments.items():
                fields[name] = fields.get(name, 0.0) + value
    return WindowCounts(int(fields["n"]), fields), elapsed


@dataclass
class Evaluated:
    """One window's evaluation and its cold and warm timings."""

    evaluation: WindowEvaluation
    cold: float
    warm: float


def evaluate_counts(
    settings: Settings,
    model: ModelSettings,
    reference: ReferenceProfile,
    counts: WindowCounts,
    calibrator: NullCalibrator,
) -> tuple[WindowEvaluation, float]:
    """What the evaluator runs when a window closes, and its seconds."""
    from monitor.stats.evaluation import Judges, evaluate_window
    from monitor.stats.performance_verdict import PerformanceCalibrator

    judges = Judges(
        settings.drift, settings.performance, settings.quality, calibrator, PerformanceCalibrator()
    )
    t = time.perf_counter()
    evaluation = evaluate_window(
        model,
        reference,
        counts,
        window_start=WINDOW_START,
        version="v1",
        judges=judges,
        now=0.0,
    )
    return evaluation, time.perf_counter() - t


def new_calibrator(settings: Settings) -> NullCalibrator:
    """An empty cache of bootstrap nulls, built as the daemon's evaluator builds its own."""
    from monitor.stats.calibration import NullCalibrator

    return NullCalibrator(draws=settings.drift.bootstrap_draws)


def evaluate_cold_warm(
    settings: Settings,
    model: ModelSettings,
    reference: ReferenceProfile,
    counts: WindowCounts,
    repeats: int,
) -> Evaluated:
    """Cold: a new calibrator simulates every null; warm: the median of reruns on its cache."""
    calibrator = new_calibrator(settings)
    evaluation, cold = evaluate_counts(settings, model, reference, counts, calibrator)
    warm = [
        evaluate_counts(settings, model, reference, counts, calibrator)[1] for _ in range(repeats)
    ]
    return Evaluated(evaluation, cold, statistics.median(warm))


def drift_decisions(evaluation: WindowEvaluation) -> dict[str, dict[str, Any]]:
    """Per feature (and prediction): status, PSI, p-value."""
    return {
        v.feature: {"status": v.status, "psi": v.value, "p": v.p_value}
        for v in evaluation.verdicts
        if v.feature != "__model__"  # verdict.MODEL, the model-level verdict
    }


def single_bin_features(reference: ReferenceProfile) -> list[str]:
    """Numeric features whose profile has one in-range bin: blind to changes between values."""
    return [
        name
        for name, p in reference.features.items()
        if FEATURE_KINDS.get(name) == "numeric" and len(getattr(p, "edges", [])) == 2
    ]


@dataclass
class DriftwatchWindow:
    """One current window on the Driftwatch side: size, stage timings, decisions."""

    rows: int
    aggregate: float
    evaluated: Evaluated
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)


def main_window_benchmark(
    args: argparse.Namespace, rng: np.random.Generator
) -> tuple[Table, dict[str, Table], dict[str, DriftwatchWindow], float, list[str]]:
    """The 30-feature model: profile once, then aggregate and evaluate every window."""
    settings = make_settings(1)
    model = settings.models[0]
    print(
        f"generating a {args.reference_rows:,}-row reference and {args.windows} windows "
        f"of {args.rows:,} rows, {len(FEATURES)} features ...",
        flush=True,
    )
    reference_table = generate(rng, args.reference_rows)
    plan = window_plan(args.windows)
    tables = {name: generate(rng, args.rows, drift) for name, drift in plan}

    t = time.perf_counter()
    reference = build_reference(model, reference_table, version="ref-main")
    build_seconds = time.perf_counter() - t
    print(f"(a) driftwatch: reference profile built in {build_seconds * 1000:.0f} ms", flush=True)
    results: dict[str, DriftwatchWindow] = {}
    for name, _ in plan:
        events = to_predictions(model, tables[name])
        counts, agg_seconds = aggregate(settings, {model.name: reference}, events)
        evaluated = evaluate_cold_warm(settings, model, reference, counts, args.repeats)
        results[name] = DriftwatchWindow(
            len(events), agg_seconds, evaluated, drift_decisions(evaluated.evaluation)
        )
        print(
            f"  {name}: aggregate {len(events) / agg_seconds:,.0f} events/s, evaluate cold "
            f"{evaluated.cold * 1000:.0f} ms / warm {evaluated.warm * 1000:.1f} ms",
            flush=True,
        )
    return reference_table, tables, results, build_seconds, single_bin_features(reference)


@dataclass
class FleetResult:
    """The ``--models`` part: totals in seconds, and each model's cold evaluation."""

    models: int
    build: float
    aggregate: float
    rows: int
    cold: float
    warm: float
    cold_per_model: list[float]


def fleet_benchmark(args: argparse.Namespace) -> FleetResult:
    """``--models`` models, each with its own reference: one window each, cold then warm."""
    settings = make_settings(args.models)
    references: dict[str, ReferenceProfile] = {}
    counts: dict[str, WindowCounts] = {}
    build = agg = 0.0
    rows = 0
    print(
        f"{args.models} models × {len(FEATURES)} features: references and one "
        f"{args.model_rows:,}-row window each ...",
        flush=True,
    )
    for i, model in enumerate(settings.models):
        rng = np.random.default_rng([args.seed, 1, i])
        table = generate(rng, args.reference_rows)
        t = time.perf_counter()
        references[model.name] = build_reference(model, table, version=f"ref-{model.name}")
        build += time.perf_counter() - t
        events = to_predictions(
            model, generate(rng, args.model_rows, "drift-a" if i % 5 == 0 else None)
        )
        counts[model.name], seconds = aggregate(settings, references, events)
        agg += seconds
        rows += len(events)
        if (i + 1) % 10 == 0:
            print(f"  {i + 1}/{args.models} models profiled and aggregated", flush=True)
    calibrator = new_calibrator(settings)  # one per process, as the daemon's evaluator keeps
    cold_per_model = []
    for model in settings.models:
        _, seconds = evaluate_counts(
            settings, model, references[model.name], counts[model.name], calibrator
        )
        cold_per_model.append(seconds)
    print(f"  cold: {sum(cold_per_model):.2f} s for {args.models} windows", flush=True)
    t = time.perf_counter()
    for model in settings.models:
        evaluate_counts(settings, model, references[model.name], counts[model.name], calibrator)
    warm = time.perf_counter() - t
    print(f"  warm: {warm * 1000:.0f} ms for {args.models} windows", flush=True)
    return FleetResult(args.models, build, agg, rows, sum(cold_per_model), warm, cold_per_model)
