"""Lifetime sizing (``estimator.lifetime``): training plus serving, Chinchilla vs lifetime-optimal.

The published anchor is Sardana et al. 2024 (arXiv:2401.00448): with large inference demand the
total-cost optimum is a smaller model trained longer than Chinchilla-optimal (abstract; Figure 1).
The scaling side is pinned to the paper's Figure 1 in tests/test_scaling_inference.py; here the
dollar pipeline is checked for consistency with its own parts (training.estimate, capacity.plan,
shapes.derive_shape) and for the issue's acceptance condition on the default scenario.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimator import capacity, entrypoints, lifetime, scaling, shapes, training
from estimator.errors import EstimatorError
from estimator.report import build_report, to_csv, to_json
from estimator.scenario import Scenario, from_query_params, to_query_params


@pytest.fixture(scope="module")
def default_plan() -> lifetime.LifetimePlan:
    return lifetime.lifetime_plan(Scenario())


def test_default_traffic_recommends_a_smaller_model_with_the_numbers(default_plan: lifetime.LifetimePlan) -> None:
    p = default_plan
    ch, lt = p.chinchilla, p.lifetime
    assert p.smaller_than_chinchilla and lt.params < 0.8 * ch.params
    # the justification: trained longer, costs more to train, less to serve, less in total
    assert lt.tokens_per_param > ch.tokens_per_param
    assert lt.training_cost_usd > ch.training_cost_usd
    assert lt.serving_usd_per_month < ch.serving_usd_per_month
    assert lt.total_usd < ch.total_usd
    assert p.savings_usd == pytest.approx(ch.total_usd - lt.total_usd)
    # both reach the same loss under the fit in force
    for o in (ch, lt):
        assert scaling.chinchilla_loss(o.params, o.tokens, fit=p.fit) == pytest.approx(p.loss, rel=1e-9)
    assert f"{lt.params / 1e9:.3g}B" in p.summary and f"{ch.params / 1e9:.3g}B" in p.summary
    assert p.fit == "epoch2024" and "Besiroglu" in p.fit_source


def test_chinchilla_column_is_the_fits_optimum_for_the_training_budget(default_plan: lifetime.LifetimePlan) -> None:
    p = default_plan
    budget = training.plan_for_scenario(Scenario()).flops
    assert p.budget_flops == pytest.approx(budget)
    n, d = scaling.chinchilla_optimal(budget, approach=3, fit="epoch2024")
    # the derived shape's count is within 1 % of the frontier size, and its tokens reach the same loss
    assert p.chinchilla.params == pytest.approx(n, rel=shapes.PARAMS_TOLERANCE)
    assert p.chinchilla.training_cost_usd == pytest.approx(training.plan_for_scenario(Scenario()).cost_usd, rel=0.03)
    assert p.chinchilla.tokens == pytest.approx(d, rel=0.03)


def test_option_figures_come_from_the_planners(default_plan: lifetime.LifetimePlan) -> None:
    s, o = Scenario(), default_plan.lifetime
    spec = shapes.derive_shape(o.params).spec
    assert spec.params_total == pytest.approx(o.params, rel=1e-9)
    cp = capacity.plan(lifetime.serving_scenario(s), model=spec)
    assert o.serving_usd_per_month == pytest.approx(cp.monthly_cost_usd)
    assert o.peak_replicas == cp.peak_replicas
    months = s.lifetime.lifetime_months
    assert o.lifetime_serving_usd == pytest.approx(cp.monthly_cost_usd * months)
    tr = training.estimate(params=o.params, tokens=o.tokens, **training.scenario_kwargs(s))
    assert o.training_cost_usd == pytest.approx(tr.cost_usd)
    assert o.total_usd == pytest.approx(tr.cost_usd + cp.monthly_cost_usd * months)
    assert o.total_co2e_t == pytest.approx(tr.co2e_t + cp.co2e_t_per_month * months)
    # Sardana et al. eq. 2: 2N FLOPs per inference token
    assert o.inference_flops == pytest.approx(2 * o.params * default_plan.inference_tokens)


def test_inference_tokens_from_traffic() -> None:
    # 2,000,000 requests/day x (1000 + 250) tokens x 365 days (24 months of 365/12 days)
    rpd, per_request, total = lifetime.inference_tokens(Scenario())
    assert rpd == pytest.approx(2e6) and per_request == 1250
    assert total == pytest.approx(2e6 * 1250 * 730)
    grown = Scenario().replace(traffic=Scenario().traffic.model_copy(update={"monthly_growth": 0.1}))
    _, _, total_grown = lifetime.inference_tokens(grown)
    assert total_grown == pytest.approx(total * sum(1.1**m for m in range(24)) / 24)


def test_sweep_is_stacked_and_marks_exact_points(default_plan: lifetime.LifetimePlan) -> None:
    sw = default_plan.sweep
    assert list(sw.params) == sorted(sw.params)
    assert all(math.isclose(t, a + b) for t, a, b in zip(sw.total_usd, sw.training_usd, sw.serving_usd, strict=True))
    assert sum(sw.exact) >= 4
    exact_totals = [t for t, e in zip(sw.total_usd, sw.exact, strict=True) if e]
    assert min(exact_totals) == pytest.approx(default_plan.lifetime.total_usd)
    assert default_plan.chinchilla.params in sw.params


def test_break_even_traffic_is_where_the_totals_cross(default_plan: lifetime.LifetimePlan) -> None:
    p = default_plan
    be = p.break_even_requests_per_day_usd
    assert be is not None and 0 < be < p.requests_per_day
    # serving cost linear in traffic: at the break-even rate the two totals are equal
    scale = be / p.requests_per_day
    ch, lt = p.chinchilla, p.lifetime
    assert ch.training_cost_usd + ch.lifetime_serving_usd * scale == pytest.approx(
        lt.training_cost_usd + lt.lifetime_serving_usd * scale, rel=1e-6)
    assert p.break_even_requests_per_day_flops is not None and p.break_even_requests_per_day_flops > 0


def test_flops_objective_recommends_the_sardana_optimum() -> None:
    s = Scenario().replace(lifetime={"objective": "flops"})
    p = lifetime.lifetime_plan(s)
    opt = scaling.inference_optimal(p.loss, p.inference_tokens, fit=p.fit)
    assert p.lifetime.params == pytest.approx(opt.params, rel=shapes.PARAMS_TOLERANCE)
    assert p.lifetime.params < p.chinchilla.params


def test_little_traffic_keeps_a_model_near_chinchilla() -> None:
    s = Scenario()
    quiet = s.replace(traffic=s.traffic.model_copy(update={"requests_per_day": 1000.0}))
    p = lifetime.lifetime_plan(quiet)
    busy = lifetime.lifetime_plan(s)
    assert p.lifetime.params >= busy.lifetime.params
    assert p.inference_tokens < busy.inference_tokens / 1000


def test_scenario_link_round_trip_and_entry_point() -> None:
    s = Scenario().replace(lifetime={"enabled": True, "lifetime_months": 36.0, "fit": "hoffmann2022_tex"})
    q = to_query_params(s)
    assert q["lt"] and q["ltmo"] and q["ltfit"] == "hoffmann2022_tex"
    back, ignored = from_query_params(q)
    assert back == s and not ignored
    assert entrypoints.entry_point("lifetime").function() is lifetime.lifetime_plan


def test_report_rows(default_plan: lifetime.LifetimePlan) -> None:
    rep = build_report(Scenario(), "lifetime", default_plan)
    assert rep.value("lifetime.params") == default_plan.lifetime.params
    assert rep.value("chinchilla.total_usd") == default_plan.chinchilla.total_usd
    assert rep.value("break_even_requests_per_day_usd") == default_plan.break_even_requests_per_day_usd
    assert "lifetime.params" in to_csv(rep) and "Sardana" in to_json(rep)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    budget=st.floats(min_value=1e3, max_value=1e11),
    rpd=st.floats(min_value=1.0, max_value=1e10),
    months=st.floats(min_value=1.0, max_value=240.0),
    fit=st.sampled_from(["epoch2024", "hoffmann2022", "hoffmann2022_tex"]),
    objective=st.sampled_from(["usd", "flops"]),
    family=st.sampled_from(["llama3", "qwen3"]),
)
def test_any_inputs_give_a_plan_or_an_estimator_error(budget: float, rpd: float, months: float, fit: str,
                                                      objective: str, family: str) -> None:
    s = Scenario()
    s = s.replace(train=s.train.model_copy(update={"budget_usd": budget}),
                  traffic=s.traffic.model_copy(update={"requests_per_day": rpd}),
                  lifetime={"enabled": True, "lifetime_months": months, "fit": fit, "objective": objective,
                            "family": family})
    try:
        p = lifetime.lifetime_plan(s)
    except EstimatorError:
        return
    if objective == "usd":  # whole-instance billing can make a larger model cheaper in dollars, never dearer
        assert p.lifetime.total_usd <= p.chinchilla.total_usd * (1 + 1e-9)
    else:  # eq. 2 never recommends a model larger than Chinchilla's
        assert p.lifetime.params <= p.chinchilla.params * (1 + shapes.PARAMS_TOLERANCE)
    assert p.summary
    assert all(math.isfinite(x) for x in p.sweep.total_usd)
