"""The null distribution of PSI at a window's size, bootstrapped from the reference.

Which PSI is surprising depends on how many rows a window has: :class:`NullCalibrator` simulates
stable windows of that size from the reference's own bin probabilities (resampling the reference
as well), caches the sorted draws per reference, feature and size bucket (powers of √2), and
interpolates between the two buckets around the actual size. ``docs/statistics.md`` §4 gives the
method and its measured accuracy.
"""

from __future__ import annotations

import math
import zlib
from collections import OrderedDict

import numpy as np
from numpy.typing import NDArray

from monitor.stats.distance import psi_rows
from monitor.vocab.profile import NumericProfile, Profile

#: Refined null distributions are 20× larger than the base ones: keep fewer of them.
_MAX_REFINED = 256


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
