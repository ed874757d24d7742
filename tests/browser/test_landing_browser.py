"""The landing page answers first (GitHub issue 15, part 2): at 1440x900, without scrolling, the recommended
plan and its headline metrics are on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from estimator.formatting import duration, money
from estimator.recommend import recommend
from estimator.scenario import Scenario
from pages._recommend import option_title, recommend_scenario
from tests.browser.test_memory_browser import metric_value, wait_idle

pytestmark = pytest.mark.browser

FOLD_PX = 900
HEADLINE_METRICS = ("Cost per month", "$/1M input tokens", "$/1M output tokens", "TTFT, p95",
                    "End-to-end, p95", "t CO2e per month")


def _bottom(page: Page, locator_text: str) -> float:
    box = page.get_by_text(locator_text, exact=True).first.bounding_box()
    assert box is not None, f"{locator_text!r} is not laid out"
    return box["y"] + box["height"]


def test_recommended_plan_is_above_the_fold(page: Page, app_url: str, shot) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 1440, "height": FOLD_PX})
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Capacity planner")).to_be_visible(timeout=30_000)
    wait_idle(page)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    best = recommend(recommend_scenario(Scenario())).best
    assert best is not None
    title = page.get_by_role("heading", name=option_title(best))
    expect(title).to_be_visible(timeout=30_000)
    box = title.bounding_box()
    assert box is not None and box["y"] + box["height"] <= FOLD_PX
    for label in HEADLINE_METRICS:
        metric = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text(label, exact=True)).first
        mbox = metric.bounding_box()
        assert mbox is not None and mbox["y"] + mbox["height"] <= FOLD_PX, f"{label} is below the fold: {mbox}"
    assert metric_value(page, "Cost per month") == money(best.monthly_cost_usd or 0.0)
    assert metric_value(page, "TTFT, p95") == duration(best.ttft_p95_s or 0.0)
    assert _bottom(page, "Use this option") <= FOLD_PX
    shot("landing-above-the-fold", height=FOLD_PX)
    page.set_viewport_size({"width": 1440, "height": FOLD_PX})

    # "Use this option": the detailed plan below becomes the recommended one (same monthly cost)
    page.get_by_role("button", name="Use this option").click()
    wait_idle(page)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    expect(page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text("Monthly cost", exact=True))
           ).to_contain_text(money(best.monthly_cost_usd or 0.0), timeout=30_000)
    assert f"hw={best.hardware_id}" in page.url
    shot("landing-after-use-this-option", height=3000)


def test_result_tabs_open_on_click(page: Page, app_url: str, shot) -> None:  # type: ignore[no-untyped-def]
    """The plan's result views are lazy tabs (pages._ui.lazy_tabs): a click reruns the page and draws the view
    (charts that were not drawn before), and the view it left is no longer built."""
    page.set_viewport_size({"width": 1440, "height": FOLD_PX})
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Capacity planner")).to_be_visible(timeout=30_000)
    wait_idle(page)
    charts = page.locator('[data-testid="stPlotlyChart"]')
    expect(charts).to_have_count(2, timeout=30_000)  # the week view: load and replicas, cost per hour
    expect(page.get_by_text("Load and replicas over the week")).to_have_count(1)
    page.get_by_role("tab", name="Latency and buy vs build").click()
    wait_idle(page)
    expect(page.get_by_text("Load and replicas over the week")).to_have_count(0, timeout=30_000)
    expect(charts).to_have_count(2, timeout=30_000)  # latency and buy vs build now
    page.get_by_role("tab", name="Modes and the reasoning").click()
    wait_idle(page)
    expect(page.get_by_text("The plan, line by line")).to_be_visible(timeout=30_000)
    expect(charts).to_have_count(0)
    page.get_by_role("tab", name="Cost vs p95 TTFT").click()  # the recommendation's own tab group
    wait_idle(page)
    expect(charts).to_have_count(1, timeout=30_000)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    shot("landing-tabs-modes-and-pareto", height=3000)
