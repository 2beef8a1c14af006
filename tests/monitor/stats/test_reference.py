"""Reference profiles: bins, layouts, what counts as missing, and the stored blob."""

from __future__ import annotations

import math
from collections import Counter

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config import ModelSettings
from monitor.stats.performance import (
    binary_sums,
    metrics_for,
    multiclass_sums,
    regression_sums,
)
from monitor.stats.reference import (
    MAX_CATEGORIES,
    N_QUANTILE_BINS,
    SAMPLE_SIZE,
    build_categorical,
    build_numeric,
    build_profile,
)
from monitor.vocab.profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    category,
    numeric_values,
)


def test_numeric_bins_are_reference_quantiles() -> None:
    x = np.random.default_rng(0).lognormal(size=10_000)
    profile = build_numeric(x, seed=0)
    edges = np.asarray(profile.edges)
    assert len(edges) == N_QUANTILE_BINS + 1 and np.all(np.diff(edges) > 0)
    assert (edges[0], edges[-1]) == (x.min(), x.max())
    assert profile.n_bins == N_QUANTILE_BINS + 3 == len(profile.counts)
    below, *inside, above, missing = profile.counts
    assert (below, above, missing) == (0, 0, 0)
    assert set(inside) == {500}  # continuous data: equal-mass bins
    assert profile.mean == pytest.approx(x.mean()) and profile.std == pytest.approx(x.std())


def test_numeric_bin_index_layout() -> None:
    profile = build_numeric(np.arange(100.0), seed=0)
    edges = profile.edges
    values = np.array([-1.0, edges[0], edges[1], edges[-1], 1e9, np.nan, np.inf, -np.inf])
    assert profile.bin_index(values).tolist() == [0, 1, 2, 20, 21, 22, 21, 0]
    assert profile.centers().tolist()[:2] == [edges[0], (edges[0] + edges[1]) / 2]
    assert profile.centers()[-1] == edges[-1] and len(profile.centers()) == profile.n_bins - 1


values_near_edges = st.lists(
    st.one_of(
        st.sampled_from([0.0, -0.0, 1.0, 2.5, 3.0, 7.0, 9.0, np.nan, np.inf, -np.inf]),
        st.floats(-20, 20),
    ),
    max_size=60,
)


@given(
    st.lists(st.sampled_from([0.0, 1.0, 2.5, 3.0, 7.0, 9.0]), min_size=1, max_size=6),
    values_near_edges,
)
def test_bin_counts_are_the_bincount_of_bin_index(edges: list[float], values: list[float]) -> None:
    """The sorted-search counts equal one search per value on any values: at and between the
    edges, beyond them, missing, infinite; one edge, repeated edges (an older stored profile)."""
    profile = NumericProfile(sorted(edges), [], 0.0, 1.0, 0, 0, [])
    x = np.asarray(values, dtype=np.float64)
    expected = np.bincount(profile.bin_index(x), minlength=profile.n_bins).tolist()
    assert profile.bin_counts(x) == expected


@given(
    st.lists(
        st.one_of(
            st.sampled_from(["a", "b", "c", "d", "e", "1", "zz", None]),
            st.integers(0, 3),
            st.sampled_from([1.0, float("nan")]),
        ),
        max_size=60,
    )
)
def test_categorical_bin_counts_and_unseen_agree_with_bin_index(values: list[object]) -> None:
    """Counting a tally of the values' categories bins them as one lookup per value does, and
    the unseen categories are those :meth:`bin_index` puts in the unseen bin, merged by category
    (``1`` and ``"1"`` are one), in order of first occurrence."""
    profile = build_categorical(["a", "a", "a", "b", "b", "c", "1", None], max_categories=2)
    index = profile.bin_index(values)
    tally = Counter(map(category, values))
    assert profile.bin_counts(tally) == np.bincount(index, minlength=profile.n_bins).tolist()
    unseen_bin = profile.n_bins - 2
    expected = Counter(category(v) for v, i in zip(values, index, strict=True) if i == unseen_bin)
    assert list(profile.unseen(tally).items()) == list(expected.items())


def test_numeric_ties_merge_bins_and_a_constant_keeps_one_bin() -> None:
    zeros = np.r_[np.zeros(700), np.arange(1.0, 301.0)]
    tied = build_numeric(zeros, seed=0)
    assert np.all(np.diff(tied.edges) > 0) and len(tied.edges) < N_QUANTILE_BINS + 1
    assert tied.counts[1] == 700  # [0, next edge) holds every zero
    constant = build_numeric([3.0] * 50 + [None] * 5, seed=0)
    assert constant.n_bins == 4 and constant.counts == [0, 50, 0, 5]
    assert constant.bin_index(np.array([2.9, 3.0, 3.1])).tolist() == [0, 1, 2]


def test_non_numbers_are_missing_for_numeric_features() -> None:
    values = [1, 2.5, None, "3", True, float("nan"), [1], {"a": 1}, np.int64(4)]
    assert numeric_values(values).tolist() == pytest.approx(
        [1.0, 2.5, math.nan, math.nan, 1.0, math.nan, math.nan, math.nan, 4.0], nan_ok=True
    )
    profile = build_numeric(values, seed=0)
    assert (profile.n, profile.n_missing, profile.counts[-1]) == (9, 5, 5)
    with pytest.raises(ValueError, match="no numeric value"):
        build_numeric(["a", None], seed=0)


def test_numeric_sample_is_bounded_and_seeded() -> None:
    x = np.random.default_rng(1).normal(size=3 * SAMPLE_SIZE)
    a, b, c = (build_numeric(x, seed=s) for s in (7, 7, 8))
    assert len(a.sample) == SAMPLE_SIZE and set(a.sample) <= set(x.tolist())
    assert a.sample == b.sample != c.sample
    assert sorted(build_numeric(x[:10], seed=0).sample) == sorted(x[:10].tolist())


def test_categorical_layout_other_unseen_missing() -> None:
    values = ["a"] * 5 + ["b"] * 3 + ["c"] * 3 + ["d"] + [None, float("nan")]
    profile = build_categorical(values, max_categories=2)
    assert profile.categories == ["a", "b"]  # b before c: ties by name
    assert profile.vocabulary == ["c", "d"]
    assert profile.counts == [5, 3, 4, 0, 2] and profile.n == 14 and profile.n_missing == 2
    ids = profile.bin_index(["a", "b", "c", "d", "zzz", None, float("nan")])
    assert ids.tolist() == [0, 1, 2, 2, 3, 4, 4]


def test_categorical_compares_string_forms() -> None:
    profile = build_categorical([1, 1, "2", True, np.str_("x")])
    assert profile.categories == ["1", "2", "True", "x"]
    assert profile.bin_index(["1", 2, True, "x", 1.0]).tolist() == [0, 1, 2, 3, 5]
    assert all(type(c) is str for c in profile.categories)


def test_categorical_keeps_the_top_categories() -> None:
    values = [f"c{i:03d}" for i in range(200) for _ in range(200 - i)]
    profile = build_categorical(values)
    assert len(profile.categories) == MAX_CATEGORIES and profile.categories[0] == "c000"
    assert len(profile.vocabulary) == 150
    assert sum(profile.counts) == len(values)
    with pytest.raises(ValueError, match="no category"):
        build_categorical([None])


def binary_model(**kw: object) -> ModelSettings:
    return ModelSettings(
        name="churn",
        owner="ml",
        task="binary",
        features={"age": "numeric", "plan": "categorical"},
        **kw,  # type: ignore[arg-type]
    )


def reference_columns(n: int, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    return {
        "age": rng.normal(40, 10, size=n),
        "plan": rng.choice(["free", "pro", "team"], size=n).tolist(),
        "id": list(range(n)),  # extra columns are ignored
    }


def test_build_profile_binary_with_scores() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=2_000)
    scores = np.clip(0.35 * labels + rng.uniform(0, 0.65, size=2_000), 0, 1)
    predictions = (scores >= 0.5).astype(int)
    model = binary_model(threshold=0.5)
    profile = build_profile(
        model,
        reference_columns(2_000, 0),
        predictions=predictions.tolist(),
        scores=scores.tolist(),
        labels=labels.tolist(),
        version="v1",
        source="train.parquet",
        created_at=1.0,
    )
    assert set(profile.features) == {"age", "plan"}
    assert isinstance(profile.features["age"], NumericProfile)
    assert isinstance(profile.features["plan"], CategoricalProfile)
    assert isinstance(profile.prediction, NumericProfile) and profile.prediction.n == 2_000
    assert isinstance(profile.label, CategoricalProfile)
    assert sorted(profile.label.categories) == ["0.0", "1.0"]  # as the event decoder delivers them
    expected = metrics_for("binary", binary_sums(scores, predictions, labels))
    assert profile.performance == expected
    for codec in (msgspec.msgpack, msgspec.json):
        assert codec.decode(codec.encode(profile), type=ReferenceProfile) == profile


def test_build_profile_binary_without_scores_or_labels() -> None:
    predictions = [True, False, 1, 0.0] * 25
    profile = build_profile(
        binary_model(),
        reference_columns(100, 1),
        predictions=predictions,
        version="v1",
        source="s",
        created_at=0.0,
    )
    assert isinstance(profile.prediction, CategoricalProfile)
    assert sorted(profile.prediction.categories) == ["0.0", "1.0"]
    assert profile.prediction.bin_index([1.0, 0.0]).tolist() == [
        profile.prediction.categories.index("1.0"),
        profile.prediction.categories.index("0.0"),
    ]
    assert profile.label is None and profile.performance == {}


def test_build_profile_multiclass_and_regression() -> None:
    rng = np.random.default_rng(2)
    classes = ("a", "b", "c")
    labels = rng.choice(classes, size=300).tolist()
    predictions = [y if rng.random() < 0.8 else "a" for y in labels]
    features = {"x": rng.normal(size=300)}
    multiclass = ModelSettings(
        name="m", owner="o", task="multiclass", features={"x": "numeric"}, classes=classes
    )
    profile = build_profile(
        multiclass,
        features,
        predictions=predictions,
        labels=labels,
        version="v",
        source="s",
        created_at=0.0,
    )
    assert isinstance(profile.prediction, CategoricalProfile)
    expected = metrics_for("multiclass", multiclass_sums(predictions, labels, classes), classes)
    assert profile.performance == expected
    regression = ModelSettings(name="r", owner="o", task="regression", features={"x": "numeric"})
    y = rng.normal(size=300)
    y_labels: list[object] = y.tolist()
    y_labels[0] = None  # unlabelled rows stay out of the metrics
    profile = build_profile(
        regression,
        features,
        predictions=(y + 0.1).tolist(),
        labels=y_labels,
        version="v",
        source="s",
        created_at=0.0,
    )
    assert isinstance(profile.prediction, NumericProfile) and isinstance(
        profile.label, NumericProfile
    )
    assert profile.label.n == 299
    assert profile.performance == metrics_for("regression", regression_sums(y[1:] + 0.1, y[1:]))


def test_build_profile_rejects_bad_input() -> None:
    columns = reference_columns(10, 3)
    common = {"version": "v", "source": "s", "created_at": 0.0}
    with pytest.raises(ValueError, match="no column for feature 'plan'"):
        build_profile(binary_model(), {"age": columns["age"]}, predictions=[0] * 10, **common)
    with pytest.raises(ValueError, match="'scores' has 3 values"):
        build_profile(binary_model(), columns, predictions=[0] * 10, scores=[0.1] * 3, **common)
    with pytest.raises(ValueError, match="feature 'age': no numeric value"):
        build_profile(
            binary_model(), {**columns, "age": [None] * 10}, predictions=[0] * 10, **common
        )


def test_feature_samples_do_not_depend_on_column_order() -> None:
    model_a = ModelSettings(
        name="m", owner="o", task="regression", features={"x": "numeric", "y": "numeric"}
    )
    model_b = ModelSettings(
        name="m", owner="o", task="regression", features={"y": "numeric", "x": "numeric"}
    )
    rng = np.random.default_rng(4)
    columns = {"x": rng.normal(size=6_000), "y": rng.normal(size=6_000)}
    common = {"predictions": [0.0] * 6_000, "version": "v", "source": "s", "created_at": 0.0}
    a = build_profile(model_a, columns, **common)
    b = build_profile(model_b, columns, **common)
    assert a.features["x"] == b.features["x"] and a.features["y"] == b.features["y"]
    assert a.features["x"].sample != a.features["y"].sample


def test_decoded_profiles_bin_like_the_originals() -> None:
    profile = build_numeric(np.random.default_rng(5).normal(size=500), seed=0)
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(profile), type=NumericProfile)
    x = np.linspace(-4, 4, 101)
    assert decoded.bin_index(x).tolist() == profile.bin_index(x).tolist()


def test_a_flag_gets_one_bin_per_value_so_a_rate_change_shows() -> None:
    from monitor.stats.distance import psi
    from monitor.stats.reference import build_numeric

    rng = np.random.default_rng(5)
    profile = build_numeric((rng.uniform(size=10_000) < 0.30).astype(float))
    assert profile.edges == [0.0, 0.5, 1.0]
    current = (rng.uniform(size=10_000) < 0.45).astype(float)
    counts = np.bincount(profile.bin_index(current), minlength=profile.n_bins)
    assert counts[1] == (current == 0).sum() and counts[2] == (current == 1).sum()
    assert psi(np.array(profile.counts), counts) > 0.05
