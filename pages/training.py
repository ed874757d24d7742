"""Training budget: from a budget (or a model and dataset) to model size, tokens, days, cost and CO2e.

``render()`` maps the widgets to a :class:`Scenario`, computes its one result,
``entrypoints.compute("training", ...)`` (a :class:`~estimator.analysis.TrainingAnalysis`), and draws
it with the builders of :mod:`pages.figures.training`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from estimator import carbon, catalog, entrypoints, pricing, training, training_runs
from estimator.analysis import TrainingAnalysis
from estimator.errors import EstimatorError
from estimator.formatting import integer, money
from estimator.lifetime import LifetimePlan, serve_scenario
from estimator.report import build_report, to_csv
from estimator.scenario import BUDGET_UNIT_LABELS, Scenario, option_label, to_query_params
from estimator.specs import HardwareKind, HardwareSpec, ModelSpec, Region
from estimator.training import TrainingPlan
from pages._lora import lora_section
from pages._ui import (
    TP_CHOICES,
    check_query_params,
    current_scenario,
    float_between,
    int_between,
    lazy_expander,
    lazy_tabs,
    one_of,
    option_format,
    plain,
    run_page,
    scenario_toolbar,
    show_error,
    sources_table,
    with_imported,
)
from pages.figures import lifetime as lifetime_figures
from pages.figures import training as figures

MODES = {"budget": "a budget → the compute-optimal model", "model": "a model and dataset → its cost"}
BUDGET_UNITS = BUDGET_UNIT_LABELS
APPROACHES = training.APPROACH_CHOICES
PRICING = [p.value for p in pricing.PricingModel]
D = Scenario()  # shared widgets (model, hardware, cloud, region, ...) default to the scenario defaults
PAGE_KEYS = {
    "tmode": one_of(MODES), "bu": one_of(BUDGET_UNITS), "usd": float_between(-1e15, 1e15),
    "gh": float_between(-1e15, 1e15), "fl": float_between(-1e40, 1e40), "ap": one_of(APPROACHES),
    "tsrc": one_of(["catalog", "custom"]), "pb": float_between(-1e9, 1e9), "tb": float_between(-1e9, 1e9),
    "kgh": float_between(0.0, 1e15), "mfu": float_between(0.05, 1.0), "n": int_between(0, 1_000_000),
    "pp": int_between(1, 128), "days": float_between(0.1, 3650.0), "pu": float_between(0.0, 1.0),
    "emb": one_of(["True", "False", "true", "false", "1", "0"]),
}
"""Link parameters only this page reads, with their checks."""


@dataclass(frozen=True)
class _Choices:
    """The catalog entries the widgets offer (cached catalog lookups)."""

    models: dict[str, ModelSpec]
    hardware: dict[str, HardwareSpec]
    regions: list[Region]
    providers: list[str]


def _choices() -> _Choices:
    regions = catalog.list_regions()
    return _Choices(
        models=with_imported({m.model_id: m for m in catalog.list_models()}),
        hardware={h.hardware_id: h for h in catalog.list_hardware()
                  if h.kind != HardwareKind.CPU and h.hardware_id not in training.INFERENCE_ONLY_HARDWARE
                  and catalog.list_instances(hardware_id=h.hardware_id)},
        regions=regions,
        providers=sorted({r.provider for r in regions}),
    )


def render() -> None:
    """Draw the Training budget page."""
    c = _choices()
    st.title("Training budget")
    st.caption(
        "For a compute budget: which model size and token count (Chinchilla), and for that run how many "
        "GPU-days, dollars, kWh and tonnes of CO2e, on which cloud, and whether it fits in memory. "
        "B = 10⁹, T = 10¹², MWh = 1,000 kWh, t = tonne."
    )
    check_query_params({
        "m": one_of(c.models), "hw": one_of(c.hardware), "tp": one_of(TP_CHOICES), "cloud": one_of(c.providers),
        "reg": one_of({r.region for r in c.regions}), "inst": one_of(["", *[i.instance_id for i in catalog.list_instances()]]),
    }, page_keys=PAGE_KEYS)
    _run_inputs(c)
    _assumption_inputs()
    lifetime_on = _lifetime_inputs()
    scenario, refused = current_scenario()
    if refused:
        st.error("These inputs are out of range: " + "; ".join(refused), icon=":material/error:")
        st.stop()
    toolbar = st.container()
    try:
        result: TrainingAnalysis = entrypoints.compute("training", scenario)  # the report and the CLI's call too
    except EstimatorError as exc:
        show_error(exc)
        st.stop()
    with toolbar:
        scenario_toolbar("training", scenario, result)
    plan, disagreement = result.plan, result.disagreement
    _headline(plan, scenario, disagreement)
    _views(result, scenario)
    if lifetime_on:
        _lifetime_section(scenario)
    lora_section(scenario)
    _how_computed(plan, scenario)
    _sources(plan)


TRAIN_VIEWS = ("Scaling laws", "Across hardware and clouds", "Beside published runs")
"""The result views (lazy tabs, :func:`pages._ui.lazy_tabs`: a rerun draws the open one only)."""


def _views(result: TrainingAnalysis, scenario: Scenario) -> None:
    """The plan's charts and tables, one view at a time."""
    scaling, compare, published = lazy_tabs(TRAIN_VIEWS, "train_view")
    if scaling is not None:
        with scaling:
            _scaling_section(result.plan, scenario, result.disagreement)
    if compare is not None:
        with compare:
            _comparison_section(result, scenario)
    if published is not None:
        with published:
            _published_runs_section(result.plan)


# ------------------------------------------------------------------ inputs
# Bound widgets put their option *labels* in the URL, so options are the short ids themselves.


def _run_inputs(c: _Choices) -> None:
    with st.container(border=True):
        mode = st.segmented_control("Start from", list(MODES), default="budget", key="tmode", bind="query-params",
                                    help="budget: " + MODES["budget"] + "; model: " + MODES["model"]) or "budget"
        c1, c2, c3, c4 = st.columns([1.2, 1.2, 1.2, 1])
        if mode == "budget":
            _budget_inputs(c1)
        else:
            _model_inputs(c1, c)
        _hardware_inputs(c2, c)
        _region_inputs(c3, c)
        c3.number_input("MFU (empty = fitted for the accelerator)", 0.05, 1.0, None, 0.01, key="mfu",
                        bind="query-params", placeholder="fitted on published runs",
                        help="Model FLOPs utilization. Empty: the MFU fitted on published training runs of the "
                             "accelerator's generation (with the goodput that covers restarts, checkpoints and "
                             "evaluation). Published large runs: Llama 3 405B 38-43 % on H100, PaLM 46.2 %, "
                             "Megatron-LM 52 % of peak.")
        c4.number_input("Accelerators (0 = auto)", min_value=0, max_value=1_000_000, value=0, step=8, key="n",
                        bind="query-params",
                        help="Auto: the fewest whole nodes finishing within the target days that hold the model.")
        c4.number_input("Target days (auto sizing)", 0.1, 3650.0, training.TARGET_WALL_CLOCK_DAYS, 1.0,
                        key="days", bind="query-params")


def _budget_inputs(col: Any) -> None:
    unit = col.selectbox("Budget in", list(BUDGET_UNITS), key="bu", bind="query-params",
                         format_func=option_format("bu"))
    if unit == "usd":
        col.number_input("Budget (USD)", value=2_000_000.0, step=100_000.0, format="%.0f", key="usd",
                         bind="query-params")
    elif unit == "gpu-hours":
        col.number_input("Budget (GPU-hours)", value=100_000.0, step=10_000.0, format="%.0f", key="gh",
                         bind="query-params")
    else:
        col.number_input("Budget (FLOPs)", value=1e23, step=1e22, format="%.3e", key="fl", bind="query-params")
    approach = col.selectbox("Scaling law", list(APPROACHES), key="ap", bind="query-params",
                             format_func=option_format("ap"),
                             help="How FLOPs split into parameters and tokens (Hoffmann et al. 2022).")
    col.caption(APPROACHES[approach][2])


def _model_inputs(col: Any, c: _Choices) -> None:
    src = col.radio("Model", ["catalog", "custom"], horizontal=True, key="tsrc", bind="query-params",
                    help="catalog: a published model; custom: a parameter count")
    if src == "catalog":
        ids = list(c.models)
        spec = c.models[col.selectbox("Catalog model", ids, index=ids.index(D.model.model_id), key="m",
                                      bind="query-params")]
        col.caption(f"{spec.name} · {spec.params_total / 1e9:,.3g}B parameters"
                    + (f" ({spec.params_active / 1e9:,.3g}B active)" if spec.is_moe else ""))
    else:
        col.number_input("Parameters (billions)", value=7.0, step=1.0, key="pb", bind="query-params")
    col.number_input("Training tokens (billions)", value=15_000.0, step=100.0, key="tb", bind="query-params")
    col.number_input("Known GPU-hours (0 = derive from MFU)", value=0.0, step=1000.0, format="%.0f", key="kgh",
                     bind="query-params", help="A measured or published figure; the page then reports the MFU it implies.")


def _hardware_inputs(col: Any, c: _Choices) -> None:
    hw_ids = list(c.hardware)
    hw = c.hardware[col.selectbox("Accelerator", hw_ids, index=hw_ids.index(D.deploy.hardware_id), key="hw",
                                  bind="query-params")]
    col.caption(f"{hw.name} · {hw.memory_bytes / 1e9:,.0f} GB · {hw.tdp_w:,.0f} W")
    inst_options = ["", *[i.instance_id for i in catalog.list_instances(hardware_id=hw.hardware_id)]]
    if "inst" in st.session_state and st.session_state["inst"] not in inst_options:
        st.session_state["inst"] = ""  # the accelerator changed: its old instance no longer applies
    col.selectbox("Cloud instance (blank = cheapest in the region's cloud)", inst_options, key="inst",
                  bind="query-params")
    col.selectbox("Pricing", PRICING, index=PRICING.index(D.deploy.pricing.value), key="price", bind="query-params",
                  format_func=option_format("price"))


def _region_inputs(col: Any, c: _Choices) -> None:
    cloud = col.selectbox("Cloud (grid and PUE data)", c.providers, index=c.providers.index(D.deploy.provider),
                          key="cloud", bind="query-params")
    by_name = {r.region: r for r in c.regions if r.provider == cloud}
    names = list(by_name)
    home = catalog.default_region(cloud, st.session_state.get("hw", D.deploy.hardware_id)) or names[0]
    if "reg" in st.session_state and st.session_state["reg"] not in names:
        st.session_state["reg"] = home  # the cloud changed: its main priced region, not the first by name
    region = by_name[col.selectbox("Region", names, key="reg", bind="query-params",
                                   index=names.index(D.deploy.region if D.deploy.region in names else home))]
    col.caption(f"{region.location} · {region.grid_gco2e_per_kwh:,.0f} gCO2e/kWh · PUE {region.pue:.2f}")


def _assumption_inputs() -> None:
    with st.expander("Parallelism, power and carbon assumptions", icon=":material/tune:"):
        a1, a2, a3, a4 = st.columns(4)
        a1.selectbox("Tensor parallel", TP_CHOICES, key="tp", bind="query-params",
                     help="auto = chosen to hold the model in memory")
        a1.number_input("Pipeline parallel", 1, 128, 1, key="pp", bind="query-params")
        a2.selectbox("ZeRO stage / FSDP", [0, 1, 2, 3], index=D.memory.zero_stage, key="zero", bind="query-params",
                     help="3 = parameters, gradients and optimizer states sharded (FSDP full shard).")
        rc_options = ["none", "selective", "full"]
        a2.selectbox("Activation recomputation", rc_options, index=rc_options.index(D.memory.recompute), key="rc",
                     bind="query-params")
        a3.number_input("Sequence length", 1, 1_000_000, D.memory.seq_len, 512, key="seq", bind="query-params")
        a3.number_input("Micro-batch", 1, 1024, D.memory.micro_batch, key="mb", bind="query-params")
        a4.slider("GPU power utilization", 0.0, 1.0, carbon.DEFAULT_POWER_UTILIZATION, 0.05, key="pu",
                  bind="query-params", help="Fraction of the idle-to-TDP range drawn while training (1 = TDP).")
        a4.slider("Host overhead (× TDP)", 0.0, 2.0, carbon.HOST_OVERHEAD_FRACTION, 0.05, key="host",
                  bind="query-params", help="CPUs, memory, NICs, fans per accelerator; 0.5 from an 8×H100 node "
                  "measured at 8.4 kW while training (Latif et al. 2024).")
        b1, b2, b3 = st.columns(3)
        b1.checkbox("Include embodied (manufacturing) emissions", True, key="emb", bind="query-params")
        b2.number_input("Grid intensity override (gCO2e/kWh; empty = region)", 0.0, 2000.0, None, 10.0, key="grid",
                        bind="query-params")
        b3.number_input("PUE override (empty = region)", 1.0, 3.0, None, 0.01, key="pue", bind="query-params")


# ------------------------------------------------------------------ results


def _approach_label(scenario: Scenario) -> str:
    return APPROACHES[scenario.train.approach][2]


def _headline(plan: TrainingPlan, scenario: Scenario, disagreement: dict[str, Any]) -> None:
    budget = scenario.train.start == "budget"
    size = f"{plan.params / 1e9:,.3g}B parameters trained on {plan.tokens / 1e12:,.3g}T tokens"
    st.subheader(f"Recommended: {size}" if budget else f"{plan.model_name}: {size}")
    pricing_name = option_label("price", plan.pricing_model.value).lower() if plan.pricing_model else "entered"
    price_note = (f"{integer(plan.instances or 0)} × {plan.instance_id} ({pricing_name}, "
                  f"{money(plan.price_usd_per_accelerator_h)} per accelerator-hour)" if plan.instance_id
                  else f"an entered {money(plan.price_usd_per_accelerator_h)} per accelerator-hour")
    layout = f"DP {integer(plan.dp)} × TP {plan.tp} × PP {plan.pp}"
    st.caption(
        f"{integer(plan.n_accelerators)} × {plan.hardware_name} ({layout}, ZeRO-{plan.zero_stage}) at MFU "
        f"{plan.mfu:.1%}, priced as {price_note}; energy and carbon for {plan.region_id or 'the entered grid'} "
        f"({plan.grid_gco2e_per_kwh:,.0f} gCO2e/kWh, PUE {plan.pue:.2f}). Loss predicted by the {plan.loss_fit} "
        f"fit: {plan.chinchilla_loss:.3f} nats/token."
    )
    _metrics(plan, budget, _approach_label(scenario), layout)
    if plan.memory.fits:
        st.success(f"Fits in memory: {plan.memory.message}; {plan.memory.suggestion}.", icon=":material/check_circle:")
    else:
        st.error(f"Does not fit in memory: {plan.memory.message}. {plan.memory.suggestion}", icon=":material/block:")
    for w in plan.warnings:
        if not w.startswith("does not fit"):
            st.warning(w, icon=":material/warning:")
    st.info(f"**The scaling fits disagree.** {disagreement['summary']} This plan uses "
            f"{_approach_label(scenario).lower()}; the spread is the uncertainty in the recommended size, "
            "not a rounding error.", icon=":material/balance:")


def _metrics(plan: TrainingPlan, budget: bool, approach_label: str, layout: str) -> None:
    pricing_name = (pricing.PRICING_LABELS[plan.pricing_model].lower() if plan.pricing_model else "entered")
    m = [*st.columns(4), *st.columns(4)[:3]]  # two rows: seven values do not fit one at 1440 px
    m[0].metric("Parameters", f"{plan.params / 1e9:,.1f} B", help=approach_label if budget else "as entered")
    m[1].metric("Tokens", f"{plan.tokens / 1e12:,.2f} T", help=f"{plan.tokens_per_param:,.1f} tokens per parameter")
    m[2].metric("Compute (FLOPs)", f"{plan.flops:.2e}", help="6 × active parameters × tokens")
    m[3].metric("Wall clock", f"{plan.wall_clock_days:,.1f} days",
                help=f"{integer(plan.n_accelerators)} × {plan.hardware_name} ({layout})")
    m[4].metric("GPU-hours", integer(plan.gpu_hours),
                help=f"{plan.gpu_hours_source}; MFU {plan.mfu:.1%} ({plan.mfu_source}), goodput {plan.goodput:.0%}"
                     + _hours_range(plan))
    m[5].metric("Cost", money(plan.cost_usd),
                help=f"{plan.instances or '—'} × {plan.instance_id or 'custom price'}, "
                     f"{money(plan.price_usd_per_accelerator_h)} per accelerator-hour ({pricing_name})")
    m[6].metric("Emissions (tCO2e)", f"{plan.co2e_kg / 1000:,.1f}",
                help=f"operational {plan.operational_co2e_kg / 1000:,.1f} t + embodied "
                     f"{plan.embodied_co2e_kg / 1000:,.1f} t; energy {plan.energy_kwh / 1000:,.1f} MWh at "
                     f"{plan.grid_gco2e_per_kwh:,.0f} gCO2e/kWh, PUE {plan.pue:.2f}")


def _hours_range(plan: TrainingPlan) -> str:
    """"; range a-b" (the fit's leave-one-out 80 % range), or nothing for entered hours."""
    if plan.gpu_hours_low is None or plan.gpu_hours_high is None:
        return ""
    return f"; range {integer(plan.gpu_hours_low)}-{integer(plan.gpu_hours_high)} (published runs, leave-one-out)"


@st.cache_data(show_spinner=False)
def _published_runs() -> pd.DataFrame:
    """The published runs with their leave-one-out predictions (fixed data: computed once)."""
    return training_runs.published_table()


def _published_runs_section(plan: TrainingPlan) -> None:
    """Published training runs beside this prediction, with the range from their leave-one-out errors."""
    st.subheader("Your prediction beside published training runs")
    fitted = training.fitted_efficiency(plan.hardware_id)
    hours = integer(plan.gpu_hours)
    if plan.gpu_hours_low is not None and plan.gpu_hours_high is not None:
        hours += f" ({integer(plan.gpu_hours_low)}-{integer(plan.gpu_hours_high)})"
    st.caption(
        f"This run: {hours} GPU-hours on {plan.hardware_name} at MFU {plan.mfu:.1%} x goodput {plan.goodput:.0%}. "
        f"Defaults fitted on {fitted.n_runs} published {fitted.generation} runs ({fitted.fit_date}): each run "
        f"predicted without itself is off by {fitted.loo_median_abs_error:.0%} (median), at worst "
        f"{fitted.loo_worst_ratio:.2f}x; the range is the 10th-90th percentile of those ratios. Training FLOPs "
        "include attention, 12 L s d_attn per token at the run's sequence length (PaLM, App. B)."
    )
    runs = _published_runs()
    st.plotly_chart(figures.published_runs_figure(runs, plan), width="stretch", key="fig_published_runs")
    st.dataframe(figures.published_runs_table(runs), hide_index=True, width="stretch", height=320,
                 column_config={
                     "parameters (B)": st.column_config.NumberColumn(format="%.1f"),
                     "tokens (T)": st.column_config.NumberColumn(format="%.2f"),
                     "GPU-hours": st.column_config.NumberColumn(format="%,.0f"),
                     "predicted (leave-one-out)": st.column_config.NumberColumn(format="%,.0f"),
                     "predicted / published": st.column_config.NumberColumn(format="%.2f"),
                     "source": st.column_config.TextColumn(width="large"),
                     "url": st.column_config.LinkColumn("url")})


def _scaling_section(plan: TrainingPlan, scenario: Scenario, disagreement: dict[str, Any]) -> None:
    fit = APPROACHES[scenario.train.approach][1]
    left, right = st.columns([1.35, 1])
    left.plotly_chart(figures.frontier_figure(plan, "epoch2024" if fit == "epoch2024" else "hoffmann2022"),
                      width="stretch", key="fig_frontier")
    right.plotly_chart(figures.isoflop_figure(plan, disagreement), width="stretch", key="fig_isoflop")
    st.caption(f"What each approach recommends for {plan.flops:.2e} FLOPs "
               f"(sizes differ by a factor of {float(disagreement['params_ratio']):.2f}):")
    st.dataframe(figures.recommendations_table(disagreement), hide_index=True, width="stretch",
                 column_config={"parameters (B)": st.column_config.NumberColumn(format="%.1f"),
                                "tokens (T)": st.column_config.NumberColumn(format="%.2f"),
                                "tokens per parameter": st.column_config.NumberColumn(format="%.1f")})


def _comparison_section(result: TrainingAnalysis, scenario: Scenario) -> None:
    """The same run on every priced instance (part of the page's one result)."""
    plan, compare = result.plan, result.instances
    st.subheader("The same run across hardware and clouds")
    pm = scenario.deploy.pricing.value
    st.caption(
        f"Same model, tokens, MFU {plan.mfu:.0%} and about {integer(plan.n_accelerators)} accelerators (rounded to "
        f"whole instances), {pricing.PRICING_LABELS[pricing.PricingModel(pm)].lower()} prices. Runs that can span "
        "nodes come first, by cost; a partial-node instance (one GPU of a pod) cannot carry a multi-node run. "
        "Each cloud's own price region supplies grid intensity and PUE where the catalog has it."
    )
    if result.instances_error:
        st.warning(result.instances_error, icon=":material/warning:")
        return
    if compare.empty:
        st.info("No catalog instance has a price under this pricing model.")
        return
    st.dataframe(compare.drop(columns=["pricing"], errors="ignore"), hide_index=True, width="stretch", height=380,
                 column_config=_COMPARE_COLUMNS)
    st.download_button("Download this table (CSV)", compare.to_csv(index=False).encode(), "training_compare.csv",
                       "text/csv", key="dl_compare")
    if pm == pricing.PricingModel.SPOT.value:
        st.caption(pricing.SPOT_INTERRUPTION_NOTE)


_COMPARE_COLUMNS = {
    "GPU-hours": st.column_config.NumberColumn(format="%,.0f"),
    "days": st.column_config.NumberColumn(format="%.1f"),
    "cost (USD)": st.column_config.NumberColumn(format="$%,.0f"),
    "USD per accelerator-hour": st.column_config.NumberColumn(format="$%.2f"),
    "energy (MWh)": st.column_config.NumberColumn(format="%,.1f"),
    "tCO2e": st.column_config.NumberColumn(format="%,.1f"),
    "grid gCO2e/kWh": st.column_config.NumberColumn(format="%.0f"),
    "fits": st.column_config.CheckboxColumn("fits"),
    "multi-node": st.column_config.CheckboxColumn("multi-node", help="can span several instances (whole nodes)"),
    "note": st.column_config.TextColumn("note", width="large"),
}


def _how_computed(plan: TrainingPlan, scenario: Scenario) -> None:
    host = scenario.assumptions.host_overhead_fraction
    host = carbon.HOST_OVERHEAD_FRACTION if host is None else host
    exp = lazy_expander("How this is computed", "how_train_method", icon=":material/functions:")
    if exp is None:
        return
    with exp:
        st.markdown("**Budget → compute.** Dollars buy accelerator-hours at the instance's price per accelerator; "
                    "hours deliver FLOPs at the model FLOPs utilization (MFU) of the dense peak, times the goodput "
                    "(the share of paid hours that train: restarts, checkpoints and evaluation take the rest). "
                    "Unless entered, both are fitted on published runs of the accelerator's generation.")
        st.latex(r"T = \frac{B}{p_{acc}} \qquad C_{train} = T \cdot 3600 \cdot F_{peak} \cdot \mathrm{MFU}"
                 r" \cdot g")
        st.markdown("**Compute → model size and tokens** (Hoffmann et al. 2022). Approaches 1 and 2 are power laws "
                    "fitted to the paper's projection tables; approach 3 is the closed-form frontier of the "
                    "parametric loss, with the published or the Epoch (Besiroglu et al. 2024) constants.")
        st.latex(r"N_{opt} = k\,C^{a}, \quad D_{opt} = \frac{C}{6N_{opt}} \qquad "
                 r"L(N,D) = E + \frac{A}{N^{\alpha}} + \frac{B}{D^{\beta}}")
        st.markdown("**Model and tokens → time and cost.** Training FLOPs are 6 per parameter per token "
                    "(Kaplan et al. 2020 §2.1) plus attention, 12 × layers × sequence length × attention width per "
                    "token (Chowdhery et al. 2022, App. B); Chinchilla splits the 6ND share. Instances are "
                    "billed whole.")
        st.latex(r"C_{train} = (6N + 12\,L\,s\,d_{attn})\,D \qquad "
                 r"T = \frac{C_{train}}{F_{peak}\,\mathrm{MFU}\,g \cdot 3600} \qquad "
                 r"\text{days} = \frac{T}{24\,n} \qquad \$ = \left\lceil \tfrac{n}{k} \right\rceil \frac{T}{n}\,p_{inst}")
        st.markdown("**Energy and carbon.** Accelerator draw is linear between idle and TDP; the host server adds a "
                    "fixed share of TDP; PUE scales to the facility; the grid intensity is location-based. The "
                    "embodied share amortizes manufacturing emissions over the service life (Luccioni et al. 2022).")
        st.latex(r"P = P_{idle} + (P_{TDP} - P_{idle})\,u + h\,P_{TDP} \qquad E = \frac{P}{1000}\,T\,\mathrm{PUE}")
        st.latex(r"CO_2e = E \cdot \frac{I_{grid}}{1000} + M\,\frac{T}{L\,f_{use}}")
        st.markdown("**Memory.** Model states (2 + 2 + 12 bytes per parameter with AdamW) sharded by ZeRO over the "
                    "data-parallel ranks, plus activations (Korthikanti et al. 2022), per accelerator.")
        st.caption(
            f"In force: MFU {plan.mfu:.1%} ({plan.mfu_source}); goodput g = {plan.goodput:.1%}; power utilization "
            f"u = {scenario.train.power_utilization:.2f}; host "
            f"overhead h = {host:.2f} × TDP (Latif et al. 2024); PUE {plan.pue:.2f}; grid "
            f"{plan.grid_gco2e_per_kwh:,.1f} gCO2e/kWh; embodied {carbon.DEFAULT_ACCELERATOR_EMBODIED_KGCO2E:.0f} kg "
            f"per GPU where the catalog has none + {carbon.HOST_EMBODIED_KGCO2E_PER_ACCELERATOR:.1f} kg server share, "
            f"over {carbon.EMBODIED_LIFETIME_YEARS:.0f} years at {carbon.EMBODIED_USE_FRACTION:.0%} use."
        )


def _sources(plan: TrainingPlan) -> None:
    exp = lazy_expander("Assumptions and sources", "how_train_sources", icon=":material/menu_book:")
    if exp is None:
        return
    with exp:
        st.markdown("\n".join(f"- {a}" for a in plan.assumptions))
        st.caption("Published utilizations behind the MFU default and warning range:")
        st.dataframe(pd.DataFrame([{"run": r, "utilization": v, "source": s} for r, v, s in training.PUBLISHED_MFU]),
                     hide_index=True, width="stretch",
                     column_config={"utilization": st.column_config.NumberColumn(format="percent"),
                                    "source": st.column_config.TextColumn(width="large")})
        hw = catalog.get_hardware(plan.hardware_id)
        rows = [{"item": hw.name, "source": hw.source, "as_of": hw.as_of, "assumed": hw.assumed}]
        if plan.instance_id:
            inst = catalog.get_instance(plan.instance_id)
            rows.append({"item": inst.instance_id, "source": inst.source, "as_of": inst.as_of, "assumed": inst.assumed})
        if plan.region_id:
            reg = catalog.get_region(plan.region_id)
            rows.append({"item": reg.region_id, "source": reg.source, "as_of": reg.as_of, "assumed": reg.assumed})
        sources_table(pd.DataFrame(rows), "Where the figures come from")



# ------------------------------------------------------------------ lifetime mode (estimator.lifetime)

LIFETIME_FITS = {"epoch2024": "Epoch 2024 refit (Besiroglu et al.)",
                 "hoffmann2022": "Chinchilla, published rounded constants",
                 "hoffmann2022_tex": "Chinchilla, unrounded constants (TeX source)"}
LIFETIME_OBJECTIVES = {"usd": "dollars", "flops": "FLOPs (Sardana et al.)"}
LIFETIME_FAMILIES = {"llama3": "Llama 3", "qwen3": "Qwen3"}


def _lifetime_inputs() -> bool:
    """The lifetime toggle and, when on, the traffic it serves (the capacity planner's keys) and its life."""
    on = bool(st.toggle("Lifetime mode: size the model for training plus the traffic it will serve", key="lt",
                        bind="query-params", help="Compare the Chinchilla-optimal model for this budget with the "
                        "size that minimises training plus serving cost at the same loss (Sardana et al. 2024)."))
    if not on:
        return False
    with st.container(border=True):
        c1, c2, c3, c4 = st.columns(4)
        c1.number_input("Requests per day", 0.0, 1e12, D.traffic.requests_per_day, 100_000.0, format="%.0f",
                        key="rpd", bind="query-params")
        c1.number_input("Monthly growth", -0.99, 10.0, D.traffic.monthly_growth, 0.01, key="grow",
                        bind="query-params", help="0.1 = +10% a month, compounded over the lifetime")
        c2.number_input("Prompt tokens, mean", 1, 2_000_000, D.tokens.input_mean, 100, key="in", bind="query-params")
        c2.number_input("Output tokens, mean", 1, 200_000, D.tokens.output_mean, 50, key="out", bind="query-params")
        c3.number_input("Service lifetime (months)", 1.0, 240.0, D.lifetime.lifetime_months, 1.0, key="ltmo",
                        bind="query-params")
        c3.selectbox("Quality equivalence: loss fit", list(LIFETIME_FITS), key="ltfit", bind="query-params",
                     help="; ".join(f"{k}: {v}" for k, v in LIFETIME_FITS.items()))
        c4.segmented_control("Minimise", list(LIFETIME_OBJECTIVES), default="usd", key="ltobj", bind="query-params",
                             help="; ".join(f"{k}: {v}" for k, v in LIFETIME_OBJECTIVES.items()))
        c4.selectbox("Shape family of derived models", list(LIFETIME_FAMILIES), key="ltfam", bind="query-params",
                     help="derived architectures interpolate this family's published shapes (estimator.shapes)")
        st.caption("Serving uses the capacity planner's hardware, cloud, SLO and traffic pattern from this link.")
    return True


def _lifetime_section(scenario: Scenario) -> None:
    """Chinchilla-optimal vs lifetime-optimal side by side, the stacked cost chart, how it is computed."""
    st.subheader("Lifetime: training plus serving")
    try:
        plan: LifetimePlan = entrypoints.compute("lifetime", scenario)
    except EstimatorError as exc:
        show_error(exc)
        return
    st.markdown(plain(plan.summary, 2000))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Lifetime-optimal size", f"{plan.lifetime.params / 1e9:,.1f} B",
              f"{plan.lifetime.params / plan.chinchilla.params - 1:+.0%} vs Chinchilla", delta_color="off")
    m2.metric("Lifetime cost saved", money(plan.savings_usd), f"{plan.savings_fraction:.1%}", delta_color="off")
    be = plan.break_even_requests_per_day_usd
    m3.metric("Break-even traffic", "—" if be is None else f"{integer(be)} req/day",
              help="Requests per day above which over-training to the lifetime-optimal size pays (dollars)")
    m4.metric("FLOP-optimal size (Sardana)", f"{plan.flops_optimal_params / 1e9:,.1f} B",
              f"{plan.flops_saved_fraction:.1%} FLOPs saved", delta_color="off")
    st.dataframe(lifetime_figures.comparison_table(plan), hide_index=True, width="stretch", key="lifetime_table")
    st.plotly_chart(lifetime_figures.lifetime_cost_figure(plan), width="stretch", key="fig_lifetime")
    st.caption(f"Loss fit in force: **{LIFETIME_FITS[plan.fit]}** ({plan.fit_source}). Sizes are derived "
               f"{LIFETIME_FAMILIES[plan.family]}-shaped architectures, not published models: "
               + plain(plan.lifetime.shape_notes, 600))
    serve = serve_scenario(scenario, plan.lifetime)
    b1, b2 = st.columns(2)
    b1.link_button("Serve this model in the capacity planner", "capacity?" + urlencode(to_query_params(serve)),
                   icon=":material/dns:", width="stretch")

    def csv_file() -> str:  # built only when clicked, from the result drawn above
        return to_csv(build_report(scenario, "lifetime", plan))

    b2.download_button("Lifetime CSV report", csv_file, file_name="llm-capacity-lifetime.csv", mime="text/csv",
                       icon=":material/download:", key="_csv_lifetime", width="stretch", on_click="ignore")
    _lifetime_how_computed(plan)


def _lifetime_how_computed(plan: LifetimePlan) -> None:
    exp = lazy_expander("How this is computed (lifetime)", "how_lifetime_method", icon=":material/functions:")
    if exp is None:
        return
    with exp:
        st.markdown("**Same quality.** The target loss is that of the Chinchilla-optimal model for the training "
                    "budget under the fit in force; a model of N parameters needs D(N) tokens to reach it.")
        st.latex(r"\ell = L(N_{opt}(C), D_{opt}(C)) \qquad "
                 r"D(N) = \left(\frac{B}{\ell - E - A N^{-\alpha}}\right)^{1/\beta}")
        st.markdown("**FLOPs** (Sardana et al. 2024, eq. 2): 6N per training token, 2N per prompt or generated "
                    "token.")
        st.latex(r"N^*, D^* = \arg\min_{N,D:\,L(N,D)=\ell}\; 6ND + 2N D_{inf} \qquad "
                 r"D_{inf} = R\,(n_{in} + n_{out}) \cdot 30.4 \sum_{m<M} (1+g)^m")
        st.markdown("**Dollars and carbon.** Training cost, days and tCO2e from the training estimate; monthly "
                    "serving cost, replicas and tCO2e from the capacity planner for each size's derived shape, "
                    "over the lifetime (linear in traffic). A screen interpolates serving cost between sizes priced "
                    "exactly; the cheapest exactly priced size is recommended.")
        st.latex(r"\$(N) = p_{train}\,6ND(N) + S(N) \sum_{m<M}(1+g)^m \qquad "
                 r"R_{be} = R\,\frac{T_{life} - T_{Ch}}{(S_{Ch} - S_{life}) \sum_{m<M}(1+g)^m}")
        st.markdown("\n".join(f"- {plain(a, 400)}" for a in plan.assumptions))
        st.caption("Sources: " + "; ".join(plan.sources))


if __name__ == "__main__":
    run_page(render)
