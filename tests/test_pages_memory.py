"""AppTest for the "Model & memory" and "Catalog & sources" pages."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from estimator import entrypoints, memory, report
from estimator.catalog import get_hardware, get_model
from estimator.scenario import Scenario
from tests._apptest import metric, page

TIMEOUT = 30



def test_memory_page_defaults_equal_the_report() -> None:
    at = page("memory")
    at.run()
    assert not at.exception
    assert not at.error
    # The page's defaults are the Scenario's defaults, and the page shows the Report's figures
    # (the same numbers the CSV export and the CLI print).
    rep = report.memory_report(Scenario())
    assert metric(at, "Weights (total)") == f"{rep.value('weights_total_bytes') / 1e9:,.2f} GB"
    assert metric(at, "Per device") == f"{rep.value('per_device_total_bytes') / 1e9:,.2f} GB"
    assert metric(at, "Accelerators needed") == str(rep.value("accelerators_needed"))
    assert metric(at, "Max batch") == f"{rep.value('max_batch'):,}"
    assert metric(at, "Fits?") == "yes"
    assert len(at.get("plotly_chart")) == 3


def test_memory_page_widget_change_updates_numbers() -> None:
    at = page("memory")
    at.run()
    at.selectbox(key="tp").set_value(1).run()
    at.selectbox(key="m").set_value("llama-2-70b").run()
    assert not at.exception
    assert metric(at, "Fits?") == "no"
    assert at.error  # says by how much it misses
    at.selectbox(key="tp").set_value(2).run()
    assert metric(at, "Fits?") == "yes"
    expected = memory.inference_memory(get_model("llama-2-70b"), "bf16", "bf16", 4096, 1,
                                       hardware=get_hardware("h100-sxm"), tp=2)
    assert metric(at, "Per device") == f"{expected.per_device_total_bytes / 1e9:,.2f} GB"


def test_memory_page_context_above_maximum_is_a_message() -> None:
    at = page("memory")
    at.run()
    at.selectbox(key="m").set_value("llama-2-7b").run()
    at.number_input(key="ctx").set_value(100_000).run()
    assert not at.exception
    assert any("exceeds" in e.value and "maximum" in e.value for e in at.error)


def test_memory_page_dtype_the_hardware_cannot_run() -> None:
    at = page("memory")
    at.run()
    at.selectbox(key="hw").set_value("a100-80gb-sxm").run()
    at.selectbox(key="wd").set_value("fp8").run()
    assert not at.exception
    assert any("fp8" in e.value for e in at.error)


def test_memory_page_tp_not_dividing_heads() -> None:
    at = page("memory")
    at.run()
    at.selectbox(key="m").set_value("llama-2-13b").run()
    at.selectbox(key="tp").set_value(16).run()
    assert not at.exception
    assert any("does not divide" in e.value for e in at.error)


def test_memory_page_imported_config() -> None:
    at = page("memory")
    at.run()
    at.radio(key="src").set_value("config").run()
    cfg = {"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
           "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000,
           "max_position_embeddings": 32768, "sliding_window": 4096, "tie_word_embeddings": False}
    at.text_area(key="cfg_text").set_value(json.dumps(cfg)).run()
    assert not at.exception
    assert metric(at, "Weights (total)") == f"{7_241_732_096 * 2 / 1e9:,.2f} GB"
    assert metric(at, "KV cache per token") == "128.0 KiB"


def test_memory_page_bad_config_names_key() -> None:
    at = page("memory")
    at.run()
    at.radio(key="src").set_value("config").run()
    at.text_area(key="cfg_text").set_value('{"model_type": "llama", "hidden_size": 4096}').run()
    assert not at.exception
    assert any("num_hidden_layers" in e.value for e in at.error)


@pytest.mark.parametrize(
    "params",
    [
        {"m": "not-a-model"},
        {"ctx": "-5"},
        {"b": "abc"},
        {"wd": "<script>alert(1)</script>"},
        {"zzz": "1"},
    ],
)
def test_memory_page_bad_url_parameters(params: dict[str, str]) -> None:
    at = page("memory")
    at.query_params.update(params)
    at.run()
    assert not at.exception
    assert at.warning and "ignored" in at.warning[0].value
    assert "<script>" not in at.warning[0].value or "`" in at.warning[0].value
    assert metric(at, "Fits?") == "yes"  # the defaults apply


def test_memory_page_computes_once_per_rerun() -> None:
    entrypoints.cache_clear()
    before = entrypoints.calls("memory")
    at = page("memory")
    at.query_params.update({"m": "llama-3.1-8b", "b": "3"})
    at.run()
    assert not at.exception
    assert entrypoints.calls("memory") == before + 1
    at.run()  # unchanged inputs: no computation
    assert entrypoints.calls("memory") == before + 1
    at.number_input(key="dp").set_value(16).run()  # a training input is part of the same one result
    assert not at.exception
    assert entrypoints.calls("memory") == before + 2


def test_catalog_page() -> None:
    at = page("catalog")
    at.run()
    assert not at.exception
    assert at.dataframe
    at.text_input(key="q").set_value("llama").run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert len(frame) >= 5
    assert frame.astype(str).apply(lambda c: c.str.lower().str.contains("llama")).any(axis=1).all()
    assert frame["model_id"].str.contains("llama").sum() >= 5


def test_app_router() -> None:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Capacity planner"  # the landing page
