"""Hostile and overflowing link parameters on every page (issue 11): a message, never an exception,
and the refused value leaves the URL so that a copied link does not carry it on."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from estimator import report
from estimator.scenario import from_query_params

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30

REPRODUCERS = [
    ("memory", {"b": "1e999"}, "b"),
    ("capacity", {"in": "inf"}, "in"),
    ("training", {"n": "1e999"}, "n"),
    ("performance", {"cme": "1e-320"}, "cme"),
    ("training", {"tmode": "model", "tsrc": "custom", "pb": "576286728", "tb": "1e9"}, None),
    ("memory", {"ctx": "1e400", "tp": "7"}, "ctx"),
    ("capacity", {"v": "1", "in": "inf"}, "in"),
    ("performance", {"v": "1", "in": "inf"}, "in"),
    ("variants", {"in": "-1", "out": "nan"}, "in"),
]


@pytest.mark.parametrize(("page", "params", "dropped"), REPRODUCERS)
def test_overflowing_link_values_give_a_message(page: str, params: dict[str, str], dropped: str | None) -> None:
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [w.value for w in at.warning] + [e.value for e in at.error]
    assert shown, "a refused value must be named on the page"
    if dropped:
        assert dropped not in at.query_params  # a corrected page must not keep the refused value in its link


def test_router_drops_refused_values_before_widgets_read_them() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update({"in": "inf", "m": "llama-2-7b"})
    at.run()
    assert not at.exception
    assert dict(at.query_params) == {"m": "llama-2-7b"}
    assert any("in=inf" in w.value for w in at.warning)


@pytest.mark.parametrize("page", ["capacity", "training"])
def test_switching_cloud_selects_its_main_region(page: str) -> None:
    # issue 11: switching the cloud to GCP selected asia-east1, the first region by name
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=TIMEOUT)
    at.run()
    at.selectbox(key="cloud").set_value("gcp").run()
    assert not at.exception and at.selectbox(key="reg").value == "us-central1"
    at.selectbox(key="cloud").set_value("azure").run()
    assert not at.exception and at.selectbox(key="reg").value == "eastus"


@pytest.mark.parametrize("params", [{"m": "llama-3.1-8b", "rpd": "10000000", "hw": "a10g"},
                                    {"prps": "1e7", "vol": "peak_rps"}, {"rpd": "100000000"}])
def test_capacity_page_when_the_fleet_cannot_keep_up(params: dict[str, str]) -> None:
    # issue 11: p95 became inf/NaN, then ModeDemand validation or to_json raised on the page
    at = AppTest.from_file(str(ROOT / "pages" / "capacity.py"), default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("cannot" in w.value or "late" in w.value or "dropped" in w.value for w in at.warning) or any(
        "cannot" in e.value for e in at.error)


def test_performance_page_long_prompts_reach_the_report() -> None:
    # issue 11: with input tokens at 4000 the page showed one result and the CSV/Save used the defaults
    at = AppTest.from_file(str(ROOT / "pages" / "performance.py"), default_timeout=TIMEOUT)
    at.query_params.update({"in": "4000", "out": "1000"})
    at.run()
    assert not at.exception
    assert not any("in=" in w.value or "out=" in w.value for w in at.warning)
    scenario, ignored = from_query_params({"in": "4000", "out": "1000"})
    assert not ignored
    rows = {r.name: r.value for r in report.build_report(scenario, "performance").rows}
    assert rows["tokens.input_mean"] == 4000 and rows["tokens.output_mean"] == 1000


def test_older_yes_no_links_still_tick_the_box() -> None:
    # Links once wrote booleans as 1/0; a bound Streamlit checkbox reads only true/false
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update({"s2z": "1"})
    at.run()
    assert not at.exception
    assert at.checkbox(key="s2z").value is True
    assert at.query_params["s2z"] in ("true", ["true"])
