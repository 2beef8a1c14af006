"""Counts as read back, merged over partitions: a window's counts and a model's ingest totals.

``monitor/store/query.py`` builds them from the per-partition hashes; evaluation, the CLI and the
dashboard read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from monitor.vocab.effects import BIN_PREFIX, PERFORMANCE_PREFIX, SCORE_PREFIX


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """One window's counts merged over partitions (field names: ``monitor/vocab/effects.py``)."""

    n: int
    fields: Mapping[str, float]

    def bins(self, feature: str, n_bins: int) -> np.ndarray:
        counts = np.zeros(n_bins, dtype=np.int64)
        prefix = f"{BIN_PREFIX}{feature}:"
        for name, value in self.fields.items():
            if name.startswith(prefix):
                counts[int(name[len(prefix) :])] = int(value)
        return counts

    def get(self, name: str) -> float:
        return float(self.fields.get(name, 0.0))

    def decision_histograms(self, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
        """Scored predictions decided 1 and decided 0, per score bin (``sc:<d>:<bin>``)."""
        counts = np.zeros((2, n_bins), dtype=np.int64)
        for name, value in self.fields.items():
            if name.startswith(SCORE_PREFIX):
                decision, index = name[len(SCORE_PREFIX) :].split(":")
                counts[int(decision), int(index)] = int(value)
        return counts[1], counts[0]

    @property
    def performance_sums(self) -> dict[str, float]:
        n = len(PERFORMANCE_PREFIX)
        return {k[n:]: float(v) for k, v in self.fields.items() if k.startswith(PERFORMANCE_PREFIX)}


@dataclass(frozen=True, slots=True)
class IngestCounts:
    """A model's ingestion totals, merged over partitions."""

    predictions: int = 0
    outcomes: int = 0
    joined: int = 0
    dead: int = 0
    expired_predictions: int = 0
    orphan_outcomes: int = 0
    dead_by_reason: dict[str, int] = field(default_factory=dict)
    delay_histogram: dict[str, int] = field(default_factory=dict)
    delay_sum_seconds: float = 0.0
    last_event_ts: float | None = None
    #: When an event of the model was last ingested (wall clock), None before this was kept.
    last_seen: float | None = None

    @property
    def label_coverage(self) -> float | None:
        """Share of *settled* predictions that received their outcome: joined ones against joined
        plus those whose label horizon passed unlabelled (None until one settles). A prediction
        still inside its horizon is not missing its label yet (it is pending), so a model whose
        labels come an hour late does not look an hour's traffic short. The one definition the
        status, the gauge, the dashboard and the ``label_coverage`` rule all read."""
        settled = self.joined + self.expired_predictions
        return self.joined / settled if settled else None

    @property
    def mean_label_delay_seconds(self) -> float | None:
        return self.delay_sum_seconds / self.joined if self.joined else None

    @property
    def pending_predictions(self) -> int:
        """Predictions waiting for their outcome: each valid one pairs, waits or expires."""
        return max(0, self.predictions - self.joined - self.expired_predictions)

    @property
    def pending_outcomes(self) -> int:
        """Early outcomes waiting for their prediction."""
        return max(0, self.outcomes - self.joined - self.orphan_outcomes)
