"""Evidently's side of the benchmark: ``DataDriftPreset`` in a worker process of its own venv.

Evidently cannot be installed next to Driftwatch (``report.py --help`` says why), so
:func:`run_evidently` starts ``report.py --evidently-worker`` with the bench venv's interpreter,
which calls :func:`evidently_worker`. The rows go over in an ``.npz`` and timings and decisions
come back as JSON; the worker's side needs only numpy, pandas and Evidently.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from .data import CATEGORICAL, FEATURE_KINDS, NUMERIC, PREDICTION, Table


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
    python: Path, script: Path, reference: Table, windows: dict[str, Table], workdir: Path
) -> dict[str, Any]:
    """Run the Evidently side in ``python`` (its own venv) and read back its JSON.

    ``script`` is ``report.py``, whose hidden ``--evidently-worker`` option calls
    :func:`evidently_worker`: the worker starts from the file people run, so it finds this
    package exactly as they do. One BLAS/OpenMP thread, as the Driftwatch side effectively
    uses; ``DO_NOT_TRACK`` keeps Evidently's usage telemetry off (only its UI and collector
    send any, but be sure).
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
        str(script),
        "--evidently-worker",
        str(data),
        str(out),
    ]
    command += ["--window-names", *windows]
    subprocess.run(command, check=True, env=env)
    result: dict[str, Any] = json.loads(out.read_text())
    return result
