"""The dashboard in a real browser (``tests/dashboard/browser.py``): every page renders in
headless Chromium without an exception box, with a screenshot in ``test-artifacts/``, and requests
nothing from another host; then the on-call paths, two clicks from the overview to the evidence
whatever fails — a drifting feature, a performance metric, a feature's data quality — and the
model page on a phone.
"""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import Browser, Locator, Page

from tests.dashboard.browser import NARROW, RENDER_MS, Tab, external, settle, shoot
from tests.dashboard.conftest import WINDOW, Deployment

pytestmark = pytest.mark.slow


def test_external_flags_what_leaves_the_machine() -> None:
    assert external(["http://127.0.0.1:8501/", "ws://localhost:1/_stcore/stream"]) == []
    font = "https://fonts.gstatic.com/s/i/short-term/release/materialsymbolsrounded/x/24px.svg"
    assert external([font]) == [font]


def test_every_page_renders_in_chromium(pipeline: Deployment, dashboard_url: str, tab: Tab) -> None:
    page = tab.page
    window = pipeline.shift_window + 2 * WINDOW
    pages = {
        "overview": ("/", False),  # no chart: counts as badges
        "model": ("/model?model=fraud-detector", True),
        "feature": (f"/feature?model=fraud-detector&feature=amount&window={window}", True),
        "alerts": ("/alerts", False),
        "retraining": ("/retraining", False),
    }
    leaving: dict[str, list[str]] = {}
    for name, (path, charts) in pages.items():
        tab.requested()
        page.goto(dashboard_url + path)
        settle(page, charts)
        urls = tab.requested()
        assert urls, name  # the recorder works: the page itself was requested
        if external(urls):
            leaving[name] = external(urls)
        if charts:
            assert page.locator(".js-plotly-plot").count() >= 1
        if name == "feature":
            assert page.get_by_text("Reference vs this window").is_visible()
        shoot(page, name)
    assert not leaving, f"requests to other hosts: {leaving}"


def test_two_clicks_from_the_overview_to_the_drifting_feature(
    dashboard_url: str, page: Page
) -> None:
    page.goto(dashboard_url + "/")
    settle(page, charts=False)
    page.get_by_role("link", name="fraud-detector ·").first.click()  # click 1: the model
    page.wait_for_url("**/model?model=fraud-detector*", timeout=RENDER_MS)
    settle(page, charts=True)
    page.get_by_role("link", name="Open amount").first.click()  # click 2: the drifting feature
    page.wait_for_url("**/feature?*feature=amount*", timeout=RENDER_MS)
    settle(page, charts=True)
    assert page.get_by_text("Reference vs this window").is_visible()
    shoot(page, "two-clicks")


#: Where on the screen the heatmap's newest flagged cell of a row is (its clickable marker).
_FLAGGED_CELL = """(row) => {
  const gd = document.querySelector('.st-key-heatmap .js-plotly-plot');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, size = gd._fullLayout._size;
  let newest = null;
  for (const trace of gd.data.slice(1)) {
    Array.from(trace.y).forEach((y, i) => {
      const x = trace.x[i];
      if (y === row && (newest === null || xa.d2c(x) > xa.d2c(newest))) newest = x;
    });
  }
  if (newest === null) return null;
  const box = gd.getBoundingClientRect();
  return [box.left + size.l + xa.d2p(newest), box.top + size.t + ya.d2p(row)];
}"""


def click_cell(page: Page, row: str) -> None:
    """Click the heatmap's newest flagged cell of ``row`` (a problem: only those are clickable)."""
    page.locator(".st-key-heatmap .js-plotly-plot").scroll_into_view_if_needed()
    at = page.evaluate(_FLAGGED_CELL, row)
    assert at is not None, f"no flagged cell in the row {row!r}"
    page.mouse.click(*at)


def test_clicking_a_heatmap_cell_opens_its_evidence(dashboard_url: str, page: Page) -> None:
    page.goto(dashboard_url + "/model?model=fraud-detector")
    settle(page, charts=True)
    click_cell(page, "amount")  # a feature's drift: its page
    page.wait_for_url("**/feature?*model=fraud-detector*", timeout=RENDER_MS)
    settle(page, charts=True)
    assert page.get_by_text("Reference vs this window").is_visible()
    page.goto(dashboard_url + "/model?model=delivery-eta&view=labels")
    settle(page, charts=True)
    click_cell(page, "performance: mae")  # a metric: the model page's performance view
    page.wait_for_url("**/model?*view=performance*", timeout=RENDER_MS)
    settle(page, charts=True)
    assert chart(page, "performance_chart").count() == 1


def in_first_screen(page: Page, element: Locator) -> bool:
    """Whether ``element`` is on the first screen, without scrolling."""
    box, screen = element.bounding_box(), page.viewport_size
    return box is not None and screen is not None and box["y"] + box["height"] <= screen["height"]


def chart(page: Page, key: str) -> Locator:
    """The drawn Plotly chart of the element with ``key`` (Streamlit classes it ``st-key-…``)."""
    return page.locator(f".st-key-{key} .js-plotly-plot")


def open_from_the_overview(page: Page, dashboard_url: str, model: str) -> None:
    """Click 1: the model's "Needs attention" link on the overview."""
    page.goto(dashboard_url + "/")
    settle(page, charts=False)
    page.get_by_role("link", name=re.compile(f"^{re.escape(model)} ·")).first.click()
    page.wait_for_url(f"**/model?model={model}*", timeout=RENDER_MS)
    settle(page, charts=True)


def test_two_clicks_from_the_overview_to_a_performance_problem(
    dashboard_url: str, page: Page
) -> None:
    open_from_the_overview(page, dashboard_url, "delivery-eta")
    assert "No feature drifts" not in page.locator("[data-testid=stMain]").inner_text()
    first = page.locator(".st-key-signal_0")  # the page leads with the worst signal's card
    assert "performance · mae" in first.inner_text() and "critical" in first.inner_text()
    assert "threshold" in first.inner_text() and "labels · since" in first.inner_text()
    assert first.is_visible() and in_first_screen(page, first)
    shoot(page, "model-performance-problem")
    page.get_by_role("link", name="Open the performance view").first.click()  # click 2
    page.wait_for_url("**view=performance*", timeout=RENDER_MS)
    settle(page, charts=True)
    evidence = chart(page, "performance_chart")
    assert evidence.count() == 1
    evidence.scroll_into_view_if_needed()
    assert evidence.is_visible() and evidence.get_by_text("mae").count() >= 1
    shoot(page, "two-clicks-performance")


def test_two_clicks_from_the_overview_to_a_data_quality_problem(
    dashboard_url: str, page: Page
) -> None:
    open_from_the_overview(page, dashboard_url, "delivery-eta")
    card = page.locator("[class*=st-key-signal_]").filter(has_text="data quality · city")
    assert card.count() == 1 and in_first_screen(page, card)
    card.get_by_role("link", name="Open city").click()  # click 2
    page.wait_for_url("**/feature?*feature=city*", timeout=RENDER_MS)
    settle(page, charts=True)
    evidence = chart(page, "feature_quality_chart")
    assert evidence.count() == 1
    evidence.scroll_into_view_if_needed()
    assert evidence.is_visible()
    shoot(page, "two-clicks-quality")


def test_the_model_page_on_a_phone(dashboard_url: str, browser: Browser) -> None:
    phone = Tab(browser, NARROW).page
    try:
        phone.goto(dashboard_url + "/model?model=delivery-eta")
        settle(phone, charts=True)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= NARROW["width"], width  # the cards wrap: nothing scrolls sideways
        cards = phone.locator("[class*=st-key-signal_]")
        boxes = [cards.nth(i).bounding_box() for i in range(cards.count())]
        assert len(boxes) >= 3
        for above, below in itertools.pairwise(boxes):  # one card per line, all of each shown
            assert above is not None and below is not None
            assert above["x"] + above["width"] <= NARROW["width"]
            assert below["y"] >= above["y"] + above["height"]
        heat = chart(phone, "heatmap")
        ticks = heat.locator(".ytick text, .xtick text")
        rects = [ticks.nth(i).bounding_box() for i in range(ticks.count())]
        rects = [r for r in rects if r is not None]
        assert rects
        for i, a in enumerate(rects):
            for b in rects[i + 1 :]:
                apart = (
                    a["x"] + a["width"] <= b["x"] + 1
                    or b["x"] + b["width"] <= a["x"] + 1
                    or a["y"] + a["height"] <= b["y"] + 1
                    or b["y"] + b["height"] <= a["y"] + 1
                )
                assert apart, (a, b)  # no tick label overlaps another
        shoot(phone, "model-narrow")
        heat.scroll_into_view_if_needed()
        shoot(phone, "model-narrow-heatmap")
    finally:
        phone.context.close()
