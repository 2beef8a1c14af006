"""Drift-report benchmark: Driftwatch against Evidently's DataDriftPreset, in the same run.

    .venv/bin/python benchmarks/report.py     # defaults: well under 2 minutes, one core busy

One-time setup of the Evidently side (see "Why a second interpreter" below)::

    python3.11 -m venv .driftwatch/bench-venv
    .driftwatch/bench-venv/bin/pip install "evidently>=0.7" "pandas>=2,<3"

Data (seeded, ``--seed``): 30 features — 24 numeric of varied shapes (normal, skewed, heavy
tailed, bimodal, integer counts with ties, zero-inflated, a 0/1 flag, two with missing values)
and 6 categorical (3 to 40 categories) — plus the model's score. A 10k-row reference and
``--windows`` current windows of 10k rows, alternately stable and drifted; each drifted window
changes three named features clearly (a mean shift, a scale change, category or flag mass moved:
see :data:`DRIFTS`). The score is computed from features, so it drifts when they do.

(a) Driftwatch, timed per stage, with the daemon's own code:

- reference profile: ``build_profile`` once per reference (reported apart, not in rows/s);
- aggregation: ``WindowAggregator.predictions`` fed ``Prediction`` objects in batches of
  ``kafka.max_poll_records`` — exactly what the daemon runs per poll after decoding (decoding
  and Redis writes are the ingest benchmark's business, ``benchmarks/ingest.py``); the batch
  increments are then summed into a ``WindowCounts`` as the query layer sums partitions;
- evaluation: ``evaluate_window`` (which calls ``evaluate``) on the window's counts, *cold* with
  a new ``NullCalibrator`` (every bootstrap null simulated: the first window of a reference) and
  *warm* (median of ``--repeats`` reruns on the same calibrator: every later window of that
  reference at a similar size, the daemon's steady state).

Driftwatch rows/s = current rows / (aggregation + evaluation) summed over windows; printed for
warm (steady state) and cold evaluation, and once more with the reference profile rebuilt for
every window, the least favourable accounting.

50 models × 30 features: 50 references of their own (different seeds), one 10k-row window each
(every fifth one drifted as in the first drifted window); cold = one calibrator for the process,
as the daemon keeps, evaluating every model's window once from empty; warm = the same again.
Each model has its own reference, so a model's first window always pays the cold cost. Warm
means every null for this window size is cached: here 50 × 31 tests × 2 size buckets, inside
the calibrator's 4096-entry LRU; windows judged at many sizes (re-evaluated while they fill)
need one entry per size bucket, so a large fleet can fall back towards the cold cost.

(b) Evidently ``Report([DataDriftPreset()], include_tests=True)`` on pandas DataFrames of the
same reference and windows (30 features + the score as a numerical column, column types
declared with ``DataDefinition``). The reference ``Dataset`` is built once, untimed, as our
profile; per window the timer covers ``Dataset.from_pandas(current)`` + ``Report.run``. One
untimed warm-up run first (imports, lazy initialisation). Evidently rows/s = current rows /
that time summed over windows. A column's decision is its "Value Drift" test (FAIL = drift).

Both sides start from decoded in-memory rows in their natural input (dicts per event for the
daemon, DataFrames for Evidently); neither side runs a process pool. The Evidently worker gets
one BLAS/OpenMP thread.

Why the decisions can differ (printed per feature when they do):

- Evidently, reference > 1000 rows: normalised Wasserstein distance ≥ 0.1 for numeric columns
  with more than 5 distinct values, Jensen–Shannon distance ≥ 0.1 for categorical ones and
  numeric ones with ≤ 5 values; fixed thresholds, whatever the window size.
- Driftwatch: PSI on the reference's (≤ 20) quantile bins with a p-value from its bootstrap
  null at this window size, ``p ≤ alpha`` (0.01), Benjamini–Hochberg at ``fdr`` (5 %) across the
  model's features and prediction, and an effect floor ``psi ≥ min_psi`` (0.05).
- A small shift can sit between the two rules (Wasserstein 0.1σ corresponds to PSI ≈ 0.01,
  under our floor; PSI 0.05 to ≈ 0.22σ), and a numeric feature whose reference has two
  distinct values gets one in-range bin in our profile (quantile edges ``[0, 1]`` make one bin
  closed on both sides), so Driftwatch cannot see mass move between 0 and 1 at all while
  Evidently's Jensen–Shannon test can. The script detects and names such single-bin profiles.

Why a second interpreter: Evidently 0.7.23 (the newest when this was written) pins
``plotly<6`` and imports a pandas internal that pandas 3 removed, while the project venv has
pandas 3 and plotly 7 (the Streamlit dashboard): installing it there would downgrade plotly and
still fail to import. So Evidently runs in its own venv (``--evidently-python``, default
``.driftwatch/bench-venv/bin/python``, git-ignored), as a worker process running this same file
with ``--evidently-worker``: the data go over in an ``.npz``, timings and decisions come back as
JSON, and each side's timer runs in its own process. The worker needs only numpy, pandas and
Evidently, which is why Driftwatch is imported inside the functions that use it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from monitor.config import ModelSettings, Settings
    from monitor.events import Prediction
    from monitor.stats.calibration import NullCalibrator
    from monitor.stats.health import WindowCounts, WindowEvaluation
    from monitor.stats.reference import ReferenceProfile

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVIDENTLY_PYTHON = ROOT / ".driftwatch" / "bench-venv" / "bin" / "python"
PREDICTION = "__prediction__"  # monitor.stats.verdict.PREDICTION, without importing Driftwatch
WINDOW_START = 1_767_225_600  # 2026-01-01T00:00:00Z, a window boundary for 1-hour windows
TARGET_RATIO = 20.0

Column = NDArray[Any]
Table = dict[str, Column]

# --- data -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    """One synthetic feature and how its stable values are sampled (drifts: :data:`DRIFTS`)."""

    name: str
    kind: str  # "numeric" | "categorical"
    sample: Callable[[np.random.Generator, int], Column]


def _categorical(categories: list[str], p: list[float] | None = None) -> Callable[..., Column]:
    probs = np.asarray(p if p is not None else [1.0 / (i + 1) for i in range(len(categories))])
    probs = probs / probs.sum()
    return lambda rng, n: rng.choice(np.array(categories), size=n, p=probs)


def _with_missing(share: float, sample: Callable[..., Column]) -> Callable[..., Column]:
    def draw(rng: np.random.Generator, n: int) -> Column:
        x = sample(rng, n)
        x[rng.random(n) < share] = np.nan
        return x

    return draw


def _bimodal(rng: np.random.Generator, n: int) -> Column:
    return np.where(rng.random(n) < 0.6, rng.normal(-2.0, 1.0, n), rng.normal(3.0, 0.5, n))


def _zero_inflated(rng: np.random.Generator, n: int) -> Column:
    return np.where(rng.random(n) < 0.7, 0.0, rng.lognormal(2.0, 1.0, n))


FEATURES: list[Feature] = [
    Feature("num_00", "numeric", lambda rng, n: rng.normal(50.0, 10.0, n)),
    Feature("num_01", "numeric", lambda rng, n: rng.lognormal(3.0, 0.6, n)),
    Feature("num_02", "numeric", lambda rng, n: rng.exponential(2.0, n)),
    Feature("num_03", "numeric", lambda rng, n: rng.uniform(0.0, 100.0, n)),
    Feature("num_04", "numeric", lambda rng, n: rng.beta(2.0, 5.0, n)),
    Feature("num_05", "numeric", lambda rng, n: rng.gamma(2.0, 2.0, n)),
    Feature("num_06", "numeric", lambda rng, n: rng.standard_t(3.0, n)),
    Feature("num_07", "numeric", _bimodal),
    Feature("num_08", "numeric", lambda rng, n: rng.poisson(4.0, n).astype(np.float64)),
    Feature("num_09", "numeric", _zero_inflated),
    Feature("num_10", "numeric", lambda rng, n: (rng.random(n) < 0.3).astype(np.float64)),
    Feature("num_11", "numeric", _with_missing(0.03, lambda rng, n: rng.normal(0.0, 1.0, n))),
    Feature("num_12", "numeric", lambda rng, n: rng.pareto(3.0, n)),
    Feature("num_13", "numeric", lambda rng, n: rng.weibull(1.5, n)),
    Feature("num_14", "numeric", lambda rng, n: np.round(np.clip(rng.normal(42, 14, n), 18, 90))),
    Feature("num_15", "numeric", lambda rng, n: rng.normal(0.01, 0.002, n)),
    Feature("num_16", "numeric", lambda rng, n: rng.lognormal(8.0, 1.5, n)),
    Feature("num_17", "numeric", lambda rng, n: rng.logistic(5.0, 2.0, n)),
    Feature("num_18", "numeric", lambda rng, n: rng.integers(1, 13, n).astype(np.float64)),
    Feature("num_19", "numeric", lambda rng, n: rng.chisquare(1.0, n)),
    Feature("num_20", "numeric", lambda rng, n: rng.laplace(0.0, 3.0, n)),
    Feature("num_21", "numeric", _with_missing(0.05, lambda rng, n: rng.normal(100, 15, n))),
    Feature("num_22", "numeric", lambda rng, n: rng.triangular(0.0, 2.0, 10.0, n)),
    Feature("num_23", "numeric", lambda rng, n: rng.negative_binomial(3, 0.3, n).astype(float)),
    Feature("cat_0", "categorical", _categorical(["free", "pro", "enterprise"], [0.6, 0.3, 0.1])),
    Feature("cat_1", "categorical", _categorical(["north", "south", "east", "west", "centre"])),
    Feature("cat_2", "categorical", _categorical([f"device_{i}" for i in range(8)])),
    Feature("cat_3", "categorical", _categorical([f"channel_{i:02d}" for i in range(12)])),
    Feature("cat_4", "categorical", _categorical([f"country_{i:02d}" for i in range(25)])),
    Feature("cat_5", "categorical", _categorical([f"merchant_{i:02d}" for i in range(40)])),
]
FEATURE_KINDS = {f.name: f.kind for f in FEATURES}
NUMERIC = [f.name for f in FEATURES if f.kind == "numeric"]
CATEGORICAL = [f.name for f in FEATURES if f.kind == "categorical"]


def _shift(sigmas: float, std: float) -> Callable[[np.random.Generator, Column], Column]:
    return lambda rng, x: x + sigmas * std


def _scale(factor: float, centre: float) -> Callable[[np.random.Generator, Column], Column]:
    return lambda rng, x: centre + (x - centre) * factor


def _move(src: str, dst: str, share: float) -> Callable[[np.random.Generator, Column], Column]:
    def move(rng: np.random.Generator, x: Column) -> Column:
        x = x.copy()
        x[(x == src) & (rng.random(x.size) < share)] = dst
        return x

    return move


def _flag(share: float) -> Callable[[np.random.Generator, Column], Column]:
    def move(rng: np.random.Generator, x: Column) -> Column:
        return np.where((x == 0.0) & (rng.random(x.size) < share), 1.0, x)

    return move


#: Named drifts: window kind → feature → (what changes, transform of the stable values).
DRIFTS: dict[str, dict[str, tuple[str, Callable[[np.random.Generator, Column], Column]]]] = {
    "drift-a": {
        "num_00": ("mean +0.5σ", _shift(0.5, 10.0)),
        "num_05": ("scale ×1.5", _scale(1.5, 4.0)),
        "cat_1": ("40% of 'north' → 'east'", _move("north", "east", 0.4)),
    },
    "drift-b": {
        "num_14": ("mean +0.4σ", _shift(0.4, 14.0)),
        "num_21": ("scale ×0.6", _scale(0.6, 100.0)),
        "cat_4": ("50% of 'country_00' → 'country_07'", _move("country_00", "country_07", 0.5)),
    },
    "drift-c": {
        "num_17": ("mean -0.5σ", _shift(-0.5, 2.0 * math.pi / math.sqrt(3.0))),
        "num_10": ("flag rate 0.30 → ~0.45", _flag(0.22)),
        "cat_0": ("50% of 'free' → 'pro'", _move("free", "pro", 0.5)),
    },
}


def _score(table: Table) -> Column:
    """The model's score: a logistic function of a few features (drifts when they do)."""
    logit = (
        0.08 * (table["num_00"] - 50.0)
        + 0.15 * (table["num_17"] - 5.0)
        + 0.9 * table["num_10"]
        - 0.7 * (table["cat_0"] == "pro")
        - 0.5
    )
    return 1.0 / (1.0 + np.exp(-logit))


def generate(rng: np.random.Generator, n: int, drift: str | None = None) -> Table:
    """``n`` rows of every feature and the score; ``drift`` names an entry of :data:`DRIFTS`."""
    changes = DRIFTS[drift] if drift else {}
    table: Table = {}
    for feature in FEATURES:
        x = feature.sample(rng, n)
        if feature.name in changes:
            x = changes[feature.name][1](rng, x)
        table[feature.name] = x
    table[PREDICTION] = _score(table)
    return table


def window_plan(n_windows: int) -> list[tuple[str, str | None]]:
    """Window names and their drift: stable and drifted alternately, drifts in turn."""
    kinds = list(DRIFTS)
    plan: list[tuple[str, str | None]] = []
    for i in range(n_windows):
        drift = kinds[(i // 2) % len(kinds)] if i % 2 else None
        plan.append((f"w{i}:{drift or 'stable'}", drift))
    return plan


# --- Driftwatch -----------------------------------------------------------------------------------


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
    from monitor.stats.health import WindowCounts
    from monitor.stats.window import WindowAggregator
    from monitor.store.checkpoint import Changes
    from monitor.store.keys import Keys

    keys = Keys("bench")
    pkeys = keys.partition(keys.tag("bench", "predictions", 0))
    aggregator = WindowAggregator(settings, keys, references.get)
    batch = settings.kafka.max_poll_records
    fields: dict[str, float] = {}
    elapsed = 0.0
    for start in range(0, len(events), batch):
        changes = Changes()
        t = time.perf_counter()
        aggregator.predictions(changes, pkeys, events[start : start + batch], now_ms=0)
        elapsed += time.perf_counter() - t
        if len(changes.incr) != 1:
            raise RuntimeError(f"expected one window per batch, got {len(changes.incr)}")
        for increments in (*changes.incr.values(), *changes.fincr.values()):
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
    from monitor.stats.health import Judges, evaluate_window
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


# --- Evidently (runs in the worker interpreter) ---------------------------------------------------


def save_tables(path: Path, reference: Table, windows: dict[str, Table]) -> None:
    """Hand the exact same rows to the worker: one ``.npz``, keys ``<table>//<column>``."""
    arrays = {f"reference//{k}": v for k, v in reference.items()}
    for name, table in windows.items():
        arrays.update({f"{name}//{k}": v for k, v in table.items()})
    np.savez(path, **arrays)  # str and float arrays only: no pickle needed to load


def load_tables(path: Path) -> dict[str, Table]:
    """The worker's side of :func:`save_tables`."""
    tables: dict[str, Table] = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            table, column = key.split("//")
            tables.setdefault(table, {})[column] = data[key]
    return tables


def evidently_worker(data_path: Path, out_path: Path, window_names: list[str]) -> None:
    """Run DataDriftPreset on every window; write timings and per-column decisions as JSON."""
    t = time.perf_counter()
    import evidently
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    import_seconds = time.perf_counter() - t
    tables = load_tables(data_path)
    definition = DataDefinition(
        numerical_columns=[*NUMERIC, PREDICTION], categorical_columns=CATEGORICAL
    )

    def frame(table: Table) -> Any:
        return pd.DataFrame({name: table[name] for name in [*FEATURE_KINDS, PREDICTION]})

    reference = Dataset.from_pandas(frame(tables["reference"]), data_definition=definition)
    frames = {name: frame(tables[name]) for name in window_names}

    def run(current_frame: Any) -> tuple[Any, float]:
        t = time.perf_counter()
        current = Dataset.from_pandas(current_frame, data_definition=definition)
        snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference)
        return snapshot, time.perf_counter() - t

    _, warmup = run(frames[window_names[0]])
    print(f"  [evidently] warm-up run (untimed) {warmup:.2f} s", flush=True)
    results: dict[str, Any] = {}
    for name in window_names:
        snapshot, seconds = run(frames[name])
        results[name] = {"seconds": seconds, "rows": len(frames[name]), **_decisions(snapshot)}
        print(f"  [evidently] {name}: {len(frames[name]):,} rows in {seconds:.2f} s", flush=True)
    out_path.write_text(
        json.dumps(
            {
                "evidently": evidently.__version__,
                "pandas": pd.__version__,
                "import_seconds": import_seconds,
                "windows": results,
            }
        )
    )


def _decisions(snapshot: Any) -> dict[str, Any]:
    """Per column: drift (its Value Drift test failed), the method, score and threshold."""
    doc = snapshot.dict()
    metrics = {m["id"]: m for m in doc["metrics"]}
    columns: dict[str, Any] = {}
    for test in doc["tests"]:
        params = test["metric_config"]["params"]
        if params.get("type") != "evidently:metric_v2:ValueDrift":
            continue
        metric = metrics[test["metric_config"]["metric_id"]]
        columns[params["column"]] = {
            "drift": test["status"] == "FAIL",
            "method": params["method"],
            "threshold": params["threshold"],
            "score": metric["value"],
        }
    missing = {*FEATURE_KINDS, PREDICTION} - set(columns)
    if missing:
        raise RuntimeError(f"Evidently returned no drift test for {sorted(missing)}")
    return {"columns": columns}


def run_evidently(
    python: Path, reference: Table, windows: dict[str, Table], workdir: Path
) -> dict[str, Any]:
    """Run the Evidently side in ``python`` (its own venv) and read back its JSON.

    One BLAS/OpenMP thread, as the Driftwatch side effectively uses; ``DO_NOT_TRACK`` keeps
    Evidently's usage telemetry off (only its UI and collector send any, but be sure).
    """
    data, out = workdir / "tables.npz", workdir / "evidently.json"
    save_tables(data, reference, windows)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "DO_NOT_TRACK": "1",
    }
    command = [
        str(python),
        str(Path(__file__).resolve()),
        "--evidently-worker",
        str(data),
        str(out),
    ]
    command += ["--window-names", *windows]
    subprocess.run(command, check=True, env=env)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# --- the run --------------------------------------------------------------------------------------


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


def _mark(drift: bool | None) -> str:
    return "?" if drift is None else "X" if drift else "."


def _row(label: str, value: str) -> None:
    print(f"  {label:<48}{value}")


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


def _ours(window: DriftwatchWindow, column: str) -> bool | None:
    """Driftwatch's decision: True drift, False ok, None insufficient data."""
    status = window.decisions[column]["status"]
    return None if status == "insufficient" else status == "drift"


def _theirs(ev: dict[str, Any], window: str, column: str) -> bool:
    return bool(ev["windows"][window]["columns"][column]["drift"])


def print_rates(
    dw: dict[str, DriftwatchWindow],
    ev: dict[str, Any],
    build_seconds: float,
    fleet: FleetResult,
    plan: list[tuple[str, str | None]],
) -> None:
    """Per-stage costs and the rows/s of both sides, all from this run's timings."""
    names = [name for name, _ in plan]
    stable = [dw[n].evaluated for n, d in plan if d is None]
    drifted = [dw[n].evaluated for n, d in plan if d is not None]
    rows = sum(w.rows for w in dw.values())
    agg = sum(w.aggregate for w in dw.values())
    warm = sum(w.evaluated.warm for w in dw.values())
    cold = sum(w.evaluated.cold for w in dw.values())
    ev_seconds = [ev["windows"][n]["seconds"] for n in names]
    rates = {
        "warm (steady state)": rows / (agg + warm),
        "cold (first window of a reference)": rows / (agg + cold),
        "cold + profile rebuilt every window": rows / (agg + cold + build_seconds * len(names)),
    }
    ev_rate = rows / sum(ev_seconds)
    n_tests = len(FEATURES) + 1

    print(
        f"data: {len(FEATURES)} features ({len(NUMERIC)} numeric, {len(CATEGORICAL)} categorical)"
        f" + score; {len(names)} windows of {dw[names[0]].rows:,} rows "
        f"({len(stable)} stable, {len(drifted)} drifted)"
    )
    print(
        f"evidently {ev['evidently']} (pandas {ev['pandas']}); driftwatch side numpy "
        f"{np.__version__}, python {sys.version.split()[0]}"
    )
    fleet_cold = (
        f"{fleet.cold:.2f} s (per model: median {_ms(fleet.cold_per_model)}, "
        f"max {max(fleet.cold_per_model) * 1000:.0f} ms)"
    )
    print()
    print("(a) driftwatch, per stage")
    _row("reference profile, once per reference", f"{build_seconds * 1000:.0f} ms")
    _row("aggregation (WindowAggregator)", f"{rows / agg:,.0f} events/s")
    _row(
        f"evaluate one window ({n_tests} tests), cold",
        f"{_ms([e.cold for e in stable])} stable, {_ms([e.cold for e in drifted])} drifted",
    )
    _row(f"evaluate one window ({n_tests} tests), warm", _ms([e.warm for e in stable + drifted]))
    _row(f"{fleet.models} models x {n_tests} tests, cold", fleet_cold)
    _row(f"{fleet.models} models x {n_tests} tests, warm", f"{fleet.warm * 1000:.0f} ms")
    _row(f"{fleet.models} reference profiles (not in rows/s)", f"{fleet.build:.2f} s")
    _row(
        f"aggregation of the {fleet.models} windows",
        f"{fleet.rows / fleet.aggregate:,.0f} events/s",
    )
    print("(b) evidently DataDriftPreset")
    _row("one window (from_pandas + Report.run)", _ms(ev_seconds))
    _row("import (untimed)", f"{ev['import_seconds']:.1f} s")
    print()
    print(f"rows/s: {rows:,} current rows / time summed over {len(names)} windows")
    for label, rate in rates.items():
        _row(f"driftwatch, {label}", f"{rate:>10,.0f}")
    _row("evidently DataDriftPreset", f"{ev_rate:>10,.0f}")
    for label, rate in rates.items():
        ratio = rate / ev_rate
        verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
        _row(
            f"ratio, {label}",
            f"{ratio:>9,.1f}x  ({verdict} the {TARGET_RATIO:g}x target)",
        )


def print_decisions(
    dw: dict[str, DriftwatchWindow],
    ev: dict[str, Any],
    single_bin: list[str],
    plan: list[tuple[str, str | None]],
) -> None:
    """Both sides' decisions side by side, the agreement, and every disagreement explained."""
    names = [name for name, _ in plan]
    columns = [*FEATURE_KINDS, PREDICTION]
    print("named drifts (the score follows num_00, num_10, num_17 and cat_0)")
    for kind in sorted({d for _, d in plan if d}):
        print(f"  {kind}: " + "; ".join(f"{f} {what}" for f, (what, _) in DRIFTS[kind].items()))
    print()
    print("drift decisions per window, driftwatch | evidently (X drift, . ok, ? insufficient)")
    print(f"{'feature':<16}{'evidently test':<16}" + "".join(f"{n:>14}" for n in names))
    for column in columns:
        method = ev["windows"][names[0]]["columns"][column]["method"]
        short = method.split()[0].lower()  # "wasserstein", "jensen-shannon", ...
        cells = [f"{_mark(_ours(dw[n], column))} | {_mark(_theirs(ev, n, column))}" for n in names]
        print(f"{column:<16}{short:<16}" + "".join(f"{c:>14}" for c in cells))

    print()
    print("agreement")
    for drifted, label in ((True, "drifted windows"), (False, "stable windows")):
        group = [(n, d) for n, d in plan if (d is not None) is drifted]
        both, only_dw, only_ev = [], [], []
        for n, _ in group:
            for column in columns:
                ours, theirs = _ours(dw[n], column) is True, _theirs(ev, n, column)
                key = f"{n}/{column}"
                if ours and theirs:
                    both.append(key)
                elif ours:
                    only_dw.append(key)
                elif theirs:
                    only_ev.append(key)
        decisions = len(group) * len(columns)
        agree = decisions - len(only_dw) - len(only_ev)
        print(f"  {label}: {agree}/{decisions} decisions agree")
        named = [f"{n}/{f}" for n, d in group if d for f in DRIFTS[d]]
        if named:
            caught_dw = sum(k in both or k in only_dw for k in named)
            caught_ev = sum(k in both or k in only_ev for k in named)
            print(
                f"    named drifts caught: driftwatch {caught_dw}/{len(named)}, "
                f"evidently {caught_ev}/{len(named)}"
            )
        sides = {"both flag": both, "only driftwatch": only_dw, "only evidently": only_ev}
        for title, keys in sides.items():
            lines = textwrap.wrap(", ".join(keys) or "-", width=78)
            print(f"    {title + ':':<17}" + "\n                     ".join(lines))

    disagreements = [
        (n, c) for n in names for c in columns if _ours(dw[n], c) is not _theirs(ev, n, c)
    ]
    if disagreements:
        print()
        print("disagreements, with each side's statistic")
    for n, column in disagreements:
        d = dw[n].decisions[column]
        e = ev["windows"][n]["columns"][column]
        p = "n/a" if d["p"] is None else f"{d['p']:.2g}"
        print(
            f"  {n}/{column}: driftwatch {d['status']} (psi {d['psi']:.3f}, p {p}); "
            f"evidently {'drift' if e['drift'] else 'ok'} "
            f"({e['method']} {e['score']:.3f}, threshold {e['threshold']:g})"
        )
        if column in single_bin:
            print("    why: driftwatch's reference profile of this feature has one in-range bin")
        else:
            print("    why: different tests and thresholds (see --help)")
    if single_bin:
        print(
            f"note: {', '.join(single_bin)}: two distinct values in the reference, so one "
            "in-range quantile bin — driftwatch cannot see mass move between them"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000, help="rows per current window")
    parser.add_argument("--reference-rows", type=int, default=10_000, help="rows per reference")
    parser.add_argument(
        "--windows", type=int, default=6, help="current windows, stable/drifted alternately"
    )
    parser.add_argument("--models", type=int, default=50, help="models for the fleet evaluation")
    parser.add_argument(
        "--model-rows", type=int, default=10_000, help="window rows per fleet model"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="warm evaluations per window (median)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--evidently-python",
        type=Path,
        default=DEFAULT_EVIDENTLY_PYTHON,
        help="interpreter with evidently>=0.7 and pandas<3 installed",
    )
    parser.add_argument(
        "--evidently-worker", nargs=2, type=Path, metavar=("DATA", "OUT"), help=argparse.SUPPRESS
    )
    parser.add_argument("--window-names", nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.evidently_worker:
        evidently_worker(*args.evidently_worker, args.window_names)
        return
    if args.windows < 2:
        parser.error("--windows must be >= 2 (one stable, one drifted)")
    if not args.evidently_python.exists():
        sys.exit(
            f"{args.evidently_python} not found. Set up the Evidently side once:\n"
            f"  python3.11 -m venv .driftwatch/bench-venv\n"
            f"  .driftwatch/bench-venv/bin/pip install 'evidently>=0.7' 'pandas>=2,<3'\n"
            "or pass --evidently-python PATH."
        )

    rng = np.random.default_rng(args.seed)
    reference_table, tables, dw, build_seconds, single_bin = main_window_benchmark(args, rng)
    print("(b) evidently DataDriftPreset on the same data (worker process) ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ev = run_evidently(args.evidently_python, reference_table, tables, Path(tmp))
    fleet = fleet_benchmark(args)
    plan = window_plan(args.windows)
    print()
    print_rates(dw, ev, build_seconds, fleet, plan)
    print()
    print_decisions(dw, ev, single_bin, plan)


if __name__ == "__main__":
    main()
