"""Faults: the ``--fault`` syntax, and resolving a fault against its model's profile.

A fault acts on the simulated clock, ``start_seconds <= t - start < end_seconds``, and draws from
its own random stream, so adding a fault changes only the events it targets. What each kind does
to a chunk of events is in :mod:`monitor.simulate.generate`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from monitor.config import FaultKind, FaultSettings, ModelSettings
from monitor.errors import ConfigError
from monitor.simulate.profiles import ModelProfile, stable_rng
from monitor.times import parse_duration

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
_FAULT_SPEC = re.compile(
    r"^(?P<kind>[a-z_]+):(?P<model>[^:@]+)(?::(?P<feature>[^@]*))?"
    r"@(?P<start>[^-]*)-(?P<end>[^x]*)(?:x(?P<magnitude>.+))?$"
)


@dataclass(frozen=True, slots=True)
class ResolvedFault:
    """A fault resolved against its model: target column and its own random stream."""

    settings: FaultSettings
    numeric: bool
    column: int
    rng: np.random.Generator

    def active(self, rel: np.ndarray) -> np.ndarray:
        f = self.settings
        return (rel >= f.start_seconds) & ((f.end_seconds <= 0) | (rel < f.end_seconds))


def _resolve(
    fault: FaultSettings, model: ModelSettings, profile: ModelProfile, seed: int
) -> ResolvedFault:
    key = f"fault {fault.kind}:{fault.model}:{fault.feature}"
    if fault.kind in _SHARE_FAULTS and not 0.0 <= fault.magnitude <= 1.0:
        raise ConfigError(key, f"magnitude {fault.magnitude} is not a share", "use 0..1")
    rng = stable_rng(
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
        return ResolvedFault(fault, numeric=False, column=-1, rng=rng)
    if fault.feature and fault.feature not in model.features:
        raise ConfigError(key, f"{model.name} has no feature {fault.feature!r}", "fix the name")
    fitting = [name for name, kind in model.features.items() if needs in ("any", kind)]
    feature = fault.feature or next(iter(fitting), "")
    if feature not in fitting:
        raise ConfigError(key, f"{fault.kind} needs a {needs} feature", f"name a {needs} one")
    numeric, column = profile.columns[list(model.features).index(feature)]
    return ResolvedFault(fault, numeric=numeric, column=column, rng=rng)


def resolve_faults(
    faults: Sequence[FaultSettings], model: ModelSettings, profile: ModelProfile, seed: int
) -> list[ResolvedFault]:
    """Every fault of ``model`` resolved, in the order they apply; raises ``ConfigError``."""
    rank = {kind: i for i, kind in enumerate(_FAULT_ORDER)}
    resolved = [_resolve(f, model, profile, seed) for f in faults]
    return sorted(resolved, key=lambda f: rank.get(f.settings.kind, len(rank)))


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
        start_seconds=parse_duration(match["start"]) if match["start"] else 0.0,
        end_seconds=parse_duration(match["end"]) if match["end"] else 0.0,
        magnitude=magnitude,
    )
