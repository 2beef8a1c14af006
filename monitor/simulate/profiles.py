"""Profiles: what a model's population looks like, and its true label function.

A profile depends on the model's name and feature names only, never on the seed (see
:mod:`monitor.simulate`).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from monitor.config import ModelSettings

#: Standard deviation of the true label function (logit, or regression signal). Together with
#: the model's own noise below it puts binary AUC near 0.85: good, but not perfect.
SIGNAL_STD = 2.0
#: The model's error on its logit / output, in the same units as SIGNAL_STD.
MODEL_NOISE_STD = 0.8
#: Irreducible regression noise: R² of the true function is about 0.8.
REGRESSION_NOISE_STD = 1.0
#: Regression targets spread about 15 % around their typical value, so they stay positive.
REGRESSION_SPREAD = 0.15
#: Draws used to measure each numeric feature's reference mean and standard deviation.
PROFILE_SAMPLE = 20_000
#: Values an ``unseen_category`` fault injects: never among a feature's categories.
UNSEEN_CATEGORIES = ("new-0", "new-1", "new-2")

#: Name tokens that make a numeric feature integer-valued or positive and skewed.
_COUNT_TOKENS = {"n", "num", "count", "day", "month", "minute", "ticket", "item", "load", "tenure"}
_SKEWED_TOKENS = {"amount", "spend", "price", "cost", "income", "value", "distance", "balance"}
#: Realistic category names for common categorical features; others get c0…c7.
_CATEGORY_NAMES = {
    "country": ("US", "DE", "GB", "FR", "BR", "IN", "JP", "NG"),
    "channel": ("web", "ios", "android", "pos", "phone", "partner"),
    "weather": ("clear", "cloudy", "rain", "snow", "fog", "storm"),
    "city": ("berlin", "paris", "london", "madrid", "rome", "vienna", "warsaw", "lisbon"),
    "plan": ("free", "basic", "pro", "team", "enterprise"),
    "device": ("desktop", "mobile", "tablet"),
}


def stable_rng(*parts: object) -> np.random.Generator:
    """A generator seeded from a stable hash of ``parts`` (Python's ``hash`` is salted)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest, "big")))


def _tokens(name: str) -> set[str]:
    return {t.rstrip("s") for t in re.split(r"[^a-z0-9]+", name.lower()) if t}


@dataclass(frozen=True, slots=True)
class _Numeric:
    """A numeric feature: a transform of a standard normal draw, with reference moments."""

    name: str
    kind: Literal["normal", "lognormal", "count", "hour"]
    loc: float
    scale: float
    #: Reference mean and standard deviation of the emitted values (what faults shift by).
    mean: float = 0.0
    std: float = 1.0
    #: Reference mean and standard deviation of :meth:`model_scale` values.
    center: float = 0.0
    spread: float = 1.0

    @property
    def skewed(self) -> bool:
        return self.kind in ("lognormal", "count")

    def draw(self, z: np.ndarray) -> np.ndarray:
        x = self.loc + self.scale * z
        if self.kind == "normal":
            return x
        if self.kind == "hour":
            return np.clip(np.rint(x), 0, 23)
        return np.exp(x) if self.kind == "lognormal" else np.floor(np.exp(x))

    def model_scale(self, x: np.ndarray) -> np.ndarray:
        """Skewed features enter the label function on a log scale, as a modeller would use."""
        return np.log1p(np.maximum(x, 0.0)) if self.skewed else x

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """Clipped z-scores: extreme (out-of-range) values move outputs, but boundedly."""
        return np.clip((self.model_scale(x) - self.center) / self.spread, -4.0, 4.0)

    def encode(self, x: np.ndarray) -> list[Any]:
        """JSON-ready values: integers for counts and hours, a few decimals otherwise."""
        if self.kind in ("count", "hour"):
            return np.rint(x).astype(np.int64).tolist()
        return np.round(x, 3 if self.kind == "normal" else 2).tolist()


def _numeric(name: str) -> _Numeric:
    rng = stable_rng("profile-feature", name)
    tokens = _tokens(name)
    if "hour" in tokens:
        spec = _Numeric(name, "hour", rng.uniform(11, 16), rng.uniform(3, 5))
    elif tokens & _COUNT_TOKENS:
        spec = _Numeric(name, "count", rng.uniform(0.7, 4.0), rng.uniform(0.3, 0.8))
    elif tokens & _SKEWED_TOKENS or rng.random() < 0.5:
        spec = _Numeric(name, "lognormal", rng.uniform(1.5, 5.0), rng.uniform(0.3, 0.8))
    else:
        mean = rng.uniform(1, 100)
        spec = _Numeric(name, "normal", mean, mean * rng.uniform(0.1, 0.4))
    sample = spec.draw(rng.standard_normal(PROFILE_SAMPLE))
    scaled = spec.model_scale(sample)
    return replace(
        spec,
        mean=float(sample.mean()),
        std=float(sample.std()) or 1.0,
        center=float(scaled.mean()),
        spread=float(scaled.std()) or 1.0,
    )


@dataclass(frozen=True, slots=True)
class _Categorical:
    """A categorical feature: skewed probabilities, most common category first."""

    name: str
    categories: tuple[str, ...]
    cumprobs: np.ndarray
    #: Code → emitted value: the categories, then UNSEEN_CATEGORIES, then null.
    values: np.ndarray

    @property
    def null_code(self) -> int:
        return len(self.values) - 1

    def codes(self, u: np.ndarray, cumprobs: np.ndarray | None = None) -> np.ndarray:
        cum = self.cumprobs if cumprobs is None else cumprobs
        return np.minimum(np.searchsorted(cum, u, side="right"), len(self.categories) - 1)

    def shifted(self, magnitude: float) -> np.ndarray:
        """Cumulative probabilities with mass ``1 - exp(-magnitude / 2)`` moved to the rarest."""
        probs = np.diff(self.cumprobs, prepend=0.0)
        moved = 1.0 - math.exp(-abs(magnitude) / 2)
        probs = probs * (1 - moved)
        probs[-1] += moved
        return np.cumsum(probs)


def _categorical(name: str) -> _Categorical:
    rng = stable_rng("profile-feature", name)
    named = next((v for k, v in _CATEGORY_NAMES.items() if k in _tokens(name)), None)
    pool = named or tuple(f"c{k}" for k in range(8))
    k = min(len(pool), int(rng.integers(3, 9)))
    probs = np.arange(1, k + 1) ** -rng.uniform(0.7, 1.6)
    values = np.array([*pool[:k], *UNSEEN_CATEGORIES, None], dtype=object)
    return _Categorical(name, pool[:k], np.cumsum(probs / probs.sum()), values)


def _boolean(name: str) -> _Categorical:
    """A boolean feature: a categorical one with the two JSON values (and no unseen value)."""
    p_true = float(stable_rng("profile-feature", name).uniform(0.15, 0.5))
    values = np.array([False, True, None], dtype=object)
    return _Categorical(name, ("False", "True"), np.cumsum([1 - p_true, p_true]), values)


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """A model's population and its true label function, ``bias + u @ weights + effects``."""

    numeric: tuple[_Numeric, ...]
    categorical: tuple[_Categorical, ...]
    #: Column of every feature in config order: (is_numeric, index into numeric/categorical).
    columns: tuple[tuple[bool, int], ...]
    weights: np.ndarray
    effects: tuple[np.ndarray, ...]
    #: The label function after full concept drift: weights moved to other features, negated.
    alt_weights: np.ndarray
    alt_effects: tuple[np.ndarray, ...]
    bias: np.ndarray
    #: Regression target ``y0 + ys * (signal + noise)``: positive, with a plausible spread.
    y0: float
    ys: float

    def signal(self, u: np.ndarray, codes: np.ndarray, *, alt: bool = False) -> np.ndarray:
        weights, effects = (
            (self.alt_weights, self.alt_effects) if alt else (self.weights, self.effects)
        )
        s = u @ weights
        for j, table in enumerate(effects):
            s += table[codes[:, j]]
        return s


def model_profile(model: ModelSettings) -> ModelProfile:
    outputs = len(model.classes) if model.task == "multiclass" else 1
    numeric = tuple(_numeric(n) for n, t in model.features.items() if t == "numeric")
    categorical = tuple(
        _boolean(n) if t == "boolean" else _categorical(n)
        for n, t in model.features.items()
        if t != "numeric"
    )
    num_names = [f.name for f in numeric]
    cat_names = [f.name for f in categorical]
    columns = tuple(
        (True, num_names.index(n)) if t == "numeric" else (False, cat_names.index(n))
        for n, t in model.features.items()
    )
    weights = np.array(
        [stable_rng("profile-weight", model.name, f.name).normal(size=outputs) for f in numeric]
    )
    weights = weights.reshape(len(numeric), outputs)
    effects, variance = [], (weights**2).sum(axis=0)
    for f in categorical:
        probs = np.diff(f.cumprobs, prepend=0.0)
        table = stable_rng("profile-weight", model.name, f.name).normal(
            size=(len(f.categories), outputs)
        )
        table -= probs @ table  # centred: the intercept alone sets the base rate
        variance = variance + probs @ table**2
        padding = np.zeros((len(f.values) - len(f.categories), outputs))  # unseen and null
        effects.append(np.vstack([table, padding]))
    norm = SIGNAL_STD / np.sqrt(np.maximum(variance, 1e-12))
    effects = [e * norm for e in effects]
    alt_effects = []
    for e, f in zip(effects, categorical, strict=True):
        k = len(f.categories)
        alt_effects.append(np.vstack([-np.roll(e[:k], 1, axis=0), e[k:]]))
    rng = stable_rng("profile-model", model.name)
    bias = rng.normal(0, 0.5, outputs) if outputs > 1 else np.array([rng.uniform(-1.5, 0.0)])
    y0 = float(rng.uniform(10, 100))
    return ModelProfile(
        numeric,
        categorical,
        columns,
        weights * norm,
        tuple(effects),
        -np.roll(weights * norm, 1, axis=0),
        tuple(alt_effects),
        bias,
        y0,
        REGRESSION_SPREAD * y0 / SIGNAL_STD,
    )
