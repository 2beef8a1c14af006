"""The dashboard in a real browser (``tests/dashboard/browser.py``): every page renders in
headless Chromium without an exception box, with a screenshot in ``test-artifacts/``, and requests
nothing from another host; then the on-call path: overview, model, drifting feature (two clicks).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.dashboard.browser import RENDER_MS, Tab, external, settle, shoot
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
        "overview": ("/", True),
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
    settle(page, charts=True)
    page.get_by_role("link", name="fraud-detector ·").first.click()  # click 1: the model
    page.wait_for_url("**/model?model=fraud-detector*", timeout=RENDER_MS)
    settle(page, charts=True)
    page.get_by_role("link", name="amount: psi").first.click()  # click 2: the drifting feature
    page.wait_for_url("**/feature?*feature=amount*", timeout=RENDER_MS)
    settle(page, charts=True)
    assert page.get_by_text("Reference vs this window").is_visible()
    shoot(page, "two-clicks")


def test_clicking_a_heatmap_cell_opens_its_evidence(dashboard_url: str, page: Page) -> None:
    page.goto(dashboard_url + "/model?model=fraud-detector")
    settle(page, charts=True)
    cells = page.locator(".js-plotly-plot").first.locator(".nsewdrag").first.bounding_box()
    assert cells is not None
    page.mouse.click(cells["x"] + cells["width"] * 0.8, cells["y"] + cells["height"] * 0.5)
    page.wait_for_url("**/feature?*model=fraud-detector*", timeout=RENDER_MS)
    settle(page, charts=True)
    assert page.get_by_text("Reference vs this window").is_visible()
