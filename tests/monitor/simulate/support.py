"""The simulator tests' shared run: three models (binary, regression, multiclass) and helpers."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from monitor import config
from monitor.config import FaultSettings
from monitor.simulate import SimEvent, Simulator

ROOT = Path(__file__).resolve().parents[3]
START = 1_800_000_000.0
RATE = 100.0
#: Predictions per model in most runs: 3 models take turns, so 3 × N events.
N = 3000
SETTINGS = config.parse(
    {
        "models": [
            {
                "name": "fraud",
                "owner": "risk@example.com",
                "task": "binary",
                "threshold": 0.4,
                "features": {
                    "amount": "numeric",
                    "n_items": "numeric",
                    "hour": "numeric",
                    "score_a": "numeric",
                    "country": "categorical",
                    "channel": "categorical",
                },
            },
            {
                "name": "eta",
                "owner": "eta@example.com",
                "task": "regression",
                "features": {"distance_km": "numeric", "city": "categorical", "rush": "boolean"},
            },
            {
                "name": "intent",
                "owner": "nlp@example.com",
                "task": "multiclass",
                "classes": ["buy", "browse", "support"],
                "features": {"dwell": "numeric", "device": "categorical"},
            },
        ],
        "simulate": {"rate": RATE, "label_rate": 0.7, "label_delay_seconds": 5.0},
    }
)
#: A window in the middle of the run: from 10 s to 20 s of simulated time.
WINDOW = (10.0, 20.0)


def run(n: int = 3 * N, **kwargs: Any) -> list[SimEvent]:
    kwargs = {"seed": 0, "start": START, "faults": (), **kwargs}
    return list(Simulator(SETTINGS, **kwargs).events(n))


def fault(kind: str, model: str = "fraud", feature: str = "", magnitude: float = 1.0) -> Any:
    return FaultSettings(kind, model, feature, WINDOW[0], WINDOW[1], magnitude)  # type: ignore[arg-type]


def predictions(events: list[SimEvent], model: str) -> list[tuple[float, dict[str, Any]]]:
    """(seconds after start, decoded event) of a model's valid predictions."""
    return [
        (e.ts - START, msgspec.json.decode(e.value))
        for e in events
        if e.topic_kind == "prediction" and e.model == model and e.valid
    ]


def in_window(rel: float) -> bool:
    return WINDOW[0] <= rel < WINDOW[1]


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney AUC (scores have few ties at 4 decimals)."""
    ranks = np.argsort(np.argsort(scores)) + 1
    n_pos = labels.sum()
    return float(
        (ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(labels) - n_pos))
    )


def joined(events: list[SimEvent], model: str) -> list[tuple[float, dict[str, Any], Any]]:
    """(seconds after start, prediction, label) for the model's labelled predictions."""
    labels = {
        e.key: msgspec.json.decode(e.value)["label"] for e in events if e.topic_kind == "outcome"
    }
    return [
        (rel, p, labels[p["id"].encode()])
        for rel, p in predictions(events, model)
        if p["id"].encode() in labels
    ]


def digest(events: list[SimEvent]) -> str:
    h = hashlib.sha256()
    for e in events:
        h.update(f"{e.topic_kind}|{e.model}|{e.ts!r}|{e.valid}|".encode() + e.key + b"|" + e.value)
    return h.hexdigest()
