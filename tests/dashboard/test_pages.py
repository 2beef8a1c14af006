"""Every page through AppTest on a real Redis: what the pipeline stored is what the pages show, an
empty or partly-filled Redis shows what to do, and deep links select model, feature and window.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from streamlit.testing.v1 import AppTest

from dashboard.figures import common, health, signals
from dashboard.figures.verdicts import FLAGGED
from monitor.store import layout
from monitor.store.keys import Keys
from monitor.vocab.verdicts import WindowEvaluation
from tests.dashboard.conftest import BAD_SCORES, WINDOW, Deployment, base_doc, write_config

PAGES = ("overview", "model", "feature", "alerts", "retraining")


def texts(at: AppTest) -> str:
    """Every piece of prose on the page, joined (titles, markdown, captions, notices), as a reader
    sees it: names from the store reach Markdown backslash-escaped (``common.md``), so the escapes
    of ASCII punctuation are undone here."""
    parts: list[str] = []
    for kind in (
        "title",
        "subheader",
        "markdown",
        "caption",
        "info",
        "warning",
        "error",
        "success",
    ):
        parts += [str(element.value) for element in getattr(at, kind)]
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", "\n".join(parts))


def figure(at: AppTest, key: str) -> dict[str, Any]:
    """The Plotly figure drawn with ``key``, as the browser receives it, its binary arrays (NumPy
    arrays, sent base64-encoded) as lists."""
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key) or key in c.proto.id]
    assert charts, f"no chart {key!r}"
    return json.loads(charts[0].proto.spec, object_hook=_typed_array)


def _typed_array(value: dict[str, Any]) -> Any:
    """Plotly's ``{"dtype", "bdata", "shape"}`` as nested lists."""
    if set(value) - {"shape"} != {"dtype", "bdata"}:
        return value
    array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    shape = [int(n) for n in str(value.get("shape", array.size)).split(",")]
    return array.reshape(shape).tolist()


def heatmap_cells(at: AppTest) -> tuple[dict[tuple[str, int], int], dict[str, str]]:
    """The model page's heatmap: every cell's severity code by (row, window start), and each
    clickable marker's severity by the key it hands back (``verdicts.cell_key``)."""
    heat, *marked = figure(at, "heatmap")["data"]
    starts = [int(datetime.fromisoformat(x).replace(tzinfo=UTC).timestamp()) for x in heat["x"]]
    codes = {
        (row, start): code
        for row, line in zip(heat["y"], heat["z"], strict=True)
        for start, code in zip(starts, line, strict=True)
    }
    keys = {key: trace["name"] for trace in marked for key in trace["customdata"]}
    return codes, keys


#: A paragraph that is one code span (``common.code``): its delimiters and its text.
CODE_SPAN = re.compile(r"^(`+) (.*) \1$")


def commands(at: AppTest) -> list[str]:
    """The commands the page shows, one a paragraph, each a Markdown code span (``st.code`` would
    load a syntax highlighter of 1.5 MB for them, so it is never used)."""
    assert not at.code
    paragraphs = [p for m in at.markdown for p in str(m.value).split("\n\n")]
    return [found[2] for p in paragraphs if (found := CODE_SPAN.match(p))]


def links(at: AppTest) -> list[tuple[str, str, dict[str, str]]]:
    """(label, page, query parameters) of every page link."""
    out = []
    for link in at.get("page_link"):
        params = dict(p.split("=", 1) for p in link.proto.query_string.split("&") if p)
        out.append((link.proto.label, link.proto.page, params))
    return out


def table(at: AppTest, *columns: str) -> Any:
    """The first table with these columns, as a DataFrame (tables without widgets have no id)."""
    frames = [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]
    assert frames, f"no table with {columns}"
    return frames[0]


def stored_window(dep: Deployment, model: str, start: int) -> tuple[str, WindowEvaluation]:
    evaluated = dep.query().evaluations_by_window(model)
    wid = common.windows_by_start(evaluated)[start]
    return wid, evaluated[wid]


# --- empty, partial, unavailable ----------------------------------------------------------------


def test_an_empty_redis_shows_what_to_do_on_every_page(empty: Deployment, app_factory: Any) -> None:
    pages = {page: app_factory(empty, page) for page in PAGES}
    for page, at in pages.items():
        assert not at.exception, (page, at.exception)

    overview = pages["overview"]
    assert "No predictions have arrived yet" in texts(overview)
    rows = table(overview, "reasons").set_index("model")
    assert list(rows.index) == ["churn", "delivery-eta", "fraud-detector"]
    assert (rows["predictions"] == 0).all()
    assert set(rows["health"]) == {"? INSUFFICIENT DATA"}  # glyph and word, not colour alone
    assert "driftwatch baseline set --model churn --file train.csv" in rows.loc["churn", "reasons"]

    model = texts(pages["model"])
    assert "driftwatch baseline set --model fraud-detector --file train.csv" in model
    assert "No predictions for fraud-detector yet" in model
    assert "No evaluated window for fraud-detector yet" in texts(pages["feature"])
    alerts = texts(pages["alerts"])
    assert "Alerting is disabled" in alerts and "No alert fires or waits to fire" in alerts
    assert "arrive with Driftwatch's retraining capability" in texts(pages["retraining"])


def test_a_reference_without_traffic_says_traffic_is_missing(
    partial: Deployment, app_factory: Any
) -> None:
    at = app_factory(partial, "model", model="fraud-detector")
    assert not at.exception
    shown = texts(at)
    assert "baseline set" not in shown  # the reference exists
    assert "No predictions for fraud-detector yet" in shown
    assert "reference 20" in shown  # its version (a timestamp) is in the caption
    other = app_factory(partial, "model", model="delivery-eta")
    assert "driftwatch baseline set --model delivery-eta" in texts(other)


def test_an_unreachable_redis_shows_how_to_fix_it(
    tmp_path: Path, app_factory: Any, free_port_factory: Any
) -> None:
    down = f"redis://127.0.0.1:{free_port_factory(1)[0]}/0"
    path = tmp_path / "down.toml"
    doc = base_doc("127.0.0.1:9", down, "dwtest:down", ["p", "o", "d"])
    dep = Deployment(path, write_config(path, doc), down)
    for page in ("overview", "model", "feature"):
        at = app_factory(dep, page)
        assert not at.exception
        assert "Redis does not answer" in texts(at) and "driftwatch services up" in texts(at)


def test_data_a_newer_release_migrated_is_refused_with_the_fix(
    empty: Deployment, app_factory: Any, redis_client: redis.Redis
) -> None:
    """Also under ``streamlit run``, which skips ``driftwatch dashboard``'s start-up check."""
    redis_client.set(Keys(empty.settings.redis.key_prefix).layout, layout.LAYOUT + 1)
    for page in ("overview", "model", "alerts"):
        at = app_factory(empty, page)
        assert not at.exception
        assert f"key layout {layout.LAYOUT + 1}" in texts(at) and layout.FIX in texts(at)


# --- filled by the pipeline ---------------------------------------------------------------------


def test_overview_shows_the_stored_totals_and_health(
    pipeline: Deployment, app_factory: Any
) -> None:
    at = app_factory(pipeline)
    assert not at.exception
    rows = table(at, "reasons").set_index("model")
    stored = pipeline.query().status()
    assert set(rows.index) == {s.model.name for s in stored}
    for s in stored:
        row, c = rows.loc[s.model.name], s.counts
        assert row["health"] == health.health_text(s.health.status)
        assert row["predictions"] == c.predictions > 0
        assert row["dead_letters"] == c.dead
        assert row["label_coverage"] == pytest.approx(c.label_coverage)
        assert row["mean_label_delay_seconds"] == pytest.approx(c.mean_label_delay_seconds)
        assert row["version"] == s.latest.version and row["last_window_rows"] == s.latest.n
        assert row["owner"] == s.model.owner
    assert rows.loc["fraud-detector", "dead_letters"] == BAD_SCORES
    assert rows.loc["fraud-detector", "health"] in ("! WARN", "✕ CRITICAL")
    assert "amount" in rows.loc["fraud-detector", "reasons"]

    counts = {s.health.status: 0 for s in stored}
    for s in stored:
        counts[s.health.status] += 1
    shown = texts(at)  # models per health: a badge each, its glyph, word and count
    for status in health.HEALTH_ORDER:
        assert f"{health.health_text(status)}: {counts.get(status, 0)}" in shown, status
    assert not at.get("plotly_chart")  # the page needs no Plotly
    first_click = [(page, q) for _, page, q in links(at) if q.get("model") == "fraud-detector"]
    assert first_click == [("model", {"model": "fraud-detector"})]


def test_overview_filters_and_search(pipeline: Deployment, app_factory: Any) -> None:
    at = app_factory(pipeline)
    at.text_input(key="search").input("eta").run()
    assert list(table(at, "reasons")["model"]) == ["delivery-eta"]
    at.text_input(key="search").input("").run()
    at.multiselect(key="owner_filter").select("growth@example.com").run()
    assert list(table(at, "reasons")["model"]) == ["churn"]


def test_model_page_shows_the_stored_verdicts_and_links_to_the_drifting_feature(
    pipeline: Deployment, app_factory: Any
) -> None:
    start = pipeline.shift_window + 2 * WINDOW
    _, ev = stored_window(pipeline, "fraud-detector", start)
    at = app_factory(pipeline, "model", model="fraud-detector", window=str(start))
    assert not at.exception
    assert at.query_params["window"] in (str(start), [str(start)])  # the link stays shareable

    found = table(at, "signal", "threshold")
    verdicts = found[found["signal"] == "drift"].set_index("row")
    assert set(verdicts.index) == {common.feature_label(v.feature) for v in ev.verdicts}
    for v in ev.verdicts:
        row = verdicts.loc[common.feature_label(v.feature)]
        statistic, written = signals.measure("drift", v)
        assert (row["statistic"], row["n"]) == (statistic, v.n)
        assert row["severity"] == common.severity_text(v.severity)
        assert (row["value"], row["threshold"]) == (written(v.value), written(v.threshold))
    lists = (ev.verdicts, ev.performance_verdicts, ev.quality_verdicts, ev.estimated_verdicts)
    assert len(found) == sum(map(len, lists))
    assert ev.estimated_verdicts  # fraud-detector's scores are calibrated on its reference

    second_click = [q for _, page, q in links(at) if page == "feature" and q["feature"] == "amount"]
    assert second_click == [{"model": "fraud-detector", "feature": "amount", "window": str(start)}]

    codes, marked = heatmap_cells(at)  # AppTest's browser names no zone: times in UTC
    judged = [("drift", v) for v in ev.verdicts] + [
        ("performance", v) for v in ev.performance_verdicts
    ]
    assert judged
    for group, v in judged:
        row = common.feature_label(v.feature) if group == "drift" else f"performance: {v.statistic}"
        assert codes[(row, start)] == common.SEVERITIES.index(v.severity), row
        key = f"{group}|{v.feature if group == 'drift' else v.statistic}|{start}"
        if v.severity in FLAGGED:  # a problem: its marker opens its evidence
            assert marked[key] == v.severity
        else:
            assert key not in marked

    stored = pipeline.query().status()
    health = next(s.health for s in stored if s.model.name == "fraud-detector")
    assert health.status in texts(at)
    counts = next(s.counts for s in stored if s.model.name == "fraud-detector")
    at.segmented_control(key="view").set_value("labels").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Label coverage"] == f"{counts.label_coverage:.1%}"
    assert metrics["Waiting for a label"] == f"{counts.pending_predictions:,}"

    at.segmented_control(key="view").set_value("performance").run()
    traces = {t.get("name"): t for t in figure(at, "performance_chart")["data"]}
    evaluations = pipeline.query().evaluations("fraud-detector")
    labelled = [e for e in common.newest_per_window(evaluations) if e.n_labelled]
    headline = pipeline.settings.performance.binary_metrics[0]  # the chart's default metric
    assert traces[headline]["y"] == pytest.approx(
        [e.performance[headline] for e in labelled], nan_ok=True
    )
    since = min(e.window_start for e in evaluations)
    stored_changes = pipeline.query().change_points("fraud-detector", since=since)
    marked = traces.get("detector change point", {}).get("customdata", [])
    assert marked == [stream for stream, _ in stored_changes]
    at.segmented_control(key="view").set_value("quality").run()
    dead = figure(at, "dead_letters")["data"][0]
    assert dict(zip(dead["x"], dead["y"], strict=True)) == counts.dead_by_reason


def test_the_performance_view_shows_the_estimate_beside_the_labels(
    pipeline: Deployment, app_factory: Any
) -> None:
    """fraud-detector's scores, calibrated on its reference, estimate each window's performance;
    the chart shows the stored estimates and the realized values where labels judged them."""
    at = app_factory(pipeline, "model", model="fraud-detector", view="performance")
    assert not at.exception
    assert "Estimated before labels" in texts(at)
    chart = figure(at, "estimate_chart")["data"]
    estimate = next(t for t in chart if t.get("name", "").startswith("estimated accuracy"))
    stored = sorted(pipeline.query().evaluations("fraud-detector"), key=lambda e: e.window_start)
    expected = [e.estimated_performance["accuracy"] for e in stored if e.estimated_performance]
    assert estimate["y"] == pytest.approx(expected)
    assert "Where labels judged accuracy" in texts(at)


def test_period_comparison_sees_the_shift(pipeline: Deployment, app_factory: Any) -> None:
    at = app_factory(pipeline, "model", model="fraud-detector", view="compare")
    at.select_slider(key="cmp_boundary").set_value(pipeline.shift_window).run()
    assert not at.exception
    rows = table(at, "drift_share_a").set_index("feature")
    before, after = rows.loc["amount", "drift_share_a"], rows.loc["amount", "drift_share_b"]
    assert after >= 0.75 and before <= 0.25, (before, after)  # the stable half may false-alarm
    assert rows.loc["age", "drift_share_b"] <= 0.25
    assert figure(at, "cmp_distribution")["data"]


def test_feature_deep_link_shows_the_stored_evidence(
    pipeline: Deployment, app_factory: Any
) -> None:
    start = pipeline.shift_window + 3 * WINDOW
    wid, ev = stored_window(pipeline, "fraud-detector", start)
    iso = datetime.fromtimestamp(start + 5, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    at = app_factory(pipeline, "feature", model="fraud-detector", feature="amount", window=iso)
    assert not at.exception
    v = common.verdict_of(ev, "amount")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[v.statistic] == common.sig(v.value)
    assert metrics["threshold"] == common.sig(v.threshold)
    assert metrics["n (non-missing rows)"] == f"{v.n:,}"
    assert v.status == "drift"

    query = pipeline.query()
    profile = query.references().get("fraud-detector", ev.reference).features["amount"]
    at.segmented_control(key="dist_amount_view").set_value("bins").run()
    bars = figure(at, "dist_amount")["data"]
    assert bars[0]["customdata"] == profile.counts
    stored_bins = query.window_counts("fraud-detector", wid).bins("amount", profile.n_bins)
    assert bars[1]["customdata"] == stored_bins.tolist()
    series = figure(at, "feature_statistic")["data"][1]
    assert len(series["y"]) == sum(
        1 for e in common.newest_per_window(query.evaluations("fraud-detector"))
        if common.verdict_of(e, "amount") is not None
    )  # fmt: skip


def test_prediction_drift_and_a_model_without_reference(
    pipeline: Deployment, app_factory: Any
) -> None:
    at = app_factory(pipeline, "feature", model="fraud-detector", feature="__prediction__")
    assert not at.exception
    assert "prediction (model output)" in texts(at)
    assert figure(at, "dist___prediction__")["data"]
    churn = app_factory(pipeline, "model", model="churn")
    assert not churn.exception
    assert "driftwatch baseline set --model churn" in texts(churn)
    assert "No verdicts in this window" in texts(churn)
    churn_feature = app_factory(pipeline, "feature", model="churn", feature="plan")
    assert not churn_feature.exception
    assert "driftwatch baseline set --model churn" in texts(churn_feature)


def test_a_link_to_a_window_not_shown_says_so(pipeline: Deployment, app_factory: Any) -> None:
    at = app_factory(pipeline, "feature", model="fraud-detector", feature="amount", window="12")
    assert not at.exception
    assert "Windows shown" in texts(at)


def test_a_root_link_forwards_to_the_evidence(pipeline: Deployment, app_factory: Any) -> None:
    at = app_factory(pipeline, "overview", model="delivery-eta", feature="city")
    assert not at.exception
    assert "delivery-eta · city" in texts(at)


def test_the_dashboard_never_writes(
    pipeline: Deployment, app_factory: Any, redis_client: redis.Redis
) -> None:
    prefix = pipeline.settings.redis.key_prefix

    def snapshot() -> dict[bytes, bytes]:
        keys = sorted(redis_client.scan_iter(match=f"{prefix}*", count=1000))
        return dict(zip(keys, [redis_client.dump(k) for k in keys], strict=True))

    before = snapshot()
    for page in PAGES:
        assert not app_factory(pipeline, page, model="fraud-detector").exception
    assert snapshot() == before
