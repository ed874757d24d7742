"""Compare variants: accuracy against cost and latency across model families, compression what-ifs,
elastic sub-networks and context lengths, with the Pareto frontier and every point's sources.

The page maps its widgets to a :class:`Scenario`, computes ONE result
(``entrypoints.compute("variants", ...)`` -> :class:`estimator.variants.Exploration`) and draws it
with the builders of :mod:`pages.figures.variants`. The elastic and long-context controls live in
their tabs but are read before the computation (they are part of the scenario); the controls that
are not (the elastic comparison's weight format, a context length other than the default, the
evidence kind, the planner candidate) only choose among what the result holds, except the
"another context length" comparison, which runs on its own button.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from estimator import catalog, entrypoints, formatting, pricing
from estimator import variants as V
from estimator.errors import EstimatorError
from estimator.scenario import QUERY_KEYS, Scenario, encode_value, from_query_params
from estimator.units import WEIGHT_DTYPES
from pages._ui import (
    WEIGHT_FORMAT_HELP,
    app_page,
    check_query_params,
    float_between,
    int_between,
    lazy_expander,
    one_of,
    option_format,
    run_page,
    scenario_toolbar,
    show_error,
    sources_table,
)
from pages.figures import variants as figs

D = Scenario()  # every widget defaults to the scenario's value (an empty link = the defaults)
DV = D.variants
MODELS = {m.model_id: m for m in catalog.list_models()}
HARDWARE = {h.hardware_id: h for h in catalog.list_hardware()}
DTYPES = [d.value for d in WEIGHT_DTYPES]  # KV-cache selectors offer DTYPES[:5] (units.KV_DTYPES)
BENCHES = [b for b in V.BENCHMARKS if b in set(V.load_accuracy()["benchmark"])]
X_AXES = figs.X_AXES
DISTILL_PAIRS = {
    "llama-3.1-8b>llama-3.2-3b": "Llama 3.1 8B → Llama 3.2 3B (published)",
    "llama-3.1-8b>llama-3.2-1b": "Llama 3.1 8B → Llama 3.2 1B (published)",
    "bert-base>distilbert-base": "BERT-base → DistilBERT (published, GLUE)",
    "nlarge-prod>nlarge-m": "NLarge-Prod → NLarge-M (what-if)",
    "nlarge-m>nlarge-s": "NLarge-M → NLarge-S (what-if)",
}
WIDTHS = ["100", "75", "50", "25"]
TPS = [1, 2, 4, 8]
BATCHES = [1, 4, 16, 64, 256]
LC_LENGTHS = figs.LC_LENGTHS
MULTI = {"v_models": list(MODELS), "v_hw": list(HARDWARE), "v_dt": DTYPES, "v_prune": list(MODELS),
         "v_dist": list(DISTILL_PAIRS), "v_w": WIDTHS, "v_tp": [str(t) for t in TPS], "v_b": [str(b) for b in BATCHES],
         "v_lc": list(MODELS), "v_lcl": [str(x) for x in LC_LENGTHS]}
PAGE_KEYS = {**{k: (lambda _v: True) for k in MULTI},
             "v_bench": one_of(BENCHES), "v_x": one_of(X_AXES), "v_tpot": float_between(0, 10_000),
             "v_proxy": lambda _v: True, "v_tpp": float_between(1, 100_000),
             "v_pue": float_between(1, 3), "v_el": one_of(["none", *MODELS]), "v_tpotb": float_between(0.1, 10_000),
             "v_elhw": one_of(HARDWARE), "v_lchw": one_of(HARDWARE), "v_lcb": float_between(0, 1e6),
             "v_lcd": one_of(DTYPES), "v_lco": int_between(1, 16_384)}


@dataclass(frozen=True)
class _Slots:
    """Places on the page filled after the computation (created before it, so they keep their order)."""

    toolbar: Any
    summary: Any
    frontier: Any
    compression: Any
    elastic: Any
    elastic_pick: Any
    elastic_deploy: Any
    long_context: Any
    lc_budget: Any
    accuracy: Any


@dataclass(frozen=True)
class _Inputs:
    scenario: Scenario
    user_scores: pd.DataFrame | None


# ------------------------------------------------------------------ link parameters


def _check_link() -> None:
    bad_multi = [f"`{k}={x}`" for k, opts in MULTI.items() for x in st.query_params.get_all(k) if x not in opts]
    check_query_params(
        {"in": int_between(1, 2_000_000), "out": int_between(1, 200_000), "ttft": float_between(0.001, 3600),
         "price": one_of([p.value for p in pricing.PricingModel])},
        page_keys=PAGE_KEYS,
    )
    if bad_multi:
        st.warning("Some link values are not available choices and were dropped: " + ", ".join(bad_multi[:8]),
                   icon=":material/link_off:")


def _link_choices(key: str, options: list[str], default: list[str]) -> list[str]:
    """The link's values for a widget with labels (``format_func``): Streamlit's binding would put the
    labels in the link, so these widgets read and write their option values themselves."""
    if key not in st.query_params:
        return default
    chosen = [x for x in st.query_params.get_all(key) if x in options]
    return chosen if chosen or st.query_params.get_all(key) == [""] else default


def _to_link(key: str, value: str | list[str], default: str | list[str]) -> None:
    """Write a widget's option value(s) to the link (as a bound widget would), or drop it at its default."""
    if value == default:
        st.query_params.pop(key, None)
    elif st.query_params.get_all(key) != (value if isinstance(value, list) else [value]):
        st.query_params[key] = value if value else ""


# ------------------------------------------------------------------ inputs


def _main_inputs() -> None:
    with st.container(border=True):
        c1, c2, c3 = st.columns([2.2, 1.6, 1])
        c1.multiselect("Models", list(MODELS), default=list(DV.model_ids), key="v_models", bind="query-params",
                       help="Catalog models (NLarge is illustrative: its architecture is ours, its accuracy a "
                            "labelled proxy).")
        c2.multiselect("Accelerators", list(HARDWARE), default=list(DV.hardware_ids), key="v_hw", bind="query-params",
                       help="Each point uses the cheapest catalog instance with the accelerator (its price per "
                            "device-hour).")
        c3.multiselect("Weight formats", DTYPES, default=list(DV.dtypes), key="v_dt", bind="query-params",
                       help=WEIGHT_FORMAT_HELP + " Accuracy below 16 bits uses published retention figures "
                            "(Compression tab); a format without one shows no score.")
        d1, d2, d3, d4, d5, d6 = st.columns([1.1, 1.4, 0.8, 0.8, 0.8, 0.8])
        d1.selectbox("Benchmark", BENCHES, index=BENCHES.index(DV.benchmark), key="v_bench", bind="query-params",
                     help="Accuracy axis. A Chinchilla-loss proxy fills in models without a score "
                          "(multiple-choice benchmarks only).")
        x_col = d2.selectbox("Compare accuracy against", list(X_AXES),
                             index=list(X_AXES).index(_link_choices("v_x", list(X_AXES), [DV.x_axis])[-1]),
                             format_func=lambda k: X_AXES[k], key="v_x")
        d3.number_input("Input tokens", 1, 2_000_000, D.tokens.input_mean, 256, key="in", bind="query-params")
        d4.number_input("Output tokens", 1, 200_000, D.tokens.output_mean, 64, key="out", bind="query-params")
        d5.number_input("TTFT limit (s)", 0.001, 3600.0, D.slo.ttft_p95_s, 0.5, format="%.3f", key="ttft",
                        bind="query-params", help="Configurations slower to the first token are left out.")
        d6.number_input("TPOT limit (ms, 0 = none)", 0.0, 10_000.0, DV.tpot_limit_ms, 10.0, key="v_tpot",
                        bind="query-params")
    _to_link("v_x", x_col, DV.x_axis)


def _whatif_inputs() -> None:
    with st.expander("What-ifs on the chart: pruning, distillation, elastic sub-networks", icon=":material/science:"):
        w1, w2, w3 = st.columns([1.2, 1.4, 1.2])
        w1.multiselect("Prune (2:4 and 50% unstructured)", list(MODELS), default=list(DV.prune_ids), key="v_prune",
                       bind="query-params",
                       help="One-shot SparseGPT-style pruning of half the linear-layer weights. 2:4 runs at twice "
                            "the dense matmul rate on sparse tensor cores (Ampere+, MI300); unstructured gains "
                            "nothing on GPUs.")
        dist_ids = w2.multiselect("Distillation pairs (teacher → student)", list(DISTILL_PAIRS),
                                  default=_link_choices("v_dist", list(DISTILL_PAIRS), list(DV.distill_pairs)),
                                  format_func=lambda k: DISTILL_PAIRS.get(k, k), key="v_dist")
        w3.selectbox("Elastic parent (Flextron-style)", ["none", *MODELS],
                     index=["none", *MODELS].index(DV.elastic_parent), key="v_el", bind="query-params")
        w3.multiselect("Sub-network widths (%)", WIDTHS, default=list(DV.widths), key="v_w", bind="query-params")
    _to_link("v_dist", dist_ids, list(DV.distill_pairs))


def _assumption_inputs() -> None:
    with st.expander("Assumptions you can change", icon=":material/tune:"):
        a1, a2, a3, a4 = st.columns(4)
        a1.toggle("Proxy for models without a score", DV.proxy, key="v_proxy", bind="query-params",
                  help="Chinchilla loss L(N, D) mapped to the benchmark by a logistic fit on catalog models "
                       "with both (labelled 'proxy' and drawn hollow).")
        a1.number_input("Assumed training tokens per parameter", 1.0, 100_000.0, DV.tokens_per_param, 10.0,
                        key="v_tpp", bind="query-params",
                        help="For models without a published token count (NLarge): 20 is the Chinchilla rule of "
                             "thumb; Llama 3.1 8B saw ~1,900.")
        prices = [p.value for p in pricing.PricingModel]
        a2.selectbox("Pricing", prices, index=prices.index(D.deploy.pricing.value), key="price", bind="query-params",
                     format_func=option_format("price"))
        a2.number_input("PUE (energy)", 1.0, 3.0, DV.pue, 0.05, key="v_pue", bind="query-params",
                        help="1.0 counts IT energy only: accelerator at TDP plus its host share.")
        a3.multiselect("Tensor-parallel degrees", [str(t) for t in TPS], default=list(DV.tps), key="v_tp",
                       bind="query-params")
        a4.multiselect("Batches", [str(b) for b in BATCHES], default=list(DV.batches), key="v_b", bind="query-params")


def _user_scores() -> pd.DataFrame | None:
    """The scores typed into the editor, validated (None when there are none or some need fixing)."""
    with st.expander("Your own scores (override or add to the published ones)", icon=":material/edit_note:"):
        st.caption("Enter a score from 0 to 100 for any catalog model on any benchmark. Your scores replace "
                   "published ones for that model and join the proxy fit. They live in this browser session only.")
        default_rows = st.session_state.get("v_user_rows", pd.DataFrame({
            "model_id": pd.Series([], dtype=str), "benchmark": pd.Series([], dtype=str),
            "score": pd.Series([], dtype=float), "note": pd.Series([], dtype=str)}))
        edited = st.data_editor(default_rows, num_rows="dynamic", key="v_user_editor", width="stretch",
                                hide_index=True, column_config={
            "model_id": st.column_config.SelectboxColumn("model", options=list(MODELS), required=True),
            "benchmark": st.column_config.SelectboxColumn("benchmark", options=list(V.BENCHMARKS), required=True),
            "score": st.column_config.NumberColumn("score (0-100)", format="%.1f"),
            "note": st.column_config.TextColumn("note (where it comes from)", max_chars=300)})
        try:
            user_scores = V.validate_user_scores(edited)
        except EstimatorError as exc:
            show_error(exc)
            st.caption("Rows with problems are ignored until fixed.")
            return None
        if user_scores.empty:
            return None
        st.success(f"Using {len(user_scores)} score(s) you entered.", icon=":material/check:")
        return user_scores


def _selection_problem() -> str:
    """What the chosen lists lack before anything can be computed ('' when nothing)."""
    ss = st.session_state
    if not ss.get("v_models"):
        return "Choose at least one model to compare."
    if not ss.get("v_hw"):
        return "Choose at least one accelerator: costs and latencies depend on it."
    if not ss.get("v_dt"):
        return "Choose at least one weight format."
    if not ss.get("v_tp") or not ss.get("v_b"):
        return "Choose at least one tensor-parallel degree and one batch size."
    return ""


# ------------------------------------------------------------------ the tabs' controls (part of the scenario)


def _elastic_controls(tab: Any) -> tuple[Any, Any, tuple[Any, Any, Any]]:
    """The elastic tab's scenario widgets (TPOT budget, accelerator) and the places for its results."""
    with tab:
        body = st.container()
        if st.session_state.get("v_el", DV.elastic_parent) == "none" or not st.session_state.get("v_w"):
            return body, st.container(), (st.container(), st.container(), st.container())
        b1, b2 = st.columns([1, 2])
        b1.number_input("TPOT budget (ms)", 0.1, 10_000.0, DV.elastic_tpot_budget_ms, 1.0, key="v_tpotb",
                        bind="query-params")
        st.markdown("**One elastic deployment vs one deployment per budget** (weights in memory and monthly cost, "
                    "one replica each)")
        g1, g2, g3 = st.columns(3)
        hw_ids = st.session_state.get("v_hw") or list(DV.hardware_ids)
        default_hw = DV.elastic_hardware_id or hw_ids[0]
        g1.selectbox("Accelerator", list(HARDWARE), index=list(HARDWARE).index(default_hw), key="v_elhw",
                     bind="query-params")
        return body, b2, (g2, g3, st.container())


def _long_context_controls(tab: Any) -> tuple[Any, Any]:
    """The long-context tab's scenario widgets and the places for its charts and budget tables."""
    with tab:
        st.markdown("**Cost, latency and energy as the input grows**, cheapest fitting configuration per length on "
                    "one accelerator. LED (Longformer encoder-decoder) and BigBird cap attention with local windows; "
                    "decoders pay full attention and a growing KV cache. Ang, Dhingra & Wu Wills (2022) found LED "
                    "more accurate than BigBird at lower energy, and that for summarization a larger model beats a "
                    "longer input.")
        l1, l2, l3, l4 = st.columns([2, 1, 1, 1])
        l1.multiselect("Models", list(MODELS), default=list(DV.lc_model_ids), key="v_lc", bind="query-params")
        l2.selectbox("Accelerator", list(HARDWARE), index=list(HARDWARE).index(DV.lc_hardware_id), key="v_lchw",
                     bind="query-params")
        l3.selectbox("Weight format", DTYPES, index=DTYPES.index(DV.lc_dtype), key="v_lcd", bind="query-params",
                     help=WEIGHT_FORMAT_HELP)
        l4.number_input("Output tokens", 1, 16_384, DV.lc_output_tokens, 64, key="v_lco", bind="query-params")
        st.multiselect("Input lengths", [str(x) for x in LC_LENGTHS], default=list(DV.lc_lengths), key="v_lcl",
                       bind="query-params")
        charts = st.container()
        st.markdown("**Larger model or longer context under a fixed budget** (points with a score published at "
                    "that input length)")
        k1, k2 = st.columns([1, 3])
        k1.number_input("Budget (USD per 1k requests)", 0.0, 1e6, DV.lc_budget_usd_per_1k, 0.001, format="%.4f",
                        key="v_lcb", bind="query-params", placeholder="auto",
                        help="Empty: 1.5 × the cheapest published point.")
        k2.caption("Scores come from different tasks and lengths: compare within one benchmark. Ang et al. (2022) "
                   "measured LED and BigBird at 1k-4k on SCROLLS; their figures are not tabulated here.")
        return charts, st.container()


def _layout() -> _Slots:
    """The page below the inputs: toolbar, summary and the five tabs with their scenario controls."""
    toolbar, summary = st.container(), st.container()
    # on_change="rerun" gives each tab ``.open``: the widget-free tabs (frontier, compression, accuracy) are built
    # only while open (as pages._ui.lazy_tabs); the elastic and long-context tabs hold scenario widgets and are
    # always built, since a widget not drawn loses its value and its place in the link
    tab_front, tab_comp, tab_el, tab_lc, tab_acc = st.tabs(
        ["Frontier", "Compression", "Elastic sub-networks", "Long context", "Accuracy data & sources"],
        key="var_view", on_change="rerun")
    el_body, el_pick, el_deploy = _elastic_controls(tab_el)
    lc_charts, lc_budget = _long_context_controls(tab_lc)
    return _Slots(toolbar, summary, tab_front, tab_comp, el_body, el_pick, el_deploy, lc_charts, lc_budget, tab_acc)


# ------------------------------------------------------------------ the scenario


def _with_valid_p95(params: dict[str, Any]) -> dict[str, Any]:
    """Link parameters whose p95 lengths are at least the means. This page has no p95 inputs: a mean
    alone takes a consistent p95 in the scenario (``TokenLengths``), but a p95 left in the session
    (another page's input) below the new mean would refuse it (issue #11); it is raised to the mean."""
    out = dict(params)
    for mean_key, p95_key in (("in", "in95"), ("out", "out95")):
        try:
            mean, p95 = int(out[mean_key]), int(out[p95_key])
        except (KeyError, TypeError, ValueError):
            continue
        if p95 < mean:
            out[p95_key] = str(mean)
    return out


def _scenario() -> tuple[Scenario, list[str]]:
    """The Scenario the widgets show (as ``pages._ui.current_scenario``, with valid p95 lengths)."""
    params = {key: encode_value(st.session_state[key]) for key in QUERY_KEYS.values()
              if key in st.session_state and st.session_state[key] is not None}
    scenario, refused = from_query_params(_with_valid_p95(params))
    v = scenario.variants
    if v.hardware_ids and v.elastic_hardware_id == v.hardware_ids[0]:  # the widget's default: the first accelerator
        scenario = scenario.replace(variants={**v.model_dump(), "elastic_hardware_id": ""})
    return scenario, refused


def _inputs() -> tuple[_Inputs | None, _Slots | None]:
    """Widgets -> scenario (None, after saying why, when nothing can be computed) and the page's places."""
    _main_inputs()
    _whatif_inputs()
    _assumption_inputs()
    user_scores = _user_scores()
    problem = _selection_problem()
    if problem:
        st.error(problem, icon=":material/error:")
        return None, None
    slots = _layout()
    scenario, refused = _scenario()
    if refused:
        slots.summary.error("These inputs are out of range: " + "; ".join(refused), icon=":material/error:")
        return None, None
    return _Inputs(scenario, user_scores), slots


# ------------------------------------------------------------------ drawing


def _summary(ex: V.Exploration) -> bool:
    """Notes, the reason nothing can be drawn (False), or the headline metrics (True)."""
    for note in ex.notes:
        st.caption(f"Not added: {note}")
    if ex.problem:
        st.error(ex.problem, icon=":material/block:")
        return False
    frame = ex.result.frame
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Configurations evaluated", formatting.integer(len(frame)),
              help=f"Sweep time {ex.result.elapsed_s * 1e3:,.0f} ms")
    m2.metric("Variants × formats shown", formatting.integer(len(ex.scored)),
              help=f"{len(ex.unscored)} without a {ex.benchmark} score")
    m3.metric("On the frontier", f"{int(ex.scored['on_frontier'].sum())}")
    m4.metric("Sweep time", f"{ex.result.elapsed_s * 1e3:,.0f} ms")
    if ex.result.skipped:
        with st.expander(f"{len(ex.result.skipped)} combination(s) skipped", icon=":material/info:"):
            for s in ex.result.skipped[:40]:
                st.caption(s)
    return True


_POINT_COLUMNS = {
    "on_frontier": st.column_config.CheckboxColumn("frontier"),
    "cost_usd_per_1m_tokens": st.column_config.NumberColumn("$ / 1M output tok", format="$%.4f"),
    "cost_usd_per_1k_requests": st.column_config.NumberColumn("$ / 1k req", format="$%.4f"),
    "ttft_s": st.column_config.NumberColumn("TTFT (s)", format="%.3f"),
    "tpot_s": st.column_config.NumberColumn("TPOT (s)", format="%.4f"),
    "e2e_s": st.column_config.NumberColumn("e2e (s)", format="%.2f"),
    "tokens_per_usd": st.column_config.NumberColumn("tokens / $", format="%.3e"),
    "energy_kwh_per_1m_tokens": st.column_config.NumberColumn("kWh / 1M output tok", format="%.4f"),
    "memory_per_device_bytes": st.column_config.NumberColumn("GB / device", format="%.1f"),
    "score_source": st.column_config.TextColumn("accuracy source", width="large"),
    "model_source": st.column_config.TextColumn("architecture source", width="medium"),
}


def _frontier_tab(ex: V.Exploration, tpp: float) -> None:
    if ex.scored.empty:
        st.warning(f"No point has a {ex.benchmark} score: enter scores above, switch the proxy on, or pick a "
                   "benchmark the chosen models report.", icon=":material/warning:")
        return
    st.plotly_chart(figs.frontier_figure(ex), width="stretch", key="fig_frontier")
    st.caption("Filled markers: published or entered scores (× published quantization/pruning/distillation "
               "retention for what-ifs); hollow: Chinchilla-loss proxy. ○ catalog model, ◇ pruned, □ distilled, "
               f"△ elastic sub-network. Bigger markers lie on the frontier. Proxy scores assume {tpp:g} training "
               "tokens per parameter where no count is published (NLarge): change it under Assumptions.")
    st.dataframe(figs.points_table(ex), hide_index=True, width="stretch", height=360, key="tbl_points",
                 column_config={**_POINT_COLUMNS, "score": st.column_config.NumberColumn(ex.benchmark, format="%.1f")})
    if not ex.unscored.empty:
        st.caption(f"Without a {ex.benchmark} score (not drawn): " + ", ".join(sorted(set(ex.unscored["label"]))))
    _send_to_planner(ex)


def _send_to_planner(ex: V.Exploration) -> None:
    st.subheader("Send a candidate to the capacity planner")
    cands = {c.key: c for c in figs.candidates(ex)}
    if not cands:
        st.info("No candidate is a catalog model the planner knows (elastic sub-networks are not).")
        return
    s1, s2 = st.columns([3, 1])
    pick = cands[s1.selectbox("Candidate (★ on the frontier)", list(cands), format_func=lambda k: cands[k].label,
                              key="v_cand")]
    if pick.kind != "base":
        s1.caption(f"The planner models {MODELS[pick.planner_model_id].name} itself: the {pick.kind} what-if "
                   f"({pick.variant_label}) has no planner equivalent yet.")
    if s2.button("Open in capacity planner", type="primary", icon=":material/rocket_launch:", key="v_send",
                 width="stretch"):
        try:
            st.switch_page(app_page("capacity"), query_params=pick.params)
        except Exception:  # the capacity page may not exist yet, or this page runs alone
            link = "&".join(f"{k}={v}" for k, v in pick.params.items())
            st.warning(f"The capacity planner page is not available here. Its settings: `?{link}`",
                       icon=":material/link:")


def _compression_tab(ex: V.Exploration) -> None:
    st.markdown("**What compression buys, per model** (best configuration per variant and format, same limits). "
                "Memory and speed come from the roofline with the smaller weights; accuracy from published "
                "retention on the model closest in size.")
    if ex.compression is None:
        st.info("Add bf16 to the weight formats to compare compressed variants with their 16-bit base.")
    else:
        st.dataframe(ex.compression[["label", "dtype", "hardware", "tp", "weights vs 16-bit base", "cost vs 16-bit base",
                                     "score", "score change", "score_source"]],
                     hide_index=True, width="stretch", key="tbl_comp", column_config={
                         "weights vs 16-bit base": st.column_config.NumberColumn(format="%.2f×"),
                         "cost vs 16-bit base": st.column_config.NumberColumn(f"{X_AXES[ex.x]} vs base", format="%.2f×"),
                         "score": st.column_config.NumberColumn(ex.benchmark, format="%.1f"),
                         "score change": st.column_config.NumberColumn(format="%+.1f"),
                         "score_source": st.column_config.TextColumn("accuracy source", width="large")})
        fig = figs.compression_figure(ex)
        if fig is not None:
            st.plotly_chart(fig, width="stretch", key="fig_comp")
        st.caption("Unstructured 50% pruning keeps the dense model's cost on GPUs (dense kernels skip nothing), so "
                   "it only loses accuracy. The pruning retention comes from OPT-175B; at 7B the same one-shot 2:4 "
                   "recipe doubles WikiText-2 perplexity (Wanda README), so small-model pruning what-ifs are "
                   "optimistic.")
    _encoders(ex)
    _evidence(ex)


def _encoders(ex: V.Exploration) -> None:
    st.markdown("**DistilBERT vs BERT-base** (encoders, 128-token inputs as in GLUE; cost per 1M input tokens)")
    if ex.encoders is None:
        st.error(ex.encoders_error, icon=":material/error:")
        return
    st.dataframe(ex.encoders[["label", "dtype", "hardware", "params_total", "cost_usd_per_1m_tokens", "ttft_s",
                              "score", "score_source"]], hide_index=True, width="stretch", key="tbl_enc",
                 column_config={"params_total": st.column_config.NumberColumn("parameters", format="%.3e"),
                                "cost_usd_per_1m_tokens": st.column_config.NumberColumn("$ / 1M input tok",
                                                                                        format="$%.5f"),
                                "ttft_s": st.column_config.NumberColumn("batch latency (s)", format="%.4f"),
                                "score": st.column_config.NumberColumn("GLUE", format="%.1f")})
    st.caption("Sanh et al. 2019: DistilBERT keeps 97% of BERT-base's GLUE (77.0 vs 79.5) with 40% fewer "
               "parameters and runs 60% faster (668 s → 410 s on one CPU, batch 1).")


def _evidence(ex: V.Exploration) -> None:
    if ex.reference is None:
        return
    st.markdown("**Published evidence** (`data/compression.csv`): rows marked *used* feed the what-ifs, the others "
                "are shown for context.")
    kind = st.segmented_control("Kind", ["quantization", "pruning", "distillation"], default="quantization",
                                key="v_ckind") or "quantization"
    ev = ex.reference.evidence
    st.dataframe(ev[ev["kind"] == kind][["technique_id", "method", "base_model", "benchmark", "baseline_value",
                                         "compressed_value", "retention", "memory_factor", "speedup", "used_for_whatif",
                                         "status", "source", "notes"]],
                 hide_index=True, width="stretch", key="tbl_evidence", column_config={
                     "retention": st.column_config.NumberColumn(format="%.3f"),
                     "used_for_whatif": st.column_config.CheckboxColumn("used"),
                     "source": st.column_config.TextColumn(width="large")})


def _elastic_tab(ex: V.Exploration, slots: _Slots) -> None:
    el = ex.elastic
    if el is None:
        slots.elastic.info("Choose an elastic parent and widths in “What-ifs on the chart” to see its sub-networks.")
        return
    with slots.elastic:
        st.markdown(f"**{el.parent.name}** as one elastic model: nested sub-networks share the parent's weights "
                    "(heads kept in whole GQA groups, MLP neurons by importance), and a router picks one per request "
                    "or per token for a latency or cost target (Flextron, Cai et al. 2024). Elastic training costs "
                    f"{V.FLEXTRON_TOKEN_FRACTION:.2%} of the original pre-training tokens.")
        e1, e2, e3 = st.columns(3)
        e1.metric("Sub-networks", f"{len(el.family)}")
        e2.metric("Router parameters", f"{el.router.params / 1e6:,.2f} M",
                  help=f"{el.router.routers} routers, two-layer MLPs of width {V.ROUTER_HIDDEN} (assumed)")
        e3.metric("Router FLOPs / token", f"{el.router.fraction_of_flops:.3%} of the parent's")
        st.dataframe(el.specs, hide_index=True, width="stretch", key="tbl_el_spec")
        fig = figs.elastic_figure(ex)
        if fig is None:
            st.warning("No sub-network configuration qualifies within the limits on the chosen accelerators.")
        else:
            st.plotly_chart(fig, width="stretch", key="fig_elastic")
    _elastic_pick(ex, slots.elastic_pick)
    _elastic_deployments(ex, *slots.elastic_deploy)


def _elastic_pick(ex: V.Exploration, slot: Any) -> None:
    el = ex.elastic
    if el is None or el.points.empty:
        return
    if el.pick is None:
        slot.error(el.pick_error, icon=":material/error:")
        return
    p = el.pick
    slot.success(f"A {el.budget_ms:g} ms TPOT budget selects **{p['label']}** in {p['dtype']}: TPOT "
                 f"{formatting.duration(float(p['tpot_s']))}, {formatting.money(float(p['cost_usd_per_1m_tokens']))} "
                 f"per 1M output tokens, {ex.benchmark} ≈ {float(p['score']):.1f} (proxy).", icon=":material/route:")


def _elastic_deployments(ex: V.Exploration, format_slot: Any, context_slot: Any, table_slot: Any) -> None:
    """The elastic-vs-separate table for the chosen weight format (computed with the result), or at
    another context length on its button (not part of the scenario)."""
    el = ex.elastic
    if el is None:
        return
    formats = [d.value for d in ex.spec.dtypes]
    dt = format_slot.selectbox("Weight format", formats, key="v_eldt")
    dt = dt if dt in formats else formats[0]
    cmp = el.deployments.get(dt)
    with context_slot.popover(f"Context per sequence: {formatting.integer(el.context_tokens)} tokens",
                              icon=":material/tune:", width="stretch"):
        ctx = int(st.number_input("Context per sequence", 128, 131_072, el.context_tokens, 512, key="v_elctx"))
        clicked = st.button("Compare at this context", key="v_elctx_go")
    with table_slot:
        if clicked:
            try:  # not part of the scenario: computed on this click only
                cmp = V.elastic_vs_separate(el.parent, list(el.widths), el.hardware_id, dt, context_tokens=ctx,
                                            pricing_model=ex.spec.pricing_model)
                st.caption(f"At {formatting.integer(ctx)} tokens per sequence.")
            except EstimatorError as exc:
                show_error(exc)
        if cmp is None:
            st.error(el.deployment_errors.get(dt, "no comparison for this format"), icon=":material/error:")
            return
        _deployment_table(cmp)


def _deployment_table(cmp: pd.DataFrame) -> None:
    show = cmp.assign(**{"weights (GB)": cmp["weights_bytes"] / 1e9})
    st.dataframe(show[["approach", "deployment", "weights (GB)", "devices", "layout", "cost_usd_per_month"]],
                 hide_index=True, width="stretch", key="tbl_el_cmp", column_config={
                     "weights (GB)": st.column_config.NumberColumn(format="%.1f"),
                     "cost_usd_per_month": st.column_config.NumberColumn("USD / month", format="$%.0f")})
    tot = cmp[cmp["deployment"] == "total"].set_index("approach")
    if len(tot) == 2 and np.isfinite(tot["cost_usd_per_month"]).all():
        sep, one = tot.loc["separate models"], tot.loc["one elastic model"]
        st.caption(f"One elastic model holds {one['weights_bytes'] / sep['weights_bytes']:.0%} of the weights "
                   f"and costs {one['cost_usd_per_month'] / sep['cost_usd_per_month']:.0%} of separate "
                   "deployments, and its capacity is shared across budgets; the separate models could each be "
                   "trained or tuned for their budget.")


def _long_context_tab(ex: V.Exploration, slots: _Slots) -> None:
    lc = ex.long_context
    with slots.long_context:
        if lc is None or (lc.result is None and not lc.error):
            st.info("Choose models and input lengths.")
            return
        if lc.result is None:
            st.error(lc.error, icon=":material/error:")
            return
        if lc.result.frame.empty:
            st.error("Nothing fits: no model holds any of these lengths on this accelerator within tensor parallel 8.",
                     icon=":material/block:")
            return
        for col, (metric, fig) in zip(st.columns(3), figs.long_context_figures(ex), strict=True):
            col.plotly_chart(fig, width="stretch", key=f"fig_lc_{metric}")
        if lc.result.skipped:
            st.caption("Not evaluated: " + "; ".join(lc.result.skipped[:6]) + (" …" if len(lc.result.skipped) > 6 else ""))
    with slots.lc_budget:
        _budget_tables(ex)


def _budget_tables(ex: V.Exploration) -> None:
    verdicts = figs.budget_verdicts(ex)
    if not verdicts:
        st.info("None of the chosen models has a score published at one of these lengths (LED base at 16k on "
                "SCROLLS; LED large at 4k and 16k and BigBird-Pegasus large at 4k on arXiv summarization).")
        return
    if ex.long_context is not None:
        st.caption(f"Budget: {formatting.money(ex.long_context.budget_usd_per_1k)} per 1k requests.")
    for bname, verdict, table in verdicts:
        st.markdown(f"*{bname}*: {verdict}")
        st.dataframe(table, hide_index=True, width="stretch", key=f"tbl_lc_{bname}", column_config={
            "cost_usd_per_1k_requests": st.column_config.NumberColumn("$ / 1k req", format="$%.4f"),
            "e2e_s": st.column_config.NumberColumn("e2e (s)", format="%.2f"),
            "energy_kwh_per_1k_requests": st.column_config.NumberColumn("kWh / 1k req", format="%.4f"),
            "within": st.column_config.CheckboxColumn("within budget"),
            "score_source": st.column_config.TextColumn(width="large")})


def _accuracy_tab(ex: V.Exploration) -> None:
    ref = ex.reference
    if ref is None:
        return
    st.markdown(f"**Published scores** (`data/accuracy.csv`) for {ex.benchmark}. Status: P read in the primary "
                "source, S found in copies of it, UNVERIFIED recalled and not re-read.")
    st.dataframe(ref.accuracy[["model_id", "score", "shots", "metric", "context_tokens", "setting", "evaluator",
                               "status", "source", "url", "notes"]], hide_index=True, width="stretch", key="tbl_acc",
                 column_config={"url": st.column_config.LinkColumn("link"),
                                "source": st.column_config.TextColumn(width="large")})
    fit = ref.proxy_fit
    if fit is None:
        st.caption(f"No proxy for {ex.benchmark}: {ref.proxy_error}")
    else:
        st.caption(f"Proxy for {ex.benchmark}: score = {fit.chance:g} + {100 - fit.chance:g} / (1 + exp(-({fit.c0:.2f} "
                   f"{fit.c1:+.2f} L))), fitted on {fit.n} models (R² {fit.r2:.2f} in logit space); L from Hoffmann "
                   "et al. 2022 with N = active parameters. Models trained far past 20 tokens per parameter sit above "
                   "the curve, so treat proxy points as rough.")
    sources_table(ref.model_sources, "Where the architectures come from")


def _how_computed() -> None:
    exp = lazy_expander("How this is computed", "how_var_method", icon=":material/functions:")
    if exp is None:
        return
    with exp:
        st.markdown("Each configuration is one replica of `tp` accelerators serving a static batch; per point the "
                    "cheapest qualifying configuration is kept.")
        st.latex(r"\text{cost per 1M output tokens} = \frac{p_{dev}\, t}{3600\ \text{tokens/s}}\times 10^6 \qquad "
                 r"E_{1M} = \frac{(P(u) + h P_{TDP})\, t\, \mathrm{PUE}}{\text{tokens/s}}\cdot\frac{10^6}{3.6\times10^6}")
        st.latex(r"\hat L(N, D) = 1.69 + \frac{406.4}{N^{0.34}} + \frac{410.7}{D^{0.28}}, \quad "
                 r"\mathrm{logit}\frac{s - c}{100 - c} = c_0 + c_1 \hat L")
        st.markdown("Quantized, pruned and distilled points multiply a base score by a published retention "
                    "(compressed / uncompressed score, capped at 1) measured on the model closest in size. Elastic "
                    "sub-networks move the parent's score along the fitted loss link by the loss change of their "
                    "smaller parameter count.")


def _draw(ex: V.Exploration, slots: _Slots, scenario: Scenario) -> None:
    with slots.summary:
        if not _summary(ex):
            return
    if slots.frontier.open:
        with slots.frontier:
            _frontier_tab(ex, scenario.variants.tokens_per_param)
    if slots.compression.open:
        with slots.compression:
            _compression_tab(ex)
    _elastic_tab(ex, slots)
    _long_context_tab(ex, slots)
    if slots.accuracy.open:
        with slots.accuracy:
            _accuracy_tab(ex)
    _how_computed()


def render() -> None:
    """Draw the Compare variants page."""
    st.title("Compare variants")
    st.caption(
        "Accuracy against cost per output token and latency for published model families (the illustrative NLarge "
        "family is selectable under Models), quantized, pruned and distilled what-ifs and elastic sub-networks. Every point is the "
        "best configuration found for that variant and weight format (accelerator × tensor parallelism × batch) "
        "within your latency limits; the line joins the Pareto frontier. Hover a point for where its numbers "
        "come from.")
    _check_link()
    inputs, slots = _inputs()
    if inputs is None or slots is None:
        return
    try:
        ex: V.Exploration = entrypoints.compute("variants", inputs.scenario, user_scores=inputs.user_scores)
    except EstimatorError as exc:
        with slots.toolbar:
            scenario_toolbar("variants", inputs.scenario)
        with slots.summary:
            show_error(exc)
        return
    with slots.toolbar:
        scenario_toolbar("variants", inputs.scenario, ex)
    _draw(ex, slots, inputs.scenario)


if __name__ == "__main__":
    run_page(render)
