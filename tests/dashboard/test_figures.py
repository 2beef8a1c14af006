"""Info objects and figures, without Streamlit or Redis: what the pages show, number by number."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from dashboard.figures import (
    common,
    comparison,
    distribution,
    drift,
    health,
    ingest,
    performance,
    quality,
)
from monitor.config import ModelSettings, PerformanceSettings
from monitor.stats.reference import build_categorical, build_numeric
from monitor.store.query import ModelStatus
from monitor.vocab.counts import IngestCounts
from monitor.vocab.verdicts import FeatureQuality, Health, Verdict, WindowEvaluation

UTC_ZONE = ZoneInfo("UTC")
T0 = 1_800_000_000 - 1_800_000_000 % 3600
HOUR = 3600


def verdict(
    feature: str, severity: str, value: float = 0.2, start: int = T0, n: int = 500
) -> Verdict:
    status = {"critical": "drift", "warning": "drift", "ok": "ok"}.get(severity, "insufficient")
    return Verdict(
        model="m", feature=feature, statistic="psi", value=value, threshold=0.1, p_value=0.001,
        n=n, status=status, severity=severity, window_start=start, reference_version="r1",
        expected_false_alarm_rate=0.01, reasons=(f"{feature} {severity}",),
    )  # fmt: skip


def window(start: int, severities: dict[str, str], **extra: object) -> WindowEvaluation:
    return WindowEvaluation(
        model="m",
        window_start=start,
        version=str(extra.pop("version", "v1")),
        reference=str(extra.pop("reference", "r1")),
        n=int(extra.pop("n", 500)),  # type: ignore[call-overload]
        n_labelled=int(extra.pop("n_labelled", 0)),  # type: ignore[call-overload]
        evaluated_at=start + HOUR,
        verdicts=[verdict(f, s, start=start) for f, s in severities.items()],
        **extra,  # type: ignore[arg-type]
    )


def model(name: str = "m", owner: str = "o@example.com") -> ModelSettings:
    return ModelSettings(name=name, owner=owner, task="binary", features={"a": "numeric"})


# --- overview -----------------------------------------------------------------------------------


def status(name: str, health: str | None, predictions: int, owner: str = "o") -> ModelStatus:
    counts = IngestCounts(
        predictions=predictions,
        outcomes=predictions // 2,
        joined=predictions // 2,
        expired_predictions=predictions // 2,  # half the settled predictions got their label
        dead=5 if predictions else 0,
        last_event_ts=T0 if predictions else None,
    )
    h = Health(name, health, [f"{name} reason"], T0, T0) if health else None  # type: ignore[arg-type]
    return ModelStatus(model(name, owner), counts, h, None, None)


def test_overview_rows_explain_what_the_daemon_cannot_know() -> None:
    rows = health.overview_rows(
        [status("a", "CRITICAL", 100), status("b", None, 0), status("c", None, 10)],
        {"a": "r1", "b": None, "c": "r1"},
        ZoneInfo("Europe/Berlin"),
        now=T0,
    )
    a, b, c = rows
    assert (a.health, a.reasons, a.predictions) == ("CRITICAL", "a reason", 100)
    assert a.dead_letter_rate == pytest.approx(5 / (100 + 50 + 5))
    assert a.label_coverage == 0.5
    assert a.last_event == datetime.fromtimestamp(T0, UTC)
    assert a.last_event.tzinfo == ZoneInfo("Europe/Berlin")
    assert b.health == "INSUFFICIENT DATA"
    assert b.reasons.startswith("no predictions received yet; no reference profile")
    assert "driftwatch baseline set --model b --file train.csv" in b.reasons
    assert b.dead_letter_rate is None and b.label_coverage is None
    assert c.reasons == "no window evaluated yet"


def test_rows_filter_search_and_sort_worst_first_with_missing_values_last() -> None:
    rows = health.overview_rows(
        [status("ok-1", "OK", 10, "x"), status("crit", "CRITICAL", 5, "y"),
         status("warn", "WARN", 0, "x"), status("ok-2", "OK", 30, "y")],
        dict.fromkeys(["ok-1", "crit", "warn", "ok-2"], "r"),
        UTC_ZONE,
        now=T0,
    )  # fmt: skip
    assert [r.model for r in health.select_rows(rows)] == ["crit", "warn", "ok-1", "ok-2"]
    assert [r.model for r in health.select_rows(rows, owners=["x"])] == ["warn", "ok-1"]
    assert [r.model for r in health.select_rows(rows, healths=["OK"])] == ["ok-1", "ok-2"]
    assert [r.model for r in health.select_rows(rows, search="OK-")] == ["ok-1", "ok-2"]
    traffic = health.select_rows(rows, sort="traffic (most first)")
    assert [r.model for r in traffic] == ["ok-2", "ok-1", "crit", "warn"]
    coverage = health.select_rows(rows, sort="label coverage (lowest first)")
    assert coverage[-1].model == "warn"  # no predictions: no coverage, listed last
    assert health.health_counts(rows) == {"CRITICAL": 1, "WARN": 1, "INSUFFICIENT DATA": 0, "OK": 2}


# --- drift --------------------------------------------------------------------------------------


def test_two_versions_in_one_window_show_the_busier_one() -> None:
    small = window(T0, {"a": "critical"}, version="v2", n=50)
    big = window(T0, {"a": "ok"}, version="v1", n=900)
    assert common.newest_per_window([small, big]) == [big]
    assert common.windows_by_start({"w-small": small, "w-big": big}) == {T0: "w-big"}


def test_statistic_series_keeps_the_newest_statistic_and_its_thresholds() -> None:
    evs = [window(T0 + i * HOUR, {"a": s}) for i, s in enumerate(["ok", "warning", "critical"])]
    series = drift.statistic_series(evs, "a", ZoneInfo("Asia/Tokyo"))
    assert series.statistic == "psi"
    assert series.values == (0.2, 0.2, 0.2) and series.thresholds == (0.1, 0.1, 0.1)
    assert series.severities == ("ok", "warning", "critical")
    assert series.times[0].utcoffset().total_seconds() == 9 * 3600
    fig = drift.statistic_over_time(series)
    threshold, values, marked = fig.data
    assert threshold.fill == "tozeroy" and list(values.y) == [0.2, 0.2, 0.2]
    assert values.mode == "lines"  # ok windows are the line; the others are marked
    assert list(marked.x) == list(series.times[1:]) and list(marked.y) == [0.2, 0.2]
    assert list(marked.marker.color) == [common.SEVERITY_COLORS[s] for s in series.severities[1:]]
    assert list(marked.marker.symbol) == ["diamond", "x"]  # not the colour alone
    assert marked.hoverinfo == "skip" and marked.showlegend is False  # the line says it
    assert fig.layout.yaxis.title.text == "psi (unitless)"
    assert fig.layout.xaxis.title.text == "window start (Asia/Tokyo)"
    assert fig.layout.yaxis.type is None


def test_a_statistic_far_above_its_threshold_gets_a_log_axis() -> None:
    evs = [window(T0, {"a": "ok"}), window(T0 + HOUR, {"a": "critical"})]
    evs[1].verdicts[0] = verdict("a", "critical", value=5.0, start=T0 + HOUR)
    fig = drift.statistic_over_time(drift.statistic_series(evs, "a", UTC_ZONE))
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.yaxis.title.text == "psi (unitless), log scale"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (str(T0), T0),
        (str(T0 + 1800), T0),
        (datetime.fromtimestamp(T0 + HOUR, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), T0 + HOUR),
        (datetime.fromtimestamp(T0 + HOUR, UTC).strftime("%Y-%m-%dT%H:%M"), T0 + HOUR),
        (str(T0 + 5 * HOUR), None),
        ("yesterday", None),
        (None, None),
    ],
)
def test_deep_link_windows_by_start_or_any_moment_inside(
    text: str | None, expected: int | None
) -> None:
    assert common.parse_window(text, [T0, T0 + HOUR], HOUR) == expected


def test_unknown_zones_fall_back_to_utc() -> None:
    assert common.zone(None) == UTC_ZONE
    assert common.zone("Not/AZone") == UTC_ZONE
    assert common.zone_label(common.zone("Europe/Paris")) == "Europe/Paris"


# --- evidence -----------------------------------------------------------------------------------


def test_distribution_labels_follow_the_reference_bin_layout() -> None:
    numeric = build_numeric(np.arange(100.0))
    labels = distribution.bin_labels(numeric)
    assert len(labels) == numeric.n_bins
    assert labels[0] == "< 0" and labels[-2] == "> 99" and labels[-1] == "missing"
    assert labels[1].startswith("[0, ") and labels[-3].endswith(", 99]")
    categorical = build_categorical(["x", "y", "x", None])
    assert distribution.bin_labels(categorical) == ["x", "y", "other", "unseen", "missing"]

    dist = distribution.distribution_info(
        "f", categorical, [("reference", categorical.counts), ("window", [1, 1, 0, 2, 0])]
    )
    assert dist.totals == (4, 4)
    assert dist.shares[1] == (0.25, 0.25, 0.0, 0.5, 0.0)
    fig = distribution.distribution_bars(dist)
    assert [list(t.y) for t in fig.data] == [list(s) for s in dist.shares]
    assert list(fig.data[1].customdata) == [1, 1, 0, 2, 0]
    assert fig.layout.yaxis.title.text == "share of rows (missing included)"
    with pytest.raises(ValueError, match="2 bins, the reference has 5"):
        distribution.distribution_info("f", categorical, [("w", [1, 2])])
    empty = distribution.distribution_info("f", categorical, [("w", [0] * 5)])
    assert empty.shares == ((0.0,) * 5,)


def test_performance_band_sits_on_the_worse_side_of_the_reference() -> None:
    """The warning level is the window's own band (its verdict's threshold at its label count);
    the critical level the configured floor from the reference."""

    def judged(metric: str, threshold: float) -> Verdict:
        return dataclasses.replace(
            verdict("__performance__", "ok"), statistic=metric, threshold=threshold
        )

    evs = [
        window(T0, {}, n_labelled=100, performance={"roc_auc": 0.8, "mae": 2.0},
               reference_performance={"roc_auc": 0.9, "mae": 1.0},
               performance_verdicts=[judged("roc_auc", 0.87), judged("mae", 1.12)]),
        window(T0 + HOUR, {}, n_labelled=0),
    ]  # fmt: skip
    settings = PerformanceSettings()
    auc = performance.performance_info(evs, "roc_auc", UTC_ZONE, settings)
    assert auc.values == (0.8,) and auc.n_labelled == (100,)
    assert auc.warning_level == pytest.approx((0.87,))
    assert auc.critical_level == pytest.approx((0.9 - settings.critical_drop,))
    mae = performance.performance_info(
        evs, "mae", UTC_ZONE, settings, change_points=[("error", T0 + 60)]
    )
    assert mae.lower_is_better and mae.change_streams == ("error",)
    assert mae.warning_level == pytest.approx((1.12,))
    assert mae.critical_level == pytest.approx((1.0 + settings.critical_relative_increase,))
    fig = performance.performance_over_time(mae)
    assert fig.layout.yaxis.title.text == "mae (lower is better)"
    assert len(fig.layout.shapes) == 1  # the change point's line
    assert fig.data[-1].name == "detector change point"
    assert list(fig.data[-1].customdata) == ["error"]
    no_changes = performance.performance_over_time(auc)
    assert len(no_changes.layout.shapes) == 0 and no_changes.data[-1].name == "roc_auc"
    assert performance.metrics_available(evs) == ["mae", "roc_auc"]


def test_quality_rates_and_chart_show_only_features_with_problems() -> None:
    evs = [
        window(T0, {}, quality={"a": FeatureQuality(0.1, 0.05, out_of_range_rate=0.0),
                                "b": FeatureQuality(0.0, 0.0, unseen_rate=0.2)}),
        window(T0 + HOUR, {}, quality={"a": FeatureQuality(0.0, 0.0, out_of_range_rate=0.0)}),
    ]  # fmt: skip
    q = quality.quality_info(evs, ["a", "b"], UTC_ZONE)
    rates = {(s.feature, s.rate): s.values for s in q.series}
    assert rates[("a", "missing_rate")] == (0.1, 0.0)
    assert rates[("a", "type_error_rate")] == (0.05, 0.0)
    assert math.isnan(rates[("b", "missing_rate")][1]) and rates[("b", "unseen_rate")][0] == 0.2
    assert ("a", "unseen_rate") not in rates and ("b", "out_of_range_rate") not in rates
    names = [t.name for t in quality.quality_over_time(q).data]
    assert names == ["b: unseen", "a: missing", "a: type error"]
    rows = quality.quality_rows(evs[0], {"a": build_numeric([1.0, 3.0, None])})
    assert rows[0].feature == "b" and rows[1].reference_mean == 2.0
    assert rows[1].reference_missing_rate == pytest.approx(1 / 3)


def test_label_info_comes_from_the_ingestion_counters() -> None:
    counts = IngestCounts(predictions=10, outcomes=8, joined=6, expired_predictions=1,
                          delay_histogram={"1m": 4, "1h": 2}, delay_sum_seconds=600.0)  # fmt: skip
    lab = ingest.label_info(counts, [window(T0, {}, n=10, n_labelled=6)], UTC_ZONE)
    # coverage over the 7 settled predictions (6 joined, 1 expired); the 3 pending count in neither
    assert (lab.coverage, lab.mean_delay_seconds, lab.pending, lab.expired) == (6 / 7, 100.0, 3, 1)
    assert lab.delay_counts[lab.delay_buckets.index("≤ 1m")] == 4
    assert lab.delay_buckets[-1] == "> 7d" and lab.labelled_share == (0.6,)
    assert list(ingest.label_delay_bar(lab).data[0].y) == list(lab.delay_counts)


def test_comparison_of_two_groups() -> None:
    a = [window(T0, {"a": "ok"}, n=100, n_labelled=10, performance={"roc_auc": 0.9})]
    b = [
        window(T0 + HOUR, {"a": "critical"}, n=200, n_labelled=30, performance={"roc_auc": 0.7}),
        window(T0 + 2 * HOUR, {"a": "insufficient"}, n=20, n_labelled=10,
               performance={"roc_auc": 0.5}),
    ]  # fmt: skip
    result = comparison.compare("A", a, "B", b, ["a", "z"], "roc_auc")
    assert (result.windows_a, result.windows_b, result.rows_a, result.rows_b) == (1, 2, 100, 220)
    assert result.metric_a == 0.9 and result.metric_b == pytest.approx((0.7 * 30 + 0.5 * 10) / 40)
    row_a, row_z = result.features
    assert (row_a.drift_share_a, row_a.drift_share_b) == (0.0, 1.0)  # insufficient: not judged
    assert row_z.mean_a is None and row_z.statistic == ""
    assert comparison.common_reference(a, b) == "r1"
    assert comparison.common_reference(a, [window(T0, {}, reference="r2")]) is None
