"""What evaluation produces and everyone reads: verdicts, window evaluations, model health.

The statistics make them (``monitor/stats/``), the store keeps them as MessagePack
(``monitor/store/evaluations.py``) and the CLI, alerting and the dashboard read them through
``monitor/store/query.py``; defined here so none of those depends on another's internals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

import msgspec

#: ``counts`` key and verdict ``feature`` of the model's prediction (its score, when it has one).
PREDICTION = "__prediction__"
#: ``counts`` key and verdict ``feature`` of a scoring binary model's decisions (predicted class).
DECISION = "__decision__"
#: The model's outputs, judged like features but reported beside them.
OUTPUTS = (PREDICTION, DECISION)
#: Verdict ``feature`` of the model-level verdict.
MODEL = "__model__"
#: Verdict ``feature`` of a model's performance verdicts (one per metric).
PERFORMANCE = "__performance__"
#: Verdict ``feature`` of performance estimated from scores before labels (one per metric).
ESTIMATED = "__estimated__"

#: ``"warn"`` is part of the contract for consumers but never emitted by drift evaluation
#: (``stats/verdict.py``); ``"degraded"`` is a performance verdict's drift
#: (``stats/performance_verdict.py``).
Status = Literal["ok", "warn", "drift", "degraded", "insufficient"]
Severity = Literal["ok", "warning", "critical", "insufficient"]
#: Which way each performance metric improves (``stats/performance.py`` computes them).
HIGHER_IS_BETTER = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc", "macro_f1"})
LOWER_IS_BETTER = frozenset({"mae", "rmse", "mape", "log_loss", "brier"})
#: A model's health, the worst signal of its newest judged window.
HealthStatus = Literal["OK", "WARN", "CRITICAL", "INSUFFICIENT DATA"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One statistic of one window, judged against a threshold that fits the window's size.

    ``n`` is the number of values the statistic saw (non-missing values for a feature, rows for
    the model verdict). ``threshold`` is the PSI a feature had to exceed (calibrated: the null's
    ``1 − alpha`` quantile at this ``n``, at least ``min_psi``; fixed: ``psi_warning``).
    ``expected_false_alarm_rate`` is the estimated probability of a "drift" status on a stable
    window of this size: how much to trust a flag.

    Examples
    --------
    >>> v = Verdict(model="churn", feature="age", statistic="psi", value=0.42, threshold=0.12,
    ...             p_value=0.0001, n=1000, status="drift", severity="critical",
    ...             window_start=0, reference_version="v1", expected_false_alarm_rate=0.01)
    >>> v.status, v.reasons
    ('drift', ())
    """

    model: str
    feature: str
    statistic: str
    value: float
    threshold: float
    p_value: float | None
    n: int
    status: Status
    severity: Severity
    window_start: int
    reference_version: str
    expected_false_alarm_rate: float
    reasons: tuple[str, ...] = ()


class FeatureQuality(msgspec.Struct, frozen=True):
    missing_rate: float
    type_error_rate: float
    out_of_range_rate: float | None = None
    unseen_rate: float | None = None
    mean: float | None = None
    #: Unseen categories with their counts, most frequent first (``quality.unseen_named``).
    unseen_categories: dict[str, int] = {}


class WindowEvaluation(msgspec.Struct, frozen=True):
    """Everything known about one window: stored per window, read by CLI, alerts, dashboard."""

    model: str
    window_start: int
    version: str
    reference: str
    n: int
    n_labelled: int
    evaluated_at: float
    verdicts: list[Verdict] = []
    #: One per monitored metric (``stats/performance_verdict.py``).
    performance_verdicts: list[Verdict] = []
    #: One per judged rate of each feature (``stats/quality.py``).
    quality_verdicts: list[Verdict] = []
    quality: dict[str, FeatureQuality] = {}
    performance: dict[str, float] = {}
    reference_performance: dict[str, float] = {}
    #: Dead letters by reason that arrived during this window (by arrival, not event time).
    dead_letters: dict[str, int] = {}
    #: True once the model's newest event time passed the window's end plus the allowed
    #: lateness: later events still count, but the window is not expected to change.
    final: bool = False
    #: A binary classifier's performance estimated from its scores alone, before any label
    #: (``stats/estimation.py``): metric → value, and → the band the realized value should
    #: fall in (95 %).
    estimated_performance: dict[str, float] = {}
    estimated_bands: dict[str, tuple[float, float]] = {}
    #: One per estimated monitored metric, judged like the realized ones.
    estimated_verdicts: list[Verdict] = []
    #: Why no estimate was made for a binary classifier (the reference cannot calibrate its
    #: scores); empty when one was, or when the model's task has none.
    estimation_refused: str = ""

    def estimates_in_force(self) -> list[Verdict]:
        """The estimated verdicts of metrics the labels have not judged yet."""
        return in_force(self.performance_verdicts, self.estimated_verdicts)


class Judged(Protocol):
    """What :func:`in_force` reads of a verdict (a stored verdict's brief form has it too)."""

    @property
    def statistic(self) -> str: ...
    @property
    def status(self) -> str: ...


J = TypeVar("J", bound=Judged)


def in_force(performance: Sequence[Judged], estimated: Sequence[J]) -> list[J]:
    """The ``estimated`` verdicts of metrics whose realized verdict (in ``performance``) is not
    judged yet: once labels suffice to judge a metric, the realized verdict takes precedence."""
    judged = {v.statistic for v in performance if v.status != "insufficient"}
    return [v for v in estimated if v.statistic not in judged]


class Health(msgspec.Struct, frozen=True):
    model: str
    status: HealthStatus
    reasons: list[str]
    window_start: int | None
    evaluated_at: float
    #: WARN or CRITICAL: since when (the first window of the current run of unhealthy windows,
    #: or the first recent error change point when only the detector saw a change).
    since: float | None = None
