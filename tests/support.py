"""Helpers shared by end-to-end and dashboard tests (fixtures live in the conftest files)."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

from monitor import config
from monitor.simulate import Simulator

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> str:
    """Run ``driftwatch`` as a user would; fail the test with its stderr if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def set_baseline(
    config_path: Path, settings: config.Settings, model: str, folder: Path, n: int = 6000
) -> None:
    """``driftwatch baseline set`` from stable simulated traffic (another seed) as training data."""
    sim = Simulator(settings, seed=99, start=time.time() - 86400, faults=[], models=[model])
    rows: dict[bytes, dict[str, Any]] = {}
    for e in sim.events(n):
        doc = msgspec.json.decode(e.value)
        if e.topic_kind == "prediction":
            rows[e.key] = {**doc["features"], "prediction": doc["prediction"]}
            if "score" in doc:
                rows[e.key]["score"] = doc["score"]
        elif e.key in rows:
            rows[e.key]["label"] = doc["label"]
    labelled = [r for r in rows.values() if "label" in r]
    path = folder / f"{model}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(labelled[0]))
        writer.writeheader()
        writer.writerows(labelled)
    args = ["baseline", "set", "--config", str(config_path), "--model", model, "--file", str(path)]
    args += ["--label-column", "label"]
    if "score" in labelled[0]:
        args += ["--score-column", "score"]
    said = cli(*args)
    assert "is now current" in said
    if "score" in labelled[0]:  # a binary classifier's scores get calibrated for estimates
        assert "performance estimates before labels: calibrated on" in said, said
