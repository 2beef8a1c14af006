"""Comparisons: two groups of windows (two periods, or two model versions) side by side.

``compare`` summarises each feature's drift and the headline metric per group for the comparison
table; the groups' distributions are drawn by ``distribution.distribution_bars``, but only when
:func:`common_reference` finds one reference both groups were binned on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboard.figures.common import number, verdict_of
from monitor.vocab.verdicts import WindowEvaluation


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """One feature in two groups of windows: mean statistic and share of drifting windows."""

    feature: str
    statistic: str
    mean_a: float | None
    mean_b: float | None
    drift_share_a: float | None
    drift_share_b: float | None


@dataclass(frozen=True, slots=True)
class ComparisonInfo:
    """Two groups of windows (two periods, or two model versions) side by side."""

    label_a: str
    label_b: str
    windows_a: int
    windows_b: int
    rows_a: int
    rows_b: int
    metric: str
    metric_a: float | None
    metric_b: float | None
    features: tuple[ComparisonRow, ...]


def _weighted_metric(group: Sequence[WindowEvaluation], metric: str) -> float | None:
    """Mean of the windows' metric weighted by their labelled rows (an approximation of the
    metric over the whole period, exact for averages such as accuracy and MAE)."""
    pairs = [(ev.performance[metric], ev.n_labelled) for ev in group if metric in ev.performance]
    pairs = [(number(m), n) for m, n in pairs if n and m is not None]
    total = sum(n for _, n in pairs)
    return sum(m * n for m, n in pairs) / total if total else None


def compare(
    label_a: str,
    group_a: Sequence[WindowEvaluation],
    label_b: str,
    group_b: Sequence[WindowEvaluation],
    features: Sequence[str],
    metric: str,
) -> ComparisonInfo:
    """Per feature: the mean statistic and the share of judged windows that drift, in each group
    (windows with too few rows for a verdict do not count towards the share)."""

    def stats(
        group: Sequence[WindowEvaluation], feature: str
    ) -> tuple[str, float | None, float | None]:
        verdicts = [v for ev in group if (v := verdict_of(ev, feature)) is not None]
        judged = [v for v in verdicts if v.status != "insufficient"]
        if not verdicts:
            return "", None, None
        mean = sum(number(v.value) for v in verdicts) / len(verdicts)
        share = sum(v.status == "drift" for v in judged) / len(judged) if judged else None
        return verdicts[-1].statistic, mean, share

    rows = []
    for feature in features:
        stat_a, mean_a, share_a = stats(group_a, feature)
        stat_b, mean_b, share_b = stats(group_b, feature)
        rows.append(ComparisonRow(feature, stat_b or stat_a, mean_a, mean_b, share_a, share_b))
    return ComparisonInfo(
        label_a=label_a,
        label_b=label_b,
        windows_a=len(group_a),
        windows_b=len(group_b),
        rows_a=sum(ev.n for ev in group_a),
        rows_b=sum(ev.n for ev in group_b),
        metric=metric,
        metric_a=_weighted_metric(group_a, metric),
        metric_b=_weighted_metric(group_b, metric),
        features=tuple(rows),
    )


def common_reference(
    group_a: Sequence[WindowEvaluation], group_b: Sequence[WindowEvaluation]
) -> str | None:
    """The reference both groups' windows were binned on, if there is exactly one: bins of
    different references are not comparable."""
    refs = {ev.reference for ev in [*group_a, *group_b]}
    return refs.pop() if len(refs) == 1 and "" not in refs else None
