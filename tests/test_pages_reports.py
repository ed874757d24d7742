"""Each page shows the same figures as its Report (which the CSV export and the CLI print)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from estimator import report
from estimator.formatting import bytes_gb, duration
from estimator.scenario import Scenario, from_query_params, to_query_params
from tests._apptest import metric, page

ROOT = Path(__file__).resolve().parents[1]


def test_performance_page_equals_report() -> None:
    params = {"m": "llama-2-13b", "hw": "a100-80gb-sxm", "b": "8", "in": "2048", "out": "256"}
    at = page("performance")
    at.query_params.update(params)
    at.run()
    assert not at.exception
    scenario, ignored = from_query_params(params)
    assert not ignored
    rep = report.performance_report(scenario)
    assert metric(at, "TTFT") == duration(rep.value("ttft_s"))
    assert metric(at, "TPOT") == duration(rep.value("tpot_s"))
    assert metric(at, "End-to-end latency") == duration(rep.value("e2e_s"))
    assert metric(at, "Max output tokens/s") == f"{rep.value('max_output_tokens_per_s_per_replica'):,.0f}"
    assert metric(at, "Best batch under limits") == f"{rep.value('best_batch'):,}"
    at.session_state["perf_view"] = "Side by side"  # the comparison is a lazy tab (pages._ui.lazy_tabs)
    at.run()
    table = next(df.value for df in at.dataframe if "accelerator" in df.value.columns)
    assert table["TTFT (ms)"].iloc[0] == rep.value("ttft_s") * 1e3
    assert table["TTFT (ms)"].iloc[1] == rep.value("compare.ttft_s") * 1e3


def test_performance_page_without_a_batch_under_the_limits_equals_report() -> None:
    """No batch meets the limits: the page says "none" with the reason, the report leaves the figures empty
    and carries the reason as a warning (it used to fail)."""
    params = {"ttft": "0.05", "tpotl": "5"}
    at = page("performance")
    at.query_params.update(params)
    at.run()
    assert not at.exception
    scenario, _ = from_query_params(params)
    rep = report.performance_report(scenario)
    assert metric(at, "Best batch under limits") == "none"
    assert rep.value("best_batch") is None
    warning = next(r.value for r in rep.rows if r.name == "best_batch_under_limits")
    assert any(w.value == warning for w in at.warning)
    assert metric(at, "TTFT") == duration(rep.value("ttft_s"))
    json.loads(report.to_json(rep))  # still valid JSON


def test_memory_page_equals_report() -> None:
    params = {"m": "llama-2-13b", "hw": "a100-80gb-sxm", "b": "8", "ctx": "2048", "zero": "2", "dp": "16"}
    at = page("memory")
    at.query_params.update(params)
    at.run()
    assert not at.exception
    scenario, ignored = from_query_params(params)
    assert not ignored
    rep = report.memory_report(scenario)
    assert metric(at, "Per device") == bytes_gb(rep.value("per_device_total_bytes"), 2)
    assert metric(at, "KV cache (total)") == bytes_gb(rep.value("kv_cache_total_bytes"), 2)
    assert metric(at, "Max batch") == f"{rep.value('max_batch'):,}"
    assert metric(at, "Max context") == f"{rep.value('max_context_tokens'):,}"
    assert metric(at, "Per device, ZeRO-2 over 16 ranks, TP 1") == bytes_gb(rep.value("training_per_device_bytes"), 2)
    assert metric(at, "Fewest devices to train") == f"{rep.value('training_min_devices'):,}"


def test_training_page_equals_report() -> None:
    at = page("training")
    at.run()
    assert not at.exception
    rep = report.training_report(Scenario())
    assert metric(at, "Cost") == f"${rep.value('cost_usd'):,.0f}"
    assert metric(at, "Wall clock") == f"{rep.value('wall_clock_days'):,.1f} days"
    assert metric(at, "Emissions (tCO2e)") == f"{rep.value('co2e_kg') / 1000:,.1f}"


def test_every_page_report_is_registered() -> None:
    assert {"memory", "performance", "training", "variants"} <= set(report.REPORTS)
    for page_id, builder in report.REPORTS.items():
        rep = builder(Scenario())
        assert rep.page == page_id and rep.outputs()


def _variants_points(at: AppTest) -> pd.DataFrame:
    for df in at.dataframe:
        v = df.value
        if isinstance(v, pd.DataFrame) and {"on_frontier", "label", "score_source"} <= set(v.columns):
            return v
    raise AssertionError("no points table on the variants page")


def _assert_variants_page_equals_report(at: AppTest, rep: report.Report) -> None:
    assert metric(at, "Configurations evaluated") == f"{rep.value('configurations_evaluated'):,}"
    assert metric(at, "Variants × formats shown") == f"{rep.value('points_shown'):,}"
    assert metric(at, "On the frontier") == f"{rep.value('frontier_points')}"
    page = _variants_points(at)
    page = page[page["on_frontier"]]
    n = rep.value("frontier_points")
    assert len(page) == n > 0
    # points tied on the x-axis may come in either order: compare the sets of frontier points
    cols = ["label", "dtype", "tp", "batch", "score", "cost_usd_per_1m_tokens", "tpot_s", "score_source"]
    on_page = sorted((str(r["label"]), str(r["dtype"]), int(r["tp"]), int(r["batch"]), float(r["score"]),
                      float(r["cost_usd_per_1m_tokens"]), float(r["tpot_s"]), str(r["score_source"]))
                     for r in page[cols].to_dict("records"))
    sources = {r.name: r.source for r in rep.rows if r.section == "source"}
    in_report = sorted((rep.value(f"{p}.label"), rep.value(f"{p}.dtype"), rep.value(f"{p}.tp"),
                        rep.value(f"{p}.batch"), rep.value(f"{p}.accuracy"), rep.value(f"{p}.cost_usd_per_1m_tokens"),
                        rep.value(f"{p}.tpot_s"), sources[f"score:{p}"])
                       for p in (f"frontier_{i:02d}" for i in range(1, n + 1)))
    assert on_page == in_report

def test_variants_page_equals_report() -> None:
    at = page("variants")
    at.run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    _assert_variants_page_equals_report(at, report.variants_report(Scenario()))


def test_variants_page_link_with_repeated_parameters_equals_report() -> None:
    params = {"v_models": ["nlarge-s", "llama-3.1-8b", "mistral-7b"], "v_hw": ["h100-sxm", "l4"],
              "v_x": "ttft_s", "v_dt": ["bf16", "int4"], "in": "512", "ttft": "2"}
    at = page("variants")
    at.query_params.update(params)
    at.run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.multiselect(key="v_models").value == params["v_models"]
    scenario, ignored = from_query_params(params)
    assert not ignored
    # the link round-trips through the scenario unchanged (lists stay repeated parameters)
    assert to_query_params(scenario) == {**params, "in": "512", "ttft": "2"}
    assert from_query_params(to_query_params(scenario)) == (scenario, [])
    _assert_variants_page_equals_report(at, report.variants_report(scenario))


def test_variants_cli_with_repeated_parameters() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "estimator", "report", "?v_models=nlarge-s&v_models=llama-3.1-8b", "--page", "variants",
         "--format", "csv"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(io.StringIO(res.stdout))
    assert list(frame.columns) == ["section", "name", "value", "unit", "source", "as_of"]
    rows = frame.set_index("name")
    assert rows.loc["variants.model_ids", "value"] == "nlarge-s,llama-3.1-8b"  # both values, not just the last
    assert int(rows.loc["frontier_points", "value"]) >= 1
    scenario, _ = from_query_params({"v_models": ["nlarge-s", "llama-3.1-8b"]})
    assert res.stdout == report.to_csv(report.variants_report(scenario))
