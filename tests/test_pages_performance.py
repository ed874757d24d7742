"""AppTest for the "Latency & throughput" page (pages/performance.py)."""

from __future__ import annotations

import pytest

from estimator import entrypoints, report
from estimator.formatting import duration
from estimator.scenario import Scenario, from_query_params
from tests._apptest import metric, page, with_tab


def test_performance_page_defaults() -> None:
    at = page("performance")
    at.run()
    assert not at.exception
    assert not at.error and not at.warning
    rep = report.performance_report(Scenario())
    assert metric(at, "TTFT") == duration(rep.value("ttft_s")) == "104 ms"  # auto TP 2; vLLM on NVIDIA calibrated factors (issue 12)
    assert metric(at, "TPOT") == duration(rep.value("tpot_s")) == "23.6 ms"
    assert metric(at, "Best batch under limits") == "15"
    # result views are lazy tabs (pages._ui.lazy_tabs): the open ones draw the roofline, batch and calibration charts
    assert [c.key for c in at.get("plotly_chart")] == ["fig_roofline", "fig_batch", "fig_calibration"]
    assert "Llama 3.1 70B on 2 × NVIDIA H100 SXM5 80GB (tensor 2) · TP auto" in at.subheader[0].value
    # no metric shows a plain number as a delta arrow; the binding resource is a caption, not a cut-off metric
    assert all(not m.proto.delta for m in at.metric)
    assert any("memory bandwidth" in c.value for c in at.caption)
    assert not any("fitted" in m.value for m in at.markdown)  # no module-level string drawn by Streamlit's magic


@pytest.mark.parametrize(
    "params",
    [
        {"m": "llama-3.1-8b", "wd": "fp8", "tp": "2", "pp": "2", "tpotl": "0", "hw2": "l4"},
        {"m": "mixtral-8x7b", "hw": "h200", "kd": "fp8", "b": "32", "hw2": "none", "ceff": "0.5", "sov": "1"},
        {"m": "llama-3.1-8b", "hw": "a100-80gb-sxm", "in": "6000", "out": "300"},  # input above the default p95
    ],
)
def test_performance_page_link_parameters(params: dict[str, str]) -> None:
    at = page("performance")
    at.query_params.update(params)
    at.run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    for key in ("tp", "pp"):
        if key in params:
            assert str(at.selectbox(key=key).value) == params[key]
    for key in ("b", "in", "out"):
        if key in params:
            assert str(at.number_input(key=key).value) == params[key]


def test_performance_page_no_batch_meets_the_limits() -> None:
    at = page("performance")
    at.query_params.update({"ttft": "0.05", "tpotl": "5"})
    at.run()
    assert not at.exception
    assert metric(at, "Best batch under limits") == "none"
    assert any("no batch meets the limits" in w.value for w in at.warning)


def test_performance_page_does_not_fit_is_a_message() -> None:
    at = page("performance")
    at.query_params.update({"m": "llama-2-70b", "tp": "1"})
    at.run()
    assert not at.exception
    assert any("does not fit" in e.value for e in at.error)
    assert not at.get("plotly_chart")


def test_performance_page_bad_link_parameter_is_a_warning() -> None:
    at = page("performance")
    at.query_params.update({"hw2": "<script>", "b": "abc"})
    at.run()
    assert not at.exception
    assert at.warning and "ignored" in at.warning[0].value
    assert metric(at, "TTFT") == "104 ms"  # the defaults apply


def test_performance_page_computes_once_per_rerun() -> None:
    entrypoints.cache_clear()
    before = entrypoints.calls("performance")
    at = page("performance")
    at.query_params.update({"m": "llama-3.1-8b", "b": "5"})
    at.run()
    assert not at.exception
    n = entrypoints.calls("performance")
    assert n == before + 1  # one computation for the page, its toolbar and its figures
    at.run()  # unchanged inputs: no computation
    assert entrypoints.calls("performance") == n
    at.number_input(key="b").set_value(6).run()  # one change: one computation
    assert not at.exception
    assert entrypoints.calls("performance") == n + 1
    scenario, _ = from_query_params({"m": "llama-3.1-8b", "b": "6"})
    assert metric(at, "TTFT") == duration(report.performance_report(scenario).value("ttft_s"))
    assert entrypoints.calls("performance") == n + 1  # the report rendered the cached result


@pytest.mark.parametrize(("key", "label", "shown"), [
    ("perf_view", "Context length", {"fig_context"}),
    ("perf_view", "Side by side", set()),  # the comparison chart appears once a second accelerator is chosen
    ("perf_cal_view", "Every measurement", set()),
])
def test_each_view_draws_only_its_own_charts(key: str, label: str, shown: set[str]) -> None:
    """Opening a tab (its state set, as a click does) draws its view and drops the default view of its group."""
    at = with_tab("performance", key, label)
    keys = {c.key for c in at.get("plotly_chart")}
    assert shown <= keys
    hidden = {"fig_roofline", "fig_batch"} if key == "perf_view" else {"fig_calibration"}
    assert not (hidden & keys)
    if label == "Side by side":
        assert any("Side by side" in md.value for md in at.markdown)
    if label == "Every measurement":
        assert any("measurement_id" in d.value.columns or "model_id" in d.value.columns for d in at.dataframe)
