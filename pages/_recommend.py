"""The landing page's answer: the cheapest feasible plan over the whole catalog (``estimator.recommend``).

:func:`compute_recommendation` runs the page's second entry point, ``entrypoints.compute("recommend", ...)``
(cached per scenario like the plan); :func:`answer_section` draws the recommended option and its headline
metrics (above the fold), with a "Use this option" button that copies it into the scenario's own
accelerator, cloud, region, instance, weight-format and TP widgets; :func:`options_section` draws the ranked
table, the Pareto charts and the grouped reasons of the infeasible options.
"""

from __future__ import annotations

import streamlit as st

from estimator import catalog, entrypoints
from estimator.errors import EstimatorError
from estimator.formatting import duration, integer, money
from estimator.recommend import Option, Recommendation
from estimator.report import build_report, to_csv
from estimator.scenario import Deployment, Pricing, Scenario, Volume, option_label
from estimator.units import WEIGHT_DTYPES, DType
from pages._ui import TP_CHOICES, lazy_expander, lazy_tabs, option_format, plain
from pages.figures import recommend as figures

__all__ = ["UNREAD_SECTIONS", "answer_section", "compute_recommendation", "constraint_inputs", "option_title",
           "options_section", "recommend_scenario", "use_option"]

CLOUD_NAMES = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Azure", "coreweave": "CoreWeave", "crusoe": "Crusoe",
               "lambda": "Lambda", "nebius": "Nebius", "runpod": "RunPod"}
"""Display names of the catalog's ``provider`` ids (others are shown as they are)."""

_DEFAULT_DEPLOY = Deployment()
_DEFAULTS = Scenario()

UNREAD_SECTIONS: tuple[str, ...] = ("name", "serving", "tco", "kv_tiers", "lora", "moe", "memory", "train", "perf",
                                    "variants", "lifetime")
"""Scenario fields the search never reads (``estimator.recommend`` and the ``capacity.plan_summary`` of its
options): reset to their defaults in the recommendation's cache key, so a rerun after a TCO input, a
speculative-decoding or disaggregation widget, or another page's input does not search the catalog again
(``tests/test_pages_capacity_speed.py`` checks the search gives the same rows whatever they hold)."""


def recommend_scenario(s: Scenario) -> Scenario:
    """``s`` without the choices the search replaces: the accelerator, TP, cloud, instance and region of
    ``deploy`` and the weight format (the search tries every one), and without the fields it does not read
    (:data:`UNREAD_SECTIONS`). The recommendation depends on traffic, tokens, goals, engine, assumptions,
    pricing, mode and constraints only, so picking another accelerator for the detailed plan (or "Use this
    option") does not search the catalog again (one cache key)."""
    deploy = s.deploy.model_copy(update={k: getattr(_DEFAULT_DEPLOY, k) for k in
                                         ("hardware_id", "tp", "provider", "instance_id", "region")})
    model = s.model.model_copy(update={"weight_dtype": type(s.model)().weight_dtype})
    return s.replace(deploy=deploy, model=model, **{k: getattr(_DEFAULTS, k) for k in UNREAD_SECTIONS})


def constraint_inputs() -> None:
    """The search's optional limits (``Scenario.recommend``, link keys ``rcl``, ``rxcl``, ``rhw``, ``rxhw``,
    ``rmaxa``, ``rpm``, ``rwf``, ``rctry``), folded: clouds, accelerators, pricing models, weight formats, data
    residency and the largest replica."""
    r = Scenario().recommend
    clouds = sorted({x.provider for x in catalog.list_regions()})
    countries = sorted({x.country.upper() for x in catalog.list_regions() if x.country})
    hardware = [h.hardware_id for h in catalog.list_hardware()]
    with st.expander("Limit the search: clouds, accelerators, pricing, weight formats, data residency",
                     icon=":material/filter_alt:"):
        a1, a2, a3, a4 = st.columns(4)
        a1.multiselect("Only these clouds", clouds, default=list(r.clouds), key="rcl", bind="query-params",
                       placeholder="any cloud")
        a1.multiselect("Never these clouds", clouds, default=list(r.exclude_clouds), key="rxcl", bind="query-params",
                       placeholder="none excluded")
        a2.multiselect("Only these accelerators", hardware, default=list(r.accelerators), key="rhw",
                       bind="query-params", placeholder="any accelerator")
        a2.multiselect("Never these accelerators", hardware, default=list(r.exclude_accelerators), key="rxhw",
                       bind="query-params", placeholder="none excluded")
        a3.multiselect("Pricing models", [p.value for p in Pricing], default=list(r.pricing), key="rpm",
                       bind="query-params", placeholder="the plan's pricing model", format_func=option_format("rpm"),
                       help="Empty: the pricing model of the detailed plan (under Tokens ... pricing)")
        a3.multiselect("Weight formats", [d.value for d in WEIGHT_DTYPES], default=list(r.weight_formats), key="rwf",
                       bind="query-params", help="Formats the search may serve the weights in, each where the "
                                                 "accelerator runs it; quantized formats can change answer quality")
        a4.multiselect("Data residency (countries)", countries, default=list(r.countries), key="rctry",
                       bind="query-params", placeholder="anywhere", help="ISO 3166 country codes of the regions allowed")
        a4.number_input("Most accelerators per replica", 0, 64, r.max_accelerators, 1, key="rmaxa",
                        bind="query-params", help="0: no limit")


def compute_recommendation(s: Scenario) -> Recommendation | str:
    """The recommendation for ``s`` (one cached computation), or the message of why there is none."""
    try:
        rec: Recommendation = entrypoints.compute("recommend", recommend_scenario(s))
    except EstimatorError as exc:
        return str(exc)
    return rec


def cloud_name(provider: str) -> str:
    return CLOUD_NAMES.get(provider, provider)


def option_title(o: Option) -> str:
    """``3 × NVIDIA B200 (HGX B200) · mxfp4 weights · TP 1 · Lambda gpu_1x_b200_sxm6 · us-west-1``: the replicas
    at the busiest hour, the accelerator, weight format, TP degree, cloud, instance and region."""
    hw = o.hardware_name or o.hardware_id
    reps = f"{integer(o.replicas)} × " if o.replicas else ""
    tech = "" if o.technique == "colocated" else f" · {o.technique}"
    return (f"{reps}{hw} · {o.weight_dtype} weights · TP {o.tp}{tech} · {cloud_name(o.provider)} "
            f"{o.instance_type} · {o.region}")


def use_option(o: Option) -> None:
    """Callback of "Use this option" (runs before the widgets are drawn): the scenario's own accelerator,
    cloud, region, instance, pricing, weight format, KV format and TP become the option's."""
    st.session_state["hw"] = o.hardware_id
    st.session_state["cloud"] = o.provider
    st.session_state["reg"] = o.region
    st.session_state["inst"] = o.instance_id
    st.session_state["wd"] = o.weight_dtype
    st.session_state["kd"] = o.kv_dtype
    st.session_state["price"] = o.pricing
    if o.tp in TP_CHOICES:
        st.session_state["tp"] = o.tp


def _is_current(o: Option, s: Scenario) -> bool:
    return (s.deploy.hardware_id, s.deploy.provider, s.deploy.region, s.deploy.instance_id, s.deploy.tp,
            s.model.weight_dtype.value, s.deploy.pricing.value) == (
        o.hardware_id, o.provider, o.region, o.instance_id, o.tp, o.weight_dtype, o.pricing)


def _goal_text(s: Scenario) -> str:
    return f"p95 TTFT ≤ {duration(s.slo.ttft_p95_s)} and end-to-end ≤ {duration(s.slo.e2e_p95_s)}"


def answer_section(rec: Recommendation | str, s: Scenario) -> None:
    """The recommended plan and its headline metrics, or why there is none (drawn above the fold)."""
    with st.container(border=True):
        if isinstance(rec, str):
            st.warning(f"No recommendation for this scenario: {plain(rec, 400)}", icon=":material/warning:")
            return
        best = rec.best
        if best is None:
            volume = (f"a peak of {s.traffic.peak_rps:,.3g} requests/s" if s.traffic.volume == Volume.PEAK_RPS
                      else f"{integer(s.traffic.requests_per_day)} requests a day")
            st.warning(f"No option in the catalog meets {_goal_text(s)} for {volume}: relax the goal, or see why "
                       "each option fails below.", icon=":material/warning:")
            return
        _best_metrics(rec, best, s)


def _best_metrics(rec: Recommendation, best: Option, s: Scenario) -> None:
    model = catalog.get_model(s.model.model_id) if s.model.custom is None else s.model.custom
    st.markdown(f"**Recommended: the cheapest of {integer(len(rec.feasible))} plans that meet {_goal_text(s)}** "
                f"· {plain(model.name)} · {option_label('price', best.pricing).lower()} pricing")
    st.subheader(option_title(best), anchor="recommended-plan",
                 help="Replicas at the busiest hour × accelerator · weight format · tensor-parallel degree · cloud, "
                      "instance type · region")
    cols = st.columns(6)
    cols[0].metric("Cost per month", money(best.monthly_cost_usd or 0.0),
                   help=f"{integer(best.replicas or 0)} replicas at the busiest hour, "
                        f"{best.mean_replicas or 0:,.1f} on average over the week")
    cols[1].metric("$/1M input tokens", _money_or_dash(best.usd_per_million_input_tokens),
                   help="The monthly cost split between prompt and generated tokens by the replica time each "
                        "takes (prefill vs decode)")
    cols[2].metric("$/1M output tokens", _money_or_dash(best.usd_per_million_output_tokens))
    cols[3].metric("TTFT, p95", _duration_or_dash(best.ttft_p95_s),
                   help=f"Busiest hour; goal {duration(s.slo.ttft_p95_s)}")
    cols[4].metric("End-to-end, p95", _duration_or_dash(best.e2e_p95_s),
                   help=f"Busiest hour; goal {duration(s.slo.e2e_p95_s)}")
    cols[5].metric("t CO2e per month", f"{best.co2e_t_per_month:,.2f}" if best.co2e_t_per_month is not None else "—",
                   help=f"Operational + embodied, in {best.region} ({best.country})")
    b1, b2 = st.columns([1, 4], vertical_alignment="center")
    current = _is_current(best, s)
    b1.button("Use this option", on_click=use_option, args=(best,), key="_use_best", type="primary",
              icon=":material/check:", disabled=current, width="stretch",
              help="Sets the accelerator, cloud, region, instance, pricing, weight format and TP of the detailed "
                   "plan below to this option")
    b2.caption(("The detailed plan below is this option. " if current else
                "The detailed plan below is the scenario's own choice; the button switches it to this one. ")
               + f"Searched {integer(rec.options_screened)} options, planned {integer(rec.options_planned)} "
               f"exactly, in {duration(rec.elapsed_s)}."
               + (f" {best.weight_dtype} weights can change answer quality: check it, or limit the weight formats."
                  if best.weight_dtype != DType.BF16.value else ""))


def _money_or_dash(x: float | None) -> str:
    return money(x) if x is not None else "—"


def _duration_or_dash(x: float | None) -> str:
    return duration(x) if x is not None else "—"


def options_section(rec: Recommendation | str) -> None:
    """The ranked exact plans, the Pareto charts and the grouped infeasible options."""
    if isinstance(rec, str):
        return
    st.markdown(f"#### The {integer(len(rec.options))} cheapest options, planned exactly and ranked by monthly cost")
    table = figures.options_table(rec)
    if not table.empty and table["pricing"].nunique() == 1:
        table = table.drop(columns="pricing")  # one pricing model searched: said in the headline
    views = lazy_tabs(("Options", "Cost vs p95 TTFT", "Cost vs carbon"), "rec_view")
    if views[0] is not None and not table.empty:  # what it costs and how fast it is next to what it is; where after
        first = ["accelerator", "weights", "monthly cost", "$ / 1M input tokens", "$ / 1M output tokens", "p95 TTFT",
                 "p95 end-to-end", "t CO2e / month", "replicas (peak)", "cloud", "instance", "region"]
        table = table[[c for c in first if c in table] + [c for c in table if c not in first]]
        views[0].dataframe(table, hide_index=True, width="stretch", height=min(36 * (len(table) + 1) + 2, 400),
                           column_config={"meets goals": st.column_config.TextColumn(width="medium")}, key="tbl_rec")
    if views[1] is not None:
        views[1].plotly_chart(figures.cost_ttft_figure(rec), width="stretch", key="fig_rec_ttft")
    if views[2] is not None:
        views[2].plotly_chart(figures.cost_carbon_figure(rec), width="stretch", key="fig_rec_carbon")
    for note in rec.notes:
        st.caption(note)
    label = (f"Why {integer(sum(g.count for g in rec.infeasible))} other options cannot serve this traffic, "
             "grouped by reason")
    exp = lazy_expander(label, "rec_infeasible", icon=":material/block:")
    if exp is not None:
        exp.dataframe(figures.infeasible_table(rec), hide_index=True, width="stretch", key="tbl_rec_infeasible",
                      column_config={"for example": st.column_config.TextColumn(width="large")})
    _export(rec)


def _export(rec: Recommendation) -> None:
    sc = rec.scenario

    def csv_file() -> str:
        return to_csv(build_report(sc, "recommend", rec))

    st.download_button("Recommendation CSV", csv_file, file_name="llm-capacity-recommend.csv", mime="text/csv",
                       icon=":material/download:", key="_csv_recommend", on_click="ignore",
                       help="Every planned option with its costs ($ per 1M input and output tokens), latencies and "
                            "carbon, and the infeasible groups")
