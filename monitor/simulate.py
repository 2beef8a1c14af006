"""Traffic simulator: realistic prediction and outcome events with a fault schedule.

The demo, the tests and the benchmarks all drive Driftwatch with this module, so it is
deterministic: the same settings, seed, ``start``, rate and number of predictions give
byte-identical events in the same order.

- Every model gets a *profile* — feature distributions, category lists, label-function
  weights — derived from its name and feature names only, never from the seed. Runs with
  different seeds therefore sample the same populations, and a reference built from one run
  shows no drift against another.
- The truth is a fixed random linear function of the standardised features (skewed ones on a log
  scale): through a logistic for binary models, a softmax for multiclass, plus noise for
  regression. The model's own output is the same function with extra noise, so it is good but
  not perfect (binary AUC about 0.85).
- Predictions are generated in fixed-size chunks per model, vectorised with numpy. Each model
  samples from its own ``Generator`` (PCG64, seeded from a stable hash of seed and model name)
  and each fault from its own, so adding a fault changes only the events it targets, and a
  shorter run is a prefix of a longer one.
- Faults act on the simulated clock, ``start_seconds <= t - start < end_seconds``.
- Outcomes wait on a heap and are emitted when the simulated clock passes their due time; a
  bounded run flushes the rest at its end, so outcome counts are predictable.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import msgspec
import numpy as np
from kafka import KafkaProducer

from monitor.config import FaultKind, FaultSettings, ModelSettings, Settings
from monitor.errors import ConfigError

__all__ = ["ProduceReport", "SimEvent", "Simulator", "parse_fault", "parse_start", "produce"]

TopicKind = Literal["prediction", "outcome"]

#: Standard deviation of the true label function (logit, or regression signal). Together with
#: the model's own noise below it puts binary AUC near 0.85: good, but not perfect.
SIGNAL_STD = 2.0
#: The model's error on its logit / output, in the same units as SIGNAL_STD.
MODEL_NOISE_STD = 0.8
#: Irreducible regression noise: R² of the true function is about 0.8.
REGRESSION_NOISE_STD = 1.0
#: Regression targets spread about 15 % around their typical value, so they stay positive.
REGRESSION_SPREAD = 0.15
#: Predictions generated per model at once: amortises numpy's per-call overhead while keeping
#: the first event of a paced run and the memory of an endless run small.
CHUNK_PER_MODEL = 512
#: Draws used to measure each numeric feature's reference mean and standard deviation.
PROFILE_SAMPLE = 20_000
#: Producer batching: linger lets batches fill at demo rates; large batches at backfill rates.
PRODUCER_LINGER_MS = 20
PRODUCER_BATCH_BYTES = 512 * 1024
#: How often ``produce`` reports progress: often enough for a smooth bar, rarely enough to cost
#: nothing.
PROGRESS_INTERVAL_SECONDS = 0.2
MODEL_VERSION = "v1"
#: Values an ``unseen_category`` fault injects: never among a feature's categories.
UNSEEN_CATEGORIES = ("new-0", "new-1", "new-2")
_REGIONS = ("eu-west", "us-east", "ap-south")
_REGION_CUMPROBS = np.cumsum([0.5, 0.35, 0.15])

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
#: Faults whose magnitude is a share of events, and the kind of feature each one needs.
_SHARE_FAULTS = {"nulls", "out_of_range", "unseen_category", "malformed_json"}
_FEATURE_FAULTS: dict[str, Literal["any", "numeric", "categorical"]] = {
    "covariate_shift": "any",
    "nulls": "any",
    "out_of_range": "numeric",
    "unseen_category": "categorical",
}
#: Feature faults apply in this order, so that e.g. nulls win over an out-of-range value.
_FAULT_ORDER = ("covariate_shift", "out_of_range", "unseen_category", "nulls")
_DURATION = re.compile(r"^(\d+(?:\.\d*)?)([smhd]?)$")
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_FAULT_SPEC = re.compile(
    r"^(?P<kind>[a-z_]+):(?P<model>[^:@]+)(?::(?P<feature>[^@]*))?"
    r"@(?P<start>[^-]*)-(?P<end>[^x]*)(?:x(?P<magnitude>.+))?$"
)


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One Kafka record to produce: ``valid`` is False for injected malformed events."""

    topic_kind: TopicKind
    model: str
    key: bytes
    value: bytes
    #: Event time on the simulated clock (epoch seconds); the due time for outcomes.
    ts: float
    valid: bool


# --- profiles: what a model's population looks like (independent of the seed) ----------------


def _rng(*parts: object) -> np.random.Generator:
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
    rng = _rng("profile-feature", name)
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
    rng = _rng("profile-feature", name)
    named = next((v for k, v in _CATEGORY_NAMES.items() if k in _tokens(name)), None)
    pool = named or tuple(f"c{k}" for k in range(8))
    k = min(len(pool), int(rng.integers(3, 9)))
    probs = np.arange(1, k + 1) ** -rng.uniform(0.7, 1.6)
    values = np.array([*pool[:k], *UNSEEN_CATEGORIES, None], dtype=object)
    return _Categorical(name, pool[:k], np.cumsum(probs / probs.sum()), values)


@dataclass(frozen=True, slots=True)
class _Profile:
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


def _profile(model: ModelSettings) -> _Profile:
    outputs = len(model.classes) if model.task == "multiclass" else 1
    numeric = tuple(_numeric(n) for n, t in model.features.items() if t == "numeric")
    categorical = tuple(_categorical(n) for n, t in model.features.items() if t == "categorical")
    num_names = [f.name for f in numeric]
    cat_names = [f.name for f in categorical]
    columns = tuple(
        (True, num_names.index(n)) if t == "numeric" else (False, cat_names.index(n))
        for n, t in model.features.items()
    )
    weights = np.array(
        [_rng("profile-weight", model.name, f.name).normal(size=outputs) for f in numeric]
    )
    weights = weights.reshape(len(numeric), outputs)
    effects, variance = [], (weights**2).sum(axis=0)
    for f in categorical:
        probs = np.diff(f.cumprobs, prepend=0.0)
        table = _rng("profile-weight", model.name, f.name).normal(size=(len(f.categories), outputs))
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
    rng = _rng("profile-model", model.name)
    bias = rng.normal(0, 0.5, outputs) if outputs > 1 else np.array([rng.uniform(-1.5, 0.0)])
    y0 = float(rng.uniform(10, 100))
    return _Profile(
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


# --- generation -----------------------------------------------------------------------------


def _iso(seconds: np.ndarray) -> list[str]:
    """RFC 3339 UTC strings with milliseconds, vectorised."""
    ms = np.rint(seconds * 1000).astype(np.int64).astype("datetime64[ms]")
    return np.datetime_as_string(ms, unit="ms", timezone="UTC").tolist()


def _remap(event: dict[str, Any], paths: Mapping[str, str]) -> dict[str, Any]:
    """Move contract fields to the user's dotted paths (``[fields.*]`` in the config)."""
    out: dict[str, Any] = {}
    for name, value in event.items():
        *parents, leaf = paths.get(name, name).split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


@dataclass(frozen=True, slots=True)
class _Fault:
    """A fault resolved against its model: target column and its own random stream."""

    settings: FaultSettings
    numeric: bool
    column: int
    rng: np.random.Generator

    def active(self, rel: np.ndarray) -> np.ndarray:
        f = self.settings
        return (rel >= f.start_seconds) & ((f.end_seconds <= 0) | (rel < f.end_seconds))


def _resolve(fault: FaultSettings, model: ModelSettings, profile: _Profile, seed: int) -> _Fault:
    key = f"fault {fault.kind}:{fault.model}:{fault.feature}"
    if fault.kind in _SHARE_FAULTS and not 0.0 <= fault.magnitude <= 1.0:
        raise ConfigError(key, f"magnitude {fault.magnitude} is not a share", "use 0..1")
    rng = _rng(
        "fault",
        seed,
        model.name,
        fault.kind,
        fault.feature,
        fault.start_seconds,
        fault.end_seconds,
        fault.magnitude,
    )
    needs = _FEATURE_FAULTS.get(fault.kind)
    if needs is None:  # a model-level fault: no target feature
        return _Fault(fault, numeric=False, column=-1, rng=rng)
    if fault.feature and fault.feature not in model.features:
        raise ConfigError(key, f"{model.name} has no feature {fault.feature!r}", "fix the name")
    fitting = [name for name, kind in model.features.items() if needs in ("any", kind)]
    feature = fault.feature or next(iter(fitting), "")
    if feature not in fitting:
        raise ConfigError(key, f"{fault.kind} needs a {needs} feature", f"name a {needs} one")
    numeric, column = profile.columns[list(model.features).index(feature)]
    return _Fault(fault, numeric=numeric, column=column, rng=rng)


#: A prediction and, when it gets one, its outcome as a heap entry (due, sequence, event).
_Pair = tuple[SimEvent, tuple[float, int, SimEvent] | None]


@dataclass(slots=True)
class _Chunk:
    """One model's chunk of events on its way through :meth:`_ModelStream.chunk`."""

    t: np.ndarray
    x: np.ndarray
    codes: np.ndarray
    nulls: np.ndarray
    regions: np.ndarray
    #: Prediction shift of each event, in standard deviations of the model output.
    shift: np.ndarray
    #: (active mask, share) of every concept-drift fault.
    drifts: list[tuple[np.ndarray, float]]
    malformed: np.ndarray
    #: Where a malformed event's bytes are cut, as a fraction of their length.
    cut: np.ndarray


class _ModelStream:
    """Generates one model's predictions, and their outcomes, a chunk at a time."""

    def __init__(
        self,
        model: ModelSettings,
        faults: Sequence[FaultSettings],
        settings: Settings,
        *,
        seed: int,
        run_tag: str,
        label_rate: float,
        label_delay_seconds: float,
    ) -> None:
        self.model = model
        self.profile = _profile(model)
        rank = {kind: i for i, kind in enumerate(_FAULT_ORDER)}
        resolved = [_resolve(f, model, self.profile, seed) for f in faults]
        self.faults = sorted(resolved, key=lambda f: rank.get(f.settings.kind, len(rank)))
        self.rng = _rng("simulate", seed, model.name)
        self.id_prefix = f"{model.name}-{run_tag}-"
        self.label_rate = label_rate
        self.label_delay_seconds = label_delay_seconds
        self.prediction_paths = settings.fields.predictions
        self.outcome_paths = settings.fields.outcomes

    def chunk(self, first: int, t: np.ndarray, rel: np.ndarray, seq: np.ndarray) -> list[_Pair]:
        """This model's events number ``first`` on, at times ``t`` (``rel`` after the start).

        Step 1 draws the base randomness, step 2 applies the faults, step 3 computes the model's
        output and the true label, step 4 encodes JSON. Returns (prediction, outcome heap entry
        or None) pairs; ``seq``, the events' global positions, breaks ties between outcomes due
        at the same time.
        """
        n, p, rng, task = len(t), self.profile, self.rng, self.model.task
        # Step 1: base draws, always in the same order, so that faults never shift the stream.
        z = rng.standard_normal((n, len(p.numeric)))
        uniform = rng.random((n, len(p.categorical)))
        noise = rng.standard_normal((n, p.bias.shape[0]))
        if task == "multiclass":
            label_draw = rng.gumbel(size=noise.shape)
        else:
            label_draw = rng.standard_normal(n) if task == "regression" else rng.random(n)
        labelled = rng.random(n) < self.label_rate
        due = t + rng.exponential(self.label_delay_seconds, n)
        c = _Chunk(
            t=t,
            x=np.empty((n, len(p.numeric))),
            codes=np.empty((n, len(p.categorical)), dtype=np.int64),
            nulls=np.zeros((n, len(p.numeric)), dtype=bool),
            regions=np.searchsorted(_REGION_CUMPROBS, rng.random(n), side="right"),
            shift=np.zeros(n),
            drifts=[],
            malformed=np.zeros(n, dtype=bool),
            cut=np.zeros(n),
        )
        for j, spec in enumerate(p.numeric):
            c.x[:, j] = spec.draw(z[:, j])
        for j, cat in enumerate(p.categorical):
            c.codes[:, j] = cat.codes(uniform[:, j])
        # Step 2: faults, each drawing from its own stream.
        for fault in self.faults:
            self._apply(fault, c, rel, uniform)
        # Step 3: the model's output and the (possibly drifted) true label.
        predictions, scores, labels = self._outputs(c, noise, label_draw)
        # Step 4: JSON bytes; a malformed prediction never gets an outcome.
        events = self._predictions(first, c, predictions, scores)
        pairs: list[_Pair] = [(event, None) for event in events]
        chosen = np.flatnonzero(labelled & ~c.malformed)
        for i, outcome in zip(
            chosen.tolist(), self._outcomes(events, chosen, labels, due), strict=True
        ):
            pairs[i] = (events[i], (outcome.ts, int(seq[i]), outcome))
        return pairs

    def _apply(self, fault: _Fault, c: _Chunk, rel: np.ndarray, uniform: np.ndarray) -> None:
        f, j, p = fault.settings, fault.column, self.profile
        draw, extra = fault.rng.random((2, len(rel)))
        active = fault.active(rel)
        hit = active & (draw < f.magnitude)
        if f.kind == "covariate_shift" and fault.numeric:
            c.x[active, j] += f.magnitude * p.numeric[j].std
        elif f.kind == "covariate_shift":
            cat = p.categorical[j]
            shifted = cat.codes(uniform[:, j], cat.shifted(f.magnitude))
            c.codes[:, j] = np.where(active, shifted, c.codes[:, j])
        elif f.kind == "out_of_range":
            spec = p.numeric[j]
            sign = np.where(extra < 0.5, -1.0, 1.0)
            distance = 10 + 20 * np.abs(extra - 0.5)  # 10 to 20 standard deviations away
            c.x[hit, j] = (spec.mean + sign * distance * spec.std)[hit]
        elif f.kind == "unseen_category":
            first_unseen = len(p.categorical[j].categories)
            picked = first_unseen + (extra * len(UNSEEN_CATEGORIES)).astype(np.int64)
            c.codes[hit, j] = picked[hit]
        elif f.kind == "nulls" and fault.numeric:
            c.nulls[:, j] |= hit
        elif f.kind == "nulls":
            c.codes[hit, j] = p.categorical[j].null_code
        elif f.kind == "prediction_shift":
            c.shift += np.where(active, f.magnitude, 0.0)
        elif f.kind == "concept_drift":
            c.drifts.append((active, min(abs(f.magnitude), 1.0)))
        else:  # malformed_json
            c.malformed |= hit
            c.cut = np.where(hit, extra, c.cut)

    def _outputs(
        self, c: _Chunk, noise: np.ndarray, label_draw: np.ndarray
    ) -> tuple[list[Any], list[Any] | None, list[Any]]:
        """(predictions, scores or None, true labels) as JSON-ready lists."""
        p, model = self.profile, self.model
        # The model sees standardised features and imputes nulls with the mean.
        u = np.empty_like(c.x)
        for j, spec in enumerate(p.numeric):
            u[:, j] = np.where(c.nulls[:, j], 0.0, spec.standardise(c.x[:, j]))
        signal = p.signal(u, c.codes)
        true = signal
        if c.drifts:
            alt = p.signal(u, c.codes, alt=True)
            for active, share in c.drifts:
                true = np.where(active[:, None], (1 - share) * true + share * alt, true)
        shift = c.shift * math.hypot(SIGNAL_STD, MODEL_NOISE_STD)
        if model.task == "binary":
            truth = label_draw < 1 / (1 + np.exp(-(p.bias[0] + true[:, 0])))
            logit = p.bias[0] + signal[:, 0] + MODEL_NOISE_STD * noise[:, 0] + shift
            score = np.round(1 / (1 + np.exp(-logit)), 4)
            predictions = (score >= model.threshold).astype(np.int64).tolist()
            return predictions, score.tolist(), truth.astype(np.int64).tolist()
        if model.task == "regression":
            y_true = p.y0 + p.ys * (true[:, 0] + REGRESSION_NOISE_STD * label_draw)
            y_pred = p.y0 + p.ys * (signal[:, 0] + MODEL_NOISE_STD * noise[:, 0] + shift)
            return np.round(y_pred, 3).tolist(), None, np.round(y_true, 3).tolist()
        classes = np.array(model.classes, dtype=object)
        labels = classes[np.argmax(p.bias + true + label_draw, axis=1)].tolist()
        logits = p.bias + signal + MODEL_NOISE_STD * noise
        logits[:, 0] += shift  # a shifted model over-predicts the first class
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        scores = [dict(zip(model.classes, row, strict=True)) for row in probs.round(4).tolist()]
        return classes[np.argmax(probs, axis=1)].tolist(), scores, labels

    def _predictions(
        self, first: int, c: _Chunk, predictions: list[Any], scores: list[Any] | None
    ) -> list[SimEvent]:
        p, name = self.profile, self.model.name
        columns: list[list[Any]] = []
        for is_numeric, j in p.columns:
            if not is_numeric:
                columns.append(p.categorical[j].values[c.codes[:, j]].tolist())
                continue
            values = p.numeric[j].encode(c.x[:, j])
            for i in np.flatnonzero(c.nulls[:, j]).tolist():
                values[i] = None
            columns.append(values)
        names = list(self.model.features)
        ids = [f"{self.id_prefix}{k:09d}" for k in range(first, first + len(c.t))]
        tags = [{"region": region} for region in _REGIONS]
        docs: list[dict[str, Any]] = [
            {
                "id": id_,
                "model": name,
                "version": MODEL_VERSION,
                "ts": ts,
                "features": dict(zip(names, row, strict=True)),
                "prediction": y,
            }
            for id_, ts, row, y in zip(
                ids, _iso(c.t), zip(*columns, strict=True), predictions, strict=True
            )
        ]
        for doc, score, region in zip(
            docs, scores or itertools.repeat(None), c.regions.tolist(), strict=False
        ):
            if score is not None:
                doc["score"] = score
            doc["tags"] = tags[region]
        values = self._dump(docs, self.prediction_paths)
        for i in np.flatnonzero(c.malformed).tolist():
            values[i] = values[i][: 1 + int(c.cut[i] * (len(values[i]) - 2))]
        valid = (~c.malformed).tolist()
        return [
            SimEvent("prediction", name, id_.encode(), value, ts, ok)
            for id_, value, ts, ok in zip(ids, values, c.t.tolist(), valid, strict=True)
        ]

    def _outcomes(
        self, predictions: list[SimEvent], chosen: np.ndarray, labels: list[Any], due: np.ndarray
    ) -> list[SimEvent]:
        name, due = self.model.name, due[chosen]
        keys = [predictions[i].key for i in chosen.tolist()]
        docs = [
            {"id": key.decode(), "model": name, "ts": ts, "label": labels[i]}
            for key, ts, i in zip(keys, _iso(due), chosen.tolist(), strict=True)
        ]
        values = self._dump(docs, self.outcome_paths)
        return [
            SimEvent("outcome", name, key, value, ts, True)
            for key, value, ts in zip(keys, values, due.tolist(), strict=True)
        ]

    @staticmethod
    def _dump(docs: list[dict[str, Any]], paths: Mapping[str, str]) -> list[bytes]:
        if paths:
            return [msgspec.json.encode(_remap(doc, paths)) for doc in docs]
        return [msgspec.json.encode(doc) for doc in docs]


class Simulator:
    """Deterministic prediction and outcome traffic for the configured models.

    Event ``i`` of a run (counting predictions of all models, which take turns) happens at
    ``start + i / rate`` on the simulated clock. Each prediction gets an outcome with probability
    ``label_rate``, due an exponentially distributed delay (mean ``label_delay_seconds``) later.
    Arguments left as ``None`` come from ``settings.simulate``; ``start`` defaults to now, and a
    reproducible run must pass it. Prediction ids read ``MODEL-RUNTAG-NUMBER``, where the run tag
    hashes seed and start: unique per run, so a second run never collides as ``duplicate_id``.

    Examples
    --------
    >>> from monitor.config import parse
    >>> settings = parse({"models": [{"name": "m", "owner": "o", "task": "binary",
    ...                               "features": {"x": "numeric", "country": "categorical"}}]})
    >>> sim = Simulator(settings, seed=1, start=1_800_000_000.0, label_rate=1.0)
    >>> [(e.topic_kind, e.key) for e in sim.events(2)]  # doctest: +NORMALIZE_WHITESPACE +ELLIPSIS
    [('prediction', b'm-...-000000000'), ('prediction', b'm-...-000000001'),
     ('outcome', b'm-...-000000000'), ('outcome', b'm-...-000000001')]
    """

    def __init__(
        self,
        settings: Settings,
        *,
        seed: int = 0,
        start: float | None = None,
        rate: float | None = None,
        faults: Sequence[FaultSettings] | None = None,
        label_rate: float | None = None,
        label_delay_seconds: float | None = None,
        models: Sequence[str] | None = None,
    ) -> None:
        sim = settings.simulate
        self.start = time.time() if start is None else float(start)
        self.rate = sim.rate if rate is None else float(rate)
        label_rate = sim.label_rate if label_rate is None else label_rate
        delay = sim.label_delay_seconds if label_delay_seconds is None else label_delay_seconds
        faults = sim.faults if faults is None else faults
        for key, ok, fix in (
            ("simulate.rate", self.rate > 0, "use a rate above 0"),
            ("simulate.label_rate", 0 <= label_rate <= 1, "use a share in 0..1"),
            ("simulate.label_delay_seconds", delay >= 0, "use 0 or more seconds"),
        ):
            if not ok:
                raise ConfigError(key, "out of range", fix)
        names = list(dict.fromkeys(models)) if models else [m.name for m in settings.models]
        for name in names + [f.model for f in faults]:
            if settings.model(name) is None:
                known = ", ".join(m.name for m in settings.models)
                raise ConfigError("models", f"no model named {name!r}", f"use one of {known}")
        run_tag = hashlib.blake2b(f"{seed}/{self.start:.3f}".encode(), digest_size=4).hexdigest()
        self._streams = [
            _ModelStream(
                model,
                [f for f in faults if f.model == model.name],
                settings,
                seed=seed,
                run_tag=run_tag,
                label_rate=label_rate,
                label_delay_seconds=delay,
            )
            for model in (settings.model(name) for name in names)
            if model is not None
        ]

    def events(self, n_predictions: int | None) -> Iterator[SimEvent]:
        """``n_predictions`` predictions (``None``: endless) with their outcomes interleaved.

        Outcomes come out once the simulated clock passes their due time; a bounded run ends with
        all outcomes still pending, in due order. A run is a prefix of any longer run with the
        same arguments, except for those final outcomes.
        """
        pending: list[tuple[float, int, SimEvent]] = []
        pairs = itertools.chain.from_iterable(self._chunk(c) for c in itertools.count())
        for prediction, outcome in itertools.islice(pairs, n_predictions):
            while pending and pending[0][0] <= prediction.ts:
                yield heapq.heappop(pending)[2]
            yield prediction
            if outcome is not None:
                heapq.heappush(pending, outcome)
        while pending:
            yield heapq.heappop(pending)[2]

    def _chunk(self, number: int) -> Iterator[_Pair]:
        """Chunk ``number`` of every model, interleaved round-robin in event order."""
        n_models = len(self._streams)
        per_model = []
        for k, stream in enumerate(self._streams):
            seq = (number * CHUNK_PER_MODEL + np.arange(CHUNK_PER_MODEL)) * n_models + k
            rel = seq / self.rate
            per_model.append(stream.chunk(number * CHUNK_PER_MODEL, self.start + rel, rel, seq))
        return itertools.chain.from_iterable(zip(*per_model, strict=True))


# --- producing to Kafka -----------------------------------------------------------------------


@dataclass(slots=True)
class ProduceReport:
    """What :func:`produce` sent: the CLI's summary and the tests' expected counts."""

    #: Records sent per (topic kind, model), malformed ones included.
    counts: Counter[tuple[TopicKind, str]] = field(default_factory=Counter)
    #: Injected malformed events among them.
    n_invalid: int = 0
    #: Records the broker did not acknowledge; ``first_error`` says why.
    n_failed: int = 0
    first_error: str = ""
    elapsed_seconds: float = 0.0
    #: True when ``stop`` ended the run before the events did.
    interrupted: bool = False

    @property
    def n_predictions(self) -> int:
        return sum(n for (kind, _), n in self.counts.items() if kind == "prediction")

    @property
    def n_outcomes(self) -> int:
        return sum(n for (kind, _), n in self.counts.items() if kind == "outcome")


def produce(
    settings: Settings,
    events: Iterable[SimEvent],
    *,
    realtime_rate: float | None,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> ProduceReport:
    """Send ``events`` to the topics of ``settings.kafka`` and wait until all are acknowledged.

    With ``realtime_rate``, predictions are paced at that many per second (outcomes go out as
    soon as they are due); otherwise events go out as fast as the broker takes them.
    ``progress`` receives the number of predictions sent since its previous call, a few times a
    second. Setting ``stop`` ends the run early; what was sent is still flushed. Any exception
    (a Kafka error, a ``KeyboardInterrupt``) aborts without waiting for buffered records.

    Raises ``kafka.errors.KafkaError`` when the brokers cannot be reached.
    """
    producer = KafkaProducer(
        **settings.kafka.client_kwargs(),
        acks="all",
        linger_ms=PRODUCER_LINGER_MS,
        batch_size=PRODUCER_BATCH_BYTES,
        compression_type=None,
    )
    topics = {
        "prediction": settings.kafka.predictions_topic,
        "outcome": settings.kafka.outcomes_topic,
    }
    report = ProduceReport()
    errors: list[BaseException] = []
    started = last_progress = time.monotonic()
    n_sent = n_unreported = 0
    try:
        for event in events:
            if event.topic_kind == "prediction" and realtime_rate:
                wait = started + n_sent / realtime_rate - time.monotonic()
                if wait > 0 and stop is not None:
                    stop.wait(wait)  # returns early when stopped
                elif wait > 0:
                    time.sleep(wait)
            if stop is not None and stop.is_set():
                report.interrupted = True
                break
            if event.topic_kind == "prediction":
                n_sent += 1
                n_unreported += 1
            future = producer.send(topics[event.topic_kind], key=event.key, value=event.value)
            future.add_errback(errors.append)
            report.counts[(event.topic_kind, event.model)] += 1
            report.n_invalid += not event.valid
            if (
                progress is not None
                and time.monotonic() - last_progress >= PROGRESS_INTERVAL_SECONDS
            ):
                progress(n_unreported)
                n_unreported, last_progress = 0, time.monotonic()
    except BaseException:  # a Kafka error or a second Ctrl-C: drop what is still buffered
        producer.close(timeout=0)
        raise
    producer.flush()
    producer.close()
    report.elapsed_seconds = time.monotonic() - started
    report.n_failed = len(errors)
    report.first_error = repr(errors[0]) if errors else ""
    if progress is not None and n_unreported:
        progress(n_unreported)
    return report


# --- parsing command-line values -------------------------------------------------------------


def _seconds(text: str) -> float:
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 300, 90s, 5m, 2h or 1d")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def parse_fault(spec: str) -> FaultSettings:
    """Parse ``KIND:MODEL[:FEATURE]@START-END[xMAGNITUDE]`` (the ``--fault`` syntax).

    START and END are durations on the simulated clock since the run's start (``300``, ``90s``,
    ``5m``, ``2h``, ``1d``); an empty END means until the end of the run. Raises ``ValueError``.

    >>> fault = parse_fault("nulls:churn:plan@5m-10mx0.2")
    >>> fault.start_seconds, fault.end_seconds, fault.magnitude
    (300.0, 600.0, 0.2)
    """
    match = _FAULT_SPEC.match(spec.strip())
    if match is None:
        raise ValueError(f"{spec!r} does not read KIND:MODEL[:FEATURE]@START-END[xMAGNITUDE]")
    kinds = get_args(FaultKind)
    if match["kind"] not in kinds:
        raise ValueError(f"unknown fault kind {match['kind']!r}: use one of {', '.join(kinds)}")
    try:
        magnitude = float(match["magnitude"]) if match["magnitude"] else 1.0
    except ValueError:
        raise ValueError(f"magnitude {match['magnitude']!r} is not a number") from None
    return FaultSettings(
        kind=match["kind"],
        model=match["model"],
        feature=match["feature"] or "",
        start_seconds=_seconds(match["start"]) if match["start"] else 0.0,
        end_seconds=_seconds(match["end"]) if match["end"] else 0.0,
        magnitude=magnitude,
    )


def parse_start(text: str, now: float) -> float:
    """Epoch seconds of ``now``, ``now-3d`` / ``now+1h``, or an ISO 8601 time (naive = UTC)."""
    relative = re.fullmatch(r"now(?:([+-])(.+))?", text.strip())
    if relative is not None:
        offset = _seconds(relative[2]) if relative[2] else 0.0
        return now - offset if relative[1] == "-" else now + offset
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO time nor now-DURATION") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
