"""The training page's lifetime mode in a real browser (issue 16): a capacity plan's traffic goes to it,
and it recommends a smaller-than-Chinchilla model with the numbers that justify it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_capacity_traffic_opens_the_lifetime_mode(page: Page, app_url: str, shot) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{app_url}/?rpd=5000000")
    expect(page.get_by_role("heading", name="Capacity planner")).to_be_visible(timeout=30_000)
    link = page.get_by_role("link", name=re.compile("Size a model for this traffic"))
    expect(link).to_be_visible(timeout=60_000)
    href = link.get_attribute("href") or ""
    assert "lt=true" in href and "rpd=5000000" in href, href
    page.goto(f"{app_url}/{href.lstrip('/')}" if not href.startswith("http") else href)
    expect(page.get_by_role("heading", name="Lifetime: training plus serving")).to_be_visible(timeout=90_000)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    box = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text("Lifetime-optimal size", exact=True))
    expect(box).to_be_visible(timeout=90_000)
    assert "vs Chinchilla" in box.inner_text()
    expect(page.locator('[data-testid="stPlotlyChart"]').last).to_be_visible(timeout=30_000)
    shot("training-lifetime")
