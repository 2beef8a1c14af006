"""A known population for the verdict and calibration tests.

The 30-feature model (24 numeric features with six different distributions, 6 categorical
features with 3–80 Zipf-distributed categories, 1 % missing values everywhere) and its score
prediction are profiled from 10 000 reference rows drawn from known distributions. Stable
windows are drawn from the *same distributions* (not resampled from the reference), the situation
in production: the reference is itself only a sample.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from monitor.config import ModelSettings
from monitor.stats.reference import build_profile
from monitor.vocab.profile import NumericProfile, Profile, ReferenceProfile
from monitor.vocab.verdicts import PREDICTION

N_REF = 10_000
MISSING = 0.01
DISTRIBUTIONS = [
    sps.norm(3, 2),
    sps.lognorm(0.8),
    sps.expon(scale=5),
    sps.uniform(-1, 2),
    sps.t(5),
    sps.gamma(2),
]
CATEGORY_COUNTS = [3, 8, 20, 80, 5, 12]
SCORE = sps.beta(2, 5)
FEATURES = {f"num_{i}": "numeric" for i in range(24)} | {
    f"cat_{j}": "categorical" for j in range(6)
}
MODEL_SETTINGS = ModelSettings(name="m", owner="o", task="binary", features=FEATURES)  # type: ignore[arg-type]


def zipf(k: int) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** 1.1
    return w / w.sum()


NUMERIC = {f"num_{i}": DISTRIBUTIONS[i % 6] for i in range(24)}
CATEGORIES = {
    f"cat_{j}": (np.array([f"c{j}_{i}" for i in range(k)]), zipf(k))
    for j, k in enumerate(CATEGORY_COUNTS)
}


def draw(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Raw values of one target, with missing values for features."""
    if name == PREDICTION:
        return SCORE.rvs(size=size, random_state=rng)
    if name in NUMERIC:
        x = NUMERIC[name].rvs(size=size, random_state=rng)
        x[rng.random(size) < MISSING] = np.nan
        return x
    names, p = CATEGORIES[name]
    values = rng.choice(names, p=p, size=size).astype(object)
    values[rng.random(size) < MISSING] = None
    return values


def build_reference() -> ReferenceProfile:
    """The reference profile of 10 000 rows (seed 1) the tests judge windows against."""
    rng = np.random.default_rng(1)
    scores = SCORE.rvs(size=N_REF, random_state=rng)
    return build_profile(
        MODEL_SETTINGS,
        {name: draw(name, N_REF, rng) for name in FEATURES},
        predictions=(scores >= 0.5).astype(float),
        scores=scores,
        version="v1",
        source="test",
        created_at=0.0,
    )


def profile_of(reference: ReferenceProfile, name: str) -> Profile:
    return reference.prediction if name == PREDICTION else reference.features[name]


def true_bin_probabilities(reference: ReferenceProfile, name: str) -> np.ndarray:
    """Exact probability of each of the profile's bins under the generating distribution."""
    profile = profile_of(reference, name)
    if isinstance(profile, NumericProfile):
        dist = SCORE if name == PREDICTION else NUMERIC[name]
        cdf = dist.cdf(np.asarray(profile.edges))
        present = np.concatenate(([cdf[0]], np.diff(cdf), [1 - cdf[-1]]))
    else:
        names, p = CATEGORIES[name]
        present = np.bincount(profile.bin_index(list(names)), weights=p, minlength=profile.n_bins)
        present = present[:-1]
    missing = 0.0 if name == PREDICTION else MISSING
    return np.append(present * (1 - missing), missing)
