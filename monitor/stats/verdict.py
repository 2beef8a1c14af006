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
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from monitor.config import DriftSettings, ModelSettings
from monitor.stats.distance import drift_statistics, psi_rows
from monitor.stats.reference import NumericProfile, Profile, ReferenceProfile

#: ``counts`` key and verdict ``feature`` of the model's prediction.
PREDICTION = "__prediction__"
#: Verdict ``feature`` of the model-level verdict.
MODEL = "__model__"

#: ``"warn"`` is part of the contract for consumers but never emitted by :func:`evaluate`.
Status = Literal["ok", "warn", "drift", "insufficient"]
Severity = Literal["ok", "warning", "critical", "insufficient"]

#: Refined null distributions are 20× larger than the base ones: keep fewer of them.
_MAX_REFINED = 256


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


def size_buckets(n: int) -> tuple[int, int]:
    """The two powers of √2 (rounded down to integers) around ``n``: the sizes simulated for it.

    ``lo <= n <= hi``; both are ``n`` when ``n`` is on the grid. Nulls are cached per bucket and
    interpolated in between (see :class:`NullCalibrator`).

    Examples
    --------
    >>> [size_buckets(n) for n in (100, 128, 1000, 100_000)]
    [(90, 128), (128, 128), (724, 1024), (92681, 131072)]
    """
    if n < 1:
        raise ValueError(f"window size must be positive, got {n}")

    def grid(k: int) -> int:
        return math.floor(2 ** (k / 2) + 1e-9)

    k = math.floor(2 * math.log2(n))
    if grid(k + 1) <= n:  # log2 rounding, and grid points rounded down below 2^(k/2)
        k += 1
    return (n, n) if grid(k) == n else (grid(k), grid(k + 1))


_Key = tuple[str, str, int, str, tuple[int, ...]]


class NullCalibrator:
    """Bootstrap null distribution of PSI per (reference, feature, window size).

    The null hypothesis is "window and reference are two samples of one distribution", so each
    draw resamples *both* from the reference's bin frequencies: the reference (its own size) and
    a window, then computes their PSI. Numeric windows also get the probability ``1/(n_ref + 1)``
    on each side of the reference's range — the chance that a new value of a continuous feature
    falls outside ``n_ref`` earlier ones. Draws are vectorised multinomials, seeded per key
    (deterministic whatever the call order) and cached (LRU).

    Window sizes are simulated on a grid of powers of √2 and the null for ``n`` is interpolated
    between the two grid sizes around it, draw by draw on the sorted draws, linearly in
    ``1/n + 1/n_ref`` (the null's scale). Using the nearest grid size instead would miscalibrate
    by up to √2 in size: rounding up multiplies false alarms by up to 16, rounding down removes
    up to 99% of them along with power (``docs/statistics.md``).

    p-values are Monte Carlo, ``(1 + #{null >= observed}) / (draws + 1)``. Beyond the largest
    draw the p-value is refined with ``refine_draws`` further draws (never above
    ``1/(draws + 1)``): Benjamini–Hochberg over m tests needs ``p <= fdr/m`` for a lone drifted
    feature, below the ``1/501`` that 500 draws can show.

    Examples
    --------
    >>> from monitor.stats.reference import build_numeric
    >>> profile = build_numeric(np.random.default_rng(0).normal(size=10_000), seed=0)
    >>> calibrator = NullCalibrator(draws=500, seed=0)
    >>> round(calibrator.threshold(profile, "x", n=1000, alpha=0.01, reference_version="v1"), 4)
    0.041
    >>> calibrator.p_value(profile, "x", 0.03, n=1000, reference_version="v1")
    0.1157684630738523
    >>> calibrator.p_value(profile, "x", 1.0, n=1000, reference_version="v1")
    9.999000099990002e-05
    """

    def __init__(
        self,
        draws: int = 500,
        seed: int = 0,
        *,
        refine_draws: int = 10_000,
        max_entries: int = 4096,
    ) -> None:
        if draws < 1 or refine_draws < draws:
            raise ValueError("need draws >= 1 and refine_draws >= draws")
        self.draws = draws
        self.seed = seed
        self.refine_draws = refine_draws
        self.max_entries = max_entries
        self._base: OrderedDict[_Key, NDArray[np.float64]] = OrderedDict()
        self._refined: OrderedDict[_Key, NDArray[np.float64]] = OrderedDict()

    def _simulate(self, profile: Profile, key: _Key, size: int, stage: int) -> NDArray[np.float64]:
        """``size`` sorted null PSI draws for ``key``; ``stage`` separates base and refined."""
        version, feature, bucket = key[0], key[1], key[2]
        names = [zlib.crc32(version.encode()), zlib.crc32(feature.encode())]
        rng = np.random.default_rng([self.seed, stage, bucket, *names])
        ref = np.asarray(profile.counts[:-1], dtype=np.float64)
        n_ref = int(ref.sum())
        p = ref / n_ref
        window_p = p
        if isinstance(profile, NumericProfile):
            outside = 1.0 / (n_ref + 1)
            window_p = p * (1.0 - 2.0 * outside)
            window_p[0] += outside
            window_p[-1] += outside
        ref_draws = rng.multinomial(n_ref, p, size=size)
        window_draws = rng.multinomial(bucket, window_p, size=size)
        return np.sort(psi_rows(ref_draws, window_draws))

    def _bucket(self, profile: Profile, key: _Key, refined: bool) -> NDArray[np.float64]:
        table, limit = (self._refined, _MAX_REFINED) if refined else (self._base, self.max_entries)
        draws = table.get(key)
        if draws is None:
            size = self.refine_draws if refined else self.draws
            draws = table[key] = self._simulate(profile, key, size, stage=int(refined))
            if len(table) > limit:
                table.popitem(last=False)
        else:
            table.move_to_end(key)
        return draws

    def _null(
        self, profile: Profile, feature: str, n: int, version: str, *, refined: bool = False
    ) -> NDArray[np.float64]:
        """Sorted null draws at window size ``n``, interpolated between its two buckets."""
        lo, hi = size_buckets(n)
        # The counts guard against two models sharing a version string and a feature name.
        stem = (version, feature)
        shape = (type(profile).__name__, tuple(profile.counts))
        low = self._bucket(profile, (*stem, lo, *shape), refined)
        if hi == lo:
            return low
        high = self._bucket(profile, (*stem, hi, *shape), refined)
        n_ref = profile.n - profile.n_missing
        scale = [1 / size + 1 / n_ref for size in (lo, n, hi)]
        w = (scale[0] - scale[1]) / (scale[0] - scale[2])
        return (1.0 - w) * low + w * high

    def p_value(
        self, profile: Profile, feature: str, observed_psi: float, n: int, reference_version: str
    ) -> float:
        """Monte Carlo p-value of ``observed_psi`` under the null at window size ``n``."""
        if not math.isfinite(observed_psi):
            raise ValueError(f"observed PSI of {feature!r} is {observed_psi}")
        base = self._null(profile, feature, n, reference_version)
        exceed = base.size - int(np.searchsorted(base, observed_psi, side="left"))
        if exceed > 0:
            return (1 + exceed) / (base.size + 1)
        refined = self._null(profile, feature, n, reference_version, refined=True)
        exceed = refined.size - int(np.searchsorted(refined, observed_psi, side="left"))
        return min(1 / (base.size + 1), (1 + exceed) / (refined.size + 1))

    def threshold(
        self, profile: Profile, feature: str, n: int, alpha: float, reference_version: str
    ) -> float:
        """The PSI an observation must exceed for ``p <= alpha`` (inf when unreachable)."""
        base = self._null(profile, feature, n, reference_version)
        allowed = math.floor(alpha * (base.size + 1) + 1e-9) - 1
        if allowed >= 0:
            return float(base[base.size - 1 - allowed])
        refined = self._null(profile, feature, n, reference_version, refined=True)
        allowed = math.floor(alpha * (refined.size + 1) + 1e-9) - 1
        if allowed < 0:
            return math.inf
        return max(float(base[-1]), float(refined[refined.size - 1 - allowed]))

    def false_alarm_rate(
        self, profile: Profile, feature: str, threshold: float, n: int, reference_version: str
    ) -> float:
        """Share of null draws with ``psi >= threshold`` at size ``n`` (resolution 1/draws)."""
        base = self._null(profile, feature, n, reference_version)
        return (base.size - int(np.searchsorted(base, threshold, side="left"))) / base.size


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
    """Weighted share of drifted features; critical at critical_share or a critical prediction."""
    judged = [v for v in verdicts if v.status != "insufficient"]
    features = [v for v in judged if v.feature != PREDICTION]
    prediction = next((v for v in judged if v.feature == PREDICTION), None)
    weight = {v.feature: model.importance.get(v.feature, 1.0) for v in features}
    total = sum(weight.values())
    drifted = [v for v in features if v.status == "drift" and weight[v.feature] > 0]
    share = sum(weight[v.feature] for v in drifted) / total if total > 0 else 0.0
    critical = share > 0 and share >= settings.critical_share
    if prediction is not None and prediction.status == "drift":
        drifted.append(prediction)
        critical = critical or prediction.severity == "critical"
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


def evaluate(
    model: ModelSettings,
    reference: ReferenceProfile,
    counts: Mapping[str, np.ndarray],
    n: int,
    window_start: int,
    settings: DriftSettings,
    calibrator: NullCalibrator,
) -> list[Verdict]:
    """Verdicts of one closed window: each feature, the prediction (if counted), the model.

    ``counts`` maps each of the model's features — and :data:`PREDICTION` when the prediction
    is monitored — to the window's counts on the reference profile's bins (missing bin last);
    ``n`` is the window's number of rows. Verdicts come in the order of ``model.features``, then
    the prediction, then the model verdict (:data:`MODEL`).

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
