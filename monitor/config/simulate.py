"""The traffic simulator's defaults and fault schedule (``[simulate]``)."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from monitor.config._parse import Report
from monitor.config.models import ModelSettings
from monitor.errors import ConfigError

FaultKind = Literal[
    "covariate_shift",
    "concept_drift",
    "prediction_shift",
    "nulls",
    "out_of_range",
    "unseen_category",
    "malformed_json",
]


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """One injected fault of the traffic simulator, on the simulated clock."""

    kind: FaultKind
    model: str
    #: Affected feature (covariate shift and data-quality faults); empty = the first feature.
    feature: str = ""
    start_seconds: float = 0.0
    #: 0 = until the end of the run.
    end_seconds: float = 0.0
    #: Shift in reference standard deviations, or the share of affected events for
    #: data-quality faults.
    magnitude: float = 1.0

    def validate(
        self,
        key: str,
        models: Mapping[str, ModelSettings | None],
        errors: list[ConfigError] | None = None,
    ) -> None:
        """A fault must hit a configured model (and feature), or the demo silently shows none.

        ``models``: the configured models by name, ``None`` for one whose table is broken (its
        features are unknown, so a fault's feature is not judged).
        """
        report = Report(errors)
        if self.model not in models:
            report(f"{key}.model", f"no model named {self.model!r}", _one_of(self.model, models))
            return
        features = getattr(models[self.model], "features", None)
        # Unknown for a broken model; a model listing none is blamed by its own rule.
        if self.feature and features and self.feature not in features:
            report(
                f"{key}.feature",
                f"{self.model} has no feature {self.feature!r}",
                _one_of(self.feature, features),
            )


def _one_of(name: str, names: Collection[str]) -> str:
    """The fix for a name that names nothing: its near miss, else every name it could be."""
    close = difflib.get_close_matches(name, list(names), n=1)
    if close:
        return f"use {close[0]!r}"
    return f"use one of: {', '.join(sorted(names))}"


@dataclass(frozen=True, slots=True)
class SimulateSettings:
    """``driftwatch simulate`` defaults; the demo reads its fault schedule from here."""

    rate: float = 200.0
    #: Mean delay between a prediction and its outcome, on the simulated clock.
    label_delay_seconds: float = 30.0
    #: Share of predictions that ever receive an outcome.
    label_rate: float = 0.9
    faults: tuple[FaultSettings, ...] = ()

    def validate(
        self,
        key: str,
        models: Mapping[str, ModelSettings | None],
        errors: list[ConfigError] | None = None,
    ) -> None:
        """Check each fault against ``models``, as :meth:`FaultSettings.validate` takes them."""
        for i, fault in enumerate(self.faults):
            fault.validate(f"{key}.faults[{i}]", models, errors)
