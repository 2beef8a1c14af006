"""The overview on a desktop screen (1400 px, issue 17 item 3) in headless Chromium: the key columns
are all in view without scrolling, health cells read as a glyph and a word, and each unhealthy
model's why is on the page whole. Screenshot: ``test-artifacts/dashboard-overview-1400.png``.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from dashboard.figures import common, health
from tests.dashboard.browser import RENDER_MS, WIDE, settle, shoot
from tests.dashboard.conftest import Deployment

pytestmark = pytest.mark.slow

#: The key columns' headers, left to right (``app_pages/overview.py``, ``KEY_COLUMNS``).
KEY_HEADERS = [
    "model",
    "health",
    "why",
    "since",
    "trend",
    "owner",
    "labels",
    "label delay",
    "dead",
    "last event",
    "reference",
]


def test_key_columns_fit_at_1400_px_and_health_reads_in_glyphs(
    dashboard_url: str, page: Page
) -> None:
    page.goto(dashboard_url + "/")
    settle(page, charts=False)
    grid = page.locator("[data-testid=stDataFrame]").first
    grid.locator("th").first.wait_for(state="attached", timeout=RENDER_MS)  # drawn after the run
    box = grid.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDE["width"]
    scroller = grid.locator(".dvn-scroller")
    assert scroller.evaluate("e => e.scrollLeft") == 0  # as the page opens
    # The grid draws on a canvas; its accessible table holds only the columns in view (a column
    # partly in view included). So when the column after the key ones is there too, every key
    # column lies wholly inside the view.
    headers = grid.locator("th").all_inner_texts()
    assert headers[: len(KEY_HEADERS)] == KEY_HEADERS, headers
    assert len(headers) > len(KEY_HEADERS), headers
    assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")  # the rest: scroll right

    rows = grid.locator("tbody tr").all()
    assert len(rows) == 3
    statuses = {health.health_text(s) for s in health.HEALTH_ORDER}
    for row in rows:
        cell = row.locator("td").nth(1).inner_text()
        assert cell in statuses, cell  # "✕ CRITICAL", not a colour alone
    shoot(page, "overview-1400")


def test_every_unhealthy_models_why_is_on_the_page_whole(
    pipeline: Deployment, dashboard_url: str, page: Page
) -> None:
    page.goto(dashboard_url + "/")
    settle(page, charts=False)
    stored = pipeline.query().status()
    reasons = [
        health.readable(reason)
        for s in stored
        if s.health is not None and s.health.status in ("WARN", "CRITICAL")
        for reason in s.health.reasons
    ]
    longest = max(reasons, key=len)
    assert len(longest) > 100  # longer than the table's cell shows
    for reason in reasons:
        assert page.get_by_text(reason, exact=True).first.is_visible(), reason
    links = page.get_by_role("link", name="fraud-detector ·")
    assert "since" in links.first.inner_text()
    page.get_by_text("Why, in full").click()
    full = page.locator("[data-testid=stExpander]", has_text="Why, in full")
    assert common.baseline_hint("churn") in full.inner_text()  # the model without a reference
    shoot(page, "overview-1400-why")


def test_streamlits_primary_colour_does_not_look_like_an_alarm(
    dashboard_url: str, page: Page
) -> None:
    """Red means critical only: the theme's primary colour (chips, toggles, primary buttons) is
    not Streamlit's default red (``dashboard/.streamlit/config.toml``)."""
    page.goto(dashboard_url + "/")
    settle(page, charts=False)
    page.get_by_text("Filter and sort").click()
    page.wait_for_timeout(500)  # the expander's opening animation
    page.get_by_role("combobox", name="Owner").click()
    page.get_by_role("option", name="growth@example.com").click()
    page.keyboard.press("Escape")
    settle(page, charts=False)
    tags = page.locator("[data-testid=stMultiSelectTagsContainer]").first
    painted = tags.evaluate(
        """e => Array.from(e.querySelectorAll('*')).map(c => getComputedStyle(c).backgroundColor)
            .filter(c => c.startsWith('rgb(')).map(c => c.slice(4, -1).split(',').map(Number))"""
    )
    assert painted, "no chip drawn"
    for red, green, blue in painted:
        assert not red > 1.5 * max(green, blue), (red, green, blue)
    shoot(page, "overview-1400-chip")
