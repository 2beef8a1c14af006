"""Data-quality verdicts: each rate against the reference's own rate, by a test sized by n.

A feature whose reference already has 10 % missing values is not a problem at 10 %; one at 22 %
is. So every rate of a window — missing, wrong type, out of the reference's range (numeric),
unseen category (categorical) — is compared with the same rate in the reference by Fisher's exact
test (one-sided: only an increase matters), which is exact at every sample size, from a handful of
rows to millions. The reference's own rates are its missing count, none of the wrong type (a
reference counts those as missing), and for out-of-range and unseen values the count its own
values would show against the rest of it (``n_novel`` in the profiles: a unique minimum or
maximum; categories seen once — the Good–Turing estimate of new values).

A rate **degrades** when its test passes Holm's correction across the model's rates at ``alpha``
*and* it rose by at least ``min_increase`` points; it is critical from ``critical_increase``
points on (once the next window confirms it). Unseen categories are named with their counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from scipy import stats as sps

from monitor.config import ModelSettings, QualitySettings
from monitor.stats.verdict import holm
from monitor.vocab.effects import MISSING_PREFIX, TYPE_ERROR_PREFIX, UNSEEN_PREFIX, bin_field
from monitor.vocab.profile import CategoricalProfile, NumericProfile, ReferenceProfile
from monitor.vocab.verdicts import Severity, Status, Verdict

#: Longest category name kept (a producer sending long unseen strings must not grow a window).
UNSEEN_NAME_CHARS = 64
#: Rate names, as verdict statistics.
MISSING, TYPE_ERROR, OUT_OF_RANGE, UNSEEN = (
    "missing_rate",
    "type_error_rate",
    "out_of_range_rate",
    "unseen_rate",
)


@dataclass(frozen=True, slots=True)
class Rate:
    """One rate of one feature: the window's count and the reference's, each over its rows."""

    feature: str
    statistic: str
    count: int
    n: int
    reference_count: int
    reference_n: int
    #: Unseen categories of the window with their counts, most frequent first (unseen only).
    named: tuple[tuple[str, int], ...] = ()

    @property
    def value(self) -> float:
        return self.count / self.n if self.n else math.nan

    @property
    def reference(self) -> float:
        return self.reference_count / self.reference_n if self.reference_n else math.nan


def rates(
    model: ModelSettings, reference: ReferenceProfile, n: int, fields: Mapping[str, float]
) -> list[Rate]:
    """Every judged rate of a window's counts (``fields`` as ``stats/window.py`` writes them)."""
    out = []
    for name in model.features:
        profile = reference.features.get(name)
        if profile is None:
            continue
        out.append(Rate(name, MISSING, _count(fields, MISSING_PREFIX + name), n, profile.n_missing,
                        profile.n))  # fmt: skip
        out.append(
            Rate(name, TYPE_ERROR, _count(fields, TYPE_ERROR_PREFIX + name), n, 0, profile.n)
        )
        if profile.n_novel is None:
            continue  # a profile from before novelty was kept: rebuild the reference to judge it
        bins = [_count(fields, bin_field(name, b)) for b in range(profile.n_bins)]
        if isinstance(profile, NumericProfile):
            out.append(Rate(name, OUT_OF_RANGE, bins[0] + bins[-2], n, profile.n_novel,
                            profile.n))  # fmt: skip
        elif isinstance(profile, CategoricalProfile):
            out.append(Rate(name, UNSEEN, bins[-2], n, profile.n_novel, profile.n,
                            unseen_names(fields, name)))  # fmt: skip
    return out


def unseen_names(fields: Mapping[str, float], feature: str) -> tuple[tuple[str, int], ...]:
    """The window's unseen categories of ``feature`` with their counts, most frequent first."""
    prefix = f"{UNSEEN_PREFIX}{feature}:"
    counts = [(k[len(prefix) :], int(v)) for k, v in fields.items() if k.startswith(prefix)]
    return tuple(sorted(counts, key=lambda item: (-item[1], item[0])))


def judge(
    model: ModelSettings,
    reference: ReferenceProfile,
    n: int,
    fields: Mapping[str, float],
    window_start: int,
    min_samples: int,
    settings: QualitySettings,
) -> list[Verdict]:
    """One verdict per judged rate of the model's features (none below ``min_samples`` rows)."""
    judged = rates(model, reference, n, fields)
    if n < min_samples:
        return [
            _verdict(model, reference, r, window_start, "insufficient", "insufficient", math.nan,
                     None, 0.0, (f"window has {n} rows, fewer than min_samples={min_samples}",))
            for r in judged
        ]  # fmt: skip
    p_values = [_p_value(r) for r in judged]
    m = len(judged)
    rejected = holm(p_values, settings.alpha)
    verdicts = []
    for r, p, significant in zip(judged, p_values, rejected, strict=True):
        increase = r.value - r.reference
        degraded = significant and increase >= settings.min_increase
        severity: Severity = "ok"
        if degraded:
            severity = "critical" if increase >= settings.critical_increase else "warning"
        reasons: tuple[str, ...] = ()
        if degraded or (significant and increase > 0):
            said = (
                f"{r.feature}: {r.statistic.replace('_', ' ')} {r.value:.1%} vs reference "
                f"{r.reference:.1%} at n={r.n:,} (p={p:.2g}"
                + (f", Holm over {m} rates)" if degraded else f"; under the floor of "
                   f"{settings.min_increase:.0%} points)")
            )  # fmt: skip
            if r.named:
                named = ", ".join(f"{name!r} ×{count}" for name, count in
                                  r.named[: settings.unseen_named])  # fmt: skip
                said += f": {named}"
            reasons = (said,)
        verdicts.append(
            _verdict(model, reference, r, window_start, "degraded" if degraded else "ok",
                     severity, r.reference + settings.min_increase, p, settings.alpha / m,
                     reasons)
        )  # fmt: skip
    return verdicts


def _count(fields: Mapping[str, float], name: str) -> int:
    return int(fields.get(name, 0.0))


def _p_value(r: Rate) -> float:
    """Fisher's exact test, one-sided: is the window's rate above the reference's?"""
    table = [[r.count, r.n - r.count], [r.reference_count, r.reference_n - r.reference_count]]
    return float(sps.fisher_exact(table, alternative="greater").pvalue)


def _verdict(
    model: ModelSettings,
    reference: ReferenceProfile,
    r: Rate,
    window_start: int,
    status: Status,
    severity: Severity,
    threshold: float,
    p_value: float | None,
    rate: float,
    reasons: tuple[str, ...],
) -> Verdict:
    return Verdict(
        model=model.name,
        feature=r.feature,
        statistic=r.statistic,
        value=r.value,
        threshold=threshold,
        p_value=p_value,
        n=r.n,
        status=status,
        severity=severity,
        window_start=window_start,
        reference_version=reference.version,
        expected_false_alarm_rate=rate,
        reasons=reasons,
    )
