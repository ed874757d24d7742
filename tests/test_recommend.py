"""Tests of estimator.recommend (GitHub issue 15, part 1): search the catalog, rank exact plans by cost."""

from __future__ import annotations

import json
import math
import os

import plotly.graph_objects as go
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import estimator
from estimator import capacity, catalog, entrypoints
from estimator.__main__ import main
from estimator.errors import EstimatorError
from estimator.recommend import (
    R_ENGINE,
    R_FORMAT,
    R_MEMORY,
    R_NO_INSTANCE,
    REASONS,
    ROW_FIELDS,
    Option,
    Recommendation,
    option_rows,
    pareto_cost_carbon,
    pareto_cost_ttft,
    pareto_front,
    recommend,
)
from estimator.scenario import (
    EngineInputs,
    ModelChoice,
    RecommendInputs,
    Scenario,
    Traffic,
    from_query_params,
    to_query_params,
)
from pages.figures.recommend import cost_carbon_figure, cost_ttft_figure, infeasible_table, options_table

# Issue 15's question: "What does serving Llama-3.1-8B at 10M requests/day cost, and which GPU and cloud is cheapest?"
QUESTION = Scenario(model=ModelChoice(model_id="llama-3.1-8b"), traffic=Traffic(requests_per_day=10_000_000))


def _n(examples: int) -> int:
    """``examples`` for CI; 50 times as many in the long ``pytest --fuzz`` run (as tests/test_fuzz.py)."""
    return examples * 50 if os.environ.get("LLMCP_FUZZ") else examples


@pytest.fixture(scope="module")
def rec() -> Recommendation:
    return recommend(QUESTION)


def _rows(r: Recommendation) -> tuple[Option, ...]:
    return r.options + r.screened


def test_the_question_is_one_call(rec: Recommendation) -> None:
    best = rec.best
    assert best is not None and best.feasible and best.exact
    # the answer names an accelerator, a cloud, a region, an instance, a format and a TP degree
    assert best.hardware_id and best.provider and best.region and best.instance_id and best.weight_dtype
    assert best.tp >= 1
    # nothing planned exactly is cheaper, and no screening estimate undercuts it by more than the screen's error
    assert all(best.monthly_cost_usd <= o.monthly_cost_usd for o in rec.feasible)
    assert best.ttft_p95_s <= QUESTION.slo.ttft_p95_s and best.e2e_p95_s <= QUESTION.slo.e2e_p95_s
    assert rec.options_planned == len(rec.options) and 10 <= rec.options_planned <= 25
    assert rec.options_screened > 500 and rec.layouts_screened > 50


def test_ranking_is_by_monthly_cost(rec: Recommendation) -> None:
    feasible = [o.monthly_cost_usd for o in rec.options if o.feasible]
    assert feasible == sorted(feasible)
    # feasible plans first, then the plans that miss the goals
    flags = [o.feasible for o in rec.options]
    assert flags == sorted(flags, reverse=True)
    screened = [o.monthly_cost_usd for o in rec.screened]
    assert screened == sorted(screened) and not any(o.exact for o in rec.screened)


def test_every_feasible_plan_replans_to_the_same_cost(rec: Recommendation) -> None:
    for o in rec.feasible:
        p = capacity.plan(rec.scenario_for(o))
        assert p.monthly_cost_usd == pytest.approx(o.monthly_cost_usd, rel=1e-12)
        assert p.ttft_p95_s == pytest.approx(o.ttft_p95_s, rel=1e-12)
        assert (p.hardware_id, p.instance_id, p.tp, p.weight_dtype) == (o.hardware_id, o.instance_id, o.tp,
                                                                        o.weight_dtype)
        assert p.co2e_t_per_month == pytest.approx(o.co2e_t_per_month, rel=1e-12)


def test_input_and_output_token_prices_pay_the_whole_bill(rec: Recommendation) -> None:
    """$ per 1M input x input tokens + $ per 1M output x output tokens = the monthly cost (the split's definition)."""
    for o in rec.feasible:
        p = capacity.plan(rec.scenario_for(o))
        month_requests = p.fleet_requests_per_day * 7 * 730 / 168
        total = (o.usd_per_million_input_tokens * month_requests * p.input_tokens_mean / 1e6
                 + o.usd_per_million_output_tokens * month_requests * p.output_tokens_mean / 1e6)
        assert total == pytest.approx(o.monthly_cost_usd, rel=1e-9)
        # decode dominates a 1000-in / 250-out request's replica time, so an output token costs more
        assert o.usd_per_million_output_tokens > o.usd_per_million_input_tokens


def test_excluding_a_cloud_removes_it(rec: Recommendation) -> None:
    cloud = rec.best.provider
    r = recommend(QUESTION, RecommendInputs(exclude_clouds=(cloud,)))
    assert r.best is not None and r.best.provider != cloud
    assert all(o.provider != cloud for o in _rows(r))
    assert r.best.monthly_cost_usd >= rec.best.monthly_cost_usd  # fewer options cannot be cheaper


def test_us_residency_keeps_us_regions_only() -> None:
    r = recommend(QUESTION, RecommendInputs(countries=("us",)))
    rows = _rows(r)
    assert rows and r.best is not None
    for o in rows:
        assert catalog.get_region(f"{o.provider}:{o.region}").country == "US"
        assert all(catalog.get_region(f"{o.provider}:{x}").country == "US" for x in o.other_regions)


def test_accelerators_pricing_and_formats_filter() -> None:
    r = recommend(QUESTION, RecommendInputs(accelerators=("h100-sxm", "l4"), weight_formats=("bf16",),
                                            pricing=("spot",), clouds=("aws", "gcp")))
    rows = _rows(r)
    assert rows
    assert {o.hardware_id for o in rows} <= {"h100-sxm", "l4"}
    assert {o.weight_dtype for o in rows} == {"bf16"} and {o.pricing for o in rows} == {"spot"}
    assert {o.provider for o in rows} <= {"aws", "gcp"}


def test_infeasible_options_are_grouped_by_reason() -> None:
    # Llama-3.1-70B in bf16 is 141.1 GB of weights (facts.md 4.3, from the HF safetensors total): no single
    # 80 GB H100/A100 or 24 GB L4 holds it; one 192 GB MI300X does (90% budget: 172.8 GB)
    s = QUESTION.replace(model=ModelChoice(model_id="llama-3.1-70b"))
    r = recommend(s, RecommendInputs(accelerators=("h100-sxm", "a100-80gb-sxm", "l4", "mi300x"),
                                     weight_formats=("bf16",), max_accelerators=1))
    groups = {g.reason: g for g in r.infeasible}
    assert groups[R_MEMORY].count == 3 and groups[R_MEMORY].label == f"{R_MEMORY} (3 options)"
    assert {o.hardware_id for o in r.rejected if o.reason == R_MEMORY} == {"h100-sxm", "a100-80gb-sxm", "l4"}
    assert {o.hardware_id for o in r.options + r.screened} <= {"mi300x"}
    assert sum(g.count for g in r.infeasible) == len(r.rejected) + sum(1 for o in r.options if not o.feasible)
    assert all(g.reason in REASONS for g in r.infeasible)
    counts = [g.count for g in r.infeasible]
    assert counts == sorted(counts, reverse=True)


def test_one_cloud_groups_the_accelerators_it_lacks() -> None:
    r = recommend(QUESTION, RecommendInputs(clouds=("aws",)))
    aws_hw = {i.hardware_id for i in catalog.list_instances(provider="aws")}
    lacking = [h for h in catalog.list_hardware() if h.hardware_id not in aws_hw]
    groups = {g.reason: g for g in r.infeasible}
    assert groups[R_NO_INSTANCE].count == len(lacking) > 0
    assert groups[R_NO_INSTANCE].label == f"{R_NO_INSTANCE} ({len(lacking)} options)"


def test_engine_constraint_keeps_tensorrt_llm_on_nvidia() -> None:
    s = QUESTION.replace(engine=EngineInputs(name="trtllm"))
    r = recommend(s, RecommendInputs(clouds=("aws", "azure")))
    rows = _rows(r)
    assert rows and all(catalog.get_hardware(o.hardware_id).vendor == "nvidia" for o in rows)
    assert {g.reason for g in r.infeasible} >= {R_ENGINE}


def test_unknown_accelerators_and_clouds_are_reasons_not_errors() -> None:
    r = recommend(QUESTION, RecommendInputs(clouds=("nowhere",)))
    assert r.best is None and r.options == () and r.infeasible
    assert {g.reason for g in r.infeasible} <= set(REASONS)


def test_pareto_front_is_the_non_dominated_set() -> None:
    def opt(cost: float, ttft: float, co2: float, ok: bool = True) -> Option:
        return Option(hardware_id="x", monthly_cost_usd=cost, ttft_p95_s=ttft, co2e_t_per_month=co2, feasible=ok)

    a, b, c, d, e = opt(1, 5, 3), opt(2, 3, 1), opt(3, 4, 2), opt(4, 1, 4), opt(0.5, 0.1, 0.1, ok=False)
    assert pareto_cost_ttft([c, a, d, b, e]) == (a, b, d)  # c is beaten by b on both; e is infeasible
    assert pareto_cost_carbon([c, a, d, b, e]) == (a, b)
    assert pareto_front([], lambda o: o.monthly_cost_usd, lambda o: o.ttft_p95_s) == ()


def test_figures_and_tables(rec: Recommendation) -> None:
    for fig in (cost_ttft_figure(rec), cost_carbon_figure(rec)):
        assert isinstance(fig, go.Figure) and len(fig.data) == 3
        assert fig.layout.xaxis.title.text == "Monthly cost (USD)"
        # log axes labelled 1-2-5 in full ($50k, $100k; 0.2, 0.5 s): plotly's own labels read "5  $100k  2"
        x, y = fig.layout.xaxis, fig.layout.yaxis
        assert x.tickvals and len(x.ticktext) == len(x.tickvals) and all(t.startswith("$") for t in x.ticktext)
        assert all(len(t) > 2 for t in x.ticktext if float(t.strip("$kMB").replace(",", "")) < 10)  # "$5k", not "5"
        assert y.tickvals and all(float(t.replace(",", "")) == v for t, v in zip(y.ticktext, y.tickvals, strict=True))
        xs = [v for tr in fig.data for v in tr.x]
        assert min(x.tickvals) <= min(xs) * 2.5 and max(x.tickvals) >= max(xs) / 2.5
    table = options_table(rec)
    assert {"$ / 1M input tokens", "$ / 1M output tokens", "monthly cost", "p95 TTFT"} <= set(table.columns)
    assert table["monthly cost"].iloc[0].startswith("$") and "," in table["monthly cost"].iloc[0]
    assert len(infeasible_table(rec)) == len(rec.infeasible)


def test_entry_point_is_cached_per_scenario() -> None:
    entrypoints.cache_clear()
    before = entrypoints.calls("recommend")
    s = QUESTION.replace(recommend=RecommendInputs(accelerators=("l4",)))
    r1 = entrypoints.compute("recommend", s)
    r2 = entrypoints.compute("recommend", s)
    assert r1 is r2 and entrypoints.calls("recommend") == before + 1
    assert {o.hardware_id for o in r1.options + r1.screened} == {"l4"}  # the scenario's own constraints apply
    assert estimator.recommend(s).best == r1.best  # the package exports the function under the module's name


def test_constraints_travel_in_links() -> None:
    s = QUESTION.replace(recommend=RecommendInputs(clouds=("aws",), countries=("de", "fr"), max_accelerators=2))
    params = to_query_params(s)
    assert params["rcl"] == ["aws"] and params["rctry"] == ["DE", "FR"] and params["rmaxa"] == "2"
    back, ignored = from_query_params(params)
    assert back == s and ignored == []


def test_cli_json_and_csv(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    link = "?m=llama-3.1-8b&rpd=1e7&rhw=l4&rhw=h100-sxm&rcl=aws"
    assert main(["recommend", link, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert isinstance(rows, list) and rows
    for key in ("hardware_id", "provider", "feasible", "reason", "monthly_cost_usd", "ttft_p95_s", "e2e_p95_s",
                "usd_per_million_input_tokens", "usd_per_million_output_tokens"):
        assert key in rows[0]
    ranked = [r for r in rows if r["rank"] is not None]
    assert ranked and [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    assert [r["monthly_cost_usd"] for r in ranked] == sorted(r["monthly_cost_usd"] for r in ranked)
    assert all(r["provider"] in ("aws", "") for r in rows)
    out = tmp_path / "rec.csv"
    assert main(["recommend", link, "--format", "csv", "--output", str(out)]) == 0
    assert out.read_text().splitlines()[0] == ",".join(ROW_FIELDS)


def test_cli_exits_2_on_invalid_input(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["recommend", "?m=llama-3.1-8b&rpd=-5", "--format", "json"]) == 2
    assert main(["recommend", "?m=no-such-model", "--format", "json"]) == 2
    assert main(["recommend", "/no/such/file.json"]) == 2
    assert "error:" in capsys.readouterr().err


def test_rows_are_finite_or_none(rec: Recommendation) -> None:
    for row in option_rows(rec):
        assert set(row) == set(ROW_FIELDS)
        assert all(not isinstance(v, float) or math.isfinite(v) for v in row.values())


_ids = st.sampled_from(["h100-sxm", "l4", "a10g", "tpu-v5e", "mi300x", "no-such-hw", "cpu-xeon-spr"])
constraints = st.builds(
    RecommendInputs,
    clouds=st.lists(st.sampled_from(["aws", "gcp", "azure", "lambda", "mars"]), max_size=3).map(tuple),
    exclude_clouds=st.lists(st.sampled_from(["aws", "gcp", "azure"]), max_size=2).map(tuple),
    regions=st.lists(st.sampled_from(["us-east-1", "gcp:us-central1", "eu-west-1", "nowhere-9"]),
                     max_size=2).map(tuple),
    pricing=st.lists(st.sampled_from(["on_demand", "spot", "committed_1y", "committed_3y"]), max_size=2).map(tuple),
    accelerators=st.lists(_ids, min_size=1, max_size=3).map(tuple),
    exclude_accelerators=st.lists(_ids, max_size=2).map(tuple),
    max_accelerators=st.integers(0, 64),
    weight_formats=st.lists(st.sampled_from(["bf16", "fp8", "int4", "nvfp4", "mxfp4", "fp4", "q4_k_m", "fp32"]),
                            min_size=1, max_size=3).map(tuple),
    countries=st.lists(st.sampled_from(["US", "de", "JP", "ZZ"]), max_size=2).map(tuple),
    top=st.integers(1, 4),
)


@settings(max_examples=_n(20), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=constraints, rpd=st.floats(1.0, 1e9), model=st.sampled_from(["llama-3.2-1b", "llama-3.1-8b", "mixtral-8x7b"]))
def test_fuzz_constraints_raise_only_estimator_errors(c: RecommendInputs, rpd: float, model: str) -> None:
    s = Scenario(model=ModelChoice(model_id=model), traffic=Traffic(requests_per_day=rpd))
    try:
        r = recommend(s, c)
    except EstimatorError:
        return
    assert all(o.reason in REASONS for o in r.rejected)
    feasible = [o.monthly_cost_usd for o in r.feasible]
    assert feasible == sorted(feasible)


def test_variant_planners_extend_the_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """A technique module (disaggregated, speculative) registers a planner; its rows rank beside the colocated ones."""
    from estimator import recommend as rec_mod

    def half_price(s: Scenario) -> rec_mod.VariantResult:
        p = capacity.plan(s)
        return rec_mod.VariantResult(sections={"engine": EngineInputs(max_seqs=64)},
                                     monthly_cost_usd=p.monthly_cost_usd / 2, ttft_p95_s=p.ttft_p95_s,
                                     e2e_p95_s=p.e2e_p95_s, co2e_t_per_month=p.co2e_t_per_month,
                                     replicas=p.peak_replicas, feasible=True)

    monkeypatch.setitem(rec_mod.VARIANT_PLANNERS, "test-technique", half_price)
    r = recommend(QUESTION, RecommendInputs(accelerators=("l4", "h100-sxm"), clouds=("aws",)))
    variants = [o for o in r.options if o.technique == "test-technique"]
    assert variants and r.best is not None and r.best.technique == "test-technique"
    colocated = [o for o in r.feasible if o.technique == "colocated"]
    assert r.best.monthly_cost_usd == pytest.approx(colocated[0].monthly_cost_usd / 2)
    assert r.scenario_for(r.best).engine.max_seqs == 64
    assert r.scenario_for(colocated[0]).engine.max_seqs is None


def test_screen_ranks_close_to_the_exact_plans(rec: Recommendation) -> None:
    """The vectorized screen only shortlists; still, its monthly cost should be near the queueing model's."""
    ratios = sorted(o.monthly_cost_usd / o.screened_monthly_cost_usd for o in rec.feasible)
    median = ratios[len(ratios) // 2]
    assert 0.8 <= median <= 1.25


def test_constraints_as_a_mapping_and_bad_ones() -> None:
    r = recommend(QUESTION, {"accelerators": ["l4"], "clouds": ["gcp"]})
    assert {(o.hardware_id, o.provider) for o in r.options + r.screened} == {("l4", "gcp")}
    with pytest.raises(EstimatorError):
        recommend(QUESTION, {"max_accelerators": -1})
    with pytest.raises(EstimatorError):
        recommend(QUESTION, {"no_such_field": 1})


def test_spot_and_committed_plans_replan_to_the_same_cost() -> None:
    r = recommend(QUESTION, RecommendInputs(pricing=("spot", "committed_1y", "committed_3y"),
                                            accelerators=("h100-sxm", "l4", "a10g", "a100-80gb-sxm")))
    assert r.feasible and {o.pricing for o in r.feasible} <= {"spot", "committed_1y", "committed_3y"}
    for o in r.feasible:
        assert capacity.plan(r.scenario_for(o)).monthly_cost_usd == pytest.approx(o.monthly_cost_usd, rel=1e-12)


def test_int4_only_where_serving_kernels_exist() -> None:
    # vLLM's quantization "Supported Hardware" table (docs.vllm.ai, v0.9.2): AWQ/GPTQ have no kernels for
    # AMD GPUs, AWS Neuron or Google TPU; they run on NVIDIA GPUs (L4 is Ada)
    r = recommend(QUESTION, RecommendInputs(weight_formats=("int4",),
                                            accelerators=("inferentia2", "tpu-v6e", "mi300x", "l4")))
    no_kernels = {o.hardware_id for o in r.rejected if o.reason == R_FORMAT}
    assert no_kernels == {"inferentia2", "tpu-v6e", "mi300x"}
    assert {o.hardware_id for o in r.options + r.screened} == {"l4"}


@settings(max_examples=_n(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_scenarios_raise_only_estimator_errors(data: st.DataObject) -> None:
    from estimator.scenario import SLO, Autoscaling, TokenLengths

    i_mean = data.draw(st.integers(1, 200_000))
    o_mean = data.draw(st.integers(1, 50_000))
    s = Scenario(
        model=ModelChoice(model_id=data.draw(st.sampled_from(["llama-3.2-1b", "llama-3.1-70b", "mixtral-8x7b"]))),
        traffic=Traffic(requests_per_day=data.draw(st.floats(1e-3, 1e11)),
                        response_cache_hit_rate=data.draw(st.floats(0.0, 0.99)),
                        prefix_cache_hit_rate=data.draw(st.floats(0.0, 0.99))),
        tokens=TokenLengths(input_mean=i_mean, input_p95=i_mean * data.draw(st.integers(1, 5)),
                            output_mean=o_mean, output_p95=min(200_000, o_mean * data.draw(st.integers(1, 4)))),
        slo=SLO(ttft_p95_s=data.draw(st.floats(1e-3, 3600)), e2e_p95_s=data.draw(st.floats(1e-3, 86_400))),
        autoscaling=Autoscaling(min_replicas=0, max_replicas=data.draw(st.integers(1, 10_000)),
                                scale_to_zero=data.draw(st.booleans())),
    )
    try:
        r = recommend(s, RecommendInputs(accelerators=("l4", "h100-sxm", "mi300x"), clouds=("aws", "azure")))
    except EstimatorError:
        return
    for o in r.feasible:
        assert o.monthly_cost_usd is not None and math.isfinite(o.monthly_cost_usd) and o.monthly_cost_usd >= 0
