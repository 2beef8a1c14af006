"""Alert rules: ``[[alerting.rules]]``, each turning one kind of evidence into alerts.

The defaults are silent on stable data: verdict rules fire on *critical* verdicts only, which the
statistics already confirm over two consecutive windows at a calibrated false-alarm rate
(docs/statistics.md); the rules on plain numbers (label coverage and delay, dead-letter rate,
stale data) fire only well past what stable traffic shows and clear only well inside it
(hysteresis), so a value hovering at the threshold does not flap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from monitor.config._parse import Report
from monitor.errors import ConfigError

#: What a rule watches. Verdict rules read the newest judged window's verdicts
#: (``estimated_performance``: a binary classifier's performance estimated from its scores, for
#: metrics whose labels have not been judged yet); the others read
#: the model's ingest counters, its windows and its detector; ``retrain_failed`` the model's
#: newest retraining request (failed: fires; delivered or rejected: clears).
RuleKind = Literal[
    "feature_drift",
    "prediction_drift",
    "performance",
    "estimated_performance",
    "data_quality",
    "change_point",
    "label_coverage",
    "label_delay",
    "stale_data",
    "dead_letters",
    "retrain_failed",
]
VERDICT_KINDS = frozenset(
    {"feature_drift", "prediction_drift", "performance", "estimated_performance", "data_quality"}
)
#: Rules comparing a number: (direction it breaches in, default fire, default clear threshold).
#: label_coverage: share of settled predictions that got their label (low is bad); label_delay:
#: mean hours from prediction to label (high is bad); dead_letters: share of a window's arrivals
#: dead-lettered (high is bad); stale_data: windows without traffic (high is bad).
THRESHOLDS: dict[str, tuple[Literal["below", "above"], float, float]] = {
    "label_coverage": ("below", 0.5, 0.6),
    "label_delay": ("above", 48.0, 36.0),
    "dead_letters": ("above", 0.05, 0.02),
    "stale_data": ("above", 3.0, 1.0),
}


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """One alert rule. ``fire`` / ``clear`` apply to the number rules (``THRESHOLDS``)."""

    kind: RuleKind
    severity: Literal["warning", "critical"] = "critical"
    #: Fire once the breach held this many consecutive windows (verdict and window rules) ...
    for_windows: int = 1
    #: ... and this long (seconds, from the first breach; 0: no time condition).
    for_seconds: float = 0.0
    #: Keep firing this long after the breach cleared: a clear that flaps back does not resolve.
    keep_firing_for_seconds: float = 0.0
    #: Breach past ``fire``, clear only past ``clear`` (None: the kind's default).
    fire: float | None = None
    clear: float | None = None
    #: Only these models (empty: every model).
    models: tuple[str, ...] = ()

    def thresholds(self) -> tuple[Literal["below", "above"], float, float]:
        """(direction, fire, clear) of a number rule, defaults filled in."""
        direction, fire, clear = THRESHOLDS[self.kind]
        return (
            direction,
            fire if self.fire is None else self.fire,
            clear if self.clear is None else self.clear,
        )

    def validate(
        self, key: str, models: frozenset[str], errors: list[ConfigError] | None = None
    ) -> None:
        """Reject what could never fire, never clear, or names a model that does not exist."""
        report = Report(errors)
        if self.for_windows < 1:
            report(f"{key}.for_windows", "must be at least 1", "use 1 or more")
        for name in ("for_seconds", "keep_firing_for_seconds"):
            if getattr(self, name) < 0:
                report(f"{key}.{name}", "must not be negative", "use 0 or more")
        for model in self.models:
            if model not in models:
                report(
                    f"{key}.models", f"model {model!r} is not configured", "name a [[models]] entry"
                )
        if self.kind in VERDICT_KINDS or self.kind in ("change_point", "retrain_failed"):
            for name in ("fire", "clear"):
                if getattr(self, name) is not None:
                    report(
                        f"{key}.{name}",
                        f"a {self.kind} rule fires on its verdicts, not on a number",
                        f"remove {name} (severity chooses which verdicts fire)",
                    )
            return
        direction, fire, clear = self.thresholds()
        if (direction == "below" and clear < fire) or (direction == "above" and clear > fire):
            report(
                f"{key}.clear",
                f"clear {clear:g} is on the breaching side of fire {fire:g}",
                f"use clear {'>=' if direction == 'below' else '<='} fire (hysteresis)",
            )


#: The rules used when ``[[alerting.rules]]`` is absent.
DEFAULT_RULES: tuple[RuleSettings, ...] = (
    RuleSettings("feature_drift"),
    RuleSettings("prediction_drift"),
    RuleSettings("performance"),
    RuleSettings("estimated_performance"),
    RuleSettings("data_quality"),
    RuleSettings("change_point", severity="warning", for_seconds=3600.0),
    RuleSettings("label_coverage", severity="warning", for_windows=3),
    RuleSettings("label_delay", severity="warning", for_windows=3),
    RuleSettings("stale_data", severity="critical"),
    RuleSettings("dead_letters", severity="warning", for_windows=2),
    RuleSettings("retrain_failed", severity="warning"),
)
