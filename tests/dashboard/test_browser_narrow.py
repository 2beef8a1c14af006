"""Every page on a phone (390 px wide, issue 17 item 5) in headless Chromium: it renders without an
exception box, nothing makes the page wider than the screen (tables scroll inside themselves),
Plotly's toolbar never shows over a chart's legend, and the overview's filters wait in an expander.
Screenshots of each whole page land in ``test-artifacts/dashboard-narrow-<page>.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.dashboard.browser import NARROW, Tab, settle, shoot

pytestmark = pytest.mark.slow

#: Sub-pixel rounding of the layout: a page this much wider than the screen still fits.
TOLERANCE_PX = 2
#: The tallest screenshot taken of a page (Chromium's limit is far above; this keeps files small).
SHOT_MAX_PX = 6000
PAGES = {
    "overview": ("/", False),  # no chart: counts as badges
    "model": ("/model?model=fraud-detector", True),
    "feature": ("/feature?model=fraud-detector&feature=amount", True),
    "alerts": ("/alerts", False),
    "retraining": ("/retraining", False),
}
#: What is wider than the screen: the document, and the container the app scrolls in.
WIDTHS = """() => [document.documentElement.scrollWidth,
    document.querySelector('[data-testid=stMain]').scrollWidth]"""
#: Elements sticking out past the screen's right edge (what to fix when the width test fails).
OVERFLOWING = """(limit) => Array.from(document.querySelectorAll('[data-testid=stMain] *'))
    .filter(e => e.getBoundingClientRect().right > limit && e.getClientRects().length)
    .slice(0, 5).map(e => (e.dataset.testid || e.tagName) + ': ' + e.textContent.slice(0, 60))"""


@pytest.fixture(scope="module")
def phone(browser: Any) -> Iterator[Page]:
    """A phone-sized tab for this module's tests."""
    tab = Tab(browser, NARROW)
    yield tab.page
    tab.page.context.close()


def whole_page_shot(page: Page, name: str) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its main container, not the
    document, so the viewport is made as tall as the content for the shot, then restored."""
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": NARROW["width"], "height": min(height, SHOT_MAX_PX)})
    page.wait_for_timeout(500)  # charts redraw at the new size
    shoot(page, name, full_page=True)
    page.set_viewport_size(NARROW)


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_fits_a_phone_without_the_plotly_toolbar(
    name: str, dashboard_url: str, phone: Page
) -> None:
    path, charts = PAGES[name]
    phone.goto(dashboard_url + path)
    settle(phone, charts)
    limit = NARROW["width"] + TOLERANCE_PX
    widths = phone.evaluate(WIDTHS)
    assert max(widths) <= limit, (widths, phone.evaluate(OVERFLOWING, limit))
    if charts:
        chart = phone.locator(".js-plotly-plot").first
        chart.scroll_into_view_if_needed()
        chart.hover()  # Plotly shows its toolbar on hover
        phone.wait_for_timeout(300)
        assert phone.locator(".modebar").count() >= 1  # drawn, so hiding it is what is tested
        assert not any(bar.is_visible() for bar in phone.locator(".modebar").all())
    whole_page_shot(phone, f"narrow-{name}")


def test_the_overviews_filters_wait_in_an_expander_on_a_phone(
    dashboard_url: str, phone: Page
) -> None:
    phone.goto(dashboard_url + "/")
    settle(phone, charts=False)
    filters = phone.locator("[data-testid=stExpander]", has_text="Filter and sort")
    assert filters.count() == 1
    assert not phone.get_by_text("Sort by").is_visible()  # folded: the table follows at once
    filters.get_by_text("Filter and sort").click()
    assert phone.get_by_text("Sort by").is_visible()
    table = phone.locator("[data-testid=stDataFrame]").first
    box = table.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= NARROW["width"]
