"""Browser-test fixtures: a real ``streamlit run`` server and Debian's Chromium via Playwright.

Never downloads a browser: Chromium comes from Debian's ``chromium`` package at /usr/bin/chromium.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._server import streamlit_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
                 "--disable-component-update", "--disable-sync", "--no-first-run"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1440, "height": 1000}, "accept_downloads": True}


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One app server for the whole browser session (its own empty scenario store)."""
    with streamlit_server("app.py", tmp_path_factory.mktemp("llmcp-home"), log_name="server.log") as url:
        yield url


@pytest.fixture
def shot(page):  # type: ignore[no-untyped-def]
    """Save a full-page screenshot under test-artifacts/ (looked at by a person after changes)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str, height: int = 2600) -> Path:
        # Streamlit scrolls inside its own container, so a full-page shot needs a tall viewport.
        size = page.viewport_size or {"width": 1440, "height": 1000}
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_timeout(800)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        page.set_viewport_size(size)
        return path

    return take
