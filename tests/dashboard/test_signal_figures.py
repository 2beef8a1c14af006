"""What the Model page leads with, without Streamlit or Redis: the failing signals of every kind
(cards), the windows × verdicts heatmap, and a window's verdict table."""

from __future__ import annotations

import dataclasses
import math
from zoneinfo import ZoneInfo

import msgspec
import pytest

from dashboard.figures import common, drift, signals, verdicts
from monitor.vocab.alerts import ALERTNAMES, Alert, evidence_page
from monitor.vocab.counts import IngestCounts
from monitor.vocab.verdicts import PERFORMANCE, Verdict, WindowEvaluation

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
T0 = 1_800_000_000 - 1_800_000_000 % 3600
W = 60
STATUS = {"critical": "drift", "warning": "drift", "ok": "ok", "insufficient": "insufficient"}


def drift_v(feature: str, severity: str, value: float = 0.2, n: int = 500, **kw: object) -> Verdict:
    fields = {
        "model": "m", "feature": feature, "statistic": "psi", "value": value, "threshold": 0.1,
        "p_value": 0.001, "n": n, "status": STATUS[severity], "severity": severity,
        "window_start": T0, "reference_version": "r1", "expected_false_alarm_rate": 0.01,
        "reasons": (f"{feature} is {severity}",),
    } | kw  # fmt: skip
    return Verdict(**fields)  # type: ignore[arg-type]


def metric_v(metric: str, severity: str, value: float, threshold: float, n: int = 351) -> Verdict:
    status = {"critical": "degraded", "warning": "degraded"}.get(severity, severity)
    return drift_v(PERFORMANCE, severity, value, n, statistic=metric, threshold=threshold,
                   status=status, reasons=(f"{metric} worse",))  # fmt: skip


def rate_v(feature: str, rate: str, severity: str, value: float, n: int = 400) -> Verdict:
    status = {"critical": "degraded", "warning": "degraded"}.get(severity, severity)
    return drift_v(feature, severity, value, n, statistic=rate, threshold=0.02, status=status,
                   p_value=1e-9 if status == "degraded" else 1.0,
                   reasons=(f"{feature}: {rate} up",))  # fmt: skip


def window(
    i: int,
    drift: dict[str, str] | None = None,
    perf: list[Verdict] = (),  # type: ignore[assignment]
    quality: list[Verdict] = (),  # type: ignore[assignment]
    **extra: object,
) -> WindowEvaluation:
    start = T0 + i * W

    def at(vs: list[Verdict]) -> list[Verdict]:
        return [dataclasses.replace(v, window_start=start) for v in vs]

    found = [drift_v(f, s) for f, s in (drift or {"__model__": "ok", "a": "ok"}).items()]
    return WindowEvaluation(
        model="m", window_start=start, version="v1", reference="r1", n=400, n_labelled=351,
        evaluated_at=start + W, verdicts=at(found), performance_verdicts=at(list(perf)),
        quality_verdicts=at(list(quality)), **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def mae(severity: str) -> Verdict:
    return metric_v("mae", severity, 19.41 if severity != "ok" else 6.2, 6.8749)


def alert(kind: str, severity: str = "warning", state: str = "firing", **notes: str) -> Alert:
    labels = {"alertname": ALERTNAMES[kind], "model": "m", "severity": severity, "owner": "o"}
    return Alert(labels, notes, state, active_since=T0 + 30, fired_at=T0 + 90, last_window=T0)  # type: ignore[arg-type]


# --- signals: one card per active reason ----------------------------------------------------------


def test_a_performance_only_problem_leads_with_its_metric_since_its_run_began() -> None:
    evs = [
        window(0, perf=[mae("ok")]),
        window(1, perf=[mae("warning")]),
        window(2, perf=[mae("critical"), metric_v("rmse", "ok", 8.0, 8.5)]),
    ]
    (card,) = signals.signals("m", evs[2], evs, BERLIN)
    assert (card.kind, card.severity, card.subject) == ("performance", "critical", "mae")
    assert (card.statistic, card.value, card.op, card.threshold) == ("mae", "19.4", ">", "6.87")
    assert card.n == "351 labels" and card.detail == "mae worse"
    assert card.since is not None and card.since.timestamp() == T0 + W  # the warning began it
    assert card.since.tzinfo == BERLIN
    assert card.link == signals.Link(
        "model",
        {"model": "m", "window": str(T0 + 2 * W), "view": "performance"},
        "Open the performance view",
    )
    assert signals.default_view([card]) == "performance"
    accuracy = metric_v("accuracy", "warning", 0.7, 0.75)
    (better,) = signals.signals("m", window(3, perf=[accuracy]), evs, UTC)
    assert better.op == "<"  # a higher-is-better metric fails below its threshold


def test_a_quality_problem_is_a_rate_in_percent_linking_to_its_feature() -> None:
    ev = window(0, quality=[rate_v("city", "missing_rate", "critical", 0.305),
                            rate_v("city", "unseen_rate", "ok", 0.0)])  # fmt: skip
    (card,) = signals.signals("m", ev, [ev], UTC)
    assert (card.kind, card.subject, card.statistic) == (
        "quality",
        "city: missing rate",
        "missing rate",
    )
    assert (card.value, card.op, card.threshold, card.n) == ("30.5%", ">", "2%", "400 rows")
    assert card.view == "quality" and card.link.page == "feature"
    assert card.link.params == {"model": "m", "feature": "city", "window": str(T0)}
    assert card.link.label == "Open city"


def test_drift_cards_per_feature_and_output_the_model_verdict_only_when_worse() -> None:
    ev = window(
        0, {"__model__": "warning", "a": "critical", "__prediction__": "warning", "b": "ok"}
    )
    found = signals.signals("m", ev, [ev], UTC)
    assert [(s.kind, s.subject, s.severity) for s in found] == [
        ("drift", "a", "critical"),
        ("prediction", "prediction (model output)", "warning"),
    ]
    assert found[0].n == "500 non-missing rows" and found[1].n == "500 rows"
    assert (found[0].value, found[0].op, found[0].threshold) == ("0.2", ">", "0.1")
    assert found[1].link.params["feature"] == "__prediction__"
    assert signals.default_view(found) == "prediction"

    # enough features drift together to be critical, each of them only a warning
    ev = window(0, {"__model__": "critical", "a": "warning", "b": "warning"})
    ev.verdicts[0] = dataclasses.replace(ev.verdicts[0], value=0.6, threshold=0.5)
    ev.verdicts[2] = dataclasses.replace(ev.verdicts[2], value=0.9)
    first, *rest = signals.signals("m", ev, [ev], UTC)
    assert (first.subject, first.severity, first.statistic) == (
        "model (all features)", "critical", "share of features drifting",
    )  # fmt: skip
    assert (first.value, first.op, first.threshold, first.n) == ("60%", "≥", "50%", "500 rows")
    assert first.link.params["feature"] == "b"  # the most drifted
    assert [s.subject for s in rest] == ["a", "b"]


def test_change_points_warn_until_performance_confirms_them_within_the_span() -> None:
    calm = window(10)
    points = [("error", T0 + 10 * W + 5.0), ("prediction", T0 + 10 * W), ("error", T0 + 9 * W)]
    span = (W, 3600)
    (card,) = signals.signals("m", calm, [calm], UTC, change_points=points, span=span)
    assert (card.kind, card.severity, card.value) == ("change_point", "warning", "2")
    assert card.since is not None and card.since.timestamp() == T0 + 9 * W
    assert card.link.params["view"] == "performance" and card.n == ""
    assert "critical once a window's performance verdict confirms it" in card.detail
    bad = window(10, perf=[mae("warning")])
    found = signals.signals("m", bad, [bad], UTC, change_points=points, span=span)
    assert [(s.kind, s.severity) for s in found] == [
        ("change_point", "critical"), ("performance", "warning"),
    ]  # fmt: skip
    # an older window does not see a change after its end, nor one older than the span
    early = window(5)
    assert signals.signals("m", early, [early], UTC, change_points=points, span=span) == []
    late = window(80)
    assert signals.signals("m", late, [late], UTC, change_points=points, span=span) == []
    (given,) = signals.signals("m", early, [early], UTC, change_points=points)
    assert given.value == "2"  # without a span, the caller chose the points


def test_alerts_of_kinds_no_verdict_covers_make_cards_with_their_own_numbers() -> None:
    ev = window(0, dead_letters={"bad_score": 100})
    counts = IngestCounts(predictions=1000, joined=300, expired_predictions=500)
    alerts = [
        alert("label_coverage", value="0.375", threshold="0.5"),
        alert("label_delay", value="52.5", threshold="48"),
        alert("stale_data", "critical", value="4", threshold="3"),
        alert("dead_letters", value="0.2", threshold="0.05"),
        alert("retrain_failed", summary="retraining request to ci failed"),
        alert("label_delay", state="pending", value="50", threshold="48"),  # not firing yet
        alert("feature_drift", "critical", value="0.3", threshold="0.1"),  # the verdicts say it
    ]
    found = signals.signals("m", ev, [ev], BERLIN, alerts=alerts, counts=counts)
    shown = [(s.kind, s.severity, s.subject, s.value, s.op, s.threshold, s.n) for s in found]
    assert shown == [
        ("traffic", "critical", "no traffic", "4", ">", "3", ""),
        ("labels", "warning", "label coverage", "37.5%", "<", "50%", "800 settled predictions"),
        ("labels", "warning", "label delay", "52.5 h", ">", "48 h", "300 labels"),
        ("traffic", "warning", "dead letters", "20%", ">", "5%", "500 records"),
        ("retraining", "warning", "retraining", "", "", "", ""),
    ]
    for s, a in zip(found, [alerts[i] for i in (2, 0, 1, 3, 4)], strict=True):
        page, params = evidence_page(a)
        assert (s.link.page, s.link.params) == (page, params)
        assert s.link.label == f"Open the {signals.VIEWS[params['view']].lower()} view"
        assert s.view == params["view"]  # the card and the notification open the same view
        assert s.since is not None and s.since.timestamp() == T0 + 30
    assert found[-1].detail == "retraining request to ci failed"
    odd = alert("label_coverage", value="n/a", threshold="0.5")
    (unknown,) = signals.signals("m", ev, [ev], UTC, alerts=[odd])
    assert (unknown.value, unknown.op, unknown.threshold, unknown.n) == ("", "", "", "")


def test_every_view_a_card_or_an_alert_opens_is_a_view_of_the_page() -> None:
    assert set(signals.KIND_VIEWS.values()) <= set(signals.VIEWS)
    for kind, name in ALERTNAMES.items():
        labels = {"alertname": name, "model": "m", "feature": "__model__"}
        page, params = evidence_page(Alert(labels, {}, "firing"))
        assert page == "feature" or params.get("view", signals.DEFAULT_VIEW) in signals.VIEWS, kind


def test_a_windows_severity_is_the_worst_of_drift_performance_and_quality() -> None:
    code = common.SEVERITIES.index
    assert signals.window_severity(window(0)) == "ok"
    assert signals.window_severity(window(0, perf=[mae("critical")])) == "critical"
    quality = [rate_v("city", "missing_rate", "warning", 0.1)]
    assert signals.window_severity(window(0, quality=quality)) == "warning"
    # the model-level verdict stands for its features, as in the daemon's health
    assert (
        signals.window_severity(window(0, {"__model__": "warning", "a": "critical"})) == "warning"
    )
    assert signals.window_severity(window(0, {"a": "critical"})) == "critical"
    assert signals.window_severity(window(0, {"__model__": "insufficient"})) == "insufficient"
    empty = msgspec.structs.replace(window(0), verdicts=[])
    assert signals.window_severity(empty) == "none" and code("none") == 0


# --- the heatmap: every verdict of every window ---------------------------------------------------


def heat_windows() -> list[WindowEvaluation]:
    return [
        window(0, {"__model__": "ok", "__prediction__": "ok", "a": "ok", "b": "ok"},
               perf=[mae("ok")], quality=[rate_v("a", "missing_rate", "ok", 0.0)]),
        window(1, {"__model__": "ok", "a": "ok", "b": "critical"}, perf=[mae("critical")],
               quality=[rate_v("a", "missing_rate", "ok", 0.0),
                        rate_v("b", "missing_rate", "critical", 0.3),
                        rate_v("b", "type_error_rate", "warning", 0.05)]),
        window(2, {"__model__": "insufficient", "a": "insufficient", "b": "ok"},
               perf=[metric_v("mae", "insufficient", math.nan, math.nan, n=12)]),
    ]  # fmt: skip


def test_heatmap_rows_show_performance_and_quality_beside_drift() -> None:
    heat = verdicts.heatmap_info(heat_windows(), ["a", "b", "c"], UTC)
    assert heat.rows == (
        "model (all features)",
        "performance: mae",
        "data quality (all features)",
        "data quality: b",  # the only feature whose quality degraded
        "prediction (model output)",
        "b",  # drifts most
        "a",
        "c",
    )
    assert heat.keys[1] == ("performance", "mae") and heat.keys[2] == ("quality", "")
    code = common.SEVERITIES.index
    assert heat.codes[1] == (code("ok"), code("critical"), code("insufficient"))
    assert heat.codes[2] == (code("ok"), code("critical"), code("none"))  # worst rate of all
    assert heat.codes[3] == (code("none"), code("critical"), code("none"))
    assert heat.codes[5] == (code("ok"), code("critical"), code("ok"))
    assert heat.codes[7] == (code("none"),) * 3  # never judged
    assert heat.starts == (T0, T0 + W, T0 + 2 * W)

    perf = heat.hover[1][1]
    assert "mae = 19.4 (threshold 6.87, p = 0.001)" in perf and "n = 351 labels" in perf
    assert "✕ critical" in perf
    assert "b: missing rate = 30% (threshold 2%" in heat.hover[2][1]  # which feature's rate
    assert "missing rate = 30%" in heat.hover[3][1] and "n = 400 rows" in heat.hover[3][1]
    assert "n = 500 non-missing rows" in heat.hover[5][1]
    assert "no verdict" in heat.hover[7][0]


def markers(fig: object) -> dict[tuple[str, str], tuple[str, str, str, str]]:
    """The heatmap's marks (clickable markers) by (row, x): (severity, symbol, key, hover)."""
    out = {}
    for trace in fig.data[1:]:  # type: ignore[attr-defined]
        for x, y, key, text in zip(trace.x, trace.y, trace.customdata, trace.text, strict=True):
            assert (y, str(x)) not in out  # one mark a cell
            out[(y, str(x))] = (trace.name, trace.marker.symbol, key, text)
    return out


def test_heatmap_cells_open_the_evidence_of_their_row() -> None:
    heat = verdicts.heatmap_info(heat_windows(), ["a", "b", "c"], UTC)
    fig = verdicts.verdicts_heatmap(heat)
    cells = fig.data[0]
    assert cells.z.tolist() == [list(r) for r in heat.codes]  # every cell's severity
    assert list(cells.y) == list(heat.rows) and list(cells.x) == list(heat.times)
    assert cells.text.tolist() == [list(r) for r in heat.hover]  # every cell's hover
    assert "<b>%{y}</b><br>%{x|%Y-%m-%d %H:%M} (UTC)<br>%{text}" in cells.hovertemplate

    # a mark and its evidence on every problem, none on ok or unjudged cells
    marked = markers(fig)
    at = {}
    for r, row in enumerate(heat.codes):
        for i, code in enumerate(row):
            severity = common.SEVERITIES[code]
            found = marked.get((heat.rows[r], str(heat.times[i])))
            if severity not in verdicts.FLAGGED:
                assert found is None, (r, i)
                continue
            assert found is not None, (r, i)
            name, symbol, key, text = found
            assert (name, symbol) == (severity, verdicts.MARKS[severity][0])
            assert key == verdicts.cell_key(*heat.keys[r], heat.starts[i])
            assert text == heat.hover[r][i]
            at[(r, i)] = key
    assert len(marked) == len(at) == 7
    link = verdicts.cell_evidence("m", at[(1, 1)])
    assert (link.page, link.params) == (
        "model", {"model": "m", "window": str(T0 + W), "view": "performance"},
    )  # fmt: skip
    link = verdicts.cell_evidence("m", at[(3, 1)])
    assert (link.page, link.params) == (
        "feature",
        {"model": "m", "feature": "b", "window": str(T0 + W)},
    )
    assert verdicts.cell_evidence("m", at[(2, 1)]).params["view"] == "quality"
    assert verdicts.cell_evidence("m", at[(0, 2)]).params == {
        "model": "m",
        "window": str(T0 + 2 * W),
    }
    for trace in fig.data[1:]:
        assert trace.type == "scatter"  # SVG: WebGL costs a context per chart
        colour = verdicts.MARK_COLORS[trace.name]  # white on dark red, black on orange, grey
        assert trace.marker.color == trace.marker.line.color == colour
        assert trace.marker.opacity is None  # drawn: the mark is what tells it from colour
        assert trace.hovertemplate == cells.hovertemplate
    assert fig.data[0].showscale is False  # the legend is a line of text under the chart
    assert verdicts.legend() == (
        "✕ critical · △ warning · ○ too few rows · blue, no mark: ok · light grey: no verdict"
    )
    colours = dict(fig.data[0].colorscale)
    for i, severity in enumerate(common.SEVERITIES):
        assert colours[i / len(common.SEVERITIES)] == common.SEVERITY_COLORS[severity]
    assert fig.layout.hoverdistance == 1  # a marker never takes the hover of the cell beside it
    assert fig.layout.xaxis.nticks == verdicts.MAX_TIME_TICKS
    assert fig.layout.height == 120 + verdicts.ROW_PX * len(heat.rows)


def test_a_feature_name_with_the_separator_still_opens_its_page() -> None:
    key = verdicts.cell_key("drift", "a|b", T0)
    assert verdicts.cell_evidence("m", key).params["feature"] == "a|b"


# --- one window's verdict table -------------------------------------------------------------------


def test_verdict_table_names_rows_for_people_worst_first_across_signals() -> None:
    ev = heat_windows()[1]
    table = verdicts.verdict_table(ev)
    rows = [(r.signal, r.row, r.statistic, r.severity) for r in table.rows]
    assert rows[:4] == [
        ("performance", "model", "mae", "✕ critical"),
        ("data quality", "b", "missing rate", "✕ critical"),
        ("drift", "b", "psi", "✕ critical"),
        ("data quality", "b", "type error rate", "! warning"),
    ]
    assert rows[4][:3] == ("drift", "model (all features)", "share of features drifting")
    by_name = {(r.signal, r.row, r.statistic): r for r in table.rows}
    perf = by_name["performance", "model", "mae"]
    assert (perf.value, perf.threshold, perf.n, perf.n_counts) == ("19.4", "6.87", 351, "labels")
    rate = by_name["data quality", "b", "missing rate"]
    assert (rate.value, rate.threshold, rate.n_counts) == ("30%", "2%", "rows")
    b = by_name["drift", "b", "psi"]
    assert (b.p_value, b.n_counts, b.expected_false_alarm_rate) == (
        "0.001",
        "non-missing rows",
        "1%",
    )
    whole = by_name["drift", "model (all features)", "share of features drifting"]
    assert (whole.value, whole.n_counts) == ("20%", "rows")
    assert "status" not in table.columns  # one severity column
    assert table.columns[:2] == ("signal", "row")
    assert "p_value" in table.columns and "expected_false_alarm_rate" in table.columns


def test_verdict_table_hides_columns_without_information() -> None:
    ev = window(0, {"__model__": "ok", "a": "ok"})
    ev = msgspec.structs.replace(
        ev,
        verdicts=[
            dataclasses.replace(v, p_value=None, expected_false_alarm_rate=0.0) for v in ev.verdicts
        ],
    )
    table = verdicts.verdict_table(ev)
    assert "p_value" not in table.columns and "expected_false_alarm_rate" not in table.columns
    assert {"value", "threshold", "n", "n_counts", "severity"} <= set(table.columns)


# --- a drift statistic over time ------------------------------------------------------------------


def test_a_log_axis_writes_out_every_power_of_ten_and_hovers_use_three_digits() -> None:
    evs = [window(0, {"a": "ok"}), window(1, {"a": "critical"})]
    evs[0].verdicts[0] = drift_v("a", "ok", value=0.0075451, window_start=T0)
    evs[1].verdicts[0] = drift_v("a", "critical", value=5.123456, window_start=T0 + W)
    series = drift.statistic_series(evs, "a", UTC)
    assert series.n_counts == "non-missing rows"
    fig = drift.statistic_over_time(series)
    axis = fig.layout.yaxis
    assert (axis.type, axis.dtick, axis.tickformat) == ("log", 1, "~g")
    assert axis.title.text == "psi (unitless), log scale"
    threshold, values, marked = fig.data
    assert [c[2] for c in values.customdata] == ["0.00755", "5.12"]
    assert [c[0] for c in values.customdata] == ["✓ ok", "✕ critical"]
    assert "n = %{customdata[1]} non-missing rows" in values.hovertemplate
    assert list(marked.marker.symbol) == ["x"] and list(marked.y) == [5.123456]  # the critical
    assert list(threshold.text) == ["0.1", "0.1"]
    assert drift.statistic_series(evs, "__prediction__", UTC).n_counts == "rows"


@pytest.mark.parametrize(("value", "log"), [(0.5, False), (5.0, True)])
def test_only_a_landslide_gets_a_log_axis(value: float, log: bool) -> None:
    evs = [window(0, {"a": "ok"})]
    evs[0].verdicts[0] = drift_v("a", "critical", value=value)
    fig = drift.statistic_over_time(drift.statistic_series(evs, "a", UTC))
    assert (fig.layout.yaxis.type == "log") is log
