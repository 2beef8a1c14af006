"""Generation: each model's events a chunk at a time, interleaved into one deterministic run.

How the numbers are drawn, and why runs are reproducible, is in :mod:`monitor.simulate`.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import numpy as np

from monitor.config import FaultSettings, ModelSettings, Settings
from monitor.errors import ConfigError
from monitor.simulate.faults import ResolvedFault, resolve_faults
from monitor.simulate.profiles import (
    MODEL_NOISE_STD,
    REGRESSION_NOISE_STD,
    SIGNAL_STD,
    UNSEEN_CATEGORIES,
    model_profile,
    stable_rng,
)

TopicKind = Literal["prediction", "outcome"]

#: Predictions generated per model at once: amortises numpy's per-call overhead while keeping
#: the first event of a paced run and the memory of an endless run small.
CHUNK_PER_MODEL = 512
MODEL_VERSION = "v1"
_REGIONS = ("eu-west", "us-east", "ap-south")
_REGION_CUMPROBS = np.cumsum([0.5, 0.35, 0.15])


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
        self.profile = model_profile(model)
        self.faults = resolve_faults(faults, model, self.profile, seed)
        self.rng = stable_rng("simulate", seed, model.name)
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

    def _apply(self, fault: ResolvedFault, c: _Chunk, rel: np.ndarray, uniform: np.ndarray) -> None:
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
        # a prediction shift moves the output by its own standard deviation(s)
        spread = SIGNAL_STD if model.task == "binary" else math.hypot(SIGNAL_STD, MODEL_NOISE_STD)
        shift = c.shift * spread
        if model.task == "binary":
            # What the model does not know is noise in the label given the features, so its
            # score is a monotone function of P(y | x): calibration holds under covariate shift
            # (performance estimation relies on it) and only concept drift breaks it.
            unknown = MODEL_NOISE_STD * noise[:, 0]
            truth = label_draw < 1 / (1 + np.exp(-(p.bias[0] + true[:, 0] + unknown)))
            logit = p.bias[0] + signal[:, 0] + shift
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
