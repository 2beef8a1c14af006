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
import sys
import tempfile
from pathlib import Path

import numpy as np

# The package next to this file: Python puts a script's folder first on sys.path.
from report_parts.data import window_plan
from report_parts.driftwatch_side import fleet_benchmark, main_window_benchmark
from report_parts.evidently_side import evidently_worker, run_evidently
from report_parts.printing import print_decisions, print_rates

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVIDENTLY_PYTHON = ROOT / ".driftwatch" / "bench-venv" / "bin" / "python"


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
        script = Path(__file__).resolve()
        ev = run_evidently(args.evidently_python, script, reference_table, tables, Path(tmp))
    fleet = fleet_benchmark(args)
    plan = window_plan(args.windows)
    print()
    print_rates(dw, ev, build_seconds, fleet, plan)
    print()
    print_decisions(dw, ev, single_bin, plan)


if __name__ == "__main__":
    main()
