"""What one window says about one feature (or model output): its drift verdict and its data-quality
verdicts, worst first, as people read them.

The Feature page opens on the worst of them, whatever its kind: a link from a data-quality card
must land on the missing values, not on a green drift verdict. Each finding carries its numbers as
text in one precision (``common.sig``, ``common.percent`` for rates), says what its ``n`` counts,
and leaves out what has no meaning for it: no p-value for a statistic without one, no expected
false-alarm rate where the calibration saw none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dashboard.figures.common import (
    ACTIVE_SEVERITIES,
    MODEL_ROW,
    percent,
    sig,
    verdict_of,
    worst_first,
)
from dashboard.figures.quality import reference_rate
from monitor.vocab.profile import Profile
from monitor.vocab.verdicts import Verdict, WindowEvaluation


@dataclass(frozen=True, slots=True)
class Finding:
    """One verdict about one feature in one window, formatted for people.

    ``threshold`` is "–" where the verdict had none (too few rows); ``reference`` is the
    reference's own rate (data quality only); ``p_value`` and ``false_alarm`` are None where they
    carry no information; ``n_counts`` names what ``n`` counts.
    """

    kind: str
    statistic: str
    severity: str
    value: str
    threshold: str
    reference: str | None
    p_value: str | None
    n: int
    n_counts: str
    false_alarm: str | None
    reasons: tuple[str, ...]

    @property
    def active(self) -> bool:
        """Whether it warns or is critical."""
        return self.severity in ACTIVE_SEVERITIES

    @property
    def title(self) -> str:
        """What it is about: "drift · psi", "data quality · missing rate"."""
        return f"{self.kind} · {self.statistic}"

    def summary(self) -> str:
        """Its numbers in one line, for the findings below the first."""
        details = []
        if self.reference is not None:
            details.append(f"reference {self.reference}")
        if self.threshold != "–":
            details.append(f"threshold {self.threshold}")
        if self.p_value is not None:
            details.append(f"p = {self.p_value}")
        details.append(f"n = {self.n:,} {self.n_counts}")
        return f"{self.statistic} {self.value} ({', '.join(details)})"


def _drift(v: Verdict) -> Finding:
    """A drift verdict: its ``n`` is the values the statistic saw, except when the window was
    judged without looking at them (too few rows, no reference profile: value NaN)."""
    judged = v.status != "insufficient"
    rate = v.expected_false_alarm_rate
    return Finding(
        kind="drift",
        statistic=v.statistic,
        severity=v.severity,
        value=sig(v.value),
        threshold=sig(v.threshold),
        reference=None,
        p_value=sig(v.p_value) if v.p_value is not None else None,
        n=v.n,
        n_counts="rows" if v.feature == MODEL_ROW or math.isnan(v.value) else "non-missing rows",
        false_alarm=percent(rate) if judged and rate > 0 else None,
        reasons=v.reasons,
    )


def _quality(v: Verdict, profile: Profile | None) -> Finding:
    """A data-quality verdict: a rate of all the window's rows, against the reference's rate.
    Its per-test level (``expected_false_alarm_rate``, alpha over the model's rates) is Holm's
    bookkeeping, not a false-alarm rate of this verdict: it is left out."""
    return Finding(
        kind="data quality",
        statistic=v.statistic.replace("_", " "),  # as the daemon's reasons say: "missing rate"
        severity=v.severity,
        value=percent(v.value),
        threshold=percent(v.threshold),
        reference=percent(reference_rate(profile, v.statistic)),
        p_value=sig(v.p_value) if v.p_value is not None else None,
        n=v.n,
        n_counts="rows",
        false_alarm=None,
        reasons=v.reasons,
    )


def findings(ev: WindowEvaluation, feature: str, profile: Profile | None) -> list[Finding]:
    """A window's findings about one row, worst first (drift before data quality at equal
    severity); ``profile`` is the row's reference profile, for the reference's rates."""
    out = []
    drift = verdict_of(ev, feature)
    if drift is not None:
        out.append(_drift(drift))
    out += [_quality(v, profile) for v in ev.quality_verdicts if v.feature == feature]
    return sorted(out, key=lambda f: worst_first(f.severity))  # stable: drift first on ties


def worst(ev: WindowEvaluation, feature: str) -> str:
    """The worst severity of a window's verdicts about one row ("none" without any): what the
    window picker shows beside each window."""
    severities = [v.severity for v in ev.quality_verdicts if v.feature == feature]
    if (drift := verdict_of(ev, feature)) is not None:
        severities.append(drift.severity)
    return min(severities, key=worst_first, default="none")
