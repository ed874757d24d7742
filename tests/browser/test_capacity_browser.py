"""The Capacity planner (landing page) driven in a real browser."""

from __future__ import annotations

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from estimator import capacity
from estimator.formatting import money
from estimator.scenario import Scenario, Traffic
from tests.browser.test_memory_browser import metric_value, wait_idle

pytestmark = pytest.mark.browser


def test_landing_page_answers_the_default_question(page: Page, app_url: str, shot) -> None:  # type: ignore[no-untyped-def]
    # "Llama-3.1-70B, 2M requests/day diurnal 3:1, p95 TTFT 1 s, us-east-1" = the Scenario defaults.
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Capacity planner")).to_be_visible(timeout=30_000)
    wait_idle(page)
    plan = capacity.plan(Scenario())
    assert metric_value(page, "Peak replicas") == f"{plan.peak_replicas:,}"
    assert metric_value(page, "tCO2e / month") == f"{plan.co2e_t_per_month:,.2f}"
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    shot("capacity-default", height=3400)

    rpd = page.get_by_label("Requests per day")
    rpd.fill("200000")
    rpd.press("Enter")
    wait_idle(page)
    small = capacity.plan(Scenario(traffic=Traffic(requests_per_day=200_000)))
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="Peak replicas")).to_contain_text(
        f"{small.peak_replicas:,}", timeout=30_000)
    assert "rpd=200000" in page.url
    assert metric_value(page, "tCO2e / month") == f"{small.co2e_t_per_month:,.2f}"


def test_zero_traffic_is_a_message(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/?rpd=0")
    expect(page.get_by_role("heading", name="Capacity planner")).to_be_visible(timeout=30_000)
    wait_idle(page)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    expect(page.locator('[data-testid="stAlert"]').first).to_be_visible(timeout=30_000)


def test_csv_report_is_the_plan_on_the_page(page: Page, app_url: str) -> None:
    # the CSV is rendered on click from the result the page drew (no second plan)
    page.goto(f"{app_url}/?rpd=500000")
    expect(page.get_by_role("heading", name="Capacity planner")).to_be_visible(timeout=30_000)
    wait_idle(page)
    shown = metric_value(page, "Monthly cost")
    with page.expect_download(timeout=30_000) as dl:
        page.get_by_role("button", name="CSV report").click()
    frame = pd.read_csv(dl.value.path())
    out = frame[frame.section == "output"].set_index("name")["value"]
    assert money(float(out["monthly_cost_usd"])) == shown
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def test_saved_capacity_scenario_opens_on_the_planner(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/capacity?rpd=300000")  # the /capacity form of a link opens the planner at /
    expect(page.get_by_role("heading", name="Capacity planner")).to_be_visible(timeout=30_000)
    wait_idle(page)
    before = metric_value(page, "Monthly cost")
    page.get_by_role("button", name="Save scenario").click()
    page.get_by_label("Name").fill("300k a day")
    page.get_by_role("button", name="Save", exact=True).click()
    message = page.get_by_text("Its short link")
    expect(message).to_be_visible(timeout=30_000)
    sid = message.inner_text().split("?s=")[1].split()[0].strip("`();")
    page.goto(f"{app_url}/training?s={sid}")  # a short link opens the page it was saved from
    expect(page.get_by_role("heading", name="Capacity planner")).to_be_visible(timeout=30_000)
    wait_idle(page)
    assert metric_value(page, "Monthly cost") == before
    assert "rpd=300000" in page.url
