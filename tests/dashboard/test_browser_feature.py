"""The Feature page in a real browser (``tests/dashboard/browser.py``): a shifted numeric feature
on its value axis with its missing rate over time, the switch to its reference bins, a
categorical feature on its bars, and a feature whose data quality degraded, which the page leads
with; screenshots in ``test-artifacts/``."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page

from dashboard.figures import common
from tests.dashboard.browser import settle, shoot
from tests.dashboard.conftest import WINDOW, Deployment

pytestmark = pytest.mark.slow


def chart(page: Page, key: str) -> Locator:
    """The drawn Plotly chart of the element with ``key`` (Streamlit classes it ``st-key-…``)."""
    return page.locator(f".st-key-{key} .js-plotly-plot")


def test_a_shifted_numeric_feature_on_its_value_axis(
    pipeline: Deployment, dashboard_url: str, page: Page
) -> None:
    window = pipeline.shift_window + 2 * WINDOW
    page.goto(f"{dashboard_url}/feature?model=fraud-detector&feature=amount&window={window}")
    settle(page, charts=True)
    values = chart(page, "dist_amount_values")
    assert values.count() == 1
    assert values.get_by_text("share per unit of amount").count() == 1
    assert values.get_by_text("cumulative share").count() == 1
    quality = chart(page, "feature_quality_chart")
    assert quality.count() == 1
    assert quality.get_by_text("missing: reference").count() == 1
    body = page.locator("[data-testid=stMain]").inner_text()
    for hidden in ("__model__", "__prediction__", "None"):
        assert hidden not in body
    assert "drift · psi" in body and "n (non-missing rows)" in body
    shoot(page, "feature-value-axis", full_page=True)

    page.locator(".st-key-dist_amount_view").get_by_text("bins", exact=True).click()
    page.wait_for_selector(".st-key-dist_amount .js-plotly-plot")
    settle(page, charts=True)
    bins = chart(page, "dist_amount")
    assert bins.get_by_text("equal-frequency", exact=False).count() == 1
    shoot(page, "feature-bins")


def test_a_categorical_feature_keeps_its_bars(
    pipeline: Deployment, dashboard_url: str, page: Page
) -> None:
    window = pipeline.shift_window + 2 * WINDOW
    page.goto(f"{dashboard_url}/feature?model=fraud-detector&feature=country&window={window}")
    settle(page, charts=True)
    assert chart(page, "dist_country").count() == 1
    assert chart(page, "dist_country_values").count() == 0
    assert chart(page, "feature_quality_chart").count() == 1
    assert page.locator(".st-key-dist_country_view").count() == 0  # no value axis to choose
    shoot(page, "feature-categorical", full_page=True)


def test_a_data_quality_problem_leads_its_feature_page(
    pipeline: Deployment, dashboard_url: str, page: Page
) -> None:
    query = pipeline.query()
    degraded = [
        (ev.model, v.feature, ev.window_start)
        for model in pipeline.settings.models
        for ev in common.newest_per_window(query.evaluations(model.name))
        for v in ev.quality_verdicts
        if v.severity in common.ACTIVE_SEVERITIES
    ]
    assert degraded, "the pipeline has a data-quality problem (tests/dashboard/conftest.py)"
    model, feature, start = degraded[-1]
    page.goto(f"{dashboard_url}/feature?model={model}&feature={feature}&window={start}")
    settle(page, charts=True)
    body = page.locator("[data-testid=stMain]").inner_text()
    lead = body.index("data quality · ")
    assert lead < body.index("Also in this window") < body.index("Data quality over time")
    assert body.index("Data quality over time") < body.index("Reference vs this window")
    assert "n (rows)" in body and "None" not in body
    assert chart(page, "feature_quality_chart").count() == 1
    shoot(page, "feature-data-quality", full_page=True)


def test_the_model_quality_chart_draws_no_line_red(dashboard_url: str, page: Page) -> None:
    page.goto(f"{dashboard_url}/model?model=delivery-eta&view=quality")
    settle(page, charts=True)
    quality = chart(page, "quality_chart")
    assert quality.count() == 1
    colours = quality.evaluate(  # the lines (a critical window's marker may be red)
        "plot => plot.data.filter(trace => trace.mode !== 'markers').map(trace => trace.line.color)"
    )
    assert colours and common.SEVERITY_COLORS["critical"] not in colours
    assert set(colours) <= set(common.CATEGORY_COLORS)
    quality.scroll_into_view_if_needed()
    shoot(page, "model-quality")
