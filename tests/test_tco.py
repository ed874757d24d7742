"""Rent vs buy vs API (estimator.tco): formulas pinned to published numbers, the comparison's internal
consistency, the capacity report's rows and the capacity page's section."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from estimator import capacity, modes, report, tco
from estimator.formatting import money
from estimator.scenario import Scenario, TcoInputs, from_query_params, to_query_params


@cache
def _default_plan() -> capacity.CapacityPlan:
    return capacity.plan(Scenario())


@pytest.fixture(scope="module")
def plan() -> capacity.CapacityPlan:
    return _default_plan()


def _with(plan: capacity.CapacityPlan, **tco_inputs: float) -> capacity.CapacityPlan:
    """The same plan with other TCO inputs (the capacity plan itself does not read them)."""
    return plan.model_copy(update={"scenario": plan.scenario.replace(tco=TcoInputs(**tco_inputs))})


# ----------------------------------------------------------------------------- formulas


@pytest.mark.parametrize(("rate", "years", "published"), [
    # engineersedge.com "Capital Recovery Factors Formula and Calculator", Table 1.0 (annual factors)
    (0.08, 4, 0.30192), (0.10, 10, 0.16275), (0.06, 2, 0.54544), (0.035, 18, 0.07582),
])
def test_capital_recovery_factor_matches_the_published_table(rate: float, years: int, published: float) -> None:
    assert tco.capital_recovery_factor(rate, years) == pytest.approx(published, abs=5e-6)


def test_capital_recovery_factor_at_zero_interest_is_straight_line() -> None:
    # textbook limit: CRF(0, n) = 1/n, so the payment on P is P/n (straight-line depreciation)
    assert tco.capital_recovery_factor(0.0, 60) * 300_000 == pytest.approx(300_000 / 60)
    # and the factor approaches it continuously from above
    assert tco.capital_recovery_factor(1e-9, 60) == pytest.approx(1 / 60, rel=1e-6)
    assert tco.capital_recovery_factor(1e-4, 60) > 1 / 60


def test_annuity_factor_inverts_the_capital_recovery_factor() -> None:
    # PV of n level payments of CRF is exactly 1 (the definition of the CRF)
    for i, n in ((0.08 / 12, 60), (0.0, 36), (0.01, 7)):
        assert float(tco.annuity_factor(i, n)) * tco.capital_recovery_factor(i, n) == pytest.approx(1.0)


def test_monthly_rate_and_bad_inputs() -> None:
    assert tco.monthly_rate(0.12) == pytest.approx(0.01)
    with pytest.raises(tco.InvalidInputError):
        tco.monthly_rate(-0.01)
    with pytest.raises(tco.InvalidInputError):
        tco.capital_recovery_factor(0.01, 0)


def test_power_and_colocation_arithmetic() -> None:
    # 1 MWh of IT energy at PUE 1.58 (Uptime 2023) and 8.95 c/kWh (EIA 2023, Virginia commercial)
    assert tco.power_usd_per_month(1000.0, 1.58, 0.0895) == pytest.approx(141.41)
    # one 8 x H100 node at its 8.4 kW maximum (Latif et al. 2024) at CBRE's H2 2024 $184.06/kW-month
    assert tco.colocation_usd_per_month(8.4, 184.06) == pytest.approx(1546.104)
    assert tco.operations_usd_per_month(1.2e6, 0.1) == pytest.approx(10_000.0)


def test_servers_needed() -> None:
    assert tco.servers_needed(6, 4, 8) == 3  # two 4-GPU replicas per 8-GPU server
    assert tco.servers_needed(5, 3, 8) == 3  # 3 + 3 fit, the rest idles
    assert tco.servers_needed(3, 16, 8) == 6  # a 16-GPU replica spans two servers
    assert tco.servers_needed(0, 4, 8) == 0


# ----------------------------------------------------------------------------- data


def test_every_default_and_server_price_has_provenance() -> None:
    d = tco.defaults()
    assert set(tco._FIELDS) <= set(d)
    assert all(r.source and r.as_of for r in d.values())
    assert d["pue"].value == pytest.approx(1.58)  # Uptime Institute 2023 industry average
    assert d["colocation_usd_per_kw_month"].value == pytest.approx(184.06)  # CBRE H2 2024
    rows = tco.server_prices()
    assert rows and all(s.source and s.as_of for s in rows)
    assert all(s.notes.startswith("assumed:") for s in rows if s.assumed)  # each estimate says why
    for hw in {s.hardware_id for s in rows}:
        assert tco.default_server(hw) is not None


def test_tco_inputs_travel_in_the_link() -> None:
    s = Scenario().replace(tco={"server_price_usd": 250_000.0, "pue": 1.2, "cost_of_capital": 0.0})
    back, ignored = from_query_params(to_query_params(s))
    assert not ignored and back.tco == s.tco
    bad, ignored = from_query_params({"bpue": "0.5"})
    assert bad.tco.pue is None and ignored


# ----------------------------------------------------------------------------- the comparison


def test_monthly_tco_lines(plan: capacity.CapacityPlan) -> None:
    t = tco.compare(plan)
    d = tco.defaults()
    server = tco.default_server(plan.hardware_id)
    assert t.available and server is not None
    assert t.servers == tco.servers_needed(max(plan.replicas), plan.devices_per_replica, server.accelerators)
    assert t.capex_usd == pytest.approx(t.servers * server.price_usd)
    n = 12 * d["depreciation_years"].value
    assert t.capex_usd_per_month == pytest.approx(
        t.capex_usd * tco.capital_recovery_factor(d["cost_of_capital"].value / 12, n))
    assert t.power_usd_per_month == pytest.approx(
        t.it_energy_kwh_per_month * d["pue"].value * d["electricity_usd_per_kwh"].value)
    assert t.colocation_usd_per_month == pytest.approx(t.provisioned_kw * d["colocation_usd_per_kw_month"].value)
    assert t.monthly_tco_usd == pytest.approx(t.capex_usd_per_month + t.power_usd_per_month
                                              + t.colocation_usd_per_month + t.operations_usd_per_month)
    # the owned fleet draws at least what the autoscaled fleet's accelerators draw (before PUE) and at most
    # every owned accelerator at full load
    assert t.it_energy_kwh_per_month <= t.provisioned_kw * 730 + 1e-6
    assert t.it_energy_kwh_per_month >= plan.energy_kwh_per_month / 1.2 - 1e-6  # region PUE 1.14 (AWS) < 1.2


def test_user_inputs_override_the_defaults(plan: capacity.CapacityPlan) -> None:
    base = tco.compare(plan)
    t = tco.compare(_with(plan, server_price_usd=100_000.0, electricity_usd_per_kwh=0.2, pue=1.1,
                          cost_of_capital=0.0, depreciation_years=4.0))
    assert t.capex_usd == pytest.approx(t.servers * 100_000.0)
    assert t.capex_usd_per_month == pytest.approx(t.capex_usd / 48)  # r = 0: P / n
    assert t.power_usd_per_month == pytest.approx(t.it_energy_kwh_per_month * 1.1 * 0.2)
    assert t.it_energy_kwh_per_month == pytest.approx(base.it_energy_kwh_per_month)
    assert len(t.months) == 49
    assert {r.parameter for r in t.inputs if r.user_set} == {"electricity_usd_per_kwh", "pue", "cost_of_capital",
                                                             "depreciation_years"}


def test_break_even_matches_the_curves(plan: capacity.CapacityPlan) -> None:
    for inputs in ({}, {"cost_of_capital": 0.0}, {"server_price_usd": 50_000.0}, {"server_price_usd": 2e6}):
        t = tco.compare(_with(plan, **inputs))
        buy = np.asarray(t.curves[t.options[0].option])
        assert buy[0] == pytest.approx(t.capex_usd)
        for row in t.options[1:]:
            other = np.asarray(t.curves[row.option])
            m = row.break_even_month
            if m is None:
                assert np.all(buy[1:] > other[1:])
                # never within the life <=> the level monthly TCO is above the option's monthly cost
                assert t.monthly_tco_usd >= row.monthly_usd * (1 - 1e-9)
            else:
                assert buy[m] <= other[m] * (1 + 1e-9) and np.all(buy[1:m] > other[1:m])
                assert t.monthly_tco_usd <= row.monthly_usd * (1 + 1e-9)


def test_break_even_at_zero_interest_is_simple_payback(plan: capacity.CapacityPlan) -> None:
    t = tco.compare(_with(plan, cost_of_capital=0.0))
    opex = t.power_usd_per_month + t.colocation_usd_per_month + t.operations_usd_per_month
    for row in t.options[1:]:
        if row.monthly_usd > opex:
            payback = math.ceil(t.capex_usd / (row.monthly_usd - opex) - 1e-9)
            assert row.break_even_month == (payback if payback <= len(t.months) - 1 else None)


def test_price_sheet_reproduces_the_monthly_costs(plan: capacity.CapacityPlan) -> None:
    t = tco.compare(plan)
    for row in t.options:
        assert row.input_usd_per_mtok is not None and row.output_usd_per_mtok is not None
        assert row.cached_input_usd_per_mtok is not None
        rebuilt = (t.input_tokens_per_month * row.input_usd_per_mtok
                   + t.cached_input_tokens_per_month * row.cached_input_usd_per_mtok
                   + t.output_tokens_per_month * row.output_usd_per_mtok) / 1e6
        assert rebuilt == pytest.approx(row.monthly_usd)
    # the rental rows are the plan's own pricing options, the API row the plan's cheapest same-model API
    od = next(r for r in t.options if r.key == "on_demand")
    assert od.monthly_usd == pytest.approx(plan.monthly_cost_usd)  # the default scenario prices on demand
    api = next(r for r in t.options if r.kind == "api")
    ref = next(a for a in plan.api_options if a.same_model)
    assert api.monthly_usd == pytest.approx(ref.monthly_cost_usd, rel=1e-9)
    assert (api.input_usd_per_mtok, api.output_usd_per_mtok) == (ref.input_usd_per_mtok, ref.output_usd_per_mtok)
    assert t.break_even_rent_month == od.break_even_month


def test_self_hosted_prices_follow_the_api_sheet_proportions(plan: capacity.CapacityPlan) -> None:
    t = tco.compare(plan)
    ref = next(a for a in plan.api_options if a.same_model)
    assert t.input_output_price_ratio == pytest.approx(ref.input_usd_per_mtok / ref.output_usd_per_mtok)
    for row in t.options:
        assert row.input_usd_per_mtok == pytest.approx(t.input_output_price_ratio * row.output_usd_per_mtok)
    # DeepInfra prices Llama 3.1 70B at 0.40 / 0.40 (data/api_prices.csv): at a 1:1 sheet every token costs the
    # same, the monthly cost over the month's tokens
    assert (ref.provider, t.input_output_price_ratio) == ("DeepInfra", 1.0)
    buy = t.options[0]
    tokens = t.input_tokens_per_month + t.cached_input_tokens_per_month + t.output_tokens_per_month
    assert buy.output_usd_per_mtok == pytest.approx(buy.monthly_usd / (tokens / 1e6))


def test_without_a_same_model_api_the_catalog_median_ratio_is_used() -> None:
    p = capacity.plan(Scenario().replace(model={"model_id": "gemma-2-9b"}))
    assert not any(a.same_model for a in p.api_options)
    t = tco.compare(p)
    ratios = [a.input_usd_per_mtok / a.output_usd_per_mtok for a in modes.api_prices()]
    assert t.input_output_price_ratio == pytest.approx(float(np.median(ratios)))
    assert "median" in t.ratio_source and not any(o.kind == "api" for o in t.options)
    assert t.break_even_api_month is None and t.break_even_api_option == ""


def test_prefix_cache_moves_input_tokens_to_the_cached_column() -> None:
    p = capacity.plan(Scenario().replace(traffic={"prefix_cache_hit_rate": 0.5}))
    t = tco.compare(p)
    assert t.cached_input_tokens_per_month == pytest.approx(t.input_tokens_per_month)
    buy = t.options[0]
    # no cached-input price is published in data/api_prices.csv: cached tokens are priced as input
    assert t.cached_input_price_ratio == 1.0
    assert buy.cached_input_usd_per_mtok == pytest.approx(buy.input_usd_per_mtok)


def test_no_server_price_is_a_reason_not_an_error() -> None:
    p = capacity.plan(Scenario().replace(model={"model_id": "llama-3.1-8b"}, deploy={"hardware_id": "l4"}))
    t = tco.compare(p)
    assert not t.available and "server_prices.csv" in t.reason
    t = tco.compare(_with(p, server_price_usd=40_000.0))
    assert t.available and t.server is not None
    assert t.server.accelerators == p.accelerators_per_instance and t.capex_usd == pytest.approx(t.servers * 40_000)


_PRICE = st.floats(min_value=1e3, max_value=5e6, allow_nan=False)


@settings(max_examples=30, deadline=None)
@given(a=_PRICE, b=_PRICE, kwh=st.floats(0.0, 1.0), rate=st.floats(0.0, 0.5))
def test_a_higher_server_price_never_lowers_the_tco(a: float, b: float, kwh: float, rate: float) -> None:
    plan = _default_plan()
    lo, hi = sorted((a, b))
    t_lo = tco.compare(_with(plan, server_price_usd=lo, electricity_usd_per_kwh=kwh, cost_of_capital=rate))
    t_hi = tco.compare(_with(plan, server_price_usd=hi, electricity_usd_per_kwh=kwh, cost_of_capital=rate))
    assert t_hi.monthly_tco_usd >= t_lo.monthly_tco_usd * (1 - 1e-12)
    for r_lo, r_hi in zip(t_lo.options[1:], t_hi.options[1:], strict=True):
        # buying later (or never) when the servers cost more
        assert (r_hi.break_even_month or 10**6) >= (r_lo.break_even_month or 10**6)


_RANGES = {"electricity_usd_per_kwh": (0.0, 5.0), "pue": (1.0, 3.0), "colocation_usd_per_kw_month": (0.0, 1e4),
           "operations_share_per_year": (0.0, 2.0), "cost_of_capital": (0.0, 1.0)}


@settings(max_examples=25, deadline=None)
@given(field=st.sampled_from(sorted(_RANGES)), a=st.floats(0.0, 1.0), b=st.floats(0.0, 1.0))
def test_every_cost_input_is_monotone(field: str, a: float, b: float) -> None:
    plan = _default_plan()
    low, high = _RANGES[field]
    lo, hi = (low + (high - low) * f for f in sorted((a, b)))
    assert (tco.compare(_with(plan, **{field: hi})).monthly_tco_usd
            >= tco.compare(_with(plan, **{field: lo})).monthly_tco_usd * (1 - 1e-12))


# ----------------------------------------------------------------------------- report and page


def test_capacity_report_has_the_rent_buy_api_rows(plan: capacity.CapacityPlan) -> None:
    rep = report.capacity_report(plan.scenario, plan)
    t = tco.compare(plan)
    out = rep.outputs()
    assert out["tco_monthly_usd"] == pytest.approx(t.monthly_tco_usd)
    assert out["tco_break_even_vs_rent_month"] == t.break_even_rent_month
    assert out["tco_break_even_vs_api_month"] == t.break_even_api_month
    for key in ("buy", "on_demand", "api"):
        for field in ("monthly_usd", "input_usd_per_mtok", "cached_input_usd_per_mtok", "output_usd_per_mtok"):
            assert f"tco_{key}_{field}" in out
    names = {r.name for r in rep.rows}
    assert {"tco.server_price_usd", "tco.pue"} <= names
    assumptions = {r.name: r for r in rep.rows if r.section == "assumption"}
    assert assumptions["tco_pue"].source.startswith("Uptime Institute")
    assert "tco_monthly_usd" in report.to_csv(rep)


def test_capacity_page_shows_rent_vs_buy(plan: capacity.CapacityPlan) -> None:
    at = AppTest.from_file("../pages/capacity.py", default_timeout=60)
    at.run()
    assert not at.exception
    assert any("Rent vs buy vs API" in md.value for md in at.markdown)
    metric = next(m for m in at.metric if m.label == "Buying: cost of ownership / month")
    assert metric.value == money(tco.compare(plan).monthly_tco_usd)
    at.number_input(key="bsp").set_value(100_000.0).run()
    assert not at.exception
    cheaper = tco.compare(_with(plan, server_price_usd=100_000.0))
    metric = next(m for m in at.metric if m.label == "Buying: cost of ownership / month")
    assert metric.value == money(cheaper.monthly_tco_usd)
    assert any("How rent vs buy vs API is computed" in e.label for e in at.expander)


def test_figure_and_tables_draw_every_option(plan: capacity.CapacityPlan) -> None:
    from pages.figures import tco as figures

    t = tco.compare(plan)
    fig = figures.cumulative_cost_figure(t)
    lines = [tr for tr in fig.data if tr.mode == "lines"]
    assert [tr.name for tr in lines] == [o.option for o in t.options]
    assert all(len(tr.x) == len(t.months) for tr in lines)
    markers = next(tr for tr in fig.data if tr.mode == "markers")
    assert list(markers.x) == [o.break_even_month for o in t.options if o.break_even_month is not None]
    sheet = figures.price_sheet_table(t)
    assert list(sheet["option"]) == [o.option for o in t.options]
    assert list(sheet["per month"]) == [money(o.monthly_usd) for o in t.options]
    assert figures.breakdown_table(t)["USD per month"].iloc[-1] == money(t.monthly_tco_usd)


def test_capital_recovery_factor_never_dips_below_its_zero_rate_limit() -> None:
    # found by hypothesis: at r = 1e-10/yr the textbook form i / (1 - (1+i)^-n) cancelled to just under 1/n,
    # so buying looked cheaper with a tiny cost of capital than with none
    for rate in (1e-13, 1e-12, 8.3e-12, 1e-9, 1e-6):
        assert tco.capital_recovery_factor(rate, 60) >= 1 / 60
