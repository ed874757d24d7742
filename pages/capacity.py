"""Capacity planner: traffic and latency goal -> accelerators, inference mode, monthly cost and carbon.

``render()`` maps the widgets to a :class:`Scenario`, computes its one result,
``entrypoints.compute("capacity", ...)`` (a :class:`~estimator.capacity.CapacityPlan`), and draws
it with the builders of :mod:`pages.figures.capacity`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from estimator import carbon, catalog, entrypoints, modes, traffic
from estimator.capacity import CapacityPlan, InfeasiblePlanError
from estimator.errors import EstimatorError
from estimator.formatting import duration, integer, money
from estimator.scenario import (
    QUERY_KEYS,
    InferenceMode,
    Pricing,
    Scenario,
    TrafficPattern,
    Volume,
    encode_value,
    from_query_params,
    option_label,
    to_query_params,
)
from estimator.specs import HardwareKind, HardwareSpec, ModelSpec
from estimator.units import WEIGHT_DTYPES
from pages._deploy import deploy_section
from pages._kv_tiers import kv_tiers_section
from pages._recommend import answer_section, compute_recommendation, constraint_inputs, options_section
from pages._serving import disagg_section, speculative_section
from pages._tco import render_tco
from pages._ui import (
    MEMORY_FRACTION_HELP,
    TP_CHOICES,
    WEIGHT_FORMAT_HELP,
    check_query_params,
    engine_input,
    engine_overrides,
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
from pages.figures import capacity as figures

D = Scenario()
DTYPES = [d.value for d in WEIGHT_DTYPES]  # KV-cache selectors offer DTYPES[:5] (units.KV_DTYPES)
PATTERNS = [p.value for p in TrafficPattern]
VOLUMES = [v.value for v in Volume]
PRICINGS = [p.value for p in Pricing]
MODE_IDS = [m.value for m in InferenceMode]
MODE_HELP = ("Auto: the cheapest mode within its published limits that meets the SLO. Real-time endpoint: always-on "
             "instances, responses within 60 s. Serverless inference: billed per GB-second, scales to zero, CPU only. "
             "Asynchronous inference: queued requests, payloads up to 1 GB, results in S3. Batch transform: one job a "
             "day over the day's requests (assumed). Limits and sources: data/inference_modes.csv.")
PRICING_HELP = ("On-demand: the list price per instance-hour. Spot / preemptible: cheaper, but the provider can "
                "reclaim the instance at short notice. 1- and 3-year commitments: a reserved price for the always-on "
                "floor of instances, on-demand above it. Prices: data/instances.csv.")
MY_KEYS = {key for (section, _), key in QUERY_KEYS.items()
           if section in ("model", "deploy", "traffic", "tokens", "slo", "autoscaling", "assumptions", "recommend")}
FRIENDLY = {"rpd": "Requests per day must be greater than zero: enter at least 1 request a day.",
            "prps": "Peak requests per second must be greater than zero.",
            "rwf": "Choose at least one weight format for the search (under Limit the search)."}


@dataclass(frozen=True)
class _Choices:
    """The catalog entries the widgets offer (cached catalog lookups)."""

    models: dict[str, ModelSpec]
    hardware: dict[str, HardwareSpec]
    providers: list[str]
    regions: set[str]
    instances: list[str]


def _choices() -> _Choices:
    all_regions = catalog.list_regions()
    return _Choices(
        models=with_imported({m.model_id: m for m in catalog.list_models() if m.generates}),
        hardware={h.hardware_id: h for h in catalog.list_hardware()
                  if h.kind != HardwareKind.CPU and catalog.list_instances(hardware_id=h.hardware_id)},
        providers=sorted({r.provider for r in all_regions}),
        regions={r.region for r in all_regions},
        instances=[i.instance_id for i in catalog.list_instances()],
    )


def render() -> None:
    """Draw the Capacity planner page: the question, the answer (recommended plan), then the details."""
    c = _choices()
    st.title("Capacity planner")
    st.caption("The cheapest way to serve this traffic within the latency goal, searched over every accelerator, "
               "cloud, region, weight format and tensor-parallel layout; then the plan of your own choice, hour by "
               "hour, with every step of the reasoning. t = tonne; $ = USD.")
    check_query_params({
        "m": one_of(c.models), "hw": one_of(c.hardware), "tp": one_of(TP_CHOICES), "cloud": one_of(c.providers),
        "reg": one_of(c.regions), "inst": one_of(["", *c.instances]), "wd": one_of(DTYPES), "kd": one_of(DTYPES[:5]),
        "ph": int_between(0, 23), "util": float_between(0.05, 1.0),
    })
    _question_inputs(c)
    answer = st.container()
    pattern, hist = _more_inputs(c)
    with answer:
        scenario = _scenario(pattern)
        rec = compute_recommendation(scenario)
        answer_section(rec, scenario)
    options_section(rec)
    st.header("Your plan in detail", anchor="your-plan", divider="gray")
    input_dist = _prompt_histogram(hist)
    toolbar = st.container()
    plan = _compute(scenario, input_dist)
    with toolbar:
        scenario_toolbar("capacity", scenario, plan)
    _headline(plan)
    _views(plan)
    kv_tiers_section(scenario, plan)
    render_tco(plan)
    speculative_section(plan, input_dist)
    disagg_section(plan, input_dist)
    deploy_section(scenario, plan)
    _sources(plan)
    _lifetime_link(scenario)
    _how_computed()


# ------------------------------------------------------------------ inputs


def _question_inputs(c: _Choices) -> None:
    """The short form: model, traffic volume and the p95 goals (everything else: :func:`_more_inputs`)."""
    with st.container(border=True):
        q1, q2, q3, q4, q5 = st.columns([1.9, 1.3, 1.3, 1.2, 1.3])
        models = list(c.models)
        spec = c.models[q1.selectbox("Model", models, index=models.index(D.model.model_id), key="m",
                                     bind="query-params")]
        q1.caption(f"{plain(spec.name)} · {spec.params_total / 1e9:,.3g}B parameters"
                   + (f" ({spec.params_active / 1e9:,.3g}B active)" if spec.is_moe else "")
                   + f" · context {integer(spec.max_context)}" + (" · illustrative" if spec.assumed else ""))
        if q2.selectbox("Volume given as", VOLUMES, key="vol", bind="query-params",
                        format_func=option_format("vol")) == Volume.REQUESTS_PER_DAY.value:
            rpd = q3.number_input("Requests per day", min_value=0.0, max_value=1e12,
                                  value=D.traffic.requests_per_day, step=100_000.0, format="%.0f", key="rpd",
                                  bind="query-params")
            q3.caption(f"{integer(rpd)} a day · {rpd / 86_400:,.1f} a second on average")
        else:
            q3.number_input("Peak requests per second", min_value=0.0, max_value=1e7, value=D.traffic.peak_rps,
                            step=1.0, key="prps", bind="query-params")
        q4.number_input("p95 TTFT goal (s)", 0.001, 3600.0, D.slo.ttft_p95_s, 0.1, key="ttft",
                        bind="query-params", help="95th percentile of the time to first token in the busiest hour")
        q5.number_input("p95 end-to-end goal (s)", 0.001, 86_400.0, D.slo.e2e_p95_s, 1.0, key="e2e",
                        bind="query-params", help="95th percentile of the whole response time in the busiest hour")


def _more_inputs(c: _Choices) -> tuple[str, Any]:
    """The other inputs, folded: the detailed plan's hardware, traffic shape, tokens and autoscaling,
    assumptions. Returns the traffic pattern and the uploaded prompt-length histogram."""
    constraint_inputs()
    _model_inputs(c)
    pattern = _traffic_inputs()
    _custom_profile_inputs(pattern)
    hist = _token_inputs()
    _assumption_inputs()
    return pattern, hist


def _model_inputs(c: _Choices) -> None:
    with st.expander("Accelerator, cloud, region and formats of your plan (the search tries them all)",
                     icon=":material/memory:"):
        c2, c3, c4 = st.columns(3)
        c2.selectbox("Weight dtype", DTYPES, index=DTYPES.index(D.model.weight_dtype), key="wd",
                     bind="query-params", help=WEIGHT_FORMAT_HELP)
        c2.selectbox("KV-cache dtype", DTYPES[:5], index=DTYPES.index(D.model.kv_dtype), key="kd",
                     bind="query-params")
        hw_ids = list(c.hardware)
        hw_id = c3.selectbox("Accelerator", hw_ids, index=hw_ids.index(D.deploy.hardware_id), key="hw",
                             bind="query-params")
        engine_input(c2)
        hw = c.hardware[hw_id]
        c3.caption(f"{hw.name} · {hw.memory_bytes / 1e9:,.0f} GB · {hw.memory_bandwidth_bytes_per_s / 1e12:,.2f} TB/s")
        c3.selectbox("Tensor parallel", TP_CHOICES, key="tp", bind="query-params",
                     help="Accelerators one replica spans. auto: compare the layouts that fit and keep the cheapest.")
        provider = c4.selectbox("Cloud", c.providers, index=c.providers.index(D.deploy.provider), key="cloud",
                                bind="query-params")
        regions = [r.region for r in catalog.list_regions(provider)]
        home = catalog.default_region(provider, hw_id)
        if st.session_state.get("reg") not in (None, *regions) and home:
            st.session_state["reg"] = home  # the cloud changed: its main priced region, not the first by name
        c4.selectbox("Region", regions, key="reg", bind="query-params",
                     index=regions.index(D.deploy.region if D.deploy.region in regions else home or regions[0]))
        inst_opts = ["", *[i.instance_id for i in catalog.list_instances(provider=provider, hardware_id=hw_id)]]
        if not c4.selectbox("Instance", inst_opts, key="inst", bind="query-params",
                            help="Blank: the cheapest instance with the accelerator and a price for the pricing model."):
            c4.caption("Blank: the cheapest instance with this accelerator.")


def _traffic_inputs() -> str:
    """The traffic widgets; returns the pattern chosen."""
    with st.expander("Traffic shape over the week, growth and caches", icon=":material/show_chart:"):
        t1, t2, t3, t4 = st.columns(4)
        pattern = t1.selectbox("Pattern", PATTERNS, index=PATTERNS.index(D.traffic.pattern), key="pat",
                               bind="query-params", help="steady · diurnal · business_hours · bursty · custom (168 hours)")
        t2.number_input("Monthly growth", min_value=-0.99, max_value=10.0, value=D.traffic.monthly_growth, step=0.05,
                        key="grow", bind="query-params", help="0.1 = +10% a month; used for the 12-month projection.")
        _pattern_inputs(t3, pattern)
        t4.slider("Response-cache hit rate", 0.0, 0.95, D.traffic.response_cache_hit_rate, 0.05, key="rch",
                  bind="query-params", help="Share of requests answered from a response cache: no GPU work.")
        t4.slider("Prefix-cache hit rate", 0.0, 0.95, D.traffic.prefix_cache_hit_rate, 0.05, key="pch",
                  bind="query-params", help="Share of each prompt already in the KV cache: no prefill work.")
    return str(pattern)


def _pattern_inputs(col: Any, pattern: str) -> None:
    """The shape parameters of the chosen pattern."""
    t = D.traffic
    if pattern in (TrafficPattern.DIURNAL.value, TrafficPattern.BUSINESS_HOURS.value):
        col.number_input("Peak / trough", 1.0, 1000.0, t.peak_to_trough, 0.5, key="p2t", bind="query-params")
    if pattern == TrafficPattern.DIURNAL.value:
        col.number_input("Peak hour (0-23)", 0, 23, t.peak_hour, 1, key="ph", bind="query-params")
    if pattern == TrafficPattern.BUSINESS_HOURS.value:
        col.number_input("Business hours start", 0, 23, t.business_start_hour, 1, key="bh0", bind="query-params")
        col.number_input("Business hours end", 1, 24, t.business_end_hour, 1, key="bh1", bind="query-params")
        col.number_input("Weekend factor", 0.0, 1.0, t.weekend_factor, 0.05, key="wkend", bind="query-params")
    if pattern == TrafficPattern.BURSTY.value:
        col.number_input("Burst height (x base)", 1.0, 1000.0, t.burst_height, 0.5, key="bx", bind="query-params")
        col.number_input("Bursts per day", 0.0, 96.0, t.bursts_per_day, 1.0, key="bpd", bind="query-params")
        col.number_input("Burst length (minutes)", 1.0, 1440.0, t.burst_minutes, 5.0, key="bmin",
                         bind="query-params")


def _custom_profile_inputs(pattern: str) -> None:
    with st.expander("Custom weekly profile (168 hourly values, Monday 00:00 first)",
                     expanded=pattern == TrafficPattern.CUSTOM.value, icon=":material/calendar_view_week:"):
        e1, e2 = st.columns([1, 2])
        e1.file_uploader("Upload CSV (one value per row, or hour,value)", type=["csv", "txt"], key="_prof_upload",
                         on_change=_load_profile_upload)
        e1.button("Start from the pattern above", on_click=_fill_profile_from_pattern, key="_prof_fill",
                  help="Copies the current pattern's shape into the profile for editing.")
        e2.text_area("Profile values (comma or line separated; only the shape matters)", key="prof",
                     bind="query-params", height=110, placeholder="1,1,0.8, … (168 values)")
        if st.session_state.get("_prof_error"):
            e2.error(st.session_state["_prof_error"], icon=":material/error:")


def _profile_text(values: tuple[float, ...]) -> str:
    return ",".join(f"{v:g}" for v in values)


def _load_profile_upload() -> None:
    """Callback of the profile uploader: parse the CSV before the text widget is drawn."""
    up = st.session_state.get("_prof_upload")
    if up is None:
        return
    try:
        values = traffic.parse_custom_profile(up.getvalue())
    except EstimatorError as exc:
        st.session_state["_prof_error"] = f"{plain(up.name)}: {plain(exc, 400)}"
        return
    st.session_state["_prof_error"] = ""
    st.session_state["prof"] = _profile_text(values)
    st.session_state["pat"] = TrafficPattern.CUSTOM.value


def _fill_profile_from_pattern() -> None:
    """Callback (a click): start the custom profile from the shape of the pattern now selected."""
    scen, _ = widget_scenario()
    if scen.traffic.pattern == TrafficPattern.CUSTOM:
        return
    mean, _, _ = traffic.weekly_shape(scen.traffic)
    st.session_state["prof"] = _profile_text(tuple(round(float(x / mean.max()), 4) for x in mean))
    st.session_state["pat"] = TrafficPattern.CUSTOM.value
    st.session_state["_prof_error"] = ""


def _token_inputs() -> Any:
    """Tokens, inference mode, pricing and autoscaling; returns the uploaded prompt-length histogram."""
    with st.expander("Tokens per request, inference mode, pricing and autoscaling", icon=":material/tune:"):
        k1, k2, k3, k4 = st.columns(4)
        k1.number_input("Prompt tokens, mean", 1, 2_000_000, D.tokens.input_mean, 100, key="in", bind="query-params")
        k1.number_input("Prompt tokens, p95", 1, 2_000_000, D.tokens.input_p95, 100, key="in95", bind="query-params")
        k1.number_input("Output tokens, mean", 1, 200_000, D.tokens.output_mean, 50, key="out", bind="query-params")
        k1.number_input("Output tokens, p95", 1, 200_000, D.tokens.output_p95, 50, key="out95", bind="query-params")
        k2.selectbox("Inference mode", MODE_IDS, key="mode", bind="query-params", format_func=option_format("mode"),
                     help=MODE_HELP)
        k2.selectbox("Pricing", PRICINGS, key="price", bind="query-params", format_func=option_format("price"),
                     help=PRICING_HELP)
        a = D.autoscaling
        k3.number_input("Min replicas", 0, 10_000, a.min_replicas, 1, key="rmin", bind="query-params")
        k3.number_input("Max replicas", 1, 10_000, a.max_replicas, 1, key="rmax", bind="query-params")
        k3.slider("Target utilization", 0.1, 1.0, a.target_utilization, 0.05, key="util",
                  bind="query-params", help="Highest share of a replica's saturation throughput to plan for.")
        k4.number_input("Scale-up delay (s)", 0.0, 3600.0, a.scale_up_delay_s, 30.0, key="sud", bind="query-params")
        k4.number_input("Cold start (s)", 0.0, 7200.0, a.cold_start_s, 30.0, key="cold", bind="query-params",
                        help="Instance boot + container + weight load until ready.")
        k4.checkbox("Scale to zero", a.scale_to_zero, key="s2z", bind="query-params")
        return k4.file_uploader("Prompt-length histogram (tokens,count)", type=["csv", "txt"], key="_hist_upload",
                                help="Optional: replaces the lognormal prompt distribution (not part of the link).")


_CALIBRATED_HELP = ("Share of the {what} the serving engine sustains. Blank: fitted to published measurements for the "
                    "scenario's engine on the accelerator's vendor (data/calibration_engines.csv; the plan's "
                    "assumptions list the values in force).")


def _assumption_inputs() -> None:
    with st.expander("Assumptions you can change: memory, efficiency, power and grid", icon=":material/science:"):
        a1, a2, a3, a4 = st.columns(4)
        a1.number_input("Engine memory fraction", 0.3, 1.0, None, 0.01, key="mu", bind="query-params",
                        placeholder="engine default", help=MEMORY_FRACTION_HELP)
        a1.number_input("Runtime overhead per device (GB)", 0.0, 40.0, D.assumptions.runtime_overhead_gb, 0.1,
                        key="ovh", bind="query-params")
        engine_overrides(a1)
        a2.number_input("Compute efficiency", 0.05, 1.0, None, 0.01, key="ceff", bind="query-params",
                        placeholder="calibrated", help=_CALIBRATED_HELP.format(what="dense compute peak"))
        a2.number_input("Memory-bandwidth efficiency", 0.05, 1.0, None, 0.01, key="meff", bind="query-params",
                        placeholder="calibrated", help=_CALIBRATED_HELP.format(what="memory bandwidth"))
        a3.number_input("Host power (x TDP)", 0.0, 3.0, carbon.HOST_OVERHEAD_FRACTION, 0.05, key="host",
                        bind="query-params",
                        help="Host share per accelerator (Latif et al. 2024: 8 x H100 node at 8.4 kW).")
        a4.number_input("PUE (blank: the region's)", 1.0, 3.0, None, 0.01, key="pue", bind="query-params")
        a4.number_input("Grid gCO2e/kWh (blank: the region's)", 0.0, 2000.0, None, 10.0, key="grid",
                        bind="query-params")


# ------------------------------------------------------------------ scenario


def widget_scenario(profile: tuple[float, ...] | None = None) -> tuple[Scenario, list[str]]:
    """The Scenario the widgets show (bound values by query key, validated like a link), and the values the
    schema refused. ``profile`` replaces the raw profile text (parsed by the page for clearer messages)."""
    params = {key: encode_value(st.session_state[key]) for key in QUERY_KEYS.values()
              if key in st.session_state and st.session_state[key] is not None}
    params.pop("prof", None)
    if profile is not None:
        params["prof"] = ",".join(repr(float(v)) for v in profile)
    return from_query_params(params)


def _mine(messages: list[str]) -> list[str]:
    """The refusals that concern this page's inputs (link parameters of other pages are not its business)."""
    out = []
    for msg in messages:
        keys = {k.strip() for k in msg.split(":")[0].split("=")[0].split(",")}
        if keys & MY_KEYS:
            out.append(msg)
    return out


def _scenario(pattern: str) -> Scenario:
    """The widgets' Scenario; stops the page with a message when an input is not accepted."""
    profile: tuple[float, ...] | None = None
    if pattern == TrafficPattern.CUSTOM.value:
        raw = str(st.session_state.get("prof") or "")
        text = raw if "\n" in raw.strip() else "\n".join(raw.split(","))
        try:
            profile = traffic.parse_custom_profile(text)
        except EstimatorError as exc:
            st.error(f"Custom profile: {exc}. Paste 168 numbers (or upload a CSV), or start from the pattern above.",
                     icon=":material/error:")
            st.stop()
    scenario, ignored = widget_scenario(profile)
    mine = _mine(ignored)
    for msg in mine:
        key = msg.split("=")[0].split(":")[0].strip()
        st.error(FRIENDLY.get(key, f"Input not accepted: {msg}"), icon=":material/error:")
    if mine:
        st.stop()
    return scenario


def _prompt_histogram(hist: Any) -> traffic.TokenDistribution | None:
    """The uploaded prompt-length histogram as a distribution (``None`` without an upload)."""
    if hist is None:
        return None
    try:
        tok, cnt = traffic.parse_histogram(hist.getvalue())
        dist = traffic.TokenDistribution.from_histogram(tok, cnt)
    except EstimatorError as exc:
        st.error(f"{plain(hist.name)}: {plain(exc, 400)}", icon=":material/error:")
        st.stop()
    st.caption(f"Prompt lengths from {plain(hist.name)}: {dist.describe()}.")
    return dist


def _compute(scenario: Scenario, input_dist: traffic.TokenDistribution | None) -> CapacityPlan:
    """The page's one computation (cached per scenario for every session); stops with a message on error."""
    bar = st.empty()

    def progress(frac: float, text: str) -> None:
        bar.progress(frac, text=f"Planning: {text}")

    try:
        plan: CapacityPlan = entrypoints.compute("capacity", scenario, progress=progress, input_tokens=input_dist)
    except InfeasiblePlanError as exc:
        bar.empty()
        show_error(exc)
        if exc.alternative is not None:
            link = "?" + urlencode(to_query_params(exc.alternative), doseq=True)
            st.info(f"Try the nearest feasible alternative: [open it]({link})", icon=":material/lightbulb:")
        st.stop()
    except EstimatorError as exc:
        bar.empty()
        show_error(exc)
        st.stop()
    bar.empty()
    return plan


# ------------------------------------------------------------------ results


def _short_mode(p: CapacityPlan) -> str:
    if p.recommended_mode is None:
        return "none meets the SLO"
    return modes.MODE_NAMES[p.recommended_mode].removesuffix(" endpoint").removesuffix(" inference")


def _lifetime_link(s: Scenario) -> None:
    """Send this traffic to the training page's lifetime mode (size a model for training + serving)."""
    keep = {"rpd", "prps", "vol", "in", "in95", "out", "out95", "grow", "ttft", "e2e", "hw", "cloud", "reg", "price"}
    params = {k: v for k, v in to_query_params(s).items() if k in keep and isinstance(v, str)}
    query = urlencode({"lt": "true", **params})
    st.markdown(f":material/model_training: [Size a model for this traffic over its whole life (training + serving)]"
                f"(training?{query})")


def _ranges_caption(p: CapacityPlan) -> None:
    """The plan's nominal 80% ranges (leave-one-source-out residuals of its engine x vendor class)."""
    r = p.ranges
    if r is None:
        return
    st.caption(
        f"Nominal 80% ranges: monthly cost {money(r.monthly_cost_usd.value)} ({money(r.monthly_cost_usd.low)}–"
        f"{money(r.monthly_cost_usd.high)}) · per 1M output tokens {money(r.cost_usd_per_million_output_tokens.value)} "
        f"({money(r.cost_usd_per_million_output_tokens.low)}–{money(r.cost_usd_per_million_output_tokens.high)}) · "
        f"peak replicas {integer(r.peak_replicas.value)} ({integer(r.peak_replicas.low)}–{integer(r.peak_replicas.high)})"
        f" · p95 TTFT {duration(r.ttft_p95_s.value)} ({duration(r.ttft_p95_s.low)}–{duration(r.ttft_p95_s.high)}) · "
        f"p95 end-to-end {duration(r.e2e_p95_s.value)} ({duration(r.e2e_p95_s.low)}–{duration(r.e2e_p95_s.high)}). "
        f"{r.assumption} Basis: {r.monthly_cost_usd.basis}.")


def _headline(p: CapacityPlan) -> None:
    mode_name = modes.MODE_NAMES[p.mode]
    where = ("serverless CPU workers" if p.mode == InferenceMode.SERVERLESS
             else f"{p.devices_per_replica} × {p.hardware_name} per replica")
    st.subheader(f"{p.model_name} on {where} · {mode_name}")
    slo = p.scenario.slo
    _ranges_caption(p)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Monthly cost", money(p.monthly_cost_usd),
              help=f"{option_label('price', p.pricing.value)} on {p.instance_type}; {money(p.cost_usd_per_hour)} per hour "
                   f"on average, {money(p.cost_usd_per_day)} per day, {money(p.cost_usd_per_year)} per year")
    m2.metric("Per 1M output tokens", money(p.cost_usd_per_million_output_tokens),
              help=f"The whole monthly cost over the output tokens (the recommendation above splits it between "
                   f"input and output tokens); {money(p.cost_usd_per_request)} per request served by the fleet")
    m3.metric("p95 TTFT", duration(p.ttft_p95_s), help=f"Busiest hour; goal {duration(slo.ttft_p95_s)}")
    m4.metric("p95 end-to-end", duration(p.e2e_p95_s), help=f"Busiest hour; goal {duration(slo.e2e_p95_s)}")
    n1, n2, n3, n4 = st.columns(4)
    n1.metric("Peak replicas", integer(p.peak_replicas), help=f"{p.devices_per_replica} accelerator(s) each")
    n2.metric("Average replicas", f"{p.mean_replicas:,.2f}", help=f"mean utilization {p.utilization_mean:.0%}")
    n3.metric("tCO2e / month", f"{p.co2e_t_per_month:,.2f}",
              help=f"{integer(p.energy_kwh_per_month)} kWh/month; "
                   f"{integer(p.co2e_g_per_million_output_tokens)} g per 1M output tokens")
    n4.metric("Recommended mode", _short_mode(p),
              help="Cheapest mode within its published limits that meets the SLO")
    for w in p.warnings:
        st.warning(w, icon=":material/warning:")
    if p.recommended_mode is not None and p.mode == p.recommended_mode:
        st.success(f"{mode_name}: {money(p.monthly_cost_usd)} a month for {integer(p.requests_per_day)} requests a "
                   f"day ({money(p.cost_usd_per_million_output_tokens)} per 1M output tokens), p95 TTFT "
                   f"{duration(p.ttft_p95_s)} and end-to-end {duration(p.e2e_p95_s)} in the busiest hour.",
                   icon=":material/check_circle:")
    for note in p.notes:
        st.info(note, icon=":material/info:")


PLAN_VIEWS = ("Week: fleet and cost", "Latency and buy vs build", "Modes and the reasoning",
              "Prices, hosted APIs and regions")
"""The plan's result views (lazy tabs: only the open one is drawn on a rerun; the first is open at first)."""


def _views(p: CapacityPlan) -> None:
    """The plan's charts and tables, one view at a time (:func:`pages._ui.lazy_tabs`)."""
    drawers = (_week, _latency, _modes, _tables)
    for view, draw in zip(lazy_tabs(PLAN_VIEWS, "cap_view"), drawers, strict=True):
        if view is not None:
            with view:
                draw(p)


def _week(p: CapacityPlan) -> None:
    left, right = st.columns(2)
    left.plotly_chart(figures.week_figure(p), width="stretch", key="fig_week")
    right.plotly_chart(figures.week_cost_figure(p), width="stretch", key="fig_cost_week")


def _latency(p: CapacityPlan) -> None:
    left, right = st.columns(2)
    left.plotly_chart(figures.latency_figure(p), width="stretch", key="fig_latency")
    right.plotly_chart(figures.buy_build_figure(p), width="stretch", key="fig_buy_build")


def _modes(p: CapacityPlan) -> None:
    st.markdown("#### Inference modes")
    st.dataframe(figures.modes_table(p), hide_index=True, width="stretch",
                 column_config={"why": st.column_config.TextColumn(width="large")}, key="tbl_modes")
    st.markdown("#### The plan, line by line")
    st.markdown("\n".join(f"{i}. {line}" for i, line in enumerate(p.explanation, 1)))


def _tables(p: CapacityPlan) -> None:
    t_a, t_b = st.columns(2)
    with t_a:
        st.markdown("**Pricing models**")
        st.dataframe(figures.pricing_table(p), hide_index=True, width="stretch",
                     column_config={"$/instance-hour": st.column_config.NumberColumn(format="$%.2f")})
        st.markdown("**Tensor-parallel layouts**")
        st.dataframe(figures.tp_table(p), hide_index=True, width="stretch")
    with t_b:
        st.markdown("**Hosted APIs for the same traffic (buy)**")
        st.dataframe(figures.api_table(p), hide_index=True, width="stretch", height=250,
                     column_config={"$/1M in": st.column_config.NumberColumn("$/1M input tokens", format="$%.2f"),
                                    "$/1M out": st.column_config.NumberColumn("$/1M output tokens", format="$%.2f")})
        be = (f"{integer(p.break_even_requests_per_day)} requests/day against {p.break_even_api}"
              if p.break_even_requests_per_day else "not below 1000x this traffic" if p.break_even_api else
              "no API serves this model in the catalog")
        st.caption(f"Self-hosting breaks even at: {be}.")
    r_a, r_b = st.columns(2)
    with r_a:
        st.markdown("**The same plan in other regions**")
        if p.regions:
            st.dataframe(figures.regions_table(p), hide_index=True, width="stretch", height=250,
                         column_config={"role": st.column_config.TextColumn(width="medium")})
            st.caption("The catalog stores one price per instance (its price region); regional price differences "
                       "are not modelled.")
    r_b.plotly_chart(figures.growth_figure(p), width="stretch", key="fig_growth")


def _sources(p: CapacityPlan) -> None:
    exp = lazy_expander("Every assumption and its source", "how_cap_sources", icon=":material/menu_book:")
    if exp is None:
        return
    with exp:
        sources_table(pd.DataFrame([{"item": a.name, "value": a.value, "source": a.source, "as_of": None,
                                     "assumed": a.assumed} for a in p.assumptions]), "Assumptions in this plan")
        sources_table(pd.DataFrame(modes.sources_rows()), "Inference-mode limits (data/inference_modes.csv)")
        sources_table(pd.DataFrame([{"item": f"{a.provider} {a.model}",
                                     "value": f"${a.input_usd_per_mtok:g} in / ${a.output_usd_per_mtok:g} out per 1M",
                                     "source": a.source, "as_of": a.as_of, "assumed": False}
                                    for a in p.api_options]), "Hosted API prices (data/api_prices.csv)")
        st.caption(f"Replica iteration model fitted to the roofline of estimator.performance within "
                   f"{p.replica_fit_error:.1%}; plan computed in {duration(p.elapsed_s)}.")


def _how_computed() -> None:
    exp = lazy_expander("How this is computed", "how_cap_method", icon=":material/functions:")
    if exp is None:
        return
    with exp:
        st.markdown("**Traffic.** 168 hourly arrival rates; a diurnal pattern with peak-to-trough ratio r peaking at "
                    "hour h_p is a daily sinusoid; the volume fixes the scale. A response cache removes a share c of "
                    "the requests; a prefix cache removes a share of each prompt's prefill.")
        st.latex(r"\lambda(h) = \Lambda\,\frac{s(h)}{\overline{s}},\quad s(h) = 1 + a\cos\frac{2\pi (h-h_p)}{24},"
                 r"\quad a = \frac{r-1}{r+1},\qquad \lambda_{fleet} = (1-c)\,\lambda")
        st.markdown("**One replica** (continuous batching with chunked prefill; Yu et al. 2022, Kwon et al. 2023, "
                    "Agrawal et al. 2024): each iteration decodes one token for the b running sequences and prefills "
                    "waiting prompts; its time is the roofline of estimator.performance. Little's law ties the batch "
                    "to the load, and a prompt starts a prefill episode with probability π per iteration:")
        st.latex(r"T(N, A, K) = G(N) + \max(f_A A,\; k K),\qquad b = \lambda\,E[L-1]\,\mathrm{TPOT},\qquad "
                 r"\mathrm{TPOT} = \frac{\pi E[D_p] + (1-\pi) T_d(b)}{\pi E[k] + 1 - \pi},\quad "
                 r"\pi = 1-e^{-\lambda\tau}")
        st.markdown("**Waiting for a slot** (M/G/c with c sequence slots): Erlang C (Kleinrock 1975) with the "
                    "Allen–Cunneen approximation for general service times:")
        st.latex(r"C(c,a) = \frac{\frac{a^c}{c!}\frac{c}{c-a}}{\sum_{k=0}^{c-1}\frac{a^k}{k!} + \frac{a^c}{c!}"
                 r"\frac{c}{c-a}},\qquad P(W>t) \approx C(c,a)\,e^{-\frac{2(c-a)t}{(1+c_s^2)E[S]}}")
        st.markdown("**Waiting for prefill**: an M/G/1 queue with vacations (decode steps); Pollaczek–Khinchine in "
                    "Beneš's form gives the waiting-time distribution (Takagi 1991):")
        st.latex(r"W = \sum_{k\ge 0}(1-\rho)\rho^k R_e^{*k},\quad f_{R_e}(x) = \frac{1-F_{D_p}(x)}{E[D_p]},\quad "
                 r"\rho = \lambda E[D_p],\qquad \mathrm{TTFT} = W_{slot} + W + U\,T_d + D_p(n)")
        st.markdown("The 95th percentiles of TTFT and of end-to-end latency (TTFT + (L−1)·TPOT) come from a "
                    "quadrature over prompt and output lengths; the model is checked against a discrete-event "
                    "simulation of the same scheduler (estimator.simulate; tests: within 15 % over a range of loads).")
        st.markdown("**Replicas and cost.** λ* is the largest per-replica load meeting both p95 goals, capped at the "
                    "target utilization and half the slots; replicas are clipped to the autoscaling range; committed "
                    "pricing commits the always-on floor of instances.")
        st.latex(r"n_h = \mathrm{clip}\!\left(\left\lceil \frac{\lambda_h}{\lambda^*} \right\rceil, n_{min}, "
                 r"n_{max}\right),\quad C_{month} = \frac{730}{168}\sum_h \left\lceil \frac{n_h\,d}{g} \right\rceil p,"
                 r"\quad \$/1\mathrm{M} = \frac{C_{month}}{\text{output tokens}_{month}/10^6}")
        st.markdown("**Energy and carbon** (estimator.carbon; Luccioni et al. 2022, Latif et al. 2024): accelerator "
                    "power from idle to TDP by utilization u, plus the host's share h·TDP, times PUE and the grid's "
                    "intensity I, plus the embodied share of manufacturing emissions M over the service life L.")
        st.latex(r"E = \sum_h \big(P_{idle} + (P_{TDP}-P_{idle})u_h + h P_{TDP}\big)\,t_h\,\mathrm{PUE},\qquad "
                 r"CO_2e = E\,I + M\,\frac{t}{L f_{use}}")
        st.markdown("**Modes**: each mode's published limits (payload, response time, memory, concurrency, GPU, "
                    "streaming) are in data/inference_modes.csv with their sources; the cheapest mode within its "
                    "limits that meets the SLO is recommended.")


if __name__ == "__main__":
    run_page(render)
