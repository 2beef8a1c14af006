"""The benchmark's rows: 30 synthetic features, the model's score and the named drifts.

Seeded and numpy-only, because both interpreters import it: the Driftwatch side generates the
reference and the windows, and the Evidently worker declares its columns from the same names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

PREDICTION = "__prediction__"  # monitor.stats.verdict.PREDICTION, without importing Driftwatch

Column = NDArray[Any]
Table = dict[str, Column]


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
