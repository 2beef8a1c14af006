"""Profiles: features that look like real data, and a model that is good but not perfect."""

from __future__ import annotations

from collections import Counter

import numpy as np

from tests.monitor.simulate.support import auc, joined, predictions, run


def test_features_look_like_real_data() -> None:
    preds = [p for _, p in predictions(run(), "fraud")]
    assert all(isinstance(p["features"]["n_items"], int) for p in preds)
    assert {p["features"]["hour"] for p in preds} <= set(range(24))
    assert min(p["features"]["amount"] for p in preds) > 0  # lognormal money
    countries = Counter(p["features"]["country"] for p in preds)
    assert 3 <= len(countries) <= 8 and set(countries) <= {
        "US",
        "DE",
        "GB",
        "FR",
        "BR",
        "IN",
        "JP",
        "NG",
    }
    shares = sorted(countries.values(), reverse=True)
    assert shares[0] > 2 * shares[-1]  # skewed, not uniform
    assert {p["tags"]["region"] for p in preds} <= {"eu-west", "us-east", "ap-south"}
    rush = Counter(p["features"]["rush"] for _, p in predictions(run(), "eta"))
    assert set(rush) <= {True, False, None} and rush[True] > 0 and rush[False] > rush[True]


def test_model_quality_is_good_but_not_perfect() -> None:
    events = run(3 * 6000)
    rows = joined(events, "fraud")
    labels = np.array([y for _, _, y in rows])
    scores = np.array([p["score"] for _, p, _ in rows])
    assert 0.75 < auc(labels, scores) < 0.95
    assert all(p["prediction"] == int(p["score"] >= 0.4) for _, p, _ in rows)
    eta = joined(events, "eta")
    y, yhat = np.array([y for *_, y in eta]), np.array([p["prediction"] for _, p, _ in eta])
    r2 = 1 - np.mean((y - yhat) ** 2) / np.var(y)
    assert 0.5 < r2 < 0.95 and y.min() > 0
    intent = joined(events, "intent")
    accuracy = np.mean([p["prediction"] == y for _, p, y in intent])
    assert 0.5 < accuracy < 0.95
    assert all(set(p["score"]) == {"buy", "browse", "support"} for _, p, _ in intent)
