"""Window increments: exact bin counts per event-time window, mergeable across partitions."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from pathlib import Path

import msgspec
import numpy as np
import pytest

from monitor import config
from monitor.events import Prediction
from monitor.join import Pair
from monitor.stats.performance import SCORE_BINS, score_bins
from monitor.stats.reference import build_profile
from monitor.stats.window import WindowAggregator
from monitor.vocab.counts import WindowCounts
from monitor.vocab.effects import Effects, parse_window_id, window_id
from monitor.vocab.verdicts import PREDICTION

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = config.load(ROOT / "config.toml")  # fraud-detector: binary, 5-minute windows
MODEL = SETTINGS.model("fraud-detector")
SIZE = SETTINGS.windows.size_seconds


def reference(rng: np.random.Generator):
    n = 2000
    features = {
        "amount": rng.lognormal(3, 1, n),
        "account_age_days": rng.integers(0, 900, n).astype(float),
        "n_items": rng.poisson(3, n).astype(float),
        "hour": rng.integers(0, 24, n).astype(float),
        "country": rng.choice(["US", "DE", "FR", "GB"], n).tolist(),
        "channel": rng.choice(["web", "app"], n).tolist(),
    }
    scores = rng.uniform(0, 1, n)
    return build_profile(
        MODEL,
        features,
        predictions=(scores >= 0.5).astype(float).tolist(),
        scores=scores.tolist(),
        version="r1",
        source="test",
        created_at=0.0,
    )


def predictions(rng: np.random.Generator, n: int, t0: float) -> list[Prediction]:
    out = []
    for i in range(n):
        features: dict[str, object] = {
            "amount": float(rng.lognormal(3, 1)),
            "account_age_days": int(rng.integers(0, 900)),
            "n_items": None if i % 17 == 0 else int(rng.poisson(3)),
            "hour": "noon" if i % 29 == 0 else int(rng.integers(0, 24)),
            "country": str(rng.choice(["US", "DE", "XX"])),
        }  # channel absent: missing
        score = float(rng.uniform())
        out.append(
            Prediction(i, f"id{i}", MODEL.name, "v1", t0 + i, features, float(score >= 0.5), score)
        )
    return out


def test_counts_land_in_event_time_windows_and_equal_numpy() -> None:
    rng = np.random.default_rng(0)
    ref = reference(rng)
    events = predictions(rng, 900, t0=1_800_000_000.0)  # 900 s: three 5-minute windows
    changes = Effects()
    WindowAggregator(SETTINGS.models, SETTINGS.windows, lambda _: ref).predictions(changes, events)
    by_window: dict[int, list[Prediction]] = {}
    for e in events:
        by_window.setdefault(math.floor(e.ts / SIZE) * SIZE, []).append(e)
    assert len(by_window) >= 3
    for start, group in by_window.items():
        window = changes.windows[MODEL.name, window_id(start, "v1", "r1")]
        fields = window.counts
        assert fields["n"] == len(group)
        amounts = np.array([e.features["amount"] for e in group])
        profile = ref.features["amount"]
        expected = np.bincount(profile.bin_index(amounts), minlength=profile.n_bins)
        got = [fields.get(f"b:amount:{b}", 0) for b in range(ref.features["amount"].n_bins)]
        assert got == expected.tolist()
        assert fields["miss:n_items"] == sum(e.features["n_items"] is None for e in group)
        assert fields["terr:hour"] == sum(e.features["hour"] == "noon" for e in group)
        assert fields["miss:channel"] == len(group)
        unseen = ref.features["country"].n_bins - 2
        assert fields[f"b:country:{unseen}"] == sum(e.features["country"] == "XX" for e in group)
        assert window.sums["sum:amount"] == pytest.approx(amounts.sum(), rel=1e-12)
        scores = np.array([e.score for e in group])
        pred_bins = np.bincount(ref.prediction.bin_index(scores), minlength=ref.prediction.n_bins)
        assert [fields.get(f"b:{PREDICTION}:{b}", 0) for b in range(len(pred_bins))] == list(
            pred_bins
        )
        assert window.start == start  # indexed by it (retention: tests/monitor/store)


def test_partial_windows_of_two_partitions_add_up_to_the_whole() -> None:
    rng = np.random.default_rng(1)
    ref = reference(rng)
    events = predictions(rng, 600, t0=1_800_000_000.0)
    agg = WindowAggregator(SETTINGS.models, SETTINGS.windows, lambda _: ref)
    whole, left, right = Effects(), Effects(), Effects()
    agg.predictions(whole, events)
    agg.predictions(left, events[::2])
    agg.predictions(right, events[1::2])
    for window, delta in whole.windows.items():
        merged = Counter(left.windows[window].counts) + Counter(right.windows[window].counts)
        assert dict(merged) == {k: v for k, v in delta.counts.items() if v}


def test_without_a_reference_quality_is_still_counted() -> None:
    rng = np.random.default_rng(2)
    events = predictions(rng, 100, t0=1_800_000_000.0)
    changes = Effects()
    WindowAggregator(SETTINGS.models, SETTINGS.windows, lambda _: None).predictions(changes, events)
    start = math.floor(events[0].ts / SIZE) * SIZE
    fields = changes.windows[MODEL.name, window_id(start, "v1", "none")].counts
    assert fields["n"] == sum(1 for e in events if math.floor(e.ts / SIZE) * SIZE == start)
    assert not any(name.startswith("b:") for name in fields)


def test_pairs_add_performance_to_the_prediction_window() -> None:
    pairs = [
        Pair(MODEL.name, "v1", 1_800_000_010.0, 1.0, 0.9, 1.0, 1_800_090_000.0),
        Pair(MODEL.name, "v1", 1_800_000_020.0, 0.0, None, 1.0, 1_800_090_000.0),
    ]
    changes = Effects()
    WindowAggregator(SETTINGS.models, SETTINGS.windows, lambda _: None).pairs(changes, pairs)
    start = math.floor(1_800_000_010.0 / SIZE) * SIZE
    floats = changes.windows[MODEL.name, window_id(start, "v1", "none")].sums
    assert floats["perf:n"] == 2
    assert floats["perf:tp"] == 1 and floats["perf:fn"] == 1


def test_windows_align_with_the_origin_and_versions_are_bounded() -> None:
    """``windows.origin`` shifts every window boundary; a model sending more distinct versions
    in one window than MAX_VERSIONS_PER_WINDOW has the rest counted as version "other"."""
    from monitor.stats.window import MAX_VERSIONS_PER_WINDOW, OTHER_VERSION

    settings = dataclasses.replace(
        SETTINGS, windows=dataclasses.replace(SETTINGS.windows, origin=120)
    )
    rng = np.random.default_rng(3)
    events = predictions(rng, 40, t0=1_800_000_000.0 + 100)
    for i, e in enumerate(events):
        events[i] = msgspec.structs.replace(e, version=f"v{i % 12}")
    changes = Effects()
    WindowAggregator(settings.models, settings.windows, lambda _: None).predictions(changes, events)
    starts = {parse_window_id(wid)[0] for _, wid in changes.windows}
    assert all((start - 120) % SIZE == 0 for start in starts)
    versions = {parse_window_id(wid)[1] for _, wid in changes.windows}
    assert len(versions - {OTHER_VERSION}) <= MAX_VERSIONS_PER_WINDOW * len(starts)
    folded = sum(d.counts.get("versions_folded", 0) for d in changes.windows.values())
    assert folded and folded == sum(
        d.counts["n"] for (_, wid), d in changes.windows.items() if f"|{OTHER_VERSION}|" in wid
    )


def test_scored_binary_predictions_are_counted_by_decision_and_score_bin() -> None:
    """The estimate's input (``sc:<decision>:<bin>``), with or without a reference; unscored
    predictions are left out, and the counts read back as the estimate's two histograms."""
    rng = np.random.default_rng(4)
    events = predictions(rng, 200, t0=1_800_000_000.0)  # 200 s: one 5-minute window
    events[0] = msgspec.structs.replace(events[0], score=None)
    events[1] = msgspec.structs.replace(events[1], prediction=1.0, score=0.1)  # not a cut-off
    for ref in (None, reference(rng)):
        changes = Effects()
        WindowAggregator(SETTINGS.models, SETTINGS.windows, lambda _, r=ref: r).predictions(
            changes, events
        )
        [window] = changes.windows.values()
        counts = WindowCounts(int(window.counts["n"]), dict(window.counts))
        positive, negative = counts.decision_histograms(SCORE_BINS)
        scored = [e for e in events if e.score is not None]
        for decision, histogram in ((1.0, positive), (0.0, negative)):
            bins = score_bins([e.score for e in scored if e.prediction == decision])
            assert histogram.tolist() == np.bincount(bins, minlength=SCORE_BINS).tolist()
        assert positive.sum() + negative.sum() == len(events) - 1


def test_pairs_of_many_versions_and_windows_fold_as_they_arrive() -> None:
    """Pairs spanning windows and more versions than a window admits: each window keeps the
    first MAX_VERSIONS_PER_WINDOW versions in arrival order, the rest count as "other"."""
    from monitor.stats.window import MAX_VERSIONS_PER_WINDOW, OTHER_VERSION

    t0 = math.floor(1_800_000_000.0 / SIZE) * SIZE
    pairs = [
        Pair(MODEL.name, f"v{(7 * i) % 13}", t0 + (i % 3) * SIZE + i, 1.0, 0.9, 1.0, t0 + 9e4)
        for i in range(200)
    ]
    changes = Effects()
    WindowAggregator(SETTINGS.models, SETTINGS.windows, lambda _: None).pairs(changes, pairs)
    expected: Counter[tuple[int, str]] = Counter()
    admitted: dict[int, list[str]] = {}
    for pair in pairs:
        start = math.floor(pair.prediction_ts / SIZE) * SIZE
        kept = admitted.setdefault(start, [])
        if pair.version not in kept and len(kept) < MAX_VERSIONS_PER_WINDOW:
            kept.append(pair.version)
        expected[start, pair.version if pair.version in kept else OTHER_VERSION] += 1
    found = {
        parse_window_id(wid)[:2]: delta.sums["perf:n"]
        for (_, wid), delta in changes.windows.items()
    }
    assert found == expected
    assert sum(v for (_, version), v in expected.items() if version == OTHER_VERSION) > 0
