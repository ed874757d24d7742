"""The landing (capacity) page's speed-ups keep every number (GitHub issue 10: <= 150 ms per rerun).

Each cache or shortcut is checked against the computation it replaces, on scenarios that reach its edges:
``capacity.plan_summary`` against ``capacity.plan``; the recommendation's screen cache against a search with
every cache emptied (including a traffic change that must reach the screen: the prefix-cache hit rate);
``capacity.queue_metrics``' result cache against a fresh computation; the ``serving`` entry point against
``disagg.plan`` and ``speculative.for_plan`` called directly. ``bench/bench_capacity_page.py`` times the page.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from estimator import capacity, disagg, entrypoints, speculative
from estimator import recommend as rec_mod
from estimator.catalog import get_hardware, get_model
from estimator.errors import EstimatorError
from estimator.scenario import SLO, InferenceMode, ModelChoice, Pricing, Scenario, Traffic
from estimator.simulate import replica_model
from estimator.traffic import TokenDistribution
from estimator.units import DType
from pages._recommend import UNREAD_SECTIONS, recommend_scenario

D = Scenario()
ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30


def _with(**traffic: object) -> Scenario:
    return D.replace(traffic=D.traffic.model_copy(update=traffic))


def _realtime(**autoscaling: object) -> Scenario:
    return D.replace(deploy=D.deploy.model_copy(update={"mode": InferenceMode.REALTIME}),
                     autoscaling=D.autoscaling.model_copy(update=autoscaling))


SUMMARY_SCENARIOS = {  # real-time mode takes plan_summary's own path (the search plans its options real-time)
    "default (auto mode)": D,
    "real-time": _realtime(),
    "real-time, overloaded (2 replicas at most)": _realtime(max_replicas=2),
    "real-time, scale to zero": _realtime(scale_to_zero=True, min_replicas=0),
    "small traffic": _with(requests_per_day=20_000.0),
    "async mode": D.replace(deploy=D.deploy.model_copy(update={"mode": InferenceMode.ASYNC})),
    "batch mode": D.replace(deploy=D.deploy.model_copy(update={"mode": InferenceMode.BATCH})),
    "committed pricing": D.replace(deploy=D.deploy.model_copy(update={"pricing": Pricing.COMMITTED_1Y})),
    "8B, prefix cache": Scenario(model=ModelChoice(model_id="llama-3.1-8b"),
                                 traffic=Traffic(requests_per_day=5_000_000, prefix_cache_hit_rate=0.4)),
}


@pytest.mark.parametrize("name", list(SUMMARY_SCENARIOS))
def test_plan_summary_is_the_plans_own_numbers(name: str) -> None:
    s = SUMMARY_SCENARIOS[name]
    p, q = capacity.plan(s), capacity.plan_summary(s)
    assert q.mode == p.mode
    assert q.mode_check == p.mode_check(p.mode)
    # exact equality: the search ranks on these, and re-planning an option must give the same cost
    assert (q.monthly_cost_usd, q.peak_replicas, q.mean_replicas, q.ttft_p95_s, q.e2e_p95_s, q.co2e_t_per_month,
            q.fleet_requests_per_day, q.input_tokens_mean, q.output_tokens_mean) == (
        p.monthly_cost_usd, p.peak_replicas, p.mean_replicas, p.ttft_p95_s, p.e2e_p95_s, p.co2e_t_per_month,
        p.fleet_requests_per_day, p.input_tokens_mean, p.output_tokens_mean)


def test_plan_summary_raises_what_plan_raises() -> None:
    s = D.replace(slo=SLO(ttft_p95_s=0.001, e2e_p95_s=0.01))
    with pytest.raises(EstimatorError) as planned:
        capacity.plan(s)
    with pytest.raises(EstimatorError) as summarized:
        capacity.plan_summary(s)
    assert type(summarized.value) is type(planned.value)
    assert str(summarized.value) == str(planned.value)


def _search(s: Scenario) -> dict[str, object]:
    return rec_mod.recommend(s).model_dump(exclude={"elapsed_s"})


def _cold(s: Scenario) -> dict[str, object]:
    capacity.clear_caches()
    rec_mod.clear_caches()
    return _search(s)


def test_screen_cache_gives_the_cold_search() -> None:
    # the screen cache is filled by the first search; the others reuse it (other volume) or must not (the
    # prefix-cache hit rate is part of the traffic section but changes every layout's screen)
    base = Scenario(model=ModelChoice(model_id="llama-3.1-8b"), traffic=Traffic(requests_per_day=10_000_000))
    rec_mod.clear_caches()
    _search(base)
    for s in (base.replace(traffic=base.traffic.model_copy(update={"requests_per_day": 3_300_000.0})),
              base.replace(traffic=base.traffic.model_copy(update={"prefix_cache_hit_rate": 0.5})),
              base.replace(slo=base.slo.model_copy(update={"ttft_p95_s": 0.4}))):
        warm = _search(s)
        assert warm == _cold(s)


def test_recommendation_rows_replan_to_their_costs() -> None:
    # the rows come from plan_summary: capacity.plan of the row's scenario gives the same cost (the contract)
    rec = rec_mod.recommend(_with(requests_per_day=1_234_567.0))
    for o in rec.feasible[:3]:
        assert capacity.plan(rec.scenario_for(o)).monthly_cost_usd == o.monthly_cost_usd


def test_search_does_not_read_the_sections_its_cache_key_drops() -> None:
    # recommend_scenario resets UNREAD_SECTIONS in the recommendation's key: the search must give the same rows
    # whatever they hold (a variant planner reading scenario.serving, say, would have to take it off the list)
    plain = _with(requests_per_day=3_456_789.0)
    busy = plain.replace(
        name="saved", serving=plain.serving.model_copy(update={"speculative": "eagle3", "disaggregated": True}),
        tco=plain.tco.model_copy(update={"server_price_usd": 123_456.0, "pue": 1.5}),
        kv_tiers=plain.kv_tiers.model_copy(update={"enabled": True, "turns": 8.0}))
    assert {k for k in UNREAD_SECTIONS if getattr(busy, k) != getattr(plain, k)} == {"name", "serving", "tco",
                                                                                    "kv_tiers"}
    a = rec_mod.recommend(plain).model_dump(exclude={"elapsed_s", "scenario"})
    assert rec_mod.recommend(busy).model_dump(exclude={"elapsed_s", "scenario"}) == a
    assert recommend_scenario(busy) == recommend_scenario(plain)


def test_option_scenarios_are_the_validated_ones() -> None:
    # _option_scenario copies the two sections it sets into the validated base (no re-validation): the same
    # scenario as Scenario.replace, which validates the whole of it
    base = _with(requests_per_day=777_777.0)
    rec = rec_mod.recommend(base)
    assert rec.options
    for o in rec.options:
        fast = rec.scenario_for(o)
        model = base.model.model_copy(update={"weight_dtype": DType(o.weight_dtype), "kv_dtype": DType(o.kv_dtype)})
        slow = base.replace(model=model, deploy=fast.deploy)
        assert fast == slow
        assert fast.model_dump_json() == slow.model_dump_json()


def test_queue_metrics_cache_is_a_fresh_computation_and_read_only() -> None:
    rep = replica_model(get_model("llama-3.1-8b"), get_hardware("h100-sxm"), "bf16", tp=1, context_tokens=1250)
    w = capacity.Workload(prompt=TokenDistribution.from_mean_p95(1000, 3000),
                          output=TokenDistribution.from_mean_p95(250, 800))
    loads = np.array([0.5, 1.0, 2.0])
    capacity.clear_caches()
    first = capacity.queue_metrics(rep, loads, w)
    again = capacity.queue_metrics(rep, loads.copy(), w)
    assert again is first  # served from the cache
    capacity.clear_caches()
    fresh = capacity.queue_metrics(rep, loads, w)
    assert fresh is not first
    np.testing.assert_array_equal(fresh.ttft_p95_s, first.ttft_p95_s)
    np.testing.assert_array_equal(fresh.e2e_p95_s, first.e2e_p95_s)
    assert capacity.saturation_rps(rep, w) == first.saturation_rps
    with pytest.raises(ValueError, match="read-only"):
        first.ttft_p95_s[0] = 0.0
    other = capacity.queue_metrics(rep, np.array([0.5, 1.0, 2.5]), w)  # other loads: another key
    assert other.ttft_p95_s[2] != first.ttft_p95_s[2]


def test_serving_entry_point_is_the_direct_computation() -> None:
    entrypoints.cache_clear()
    s = _with(requests_per_day=2_345_678.0)
    before = entrypoints.calls("serving")
    r = entrypoints.compute("serving", s)
    assert entrypoints.compute("serving", s) is r
    assert entrypoints.calls("serving") - before == 1
    plan = entrypoints.compute("capacity", s)
    assert r.disagg == disagg.plan(s, plan)
    assert r.speculative == speculative.for_plan(plan)
    assert r.disagg_error == r.speculative_error == ""


def test_serving_entry_point_keeps_the_techniques_errors() -> None:
    # a prefill pool on an accelerator without bf16: disaggregation fails with a message, speculation is shown
    s = D.replace(serving=D.serving.model_copy(update={"prefill_hardware_id": "v100-sxm2"}))
    r = entrypoints.compute("serving", s)
    plan = entrypoints.compute("capacity", s)
    with pytest.raises(EstimatorError) as direct:
        disagg.plan(s, plan)
    assert r.disagg is None
    assert r.disagg_error == str(direct.value)
    assert "bf16" in r.disagg_error
    assert r.speculative == speculative.for_plan(plan)


@pytest.mark.parametrize(("kind", "key", "value"), [("number_input", "byr", 4.0), ("number_input", "sdk", 5),
                                                     ("toggle", "pd", True)])
def test_page_widgets_the_search_ignores_do_not_search_again(kind: str, key: str, value: object) -> None:
    # a TCO input, the drafted tokens or the disaggregation toggle: the plan and its serving comparison are
    # recomputed (their scenario changed), the catalog search is not (UNREAD_SECTIONS)
    entrypoints.cache_clear()
    at = AppTest.from_file(str(ROOT / "pages" / "capacity.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    before = {p: entrypoints.calls(p) for p in ("capacity", "recommend", "serving")}
    getattr(at, kind)(key=key).set_value(value)
    at.run()
    assert not at.exception, at.exception
    assert {p: entrypoints.calls(p) - before[p] for p in before} == {"capacity": 1, "recommend": 0, "serving": 1}
