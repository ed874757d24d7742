"""Shared helpers for the page tests (Streamlit's AppTest): open a page file, read a metric.

AppTest resolves a relative path from the calling test file; these helpers use absolute paths under the
repository's ``pages/`` instead, so any test module can open any page. The 3 s default timeout is too short for
a page's first run (the catalog loads and the entry point computes), hence ``TIMEOUT``.
"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30
"""Seconds an AppTest run may take (the house rule for page tests)."""


def page(name: str, timeout: float = TIMEOUT, **params: str) -> AppTest:
    """An AppTest of ``pages/<name>.py`` with the given query parameters (a shared link's ``key=value``)."""
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=timeout)
    for key, value in params.items():
        at.query_params[key] = value
    return at


def metric(at: AppTest, label: str) -> str:
    """The displayed value of the metric labelled ``label``; fails the test, listing the labels, if none."""
    for m in at.metric:
        if m.label == label:
            return str(m.value)
    raise AssertionError(f"no metric {label!r}; have {[m.label for m in at.metric]}")


def with_tab(name: str, key: str, label: str, **params: str) -> AppTest:
    """``pages/<name>.py`` after its first run and a second with the lazy tab group ``key`` on ``label`` (what
    clicking the tab does: ``pages._ui.lazy_tabs``); fails the test if either run raised."""
    at = page(name, **params)
    at.run()
    at.session_state[key] = label
    at.run()
    if at.exception:
        raise AssertionError([e.value for e in at.exception])
    return at
