"""An imported config.json goes through the capacity planner, in a real browser (issue 13 part 6)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# Llama-3-8B's published config.json fields (meta-llama/Meta-Llama-3-8B; shared/reference/facts.md §4.1)
LLAMA3_8B = {
    "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 8192,
}


def wait_idle(page: Page) -> None:
    page.wait_for_timeout(300)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=30_000)


def test_import_config_then_plan_capacity(page: Page, app_url: str, shot) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{app_url}/memory?src=config")
    expect(page.get_by_role("heading", name="Model & memory")).to_be_visible(timeout=30_000)
    area = page.get_by_label("…or paste it")
    area.fill(json.dumps(LLAMA3_8B))
    area.press("Control+Enter")
    expect(page.get_by_text("It is now the model on every page")).to_be_visible(timeout=30_000)
    wait_idle(page)
    assert "mc=" in page.url and "m=imported-" in page.url, page.url
    shot("imported-memory")
    # the landing page (capacity planner) through the sidebar navigation
    page.get_by_role("link", name="Capacity planner").first.click()
    expect(page.get_by_role("heading", name="Capacity planner")).to_be_visible(timeout=30_000)
    wait_idle(page)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    expect(page.get_by_text("8.03B parameters").first).to_be_visible(timeout=30_000)
    assert "mc=" in page.url, page.url  # the link still reproduces the page
    shot("imported-capacity")
