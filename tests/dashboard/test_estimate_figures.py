"""Performance estimated before labels on the dashboard, without Streamlit or Redis: the estimate's
card, heatmap cell and verdict row while labels are missing, the realized verdict taking over once
they judge the metric, and the estimated-vs-realized chart with the estimate's error."""

from __future__ import annotations

import dataclasses
import math
from zoneinfo import ZoneInfo

import msgspec
import pytest

from dashboard.figures import performance, signals, verdicts
from monitor.vocab.verdicts import ESTIMATED, PERFORMANCE, Verdict, WindowEvaluation
from tests.dashboard.test_signal_figures import T0, W, drift_v, window

UTC = ZoneInfo("UTC")


def estimated(severity: str, value: float = 0.71, n: int = 2_000) -> Verdict:
    status = {"critical": "degraded", "warning": "degraded"}.get(severity, severity)
    why = ("estimated accuracy 0.71 vs reference 0.8",)
    return drift_v(ESTIMATED, severity, value, n, statistic="accuracy", threshold=0.78,
                   status=status, reasons=why)  # fmt: skip


def realized(severity: str, value: float = 0.79) -> Verdict:
    status = {"critical": "degraded", "warning": "degraded"}.get(severity, severity)
    return drift_v(PERFORMANCE, severity, value, 300, statistic="accuracy", threshold=0.77,
                   status=status, p_value=None if severity == "insufficient" else 0.2)  # fmt: skip


def with_estimate(
    i: int, estimate: Verdict, labels: Verdict, *, value: float, band: tuple[float, float]
) -> WindowEvaluation:
    ev = window(i, perf=[labels])
    return msgspec.structs.replace(
        ev,
        estimated_verdicts=[dataclasses.replace(estimate, window_start=ev.window_start)],
        estimated_performance={"accuracy": value},
        estimated_bands={"accuracy": band},
        performance={"accuracy": labels.value},
        reference_performance={"accuracy": 0.8},
    )


def test_before_labels_the_estimate_is_a_card_a_cell_and_a_row() -> None:
    ev = with_estimate(0, estimated("critical"), realized("insufficient"), value=0.71,
                       band=(0.69, 0.73))  # fmt: skip
    [card] = signals.signals("m", ev, [ev], UTC)
    assert (card.kind, card.severity) == ("performance", "critical")
    assert card.subject == "accuracy, estimated before labels"
    assert (card.statistic, card.value, card.threshold) == ("estimated accuracy", "0.71", "0.78")
    assert card.n == "2,000 scored predictions"
    assert card.view == "performance" and card.link.params["view"] == "performance"
    assert signals.window_severity(ev) == "critical"
    heat = verdicts.heatmap_info([ev], ["a"], UTC)
    row = heat.keys.index(("performance", "accuracy"))
    assert heat.codes[row] == (verdicts.SEVERITIES.index("critical"),)
    assert "estimated accuracy = 0.71" in heat.hover[row][0]
    assert "2,000 scored predictions" in heat.hover[row][0]
    rows = verdicts.verdict_table(ev).rows
    assert [r.statistic for r in rows if r.signal == "performance"] == [
        "estimated accuracy",
        "accuracy",
    ]


def test_once_labels_judge_the_metric_the_realized_verdict_speaks() -> None:
    ev = with_estimate(0, estimated("critical"), realized("ok"), value=0.71, band=(0.69, 0.73))
    assert signals.signals("m", ev, [ev], UTC) == []
    assert signals.window_severity(ev) == "ok"
    heat = verdicts.heatmap_info([ev], ["a"], UTC)
    row = heat.keys.index(("performance", "accuracy"))
    assert heat.codes[row] == (verdicts.SEVERITIES.index("ok"),)
    assert "estimated" not in heat.hover[row][0]


def test_the_estimate_chart_grades_the_estimate_where_labels_judged_it() -> None:
    windows = [
        with_estimate(0, estimated("ok"), realized("ok", 0.80), value=0.79, band=(0.77, 0.81)),
        with_estimate(1, estimated("ok"), realized("ok", 0.76), value=0.79, band=(0.77, 0.81)),
        with_estimate(
            2, estimated("critical"), realized("insufficient", 0.5), value=0.71, band=(0.69, 0.73)
        ),
    ]
    info = performance.estimate_info(windows, "accuracy", UTC)
    assert info.estimates == (0.79, 0.79, 0.71)
    assert info.realized[:2] == (0.80, 0.76) and math.isnan(info.realized[2])  # too few labels
    assert info.n_scored == (2_000, 2_000, 2_000)
    assert info.checked == [(0.79, 0.77, 0.81, 0.80), (0.79, 0.77, 0.81, 0.76)]
    summary = performance.estimate_summary(info)
    assert "(2 windows)" in summary and "off by 0.02 on average (at most 0.03)" in summary
    assert "inside the estimate's band in 1 of 2" in summary
    fig = performance.estimate_over_time(info)
    names = [t.name for t in fig.data]
    assert "estimated accuracy (no labels)" in names and "realized accuracy (labels)" in names
    estimate = next(t for t in fig.data if t.name == "estimated accuracy (no labels)")
    assert list(estimate.y) == [0.79, 0.79, 0.71]
    assert performance.estimated_metrics(windows) == ["accuracy"]


def test_without_a_judged_window_the_estimate_says_it_cannot_be_checked() -> None:
    ev = with_estimate(0, estimated("ok"), realized("insufficient"), value=0.79, band=(0.7, 0.8))
    summary = performance.estimate_summary(performance.estimate_info([ev], "accuracy", UTC))
    assert summary.startswith("No window's labels have judged accuracy yet")


@pytest.mark.parametrize("metric", ["accuracy"])
def test_estimate_times_are_window_starts(metric: str) -> None:
    ev = with_estimate(3, estimated("ok"), realized("ok"), value=0.79, band=(0.7, 0.8))
    info = performance.estimate_info([ev], metric, UTC)
    assert info.times[0].timestamp() == T0 + 3 * W
