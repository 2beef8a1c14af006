"""How verdicts are reached: the ``[drift]``, ``[performance]`` and ``[quality]`` sections.

Their rules keep the statistics meaningful (docs/statistics.md): enough rows or labels for a test
to say anything, error rates that are probabilities, warning floors below critical ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from monitor.config._parse import Report, require_probability
from monitor.config.models import TaskType
from monitor.errors import ConfigError

#: The metrics a performance verdict can judge, per task (stats/performance_verdict.py).
JUDGEABLE_METRICS: dict[TaskType, tuple[str, ...]] = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier"),
    "multiclass": ("accuracy", "macro_f1"),
    "regression": ("mae", "rmse", "mape"),
}


@dataclass(frozen=True, slots=True)
class DriftSettings:
    """How drift verdicts are reached (docs/statistics.md)."""

    #: "calibrated": thresholds from the statistic's null distribution for the window's size,
    #: bootstrapped from the reference; "fixed": the familiar PSI 0.1 / 0.25 and p < 0.05.
    method: Literal["calibrated", "fixed"] = "calibrated"
    #: No verdict on fewer rows: small windows make every statistic noisy.
    min_samples: int = 200
    #: Per-feature false-alarm rate of the calibrated test on a window without drift.
    alpha: float = 0.01
    #: Benjamini–Hochberg false discovery rate across a model's features.
    fdr: float = 0.05
    #: Effect-size floor: below this PSI a statistically significant change is not drift
    #: (protects huge windows from flagging trivia).
    min_psi: float = 0.05
    #: Familiar fixed thresholds (method = "fixed", and the "major" level for critical).
    psi_warning: float = 0.1
    psi_critical: float = 0.25
    p_value: float = 0.05
    #: Weighted share of drifted features at which the model-level verdict is critical.
    critical_share: float = 0.5
    #: Bootstrap draws per calibrated threshold (cached per reference, feature and size).
    bootstrap_draws: int = 500
    #: Online change detector on each model's error and prediction streams (river).
    detector: Literal["adwin", "page_hinkley", "kswin", "ddm"] = "adwin"

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """Reject sample floors too small to test and error rates that are not probabilities."""
        report = Report(errors)
        if self.min_samples < 30:
            report(f"{key}.min_samples", "below 30 rows no statistic is usable", "use >= 30")
        for name, prob in (("alpha", self.alpha), ("fdr", self.fdr), ("p_value", self.p_value)):
            require_probability(
                report, f"{key}.{name}", prob, "use a number between 0 and 1, e.g. 0.05"
            )


@dataclass(frozen=True, slots=True)
class PerformanceSettings:
    """How performance verdicts are reached (docs/statistics.md, performance verdicts)."""

    #: Metrics judged per task; the first is the headline of tables and charts.
    binary_metrics: tuple[str, ...] = ("accuracy", "roc_auc", "f1")
    multiclass_metrics: tuple[str, ...] = ("accuracy", "macro_f1")
    regression_metrics: tuple[str, ...] = ("mae", "rmse")
    #: No verdict on fewer labelled pairs: a metric on a few dozen labels is mostly noise.
    min_labels: int = 200
    #: Probability that a window whose performance did not change flags any metric (Holm's
    #: correction across the model's metrics).
    alpha: float = 0.01
    #: Practical floors: a significant change smaller than these is reported, not raised.
    #: Points for metrics in [0, 1] (accuracy, ROC AUC, F1, …) ...
    min_drop: float = 0.01
    critical_drop: float = 0.05
    #: ... and a relative increase for errors (MAE, RMSE, MAPE, log loss, Brier).
    min_relative_increase: float = 0.05
    critical_relative_increase: float = 0.20
    #: Bootstrap draws per metric and label count (cached per reference).
    bootstrap_draws: int = 2000
    #: A change point of the online detector on a model's error stream warns for this long
    #: (critical once a window's performance verdict confirms it), then it is history.
    change_point_span_seconds: int = 6 * 3600

    def metrics(self, task: TaskType) -> tuple[str, ...]:
        return {
            "binary": self.binary_metrics,
            "multiclass": self.multiclass_metrics,
            "regression": self.regression_metrics,
        }[task]

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """Only judgeable metrics, each once, with enough labels and draws to test them."""
        report = Report(errors)
        for task, allowed in JUDGEABLE_METRICS.items():
            metrics_key = f"{key}.{task}_metrics"
            metrics = self.metrics(task)
            for metric in metrics:
                if metric not in allowed:
                    report(metrics_key, f"{metric!r} cannot be judged", f"use {', '.join(allowed)}")
            if len(set(metrics)) != len(metrics):
                report(metrics_key, "a metric is listed twice", "list each once")
        if self.min_labels < 30:
            report(f"{key}.min_labels", "below 30 labels no metric is usable", "use 30 or more")
        require_probability(
            report, f"{key}.alpha", self.alpha, "use a number between 0 and 1, e.g. 0.01"
        )
        for name, low, high in (
            ("min_drop", self.min_drop, self.critical_drop),
            ("min_relative_increase", self.min_relative_increase, self.critical_relative_increase),
        ):
            if not 0.0 <= low <= high:
                critical = name.replace("min_", "critical_")
                report(
                    f"{key}.{name}",
                    f"{low} is not between 0 and {critical} ({high})",
                    f"set {name} to at least 0 and at most {critical}",
                )
        if self.bootstrap_draws < 200:
            report(f"{key}.bootstrap_draws", "too few for alpha", "use >= 200")


@dataclass(frozen=True, slots=True)
class QualitySettings:
    """How data-quality verdicts are reached (docs/statistics.md, data quality)."""

    #: Probability that a window whose data quality did not change flags any rate (Holm's
    #: correction across the model's features and rates).
    alpha: float = 0.01
    #: Practical floors: an increase of a rate (missing, wrong type, out of range, unseen) by
    #: fewer points than this is reported, not raised ...
    min_increase: float = 0.02
    #: ... and by at least this many points it is critical (once the next window confirms it).
    critical_increase: float = 0.2
    #: Unseen categories named per feature in verdicts and status.
    unseen_named: int = 5

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """The error rate must be a probability and the floors ordered points in [0, 1]."""
        report = Report(errors)
        require_probability(
            report, f"{key}.alpha", self.alpha, "use a number between 0 and 1, e.g. 0.01"
        )
        if not 0.0 <= self.min_increase <= self.critical_increase <= 1.0:
            report(
                f"{key}.min_increase",
                f"floors {self.min_increase} and {self.critical_increase} are not ordered",
                "set 0 <= min_increase <= critical_increase <= 1, e.g. 0.02 and 0.2",
            )
