"""AppTest for the "Compare variants" page (pages/variants.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests._apptest import metric, page, with_tab


def _points(at: AppTest) -> pd.DataFrame:
    """The frontier tab's table of points (the first table with a frontier flag)."""
    for df in at.dataframe:
        v = df.value
        if isinstance(v, pd.DataFrame) and {"on_frontier", "label", "score_source"} <= set(v.columns):
            return v
    raise AssertionError("no points table on the page")


def _errors(at: AppTest) -> str:
    return " | ".join(str(e.value) for e in at.error)


def test_defaults_show_the_frontier_of_published_families() -> None:
    at = page("variants")
    at.run()
    assert not at.exception
    assert not at.error, _errors(at)
    assert int(metric(at, "On the frontier")) >= 3
    assert int(metric(at, "Variants × formats shown").replace(",", "")) >= 30
    charts = at.get("plotly_chart")
    assert len(charts) >= 4  # frontier, elastic, three long-context curves
    # issue 15 part 5: the page opens on published families (scores with sources), not the illustrative NLarge
    pts = _points(at)
    labels = set(pts["label"])
    assert {"Llama 3.1 8B", "Gemma 3 4B", "gpt-oss-20b"} <= labels
    assert not any(str(x).startswith("NLarge") for x in labels)
    assert "nlarge-m" in at.multiselect(key="v_models").options  # still selectable
    assert pts["score_source"].str.len().gt(10).all()
    assert pts["score_kind"].str.contains("proxy").any() and pts["score_kind"].str.contains("published").any()
    assert (pts["kind"] == "elastic").any() and (pts["kind"] == "pruned").any() and (pts["kind"] == "distilled").any()


def test_changing_the_axis_and_benchmark_keeps_working() -> None:
    at = page("variants")
    at.run()
    at.selectbox(key="v_x").set_value("ttft_s").run()
    assert not at.exception and not at.error, _errors(at)
    at.selectbox(key="v_bench").set_value("HellaSwag").run()
    assert not at.exception and not at.error, _errors(at)
    pts = _points(at)
    mistral = pts[(pts["label"] == "Mistral 7B v0.1") & (pts["dtype"] == "bf16")]
    assert mistral.iloc[0]["score"] == 81.3  # Mistral 7B paper Table 2, HellaSwag 0-shot


def test_empty_model_selection_is_a_message() -> None:
    at = page("variants")
    at.run()
    at.multiselect(key="v_models").set_value([]).run()
    assert not at.exception
    assert "Choose at least one model" in _errors(at)


def test_empty_accelerator_selection_is_a_message() -> None:
    at = page("variants")
    at.run()
    at.multiselect(key="v_hw").set_value([]).run()
    assert not at.exception
    assert "Choose at least one accelerator" in _errors(at)


def test_nothing_fits_is_a_message() -> None:
    at = page("variants")
    at.run()
    at.multiselect(key="v_models").set_value(["llama-3.1-405b"]).run()
    at.multiselect(key="v_hw").set_value(["t4"]).run()
    at.multiselect(key="v_prune").set_value([]).run()
    at.multiselect(key="v_dist").set_value([]).run()
    at.selectbox(key="v_el").set_value("none").run()
    assert not at.exception
    assert "none fits in memory" in _errors(at)


def test_impossible_latency_limit_is_a_message() -> None:
    at = page("variants")
    at.run()
    at.number_input(key="ttft").set_value(0.001).run()
    assert not at.exception
    assert "none meets the latency limits" in _errors(at)


def test_score_outside_0_100_is_a_message() -> None:
    at = page("variants")
    at.session_state["v_user_rows"] = pd.DataFrame(
        [{"model_id": "nlarge-m", "benchmark": "MMLU", "score": 120.0, "note": "typo"}])
    at.run()
    assert not at.exception
    assert "outside 0-100" in _errors(at)
    assert int(metric(at, "On the frontier")) >= 1  # the page still works, the bad row is ignored


def test_user_score_is_used() -> None:
    at = page("variants")
    at.query_params["v_models"] = ["nlarge-m", "llama-3.1-8b"]  # NLarge is no default since issue 15, but selectable
    at.session_state["v_user_rows"] = pd.DataFrame(
        [{"model_id": "nlarge-m", "benchmark": "MMLU", "score": 55.0, "note": "internal eval"}])
    at.run()
    assert not at.exception and not at.error, _errors(at)
    assert any("Using 1 score" in str(s.value) for s in at.success)
    pts = _points(at)
    row = pts[(pts["label"] == "NLarge-M") & (pts["dtype"] == "bf16")]
    assert not row.empty and row.iloc[0]["score"] == 55.0 and row.iloc[0]["score_kind"] == "user"


def test_bad_link_parameters_warn() -> None:
    at = page("variants")
    at.query_params["v_bench"] = "NOPE"
    at.query_params["v_models"] = ["nlarge-s", "not-a-model"]
    at.run()
    assert not at.exception
    text = " ".join(str(w.value) for w in at.warning)
    assert "v_bench" in text and "not-a-model" in text


def test_send_to_planner_without_the_page_is_a_message() -> None:
    at = page("variants")
    at.run()
    at.button(key="v_send").click().run()
    assert not at.exception
    text = " ".join(str(w.value) for w in at.warning)
    assert "capacity planner page is not available" in text and "m=" in text and "hw=" in text


def test_link_sets_axis_and_distillation_pairs_by_value() -> None:
    # these widgets show labels; the link carries option values (as the scenario does)
    at = page("variants")
    at.query_params["v_x"] = "ttft_s"
    at.query_params["v_dist"] = ["nlarge-m>nlarge-s"]
    at.run()
    assert not at.exception and not at.error, _errors(at)
    assert at.selectbox(key="v_x").value == "ttft_s"
    assert at.multiselect(key="v_dist").value == ["nlarge-m>nlarge-s"]
    at.selectbox(key="v_x").set_value("tpot_s").run()
    assert at.query_params["v_x"] == ["tpot_s"] or at.query_params["v_x"] == "tpot_s"


def test_toolbar_offers_the_report() -> None:
    at = page("variants")
    at.run()
    assert not at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert "CSV report" in labels and "Scenario JSON" in labels


def test_one_computation_per_rerun_and_none_when_nothing_changed() -> None:
    from estimator import entrypoints

    entrypoints.cache_clear()
    at = page("variants")
    before = entrypoints.calls("variants")
    at.run()
    assert not at.exception and not at.error, _errors(at)
    assert entrypoints.calls("variants") == before + 1
    at.run()  # an unchanged rerun: served from the cache
    assert entrypoints.calls("variants") == before + 1
    at.selectbox(key="v_bench").set_value("HellaSwag").run()
    assert not at.exception and not at.error, _errors(at)
    assert entrypoints.calls("variants") == before + 2
    at.selectbox(key="v_lchw").set_value("h100-sxm").run()  # a long-context control is part of the scenario too
    assert entrypoints.calls("variants") == before + 3
    at.selectbox(key="v_eldt").set_value("int4").run()  # picks among the computed comparisons
    assert not at.exception and not at.error, _errors(at)
    assert entrypoints.calls("variants") == before + 3


def test_long_prompts_work_without_p95_inputs_issue_11() -> None:
    # the page has no p95 inputs: a mean above the default p95 (3,000 / 800) must not be refused
    at = page("variants")
    at.query_params["in"] = "4000"
    at.query_params["out"] = "1000"
    at.run()
    assert not at.exception and not at.error, _errors(at)
    assert int(metric(at, "On the frontier")) >= 1
    at.number_input(key="in").set_value(9000).run()
    assert not at.exception and not at.error, _errors(at)
    stale = page("variants")  # a p95 left in the session by another page's input, below the new mean
    stale.session_state["in95"] = 3000
    stale.query_params["in"] = "4000"
    stale.run()
    assert not stale.exception and not stale.error, _errors(stale)


def test_elastic_comparison_at_another_context_runs_on_its_button() -> None:
    from estimator import entrypoints

    at = page("variants")
    at.run()
    n = entrypoints.calls("variants")
    at.number_input(key="v_elctx").set_value(32768).run()
    at.button(key="v_elctx_go").click().run()
    assert not at.exception and not at.error, _errors(at)
    assert entrypoints.calls("variants") == n  # not part of the scenario: no new page computation
    cmp = next(df.value for df in at.dataframe if "approach" in df.value.columns)
    assert set(cmp["approach"]) == {"separate models", "one elastic model"}


def test_long_context_budget_and_empty_choices() -> None:
    at = page("variants")
    at.run()
    at.number_input(key="v_lcb").set_value(0.0).run()
    assert not at.exception and not at.error, _errors(at)
    assert any("nothing published fits this budget" in str(m.value) for m in at.markdown)
    at.multiselect(key="v_lc").set_value([]).run()
    assert not at.exception
    assert any("Choose models and input lengths" in str(i.value) for i in at.info)


@pytest.mark.parametrize(("label", "column"), [("Compression", "score change"), ("Accuracy data & sources", "evaluator")])
def test_widget_free_tabs_are_built_only_while_open(label: str, column: str) -> None:
    """The compression and accuracy tabs hold no widgets: built only while open (the elastic and long-context
    tabs hold scenario widgets and are always built); the page's "How this is computed" stays outside the tabs."""
    at = page("variants")
    at.run()
    assert not any(column in d.value.columns for d in at.dataframe)
    assert any("How this is computed" in e.label for e in at.expander)
    at = with_tab("variants", "var_view", label)
    assert any(column in d.value.columns for d in at.dataframe)
    assert {"v_elhw", "v_lchw", "v_lcd"} <= {w.key for w in at.selectbox}  # the always-built tabs keep their widgets
