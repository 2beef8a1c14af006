"""The Feature page's figures and findings, without Streamlit or Redis: the value-axis view checked
against numpy on the same data, a feature's quality rates over time, and findings in people's
terms (names, precision, what n counts, nothing meaningless)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from dashboard.figures import common, distribution, findings, ingest, performance, quality
from monitor.config import PerformanceSettings
from monitor.stats.reference import build_categorical, build_numeric
from monitor.vocab.verdicts import FeatureQuality, Verdict, WindowEvaluation

UTC_ZONE = ZoneInfo("UTC")
T0 = 1_800_000_000 - 1_800_000_000 % 3600
HOUR = 3600


def counts(profile: object, values: np.ndarray) -> list[int]:
    """A window's counts on a profile's bins, as the daemon makes them."""
    return np.bincount(profile.bin_index(values), minlength=profile.n_bins).tolist()  # type: ignore[attr-defined]


def drift_verdict(feature: str = "amount", **changes: object) -> Verdict:
    fields: dict[str, object] = {
        "model": "m", "feature": feature, "statistic": "psi", "value": 0.0075451,
        "threshold": 0.27913, "p_value": 0.41234, "n": 380, "status": "ok", "severity": "ok",
        "window_start": T0, "reference_version": "r1", "expected_false_alarm_rate": 0.0,
    }  # fmt: skip
    return Verdict(**(fields | changes))  # type: ignore[arg-type]


def quality_verdict(
    rate: str, value: float, severity: str, threshold: float = 0.07, feature: str = "amount"
) -> Verdict:
    return Verdict(
        model="m", feature=feature, statistic=rate, value=value, threshold=threshold,
        p_value=1.234e-9, n=400, status="degraded" if severity != "ok" else "ok",
        severity=severity, window_start=T0, reference_version="r1",
        expected_false_alarm_rate=0.0125,
    )  # fmt: skip


def window(start: int, **extra: object) -> WindowEvaluation:
    return WindowEvaluation(
        model="m", window_start=start, version="v1", reference="r1", n=400,
        evaluated_at=start + HOUR, **({"n_labelled": 0} | extra),  # type: ignore[arg-type]
    )  # fmt: skip


# --- the value axis -------------------------------------------------------------------------------


def test_value_axis_densities_and_cdf_match_numpy() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(50.0, 10.0, size=5000)
    profile = build_numeric(reference)
    shifted = rng.normal(80.0, 10.0, size=880)  # 3 σ up: past the reference's maximum
    current = np.concatenate([shifted, [-1.0] * 20, [np.nan] * 100])
    info = distribution.value_axis_info(
        "amount",
        profile,
        [("reference r1", profile.counts), ("window 12:00", counts(profile, current))],
    )
    assert info is not None
    edges = np.asarray(profile.edges)
    assert info.edges == tuple(profile.edges)
    for i, x in enumerate((reference, current[~np.isnan(current)])):
        assert info.present[i] == x.size  # shares of non-missing rows: NaN is not on the axis
        hist, _ = np.histogram(x, bins=edges)  # [a, b), the last bin closed: the profile's bins
        assert info.densities[i] == pytest.approx(hist / x.size / np.diff(edges))
        below, above = np.mean(x < edges[0]), np.mean(x > edges[-1])
        assert (info.below[i], info.above[i]) == pytest.approx((below, above))
        integral = sum(d * w for d, w in zip(info.densities[i], np.diff(edges), strict=True))
        assert integral == pytest.approx(1.0 - below - above)
        expected_cdf = [np.mean(x < e) for e in edges[:-1]] + [np.mean(x <= edges[-1])]
        assert info.cdf[i] == pytest.approx(expected_cdf)
    # the reference lies within its own range; the shifted window spills over its maximum
    assert info.below[0] == info.above[0] == 0.0
    assert sum(info.densities[0][j] * w for j, w in enumerate(np.diff(edges))) == pytest.approx(1)
    assert info.above[1] > 0.05 and info.below[1] == pytest.approx(20 / 900)
    assert info.tails() == [
        f"window 12:00: 2.22% below {common.sig(edges[0])} and {common.percent(info.above[1])} "
        f"above {common.sig(edges[-1])}"
    ]

    fig = distribution.value_axis_chart(info)
    bars = [t for t in fig.data if t.type == "bar"]
    curves = [t for t in fig.data if t.type == "scatter"]
    assert [list(b.width) for b in bars] == [pytest.approx(np.diff(edges).tolist())] * 2
    assert list(bars[1].y) == pytest.approx(list(info.densities[1]))
    for curve, cdf in zip(curves, info.cdf, strict=True):
        assert curve.y[0] == 0.0 and curve.y[-1] == 1.0  # every cumulative curve ends at 1
        assert list(curve.y[1:-1]) == pytest.approx(list(cdf))
        assert list(curve.x) == [edges[0], *edges.tolist(), edges[-1]]
    assert bars[0].name == "reference r1 (5,000 non-missing rows)"
    assert bars[1].name == "window 12:00 (900 non-missing rows)"
    assert fig.layout.xaxis2.title.text.startswith("amount (reference range ")
    assert fig.layout.yaxis.title.text == "share per unit of amount"


def test_categorical_and_constant_features_have_no_value_axis() -> None:
    categorical = build_categorical(["a", "b", "a"])
    assert distribution.value_axis_info("c", categorical, [("r", categorical.counts)]) is None
    constant = build_numeric([2.0] * 10)
    assert distribution.value_axis_info("k", constant, [("r", constant.counts)]) is None
    with pytest.raises(ValueError, match="3 bins"):
        distribution.value_axis_info("x", build_numeric(np.arange(50.0)), [("w", [1, 2, 3])])


def test_bins_legend_counts_rows_and_non_missing_rows_and_labels_stay_distinct() -> None:
    profile = build_numeric(np.linspace(100.0, 100.9, 400))  # edges alike at 3 digits
    labels = distribution.bin_labels(profile)
    assert len(set(labels)) == len(labels) == profile.n_bins
    window = counts(profile, np.array([100.1] * 30 + [np.nan] * 10))
    info = distribution.distribution_info("x", profile, [("window", window)])
    assert (info.totals, info.missing) == ((40,), (10,))
    fig = distribution.distribution_bars(info)
    assert fig.data[0].name == "window (40 rows, 30 non-missing)"
    assert fig.layout.yaxis.title.text == "share of rows (missing included)"
    assert "equal-frequency: ~5% of the reference each" in fig.layout.xaxis.title.text
    assert "75%" in list(fig.data[0].text)  # 30 of 40 rows in one bin, 3 significant digits


# --- one feature's data quality over time ---------------------------------------------------------


def test_feature_quality_series_against_the_reference_missing_rate() -> None:
    reference = build_numeric([1.0, 2.0, 3.0, None, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    evs = [
        window(T0, quality={"amount": FeatureQuality(0.02, 0.0, out_of_range_rate=0.01)},
               quality_verdicts=[quality_verdict("missing_rate", 0.02, "ok", 0.15)]),
        window(T0 + HOUR, quality={"amount": FeatureQuality(0.3, 0.01, out_of_range_rate=0.0)},
               quality_verdicts=[quality_verdict("missing_rate", 0.3, "critical", 0.15),
                                 quality_verdict("type_error_rate", 0.01, "ok", 0.05)]),
        window(T0 + 2 * HOUR, quality={"other": FeatureQuality(0.5, 0.0)}),
    ]  # fmt: skip
    info = quality.feature_quality_info(evs, "amount", {"r1": reference}, UTC_ZONE)
    by_rate = {s.rate: s for s in info.series}
    assert set(by_rate) == {"missing_rate", "type_error_rate", "out_of_range_rate"}
    assert by_rate["missing_rate"].values[:2] == (0.02, 0.3)
    assert math.isnan(by_rate["missing_rate"].values[2])  # the window lacks the feature
    assert by_rate["missing_rate"].severities == ("ok", "critical", "none")
    assert by_rate["type_error_rate"].severities == ("none", "ok", "none")
    assert info.reference_missing == pytest.approx((0.1, 0.1, 0.1))
    assert info.missing_threshold[:2] == (0.15, 0.15) and math.isnan(info.missing_threshold[2])
    assert info.times[0] == datetime.fromtimestamp(T0, UTC)

    fig = quality.feature_quality_over_time(info)
    traces = {t.name: t for t in fig.data}
    assert [t.name for t in fig.data if t.showlegend is not False] == [
        "missing: threshold", "missing: reference", "missing", "type error", "out of range"
    ]  # fmt: skip
    missing = traces["missing"]
    assert missing.mode == "lines"  # ok windows are the line; a critical one is marked in red
    marked = traces["missing: warning, critical"]
    assert list(marked.x) == [info.times[1]] and list(marked.y) == [0.3]
    assert list(marked.marker.color) == [common.SEVERITY_COLORS["critical"]]
    assert marked.legendgroup == missing.legendgroup  # hidden with its line
    assert "type error: warning, critical" not in traces  # nothing to mark
    assert [c[0] for c in missing.customdata[:2]] == ["2%", "30%"]
    assert missing.customdata[1][1] == "✕ critical"
    assert missing.customdata[2][1] == "not judged"
    lines = [t.line.color for t in fig.data]
    assert common.SEVERITY_COLORS["critical"] not in lines  # red marks critical points only
    assert fig.layout.yaxis.tickformat == ",.3~%"


def test_model_quality_chart_splits_rates_and_never_draws_a_line_red() -> None:
    critical = quality_verdict("missing_rate", 0.09, "critical", feature="f8")
    evs = [
        window(T0, quality={f"f{i}": FeatureQuality(0.01 * (i + 1), 0.001) for i in range(9)},
               quality_verdicts=[critical]),
        window(T0 + HOUR, quality={"f0": FeatureQuality(0.0, 0.0)}),
    ]  # fmt: skip
    info = quality.quality_info(evs, [f"f{i}" for i in range(9)], UTC_ZONE)
    fig = quality.quality_over_time(info)
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == quality.MAX_QUALITY_LINES
    assert fig.data[0].name == "f8: missing"  # worst first
    colours = {t.line.color for t in lines}
    severity_hues = {common.SEVERITY_COLORS[s] for s in ("ok", "warning", "critical")}
    assert not colours & severity_hues and None not in colours
    assert fig.data[0].customdata[0][0] == "9%"
    marked = fig.data[1]  # f8's critical window, marked
    assert (marked.name, marked.mode) == ("f8: missing: warning, critical", "markers")
    assert list(marked.marker.color) == [common.SEVERITY_COLORS["critical"]]
    assert list(marked.x) == [info.times[0]]


def test_quality_rows_lead_with_the_worst_verdict_and_name_it() -> None:
    rates = {"a": FeatureQuality(0.3, 0.0), "b": FeatureQuality(0.05, 0.0)}
    judged_a = [quality_verdict("missing_rate", 0.3, "ok", feature="a")]
    rows = quality.quality_rows(window(T0, quality=rates, quality_verdicts=judged_a), {})
    assert [(r.feature, r.severity) for r in rows] == [("a", "✓ ok"), ("b", "–")]
    judged_b = [
        quality_verdict("missing_rate", 0.05, "warning", feature="b"),
        quality_verdict("type_error_rate", 0.0, "ok", feature="b"),
    ]
    rows = quality.quality_rows(window(T0, quality=rates, quality_verdicts=judged_b), {})
    assert [(r.feature, r.severity) for r in rows] == [("b", "! warning"), ("a", "–")]
    # a numeric feature's out-of-range share and a categorical one's unseen share: one column
    mixed = {"n": FeatureQuality(0.0, 0.0, out_of_range_rate=0.1),
             "c": FeatureQuality(0.0, 0.0, unseen_rate=0.2)}  # fmt: skip
    rows = quality.quality_rows(window(T0, quality=mixed), {})
    assert [(r.feature, r.novel_rate) for r in rows] == [("c", 0.2), ("n", 0.1)]


# --- findings -------------------------------------------------------------------------------------


def test_findings_lead_with_the_worst_signal_whatever_its_kind() -> None:
    profile = build_numeric([float(i) for i in range(19)] + [None])  # 5% missing
    ev = window(
        T0,
        verdicts=[drift_verdict()],
        quality_verdicts=[
            quality_verdict("missing_rate", 0.10234, "warning"),
            quality_verdict("type_error_rate", 0.0, "ok", 0.05),
        ],
    )
    found = findings.findings(ev, "amount", profile)
    assert [(f.kind, f.severity) for f in found] == [
        ("data quality", "warning"), ("drift", "ok"), ("data quality", "ok")
    ]  # fmt: skip
    missing, drift, _ = found
    assert missing.active and not drift.active
    assert missing.title == "data quality · missing rate"
    assert (missing.value, missing.threshold, missing.reference) == ("10.2%", "7%", "5%")
    assert (missing.p_value, missing.n, missing.n_counts) == ("1.23e-09", 400, "rows")
    assert missing.false_alarm is None  # Holm's per-test level is no false-alarm rate
    # one precision: never 0.007545 next to 0.279
    assert (drift.value, drift.threshold, drift.p_value) == ("0.00755", "0.279", "0.412")
    assert drift.n_counts == "non-missing rows" and drift.false_alarm is None  # 0 %: left out
    assert drift.summary() == "psi 0.00755 (threshold 0.279, p = 0.412, n = 380 non-missing rows)"
    assert findings.worst(ev, "amount") == "warning"
    assert findings.worst(ev, "nothing") == "none"


def test_findings_leave_out_what_has_no_meaning() -> None:
    no_p = drift_verdict(p_value=None, expected_false_alarm_rate=0.0123)
    (f,) = findings.findings(window(T0, verdicts=[no_p]), "amount", None)
    assert f.p_value is None and f.false_alarm == "1.23%"
    assert "p =" not in f.summary() and "None" not in f.summary()
    small = drift_verdict(value=math.nan, threshold=math.nan, p_value=None, n=12,
                          status="insufficient", severity="insufficient",
                          expected_false_alarm_rate=0.0)  # fmt: skip
    (f,) = findings.findings(window(T0, verdicts=[small]), "amount", None)
    assert (f.threshold, f.false_alarm, f.n_counts) == ("–", None, "rows")
    assert f.summary() == "psi – (n = 12 rows)"
    prediction = drift_verdict(common.PREDICTION_ROW)
    (f,) = findings.findings(window(T0, verdicts=[prediction]), common.PREDICTION_ROW, None)
    assert f.n_counts == "non-missing rows"


# --- precision of the other evidence --------------------------------------------------------------


def test_performance_and_dead_letter_hovers_use_one_precision_and_no_severity_hue() -> None:
    judged = drift_verdict("__performance__", statistic="mae", threshold=1.1234)
    evs = [window(T0, n_labelled=57, performance={"mae": 1.234567},
                  reference_performance={"mae": 1.0}, performance_verdicts=[judged])]  # fmt: skip
    info = performance.performance_info(evs, "mae", UTC_ZONE, PerformanceSettings())
    fig = performance.performance_over_time(info)
    metric = fig.data[-1]
    critical = 1.0 + PerformanceSettings().critical_relative_increase
    assert list(metric.text) == [
        f"1.23 (warns beyond 1.12, critical beyond {common.sig(critical)})"
    ]
    assert "labels" in metric.hovertemplate and "rows" not in metric.hovertemplate
    assert list(fig.data[-2].text) == ["1"]  # the reference
    dead = ingest.dead_letters_bar({"bad score": 3})
    assert dead.data[0].marker.color not in common.SEVERITY_COLORS.values()


def test_no_internal_name_or_none_reaches_a_figure() -> None:
    profile = build_numeric(np.arange(100.0))
    series = [("reference r1", profile.counts)]
    for figure in (
        distribution.distribution_bars(
            distribution.distribution_info(common.PREDICTION_ROW, profile, series)
        ),
        distribution.value_axis_chart(
            distribution.value_axis_info(common.PREDICTION_ROW, profile, series)  # type: ignore[arg-type]
        ),
    ):
        text = json.dumps(figure.to_plotly_json(), default=str)
        assert "__prediction__" not in text and "None" not in text
        assert "prediction (model output)" in text


def test_stored_names_stay_text_in_the_new_figures() -> None:
    html = "<img src=x onerror=alert(1)>"
    profile = build_numeric(np.arange(100.0))
    values = distribution.value_axis_info(html, profile, [(f"reference {html}", profile.counts)])
    assert values is not None
    evs = [window(T0, quality={html: FeatureQuality(0.1, 0.0)})]
    figures = (
        distribution.value_axis_chart(values),
        quality.quality_over_time(quality.quality_info(evs, [html], UTC_ZONE)),
        quality.feature_quality_over_time(quality.feature_quality_info(evs, html, {}, UTC_ZONE)),
    )
    for figure in figures:
        shown = figure.to_json()
        assert "<img" not in shown and "&lt;img" in shown
