"""Drift verdicts that respect sample size.

A statistic alone is not a verdict: a PSI of 0.2 is noise in a window of 100 rows and a
landslide in one of 100 000. :func:`evaluate` turns a window's counts into one
:class:`Verdict` per feature, one for the prediction and one for the model, following the rules
of ``docs/statistics.md``:

1. Too few rows (``min_samples``) — in the window, or non-missing for a feature — gives
   "insufficient": neither drift nor ok.
2. ``method = "calibrated"`` (default): each feature's PSI gets a p-value from its bootstrap
   null distribution at the window's size (:class:`NullCalibrator`); drift needs
   ``p <= alpha``, Benjamini–Hochberg significance at ``fdr`` across the model's features and
   prediction, and ``psi >= min_psi`` (the effect floor that keeps huge windows from flagging
   trivia).
3. ``method = "fixed"``: drift when ``psi >= psi_warning`` or the KS / chi-square p-value is below
   ``p_value`` — the familiar rule, with its false-alarm rate at this size reported alongside.
4. The model verdict weighs drifted features by ``importance``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from monitor.config import DriftSettings, ModelSettings
from monitor.stats.calibration import NullCalibrator
from monitor.stats.distance import drift_statistics
from monitor.vocab.profile import NumericProfile, Profile, ReferenceProfile
from monitor.vocab.verdicts import DECISION, MODEL, OUTPUTS, PREDICTION, Severity, Status, Verdict


@dataclass(frozen=True, slots=True)
class _Tested:
    """A feature (or the prediction) with enough values to be judged."""

    name: str
    profile: Profile
    n: int
    psi: float
    p_value: float


@dataclass(frozen=True, slots=True)
class _Judgement:
    """Everything of a feature's verdict that the judging rule decides."""

    status: Status
    severity: Severity
    threshold: float
    rate: float
    reasons: tuple[str, ...]


def _calibrated(
    tested: list[_Tested], settings: DriftSettings, calibrator: NullCalibrator, version: str
) -> list[_Judgement]:
    if not tested:
        return []
    adjusted = sps.false_discovery_control([t.p_value for t in tested], method="bh")
    bh = f"Benjamini–Hochberg over {len(tested)} tests at fdr {settings.fdr:g}"
    judgements = []
    for t, q in zip(tested, adjusted, strict=True):
        threshold = max(
            calibrator.threshold(t.profile, t.name, t.n, settings.alpha, version), settings.min_psi
        )
        drift = q <= settings.fdr and t.p_value <= settings.alpha and t.psi >= settings.min_psi
        severity: Severity = "warning" if drift else "ok"
        reasons = []
        if drift:
            reasons.append(
                f"psi {t.psi:.3g} > threshold {threshold:.3g} at n={t.n} "
                f"(p={t.p_value:.2g}, significant after {bh})"
            )
            if t.psi >= settings.psi_critical:
                noise = calibrator.false_alarm_rate(
                    t.profile, t.name, settings.psi_critical, t.n, version
                )
                if noise <= settings.alpha:
                    severity = "critical"
                else:
                    reasons.append(
                        f"not critical: a stable window reaches psi {settings.psi_critical:g} "
                        f"with probability {noise:.2g} at n={t.n}"
                    )
        elif t.p_value <= settings.alpha and t.psi < settings.min_psi:
            reasons.append(
                f"significant (p={t.p_value:.2g}) but psi {t.psi:.3g} is below the effect floor "
                f"min_psi={settings.min_psi:g}"
            )
        elif t.p_value <= settings.alpha:
            reasons.append(f"p={t.p_value:.2g} is not significant after {bh}")
        rate = calibrator.false_alarm_rate(t.profile, t.name, threshold, t.n, version)
        status: Status = "drift" if drift else "ok"
        judgements.append(_Judgement(status, severity, threshold, rate, tuple(reasons)))
    return judgements


def _fixed(
    tested: list[_Tested], settings: DriftSettings, calibrator: NullCalibrator, version: str
) -> list[_Judgement]:
    judgements = []
    for t in tested:
        test = "KS" if isinstance(t.profile, NumericProfile) else "chi-square"
        rate = calibrator.false_alarm_rate(t.profile, t.name, settings.psi_warning, t.n, version)
        reasons = []
        if t.psi >= settings.psi_warning:
            reasons.append(f"psi {t.psi:.3g} >= psi_warning {settings.psi_warning:g} at n={t.n}")
        if t.p_value < settings.p_value:
            reasons.append(f"{test} p={t.p_value:.2g} < {settings.p_value:g} at n={t.n}")
        status: Status = "drift" if reasons else "ok"
        severity: Severity = "ok"
        if reasons:
            severity = "critical" if t.psi >= settings.psi_critical else "warning"
            reasons.append(
                f"a stable window reaches psi {settings.psi_warning:g} with probability "
                f"{rate:.2g} at n={t.n}"
            )
        judgements.append(_Judgement(status, severity, settings.psi_warning, rate, tuple(reasons)))
    return judgements


def _model_verdict(
    model: ModelSettings,
    verdicts: list[Verdict],
    settings: DriftSettings,
    n: int,
    window_start: int,
    version: str,
) -> Verdict:
    """Weighted share of drifted features; critical at critical_share or a critical output (the
    prediction or the decisions)."""
    judged = [v for v in verdicts if v.status != "insufficient"]
    features = [v for v in judged if v.feature not in OUTPUTS]
    weight = {v.feature: model.importance.get(v.feature, 1.0) for v in features}
    total = sum(weight.values())
    drifted = [v for v in features if v.status == "drift" and weight[v.feature] > 0]
    share = sum(weight[v.feature] for v in drifted) / total if total > 0 else 0.0
    critical = share > 0 and share >= settings.critical_share
    for output in (v for v in judged if v.feature in OUTPUTS and v.status == "drift"):
        drifted.append(output)
        critical = critical or output.severity == "critical"
    rates = [v.expected_false_alarm_rate for v in judged]
    if settings.method == "calibrated":
        rate = min(settings.fdr, sum(rates))
    else:
        rate = 1.0 - math.prod(1.0 - r for r in rates)
    status: Status = "drift" if drifted else "ok"
    severity: Severity = "critical" if critical else "warning" if drifted else "ok"
    reasons = tuple(f"{v.feature}: {v.reasons[0]}" for v in drifted)
    if not judged:
        status = severity = "insufficient"
        share, reasons = math.nan, ("no feature had enough non-missing values",)
    return Verdict(
        model=model.name,
        feature=MODEL,
        statistic="drift_share",
        value=share,
        threshold=settings.critical_share,
        p_value=None,
        n=n,
        status=status,
        severity=severity,
        window_start=window_start,
        reference_version=version,
        expected_false_alarm_rate=rate,
        reasons=reasons,
    )


def holm(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Holm's step-down: which hypotheses are rejected with family-wise error at most ``alpha``
    (valid under any dependence between them).

    >>> holm([0.001, 0.04, 0.03], alpha=0.05)
    [True, False, False]
    """
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (len(p_values) - rank):
            break
        rejected[i] = True
    return rejected


def evaluate(
    model: ModelSettings,
    reference: ReferenceProfile,
    counts: Mapping[str, np.ndarray],
    n: int,
    window_start: int,
    settings: DriftSettings,
    calibrator: NullCalibrator,
) -> list[Verdict]:
    """Verdicts of one closed window: each feature, the outputs (if counted), the model.

    ``counts`` maps each of the model's features — and :data:`PREDICTION` and :data:`DECISION`
    when they are monitored — to the window's counts on the reference profile's bins (missing bin
    last); ``n`` is the window's number of rows. Verdicts come in the order of
    ``model.features``, then the prediction and the decisions, then the model verdict
    (:data:`MODEL`).

    Examples
    --------
    >>> from monitor.config import ModelSettings, DriftSettings
    >>> from monitor.stats.reference import build_profile
    >>> rng = np.random.default_rng(0)
    >>> model = ModelSettings(name="m", owner="ml", task="regression",
    ...                       features={"a": "numeric", "b": "numeric"})
    >>> reference = build_profile(model, {"a": rng.normal(size=5000), "b": rng.normal(size=5000)},
    ...                           predictions=rng.normal(size=5000), version="v1", source="s",
    ...                           created_at=0.0)
    >>> def window(shift):
    ...     a, b = reference.features["a"], reference.features["b"]
    ...     ids_a = a.bin_index(rng.normal(shift, size=1000))
    ...     ids_b = b.bin_index(rng.normal(size=1000))
    ...     return {"a": np.bincount(ids_a, minlength=a.n_bins),
    ...             "b": np.bincount(ids_b, minlength=b.n_bins)}
    >>> verdicts = evaluate(model, reference, window(1.0), n=1000, window_start=0,
    ...                     settings=DriftSettings(), calibrator=NullCalibrator())
    >>> [(v.feature, v.status, v.severity) for v in verdicts]
    [('a', 'drift', 'critical'), ('b', 'ok', 'ok'), ('__model__', 'drift', 'critical')]
    """
    targets: list[tuple[str, Profile | None]] = [
        (name, reference.features.get(name)) for name in model.features
    ]
    if PREDICTION in counts:
        targets.append((PREDICTION, reference.prediction))
    if DECISION in counts and reference.decision is not None:
        targets.append((DECISION, reference.decision))
    no_threshold = math.nan if settings.method == "calibrated" else settings.psi_warning
    by_name: dict[str, Verdict] = {}

    def judged(name: str, value: float, p_value: float | None, size: int, j: _Judgement) -> None:
        by_name[name] = Verdict(
            model=model.name,
            feature=name,
            statistic="psi",
            value=value,
            threshold=j.threshold,
            p_value=p_value,
            n=size,
            status=j.status,
            severity=j.severity,
            window_start=window_start,
            reference_version=reference.version,
            expected_false_alarm_rate=j.rate,
            reasons=j.reasons,
        )

    def insufficient(name: str, value: float, size: int, reason: str) -> None:
        judgement = _Judgement("insufficient", "insufficient", no_threshold, 0.0, (reason,))
        judged(name, value, None, size, judgement)

    fewer = f"fewer than min_samples={settings.min_samples}"
    tested: list[_Tested] = []
    for name, profile in targets:
        if n < settings.min_samples:
            insufficient(name, math.nan, n, f"window has {n} rows, {fewer}")
            continue
        if profile is None:
            reason = f"not in reference {reference.version}: rebuild the reference"
            insufficient(name, math.nan, n, reason)
            continue
        if name not in counts:
            raise ValueError(f"no window counts for {name!r} of model {model.name!r}")
        cur = np.asarray(counts[name], dtype=np.float64)
        stats = drift_statistics(profile, cur)
        present = int(cur[:-1].sum())
        if present < settings.min_samples:
            insufficient(name, stats["psi"], present, f"{present} non-missing values, {fewer}")
        elif settings.method == "calibrated":
            p = calibrator.p_value(profile, name, stats["psi"], present, reference.version)
            tested.append(_Tested(name, profile, present, stats["psi"], p))
        else:
            p = stats["ks_pvalue" if isinstance(profile, NumericProfile) else "chi2_pvalue"]
            tested.append(_Tested(name, profile, present, stats["psi"], p))
    judge = _calibrated if settings.method == "calibrated" else _fixed
    for t, j in zip(tested, judge(tested, settings, calibrator, reference.version), strict=True):
        judged(t.name, t.psi, t.p_value, t.n, j)
    verdicts = [by_name[name] for name, _ in targets]
    model_verdict = _model_verdict(model, verdicts, settings, n, window_start, reference.version)
    return [*verdicts, model_verdict]
