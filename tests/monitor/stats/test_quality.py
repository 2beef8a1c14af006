"""Data-quality verdicts against the reference's own rates: quiet where the reference already
looks like the window, a real rise found in its first window, unseen categories named."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from monitor.config import ModelSettings, QualitySettings, Settings
from monitor.events import Prediction
from monitor.stats.quality import judge, unseen_names
from monitor.stats.reference import build_profile
from monitor.stats.window import WindowAggregator
from monitor.vocab.effects import Effects
from monitor.vocab.profile import ReferenceProfile
from monitor.vocab.verdicts import Verdict

MODEL = ModelSettings(
    name="m", owner="o", task="regression", features={"x": "numeric", "city": "categorical"}
)
N_REF = 10_000
#: A long-tailed vocabulary: many categories are rare, so new ones keep appearing.
CITIES = [f"c{i}" for i in range(3000)]
ZIPF = 1.0 / np.arange(1, len(CITIES) + 1)
ZIPF /= ZIPF.sum()


def draw(rng: np.random.Generator, n: int, *, missing: float = 0.1, shift: float = 0.0,
         new_city: float = 0.0) -> tuple[list[float | None], list[str | None]]:  # fmt: skip
    x = rng.normal(shift, 1.0, size=n)
    xs: list[float | None] = [None if rng.random() < missing else float(v) for v in x]
    cities: list[str | None] = [str(c) for c in rng.choice(CITIES, size=n, p=ZIPF)]
    for i in np.flatnonzero(rng.random(n) < new_city):
        cities[i] = "atlantis"
    return xs, cities


def reference(seed: int = 0) -> ReferenceProfile:
    rng = np.random.default_rng(seed)
    xs, cities = draw(rng, N_REF)
    return build_profile(
        MODEL, {"x": xs, "city": cities}, predictions=[0.0] * N_REF, version="r", source="t",
        created_at=0.0,
    )  # fmt: skip


def fields(ref: ReferenceProfile, xs: list[float | None], cities: list[str | None]) -> dict:
    """A window's counts exactly as the daemon writes them (``stats/window.py``)."""
    settings = Settings(models=(MODEL,))
    events = [
        Prediction(i, f"id{i}", "m", "v", 1.8e9, {"x": x, "city": c}, 0.0)
        for i, (x, c) in enumerate(zip(xs, cities, strict=True))
    ]
    changes = Effects()
    aggregator = WindowAggregator(settings.models, settings.windows, lambda _: ref)
    for start in range(0, len(events), 500):  # batches, as the daemon applies them
        aggregator.predictions(changes, events[start : start + 500])
    (window,) = changes.windows.values()
    return {**window.counts, **window.sums}


def verdicts(ref: ReferenceProfile, window: dict, settings: QualitySettings) -> dict:
    n = int(window["n"])
    return {(v.feature, v.statistic): v for v in judge(MODEL, ref, n, window, 0, 200, settings)}


def test_stable_windows_match_their_reference_whatever_its_own_rates() -> None:
    """10 % missing in the reference and in the windows, a long tail of rare cities (new ones
    keep appearing), values at the range's edges: at 200, 2,000 and 50,000 rows a window flags
    any rate at most ``alpha`` of the time (Holm across the model's rates)."""
    ref = reference()
    settings = QualitySettings()
    rng = np.random.default_rng(1)
    for n, windows in ((200, 150), (2_000, 150), (50_000, 20)):
        flagged = 0
        for _ in range(windows):
            judged = verdicts(ref, fields(ref, *draw(rng, n)), settings)
            assert len(judged) == 6 and all(v.status != "insufficient" for v in judged.values())
            flagged += any(v.status == "degraded" for v in judged.values())
        assert flagged <= settings.alpha * windows + 3 * math.sqrt(windows * settings.alpha), n


def test_a_rise_over_the_reference_rate_is_raised_in_its_first_window() -> None:
    """Reference 10 % missing: 22 % is a warning at once (the floor is 2 points, critical
    from 20); the reasons say both rates and the sample size."""
    ref = reference()
    judged = verdicts(ref, fields(ref, *draw(np.random.default_rng(2), 1_000, missing=0.22)),
                      QualitySettings())  # fmt: skip
    missing = judged["x", "missing_rate"]
    assert (missing.status, missing.severity) == ("degraded", "warning")
    assert "vs reference 10." in missing.reasons[0] and "n=1,000" in missing.reasons[0]
    assert all(v.status == "ok" for k, v in judged.items() if k != ("x", "missing_rate"))
    worse = verdicts(ref, fields(ref, *draw(np.random.default_rng(3), 1_000, missing=0.45)),
                     QualitySettings())  # fmt: skip
    assert worse["x", "missing_rate"].severity == "critical"


def test_values_beyond_the_reference_range_and_new_categories_are_named() -> None:
    ref = reference()
    rng = np.random.default_rng(4)
    xs, cities = draw(rng, 2_000, shift=3.0, new_city=0.08)
    window = fields(ref, xs, cities)
    judged = verdicts(ref, window, QualitySettings())
    assert judged["x", "out_of_range_rate"].status == "degraded"
    unseen = judged["city", "unseen_rate"]
    assert unseen.status == "degraded"
    assert "'atlantis' ×" in unseen.reasons[0]
    named = dict(unseen_names(window, "city"))
    assert named["atlantis"] == Counter(cities)["atlantis"]


def test_a_small_significant_rise_is_reported_under_the_floor() -> None:
    ref = reference()
    xs, cities = draw(np.random.default_rng(5), 50_000, missing=0.115)
    missing = verdicts(ref, fields(ref, xs, cities), QualitySettings())["x", "missing_rate"]
    assert missing.status == "ok" and "under the floor" in missing.reasons[0]


def test_no_verdict_below_min_samples() -> None:
    ref = reference()
    window = fields(ref, *draw(np.random.default_rng(6), 150))
    judged: list[Verdict] = judge(MODEL, ref, 150, window, 0, 200, QualitySettings())
    assert {v.status for v in judged} == {"insufficient"}


@pytest.mark.parametrize("limit", [1, 3])
def test_unseen_names_are_bounded_per_batch(limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the traffic, a batch names at most UNSEEN_PER_BATCH unseen categories per
    feature (the most frequent), each cut to UNSEEN_NAME_CHARS characters."""
    from monitor.stats import window as window_module

    monkeypatch.setattr(window_module, "UNSEEN_PER_BATCH", limit)
    ref = reference()
    cities: list[str | None] = ["new-" + "x" * 100] * 5 + [f"n{i}" for i in range(20)]
    counts = fields(ref, [1.0] * len(cities), cities)
    named = unseen_names(counts, "city")
    assert len(named) == limit and named[0] == ("new-" + "x" * 60, 5)
