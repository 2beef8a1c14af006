"""The monitored models: one ``[[models]]`` table each, with its task and features."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from monitor.config._parse import Report
from monitor.errors import ConfigError

TaskType = Literal["binary", "multiclass", "regression"]
FeatureType = Literal["numeric", "categorical", "boolean"]

#: Model names become parts of Redis keys (``monitor/store/keys.py``): plain characters, bounded.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """One monitored model."""

    name: str
    owner: str
    task: TaskType
    features: Mapping[str, FeatureType]
    #: Binary classifiers: score at or above which the positive class is predicted, for events
    #: that send a score and no prediction (an event's prediction is the model's own decision).
    threshold: float = 0.5
    #: Multiclass classifiers: the class labels, for per-class metrics.
    classes: tuple[str, ...] = ()
    #: Relative weight of each feature in the model-level drift verdict (default 1).
    importance: Mapping[str, float] = field(default_factory=dict)

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """Reject a model that could not be monitored as its task requires; each problem is
        reported (``errors``: :class:`~monitor.config._parse.Report`).

        Unique names span models, so :class:`~monitor.config.Settings` checks them.
        """
        report = Report(errors)
        if not _NAME.match(self.name):
            report(
                f"{key}.name",
                f"{self.name!r} is not a valid model name",
                "use 1-64 of A-Z a-z 0-9 _ . -",
            )
        if not self.features:
            report(
                f"{key}.features", "no feature listed", "add e.g. features = { amount = 'numeric' }"
            )
        if self.task == "binary" and not 0.0 < self.threshold < 1.0:
            report(f"{key}.threshold", "must be between 0 and 1", "e.g. 0.5")
        if self.task == "multiclass" and len(self.classes) < 2:
            report(
                f"{key}.classes",
                "multiclass needs >= 2 classes",
                'list the class labels, e.g. classes = ["bronze", "silver", "gold"]',
            )
        for feature in self.importance:
            if feature not in self.features:
                close = difflib.get_close_matches(feature, list(self.features), n=1)
                report(
                    f"{key}.importance.{feature}",
                    "not a feature of this model",
                    f"rename it to {close[0]}" if close else "remove it, or add the feature",
                )
