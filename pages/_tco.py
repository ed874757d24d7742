"""The capacity page's "Rent vs buy vs API" section: buying the plan's servers (total cost of
ownership) beside the cloud pricing models and the same model's hosted API.

``render_tco(plan)`` is the one call the capacity page makes: it draws the section's inputs (bound
to the link like every other input, keys ``b*`` (``tco`` section) of ``estimator.scenario.QUERY_KEYS``), computes
:func:`estimator.tco.compare` and draws it with :mod:`pages.figures.tco`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from estimator import tco
from estimator.capacity import CapacityPlan
from estimator.formatting import integer, money
from estimator.scenario import QUERY_KEYS, TcoInputs
from pages._ui import lazy_expander, lazy_tabs, sources_table
from pages.figures import tco as figures

__all__ = ["render_tco"]

_INPUTS: tuple[tuple[str, str, float, float, float, str], ...] = (
    ("server_price_usd", "Server price (USD)", 1.0, 1e8, 1000.0, "%.0f"),
    ("depreciation_years", "Depreciation (years)", 0.5, 20.0, 0.5, "%.1f"),
    ("cost_of_capital", "Cost of capital (per year)", 0.0, 1.0, 0.01, "%.3f"),
    ("electricity_usd_per_kwh", "Electricity (USD/kWh)", 0.0, 5.0, 0.01, "%.4f"),
    ("pue", "PUE", 1.0, 3.0, 0.01, "%.2f"),
    ("colocation_usd_per_kw_month", "Colocation (USD per kW-month)", 0.0, 10_000.0, 10.0, "%.2f"),
    ("operations_share_per_year", "Operations (share of capex per year)", 0.0, 2.0, 0.005, "%.4f"),
)
"""(TcoInputs field, label, min, max, step, format) of each input."""


def _inputs(plan: CapacityPlan) -> TcoInputs:
    """The section's widgets (blank = the sourced default, shown as the placeholder) -> ``TcoInputs``."""
    base = tco.defaults()
    server = tco.default_server(plan.hardware_id)
    cols = st.columns(4)
    values: dict[str, Any] = {}
    for i, (field, label, lo, hi, step, fmt) in enumerate(_INPUTS):
        if field == "server_price_usd":
            hint = f"default {server.price_usd:,.0f}" if server else "none published: enter one"
        else:
            hint = f"default {base[field].value:g}"
        values[field] = cols[i % 4].number_input(label, lo, hi, None, step, format=fmt,
                                                 key=QUERY_KEYS[("tco", field)], bind="query-params",
                                                 placeholder=hint, help=_help(field, base))
    try:
        return TcoInputs(**{k: v for k, v in values.items() if v is not None})
    except ValidationError:
        return plan.scenario.tco


def _help(field: str, base: dict[str, tco.ResolvedInput]) -> str:
    if field == "server_price_usd":
        return "Price of one server carrying the plan's accelerator (data/server_prices.csv by default)."
    d = base[field]
    return f"Default {d.value:g} {d.unit}: {d.source} ({d.as_of}). {d.notes}"


def render_tco(plan: CapacityPlan) -> None:
    """Draw the rent vs buy vs API section for ``plan``."""
    st.markdown("#### Rent vs buy vs API")
    with st.expander("Buying servers: inputs (blank = sourced default)", icon=":material/payments:"):
        inputs = _inputs(plan)
    if inputs != plan.scenario.tco:  # a link's first load: the plan was computed before these widgets existed
        plan = plan.model_copy(update={"scenario": plan.scenario.replace(tco=inputs)})
    t = tco.compare(plan)
    if not t.available:
        st.info(f"Buying is not compared: {t.reason}.", icon=":material/info:")
        return
    _headline(t)
    prices, cumulative = lazy_tabs(("Price sheet", "Cumulative cost and owning per month"), "tco_view")
    if prices is not None:
        prices.markdown(f"USD per 1M tokens, like an API's (a self-hosted monthly cost is spread over the month's "
                        f"tokens in the proportions of the {t.ratio_source})")
        prices.dataframe(figures.price_sheet_table(t), hide_index=True, width="stretch", key="tbl_tco_prices")
    if cumulative is not None:
        left, right = cumulative.columns([1.6, 1])
        left.plotly_chart(figures.cumulative_cost_figure(t), width="stretch", key="fig_tco_cumulative")
        with right:
            st.markdown(f"**Owning {t.servers} × {t.server.name if t.server else 'server'}, per month**")
            st.dataframe(figures.breakdown_table(t), hide_index=True, width="stretch", key="tbl_tco_breakdown")
    for note in t.notes:
        st.caption(note)
    _sources(t)
    _how_computed(t)


def _headline(t: tco.TcoComparison) -> None:
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Buying: cost of ownership / month", money(t.monthly_tco_usd),
              help=f"{t.servers} server(s), {money(t.capex_usd)} up front; {integer(t.it_energy_kwh_per_month)} kWh "
                   f"IT energy and {t.provisioned_kw:,.1f} kW provisioned")
    m2.metric("Break-even vs renting", _months(t.break_even_rent_month),
              help=f"against {t.break_even_rent_option or 'the plan’s pricing model'}")
    m3.metric("Break-even vs the API", _months(t.break_even_api_month),
              help=t.break_even_api_option or "no hosted API serves this model in the catalog")
    m4.metric("Input : output price", f"{t.input_output_price_ratio:.3g} : 1",
              help=f"Self-hosted costs per 1M tokens follow the proportions of the {t.ratio_source}")


def _months(m: int | None) -> str:
    return "never (within the life)" if m is None else f"month {m}"


def _sources(t: tco.TcoComparison) -> None:
    exp = lazy_expander("Buying: every input and its source", "how_tco_sources", icon=":material/menu_book:")
    if exp is None:
        return
    with exp:
        frame = pd.DataFrame(tco.sources_rows(t))
        frame["as_of"] = pd.to_datetime(frame["as_of"].replace("", None), errors="coerce")
        sources_table(frame, "Server price (data/server_prices.csv) and defaults (data/tco_defaults.csv)")


def _how_computed(t: tco.TcoComparison) -> None:
    exp = lazy_expander("How rent vs buy vs API is computed", "how_tco_method", icon=":material/functions:")
    if exp is None:
        return
    with exp:
        st.markdown("**Capex** is levelized with the capital recovery factor (the annuity payment that repays the "
                    "purchase P at the monthly rate i = r/12 over n = 12 x depreciation years months; P/n at i = 0):")
        st.latex(r"A = P\,\frac{i}{1-(1+i)^{-n}},\qquad i = \frac{r}{12}")
        st.markdown("**Running the servers**: IT energy of the owned fleet (busy accelerators at P(u), the rest "
                    "idle, plus the host share) times PUE and the electricity price; colocation rent on the "
                    "provisioned kW; operations as a yearly share f of capex.")
        st.latex(r"C_{month} = A + E_{IT}\,\mathrm{PUE}\,p_{kWh} + \mathrm{kW}\,p_{colo} + \frac{f P}{12}")
        st.markdown("**Break-even**: cumulative costs discounted to today, buying paid up front; the first month "
                    "m at which buying has cost no more than renting or the API:")
        st.latex(r"P + O\,a(m) \le R\,a(m),\qquad a(m) = \sum_{k=1}^{m} (1+i)^{-k} = \frac{1-(1+i)^{-m}}{i}")
        st.markdown("**Per 1M tokens**: a self-hosted monthly cost C is spread over the month's input, cached-input "
                    "and output tokens in the proportions of the reference API's price sheet (ρ = input / output "
                    "price, κ = cached / input price; the cheapest API serving the same model, else the median "
                    "ratio of the catalog's APIs), so the columns compare option by option and add up to C:")
        st.latex(r"p_{out} = \frac{C}{\rho\,(T_{in} + \kappa\,T_{cached}) + T_{out}},\qquad p_{in} = \rho\,p_{out},"
                 r"\qquad p_{cached} = \kappa\,p_{in}")
        st.caption(f"Capital recovery factor here: {t.capital_recovery_factor:.2%} of the price per month. "
                   + " ".join(tco.SOURCES))
