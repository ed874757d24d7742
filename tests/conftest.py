"""Shared test set-up: the repository root on ``sys.path`` (pages import ``pages._ui``)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


import os  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Hypothesis budgets: "ci" keeps the whole suite's property tests to about two minutes on two
# cores; "fuzz" (``pytest --fuzz``) is the long run. The fuzz tests (tests/test_fuzz.py) set
# their own counts and multiply them by 50 when LLMCP_FUZZ is set.
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fuzz", action="store_true", default=False,
                     help="run the property and fuzz tests with the large 'fuzz' Hypothesis profile")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--fuzz"):
        os.environ["LLMCP_FUZZ"] = "1"
        settings.load_profile("fuzz")
    else:
        settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _private_scenario_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test saves scenarios into its own empty data directory, never the user's."""
    monkeypatch.setenv("LLMCP_HOME", str(tmp_path_factory.mktemp("llmcp-home")))
