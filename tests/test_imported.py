"""Imported models are first-class (issue 13 part 6): in the Scenario, links, saved scenarios, reports,
the CLI and on every page, the capacity planner included."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from estimator import catalog, entrypoints, hf, imported
from estimator.errors import EstimatorError, InvalidInputError
from estimator.report import build_report, to_csv, to_json
from estimator.scenario import ModelChoice, Scenario, from_query_params, to_query_params, validate_scenario

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30

# Llama-3-8B's published config.json (meta-llama/Meta-Llama-3-8B; facts.md §4.1): 8,030,261,248 parameters
LLAMA3_8B = {
    "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 8192,
    "rope_theta": 500000.0, "tie_word_embeddings": False,
}


def _spec(name: str = "My Llama 3 8B"):
    return imported.canonical(hf.model_from_config(LLAMA3_8B, name=name))


def _scenario(**sections) -> Scenario:
    spec = _spec()
    return Scenario(model=ModelChoice(model_id=spec.model_id, custom=spec), **sections)


def test_content_id_is_stable_and_distinct() -> None:
    a, b = _spec(), _spec()
    assert a.model_id == b.model_id and a.model_id.startswith(imported.PREFIX)
    other = imported.canonical(hf.model_from_config({**LLAMA3_8B, "num_hidden_layers": 31}, name="My Llama 3 8B"))
    assert other.model_id != a.model_id  # one layer less: another architecture, another id


def test_no_catalog_id_uses_the_imported_prefix() -> None:
    assert not [m.model_id for m in catalog.list_models() if imported.is_imported_id(m.model_id)]


def test_imported_model_round_trips_through_a_link() -> None:
    s = _scenario()
    params = to_query_params(s)
    assert set(params) == {"m", "mc"} and len(params["mc"]) < 600  # compact: one short parameter
    back, ignored = from_query_params(params)
    assert ignored == [] and back == s
    assert back.model.custom is not None and back.model.custom.params_total == 8_030_261_248


def test_imported_model_round_trips_through_json() -> None:
    s = _scenario()
    assert validate_scenario(json.loads(s.model_dump_json())) == s


def test_a_catalog_model_choice_drops_the_imported_model() -> None:
    spec = _spec()
    s = Scenario(model=ModelChoice(model_id="llama-2-7b", custom=spec))
    assert s.model.custom is None and to_query_params(s) == {"m": "llama-2-7b"}


def test_an_imported_id_without_its_architecture_is_refused() -> None:
    _, ignored = from_query_params({"m": "imported-x-0123456789"})
    assert ignored and "architecture" in ignored[0]


@pytest.mark.parametrize("raw", ["", "abc", "eJzLSM3JyVcozy_KSQEAGgQEXQ", "A" * 2001, "eJyLjgUAARUAuQ"])
def test_bad_link_values_are_refused_with_a_message(raw: str) -> None:
    _, ignored = from_query_params({"m": "llama-2-7b", "mc": raw})
    assert raw == "" or ignored


def test_implausible_imported_models_are_refused() -> None:
    huge = hf.model_from_config(LLAMA3_8B, name="x").model_copy(update={"d_model": 1 << 20})
    with pytest.raises(InvalidInputError, match="implausibly large"):
        imported.canonical(huge)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_fuzzed_link_values_raise_only_estimator_errors(raw: str) -> None:
    with contextlib.suppress(EstimatorError):
        imported.decode_link(raw)
    from_query_params({"mc": raw})  # never raises


@pytest.mark.parametrize("page", ["capacity", "memory", "performance", "training", "variants"])
def test_every_entry_point_and_report_takes_an_imported_model(page: str) -> None:
    s = _scenario()
    entrypoints.compute(page, s)
    rep = build_report(s, page)
    text = to_csv(rep)
    assert "model.custom.params_total" in text and "8030261248" in text
    assert json.loads(to_json(rep))["scenario"]["model"]["custom"]["d_model"] == 4096


def test_the_capacity_plan_of_an_imported_model_equals_its_catalog_twin() -> None:
    # The imported Llama-3-8B config has the catalog's llama-3.1-8b architecture except the context length
    twin = catalog.get_model("llama-3.1-8b")
    spec = imported.canonical(twin.model_copy(update={"name": "Twin", "model_id": "x"}))
    base = Scenario(model=ModelChoice(model_id="llama-3.1-8b"))
    mine = Scenario(model=ModelChoice(model_id=spec.model_id, custom=spec))
    a, b = entrypoints.compute("capacity", base), entrypoints.compute("capacity", mine)
    assert a.monthly_cost_usd == pytest.approx(b.monthly_cost_usd)
    assert a.devices_per_replica == b.devices_per_replica


def test_cli_reports_a_link_with_an_imported_model(tmp_path: Path) -> None:
    s = _scenario()
    link = "http://localhost:8501/?" + "&".join(f"{k}={v}" for k, v in to_query_params(s).items())
    out = subprocess.run([sys.executable, "-m", "estimator", "report", link, "--format", "json"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["scenario"]["model"]["custom"]["params_total"] == 8_030_261_248


def test_memory_page_import_reaches_the_capacity_planner() -> None:
    # A person imports a config.json on the memory page, then opens the capacity planner (the landing page).
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/memory.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.radio(key="src").set_value("config").run()
    at.text_area(key="cfg_text").set_value(json.dumps(LLAMA3_8B)).run()
    assert not at.exception, [e.value for e in at.exception]
    model_id, code = at.query_params["m"], at.query_params["mc"]
    assert model_id.startswith(imported.PREFIX) and code
    at2 = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at2.query_params.update({"m": model_id, "mc": code})
    at2.run()
    assert not at2.exception, [e.value for e in at2.exception]
    assert at2.selectbox(key="m").value == model_id
    assert not at2.warning or all("ignored" not in w.value for w in at2.warning)
    assert any("Monthly" in m.label or "month" in m.label.lower() for m in at2.metric)


def test_cli_serves_a_config_json(tmp_path: Path) -> None:
    cfg = tmp_path / "my-llama" / "config.json"
    cfg.parent.mkdir()
    cfg.write_text(json.dumps(LLAMA3_8B))
    out = subprocess.run([sys.executable, "-m", "estimator", "report", "?rpd=1e6", "--model-config", str(cfg),
                          "--format", "json"], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    model = json.loads(out.stdout)["scenario"]["model"]
    assert model["model_id"].startswith("imported-my-llama-") and model["custom"]["params_total"] == 8_030_261_248
    bad = subprocess.run([sys.executable, "-m", "estimator", "report", "?rpd=1e6", "--model-config",
                          str(tmp_path / "nope.json")], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert bad.returncode == 2 and "no such config.json" in bad.stderr
