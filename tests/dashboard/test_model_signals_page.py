"""The Model page leads with the failing signal, whatever its kind (issue 17, item 1), on what the
pipeline stored: ``delivery-eta`` has a data-quality problem only, then a performance problem only,
then both (``tests/dashboard/conftest.py``)."""

from __future__ import annotations

import re
from typing import Any

from streamlit.testing.v1 import AppTest

from dashboard.figures import common
from tests.dashboard.conftest import (
    CONCEPT_AT,
    NULLS_AT,
    WINDOW,
    Deployment,
)
from tests.dashboard.test_pages import figure, heatmap_cells, links, texts

#: A card's first line: its severity badge, then its kind in bold.
CARD = re.compile(r"^:(\w+)-badge\[(.) (\w+)\] \*\*([^*]+)\*\* · (.*)$")


def cards(at: AppTest) -> list[tuple[str, str, str, str]]:
    """(glyph, severity, kind, subject) of every card, in the page's order (escapes undone)."""
    heads = (CARD.match(str(m.value)) for m in at.markdown)
    return [(m[2], m[3], plain(m[4]), plain(m[5])) for m in heads if m]


def plain(markdown: str) -> str:
    """Text as a reader sees it: ``common.md`` escapes punctuation."""
    return re.sub(r"\\(.)", r"\1", markdown)


def window_of(dep: Deployment, seconds: int) -> str:
    """The start of the window ``seconds`` after the simulated start, as a deep link names it."""
    return str(dep.start + seconds - seconds % WINDOW)


def test_a_performance_only_problem_leads_with_its_metric_and_opens_its_chart(
    pipeline: Deployment, app_factory: Any
) -> None:
    window = window_of(pipeline, CONCEPT_AT + 2 * WINDOW)
    at = app_factory(pipeline, "model", model="delivery-eta", window=window)
    assert not at.exception
    shown = cards(at)
    assert shown[0] == ("✕", "critical", "performance", "mae"), shown
    assert {kind for _, _, kind, _ in shown} <= {"performance", "error-rate change"}
    page = texts(at)
    assert "No feature drifts" not in page and "Nothing fails" not in page
    assert "mae **19" in page or "mae **2" in page  # the number beside its threshold
    assert "n = " in page and " labels · since " in page
    assert ("Open the performance view", "model", {
        "model": "delivery-eta", "window": window, "view": "performance"
    }) in links(at)  # fmt: skip
    assert at.segmented_control(key="view").value == "performance"  # the worst signal's view
    assert figure(at, "performance_chart")["data"]

    rows = list(figure(at, "heatmap")["data"][0]["y"])
    assert rows[:3] == ["model (all features)", "performance: mae", "performance: rmse"]
    codes, marked = heatmap_cells(at)
    assert codes[("performance: mae", int(window))] == common.SEVERITIES.index("critical")
    assert marked[f"performance|mae|{window}"] == "critical"  # a click opens its evidence
    label = next(o for o in at.selectbox(key="model_window").options if "✕ critical" in o)
    assert label  # the picker tells the window's overall severity, not only its drift


def test_a_data_quality_only_problem_leads_with_its_rate_and_links_to_the_feature(
    pipeline: Deployment, app_factory: Any
) -> None:
    window = window_of(pipeline, NULLS_AT + WINDOW)
    at = app_factory(pipeline, "model", model="delivery-eta", window=window)
    assert not at.exception
    assert cards(at) == [("✕", "critical", "data quality", "city: missing rate")]
    page = texts(at)
    assert "missing rate **" in page and "threshold 2%" in page and "n = 400 rows" in page
    assert "No feature drifts" not in page
    second_click = [q for label, p, q in links(at) if p == "feature" and label == "Open city"]
    assert second_click == [{"model": "delivery-eta", "feature": "city", "window": window}]
    assert at.segmented_control(key="view").value == "quality"
    assert figure(at, "quality_chart")["data"]
    rows = list(figure(at, "heatmap")["data"][0]["y"])
    assert "data quality: city" in rows and "data quality (all features)" in rows


def test_the_newest_window_shows_every_failing_signal_worst_first(
    pipeline: Deployment, app_factory: Any
) -> None:
    at = app_factory(pipeline, "model", model="delivery-eta")
    assert not at.exception
    shown = cards(at)
    kinds = [kind for _, _, kind, _ in shown]
    assert {"performance", "data quality", "error-rate change"} <= set(kinds)  # both faults
    severities = [common.SEVERITIES.index(s) for _, s, _, _ in shown]
    assert severities == sorted(severities, reverse=True)
    health = pipeline.query().health()["delivery-eta"]
    assert health is not None and health.status == "CRITICAL"
    assert health.since is not None and health.window_start is not None
    assert f"✕ CRITICAL] since {common.stamp(health.since, common.zone(None))}" in texts(at)
    assert at.query_params.get("window") in (
        str(health.window_start), [str(health.window_start)]
    )  # fmt: skip


def test_a_calm_window_says_so_in_one_line(pipeline: Deployment, app_factory: Any) -> None:
    window = window_of(pipeline, 3 * WINDOW)
    at = app_factory(pipeline, "model", model="fraud-detector", window=window)
    assert not at.exception
    assert cards(at) == []
    assert "Nothing fails in this window" in texts(at)


def test_a_card_link_opens_the_view_it_names(pipeline: Deployment, app_factory: Any) -> None:
    window = window_of(pipeline, NULLS_AT + WINDOW)  # a quality window: its default is quality
    at = app_factory(pipeline, "model", model="delivery-eta", window=window, view="labels")
    assert not at.exception
    assert at.segmented_control(key="view").value == "labels"
    assert {m.label for m in at.metric} >= {"Label coverage", "Mean label delay"}
    at.segmented_control(key="view").set_value("history").run()
    assert "Incidents" in texts(at)
