"""Navigation in a real browser: deep links on a fresh server, every page renders, no tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests._server import streamlit_server

pytestmark = pytest.mark.browser

PAGES = {
    "": "Capacity planner",
    "memory": "Model & memory",
    "performance": "Latency & throughput",
    "training": "Training budget",
    "variants": "Compare variants",
    "scenarios": "Saved scenarios",
    "catalog": "Catalog & sources",
}


def test_deep_link_is_first_request_of_fresh_server(page: Page, tmp_path: Path) -> None:
    # Streamlit runs a fresh server's first request in legacy multipage mode when pages/ exists;
    # the app must still come up with its own navigation (not one entry per file in pages/).
    with streamlit_server("app.py", tmp_path) as url:
        page.goto(f"{url}/performance?m=llama-2-7b")
        expect(page.get_by_role("heading", name="Latency & throughput")).to_be_visible(timeout=30_000)
        _assert_app_navigation(page)
        assert page.get_by_label("Model", exact=True).input_value() == "llama-2-7b"


def _assert_app_navigation(page: Page) -> None:
    """The sidebar lists the app's pages, not one entry per file of pages/ (``_ui``, ``figures``)."""
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav).to_contain_text("Catalog & sources", timeout=30_000)
    expect(nav.locator("a")).to_have_count(len(PAGES), timeout=30_000)
    expect(nav.locator("a")).to_contain_text(list(PAGES.values()))  # these pages, in this order


def test_deep_link_to_function_page_on_fresh_server(page: Page, tmp_path: Path) -> None:
    with streamlit_server("app.py", tmp_path) as url:
        page.goto(f"{url}/training?tmode=model&m=llama-2-70b&tb=2000")
        expect(page.get_by_role("heading", name="Training budget")).to_be_visible(timeout=30_000)
        _assert_app_navigation(page)
        expect(page.get_by_role("heading", name="Llama 2 70B", exact=False).first).to_be_visible(timeout=30_000)
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def test_capacity_link_form_on_fresh_server(page: Page, tmp_path: Path) -> None:
    # the form the README shows for the CLI (/capacity?...) opens the planner, not "Page not found"
    with streamlit_server("app.py", tmp_path) as url:
        page.goto(f"{url}/capacity?m=llama-2-7b&rpd=500000")
        expect(page.get_by_role("heading", name="Capacity planner")).to_be_visible(timeout=30_000)
        _assert_app_navigation(page)
        expect(page.get_by_label("Model", exact=True)).to_have_value("llama-2-7b", timeout=30_000)
        page.wait_for_timeout(1500)
        expect(page.get_by_text("Page not found")).to_have_count(0)
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        assert "rpd=500000" in page.url and "/capacity" not in page.url
        # and again on the warm server, where no legacy multipage run is involved
        page.goto(f"{url}/capacity?m=llama-2-13b")
        expect(page.get_by_label("Model", exact=True)).to_have_value("llama-2-13b", timeout=30_000)
        page.wait_for_timeout(1500)
        expect(page.get_by_text("Page not found")).to_have_count(0)


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_without_exception(page: Page, app_url: str, path: str, shot) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{app_url}/{path}")
    expect(page.get_by_role("heading", name=PAGES[path]).first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1500)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    shot(f"page-{path or 'memory'}", height=3000)


HOSTILE = ("m=%3Cscript%3Ealert(1)%3C%2Fscript%3E&rpd=-1&tp=abc&v_models=zzz&usd=nan&ctx=1e99&prof=1,x"
           "&hw=h100-sxm%27%20OR%201=1&v=99&ttft=inf&b=-3&" + "x" * 50 + "=1")


@pytest.mark.parametrize("path", list(PAGES))
def test_hostile_link_parameters_never_show_a_traceback(page: Page, app_url: str, path: str) -> None:
    page.goto(f"{app_url}/{path}?{HOSTILE}")
    expect(page.get_by_role("heading", name=PAGES[path]).first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1500)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    assert page.locator("script", has_text="alert(1)").count() == 0
