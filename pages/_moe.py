"""The expert-parallel section of the Latency & throughput page (MoE models only).

One call from ``pages/performance.py``: :func:`moe_section` draws the EP inputs (bound to the link:
``ep``, ``dpa``, ``eimb``), puts them into the scenario it returns, and draws
:func:`estimator.expert_parallel.plan_for_scenario` of that scenario: memory per GPU, decode and
prefill throughput per GPU and the all-to-all share for each EP degree, and the best degree for
the page's TPOT limit.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from estimator import catalog, expert_parallel
from estimator.errors import EstimatorError
from estimator.expert_parallel import EPPlan
from estimator.formatting import percent
from estimator.scenario import MoEInputs, Scenario
from pages._ui import gb, show_error, sources_table
from pages.figures import moe as figures

D = MoEInputs()


@lru_cache(maxsize=32)
def _plan(scenario_json: str) -> EPPlan:
    return expert_parallel.plan_for_scenario(Scenario.model_validate_json(scenario_json))


@lru_cache(maxsize=1)
def _anchors() -> pd.DataFrame:
    rows = [{"anchor": r.anchor.anchor_id, "metric": r.anchor.metric, "published": r.anchor.published_value,
             "model": r.predicted, "model / published": r.ratio, "source": r.anchor.source, "url": r.anchor.url,
             "as_of": r.anchor.as_of} for r in expert_parallel.reproduce_anchors()]
    return pd.DataFrame(rows)


def _normalise_bool_link(key: str) -> None:
    """A scenario link writes booleans as ``1``/``0`` (:func:`estimator.scenario.encode_value`); a toggle bound
    to the link reads only ``true``/``false``: rewrite the first form into the second, and rerun, since a bound
    widget seeds from the URL its run started with (as :func:`pages._ui.drop_refused_link_params` does)."""
    raw = st.query_params.get(key)
    if raw is not None and raw.strip().lower() in ("1", "0", "yes", "no"):
        st.query_params[key] = "true" if raw.strip().lower() in ("1", "yes") else "false"
        st.rerun()


def _inputs(scenario: Scenario) -> Scenario | None:
    """The three EP widgets; the scenario with its ``moe`` section, or None (after an error) if refused."""
    _normalise_bool_link("dpa")
    c1, c2, c3 = st.columns(3)
    ep = c1.number_input("EP degree (GPUs per expert group; 0 = best)", 0, 4096, D.expert_parallel, 8, key="ep",
                         bind="query-params",
                         help="Routed experts are spread over this many GPUs; 0 compares "
                              f"{', '.join(map(str, expert_parallel.DEFAULT_EP_SIZES))} and picks the best.")
    dpa = c2.toggle("Data-parallel attention", D.dp_attention, key="dpa", bind="query-params",
                    help="Each GPU runs attention for its own sequences (SGLang --enable-dp-attention); off: "
                         "attention is tensor-parallel over the EP group and its KV heads split (MLA: replicated).")
    imb = c3.number_input("Expert load imbalance (max/mean)", 1.0, 64.0, D.expert_imbalance, 0.05, key="eimb",
                          bind="query-params",
                          help="Routed tokens at the busiest GPU over the mean; 1 = perfectly balanced (EPLB). "
                               "Scales the expert GEMMs and the all-to-all of the busiest GPU.")
    try:
        return scenario.replace(moe=MoEInputs(expert_parallel=int(ep), dp_attention=bool(dpa),
                                              expert_imbalance=float(imb)))
    except ValidationError as exc:
        st.error(f"Expert-parallel inputs refused: {exc.errors()[0]['msg']}", icon=":material/error:")
        return None


def _headline(plan: EPPlan) -> None:
    chosen = plan.row(plan.chosen_ep) if plan.chosen_ep else None
    target = f"TPOT ≤ {plan.tpot_target_s * 1e3:g} ms" if plan.tpot_target_s else "no TPOT limit"
    m1, m2, m3, m4, m5 = st.columns(5)
    m1.metric("Best EP degree", f"EP{plan.best_ep}" if plan.best_ep else "none",
              help=f"Highest decode tokens/s per GPU with {target} and the KV cache fitting.")
    if chosen is None or chosen.decode is None:
        st.warning(f"No EP degree serves this model on this accelerator with {target}: the weights do not fit "
                   "or even one sequence per GPU is too slow.", icon=":material/timer_off:")
        return
    d, p = chosen.decode, chosen.prefill
    m2.metric(f"Decode tok/s per GPU (EP{chosen.ep})", f"{d.tokens_per_s_per_gpu:,.0f}",
              help=f"{chosen.batch_per_gpu} sequences per GPU, TPOT {d.step_s * 1e3:,.1f} ms")
    m3.metric("Prefill tok/s per GPU", f"{p.tokens_per_s_per_gpu:,.0f}" if p else "–",
              help=f"{plan.prefill_tokens_per_gpu:,} prompt tokens per GPU per forward")
    m4.metric("All-to-all share (decode)", percent(d.communication_share, 0),
              help=f"dispatch {d.dispatch_s * 1e3:,.1f} ms + combine {d.combine_s * 1e3:,.1f} ms"
                   + (f" + all-reduce {d.allreduce_s * 1e3:,.1f} ms" if d.allreduce_s else "") + " per step")
    m5.metric("Memory per GPU", gb(chosen.memory.total_bytes, 1),
              help=f"of {gb(chosen.memory.capacity_bytes, 1)} usable; experts "
                   f"{gb(chosen.memory.expert_weights_bytes, 1)}, replicated {gb(chosen.memory.replicated_weights_bytes, 1)}, "
                   f"KV {gb(chosen.memory.kv_cache_bytes, 1)}")


def _table(plan: EPPlan) -> None:
    gbs = {c: st.column_config.NumberColumn(format="%.1f") for c in
           ("replicated weights (GB)", "expert weights (GB)", "KV cache (GB)", "total (GB)", "TPOT (ms)")}
    rates = {c: st.column_config.NumberColumn(format="%,.0f") for c in ("decode tok/s/GPU", "prefill tok/s/GPU")}
    shares = {c: st.column_config.NumberColumn(c, format="percent") for c in
              ("all-to-all share (decode)", "all-to-all share (prefill)")}
    st.dataframe(figures.ep_frame(plan), hide_index=True, width="stretch", column_config={**gbs, **rates, **shares})


def _method(plan: EPPlan) -> None:
    """The "How this is computed" tab: equations, what is left out, the published anchors, sources."""
    st.markdown("**Layout** (DeepSeek-V3/R1 inference system; SGLang large-scale EP): the routed experts of each "
                "MoE layer are spread over the n GPUs of the EP group; attention, shared experts, dense layers "
                "and embeddings are replicated and each GPU serves its own B sequences (DP attention). Memory "
                "per GPU:")
    st.latex(r"M = \frac{W_{rep}}{t_a} + \Big\lceil\tfrac{E+R}{n}\Big\rceil\frac{W_{exp}}{E} + KV(B, I+O) + A + O_{rt}")
    st.markdown("**Decode step** per GPU, each part on the roofline of the performance model (its fitted "
                "efficiencies), λ the expert load imbalance (max/mean), k experts per token, P_e the parameters "
                "of one expert over all MoE layers, h(T) the share of experts that T tokens hit:")
    st.latex(r"t_{step} = t_{rep} + t_{att} + t_{act} + \max\!\Big(\tfrac{2P_e\,\lambda Bk}{P_{eff}},"
             r"\tfrac{m\,h(nB)\,W_e}{\beta_{eff}}\Big) + L_{moe}\,(t_{disp} + t_{comb}) + t_o,"
             r"\qquad \text{tok/s/GPU} = B / t_{step}")
    st.markdown("**All-to-all** (DeepEP low-latency kernels in decode; normal kernels in prefill send a token "
                "once per remote node and forward it over NVLink): bytes per GPU per layer over the scale-up "
                "link and the network (g GPUs per node or NVLink domain, b = 1.03 B for FP8 dispatch with "
                "scales, 2 B for the BF16 combine), both links at once:")
    st.latex(r"S_{intra} = \lambda Bk\,d\,b\,\tfrac{\min(n,g)-1}{n},\quad S_{inter} = \lambda Bk\,d\,b\,"
             r"\tfrac{n-\min(n,g)}{n},\quad t_{a2a} = \max\!\Big(\tfrac{S_{intra}}{\beta_{NV} e} + \ell,"
             r"\tfrac{S_{inter}}{\beta_{net} e}\Big)")
    st.caption("Without DP attention, attention is tensor-parallel over the group: 1/n of the replicated weights, "
               "the KV cache of all n·B sequences split by KV heads (MLA's latent is not split), and two "
               "all-reduces per layer instead of the all-to-alls. The batch per GPU is the largest whose KV "
               "cache fits and whose step meets the TPOT limit; the best degree has the highest decode tokens/s "
               "per GPU. Not modelled: dual-batch overlap (communication is added, which matches the published "
               "decode figures below), MTP, DeepEP buffers, group-limited routing.")
    st.markdown("**Published anchors** (`python bench/bench_expert_parallel.py` prints this table):")
    st.dataframe(_anchors(), hide_index=True, width="stretch",
                 column_config={"model / published": st.column_config.NumberColumn(format="%.2f"),
                                "published": st.column_config.NumberColumn(format="%.4g"),
                                "model": st.column_config.NumberColumn(format="%.4g"),
                                "url": st.column_config.LinkColumn("url"),
                                "as_of": st.column_config.DateColumn("as of")})
    model, hw = catalog.get_model(plan.model_id), catalog.get_hardware(plan.hardware_id)
    sources_table(pd.DataFrame([
        {"item": model.name, "source": model.source, "as_of": model.as_of, "assumed": model.assumed},
        {"item": hw.name + " (links: intra_node_gbps, inter_node_gbps, max_per_node)", "source": hw.source,
         "as_of": hw.as_of, "assumed": hw.assumed},
    ]), "Where the figures come from")


def moe_section(scenario: Scenario) -> Scenario:
    """For a mixture-of-experts model: the EP inputs and results; returns the scenario with its ``moe``
    section (unchanged for a dense model, which shows nothing)."""
    try:
        model = catalog.get_model(scenario.model.model_id)
    except EstimatorError:
        return scenario
    if not model.is_moe:
        return scenario
    with st.expander("Expert parallelism and DP attention (MoE)", expanded=True, icon=":material/hub:"):
        updated = _inputs(scenario)
        if updated is None:
            return scenario
        try:
            plan = _plan(updated.model_dump_json())
        except EstimatorError as exc:
            show_error(exc)
            return updated
        _headline(plan)
        results, method = st.tabs(["Per EP degree", "How this is computed"])
        with results:
            st.plotly_chart(figures.step_figure(plan), width="stretch", key="fig_moe_step")
            _table(plan)
        with method:
            _method(plan)
    return updated
