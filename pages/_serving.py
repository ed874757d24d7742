"""Serving-technique sections of the Capacity planner (issue 14): each draws its inputs, its with/without
comparison for the plan's scenario and its "How this is computed". Shared by the serving helpers; every
section is one function the capacity page calls once.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from estimator import catalog, disagg, entrypoints, speculative
from estimator.capacity import CapacityPlan
from estimator.errors import EstimatorError
from estimator.formatting import duration, integer, money
from estimator.specs import HardwareKind
from estimator.traffic import TokenDistribution
from pages._ui import lazy_expander, plain, show_error

SPEC_METHODS = list(speculative.METHODS)  # off, eagle3, mtp, draft (the link values themselves)


def serving_comparison(plan: CapacityPlan, input_tokens: TokenDistribution | None) -> entrypoints.ServingComparison | None:
    """The plan's disaggregated plan and speculative comparison: one cached computation per scenario
    (``entrypoints.compute("serving", ...)``) that both sections read; ``None`` (and the error shown) when the
    plan itself cannot be computed."""
    try:
        result: entrypoints.ServingComparison = entrypoints.compute("serving", plan.scenario,
                                                                    input_tokens=input_tokens)
    except EstimatorError as exc:
        show_error(exc)
        return None
    return result


# ------------------------------------------------------------------ speculative decoding


def speculative_table(r: speculative.SpeculativeComparison) -> pd.DataFrame:
    """With vs without speculation per batch, in display units (ms, tokens/s, $ per 1M output tokens)."""
    return pd.DataFrame([{
        "batch": p.batch,
        "TPOT without (ms)": p.tpot_off_s * 1e3,
        "TPOT with (ms)": p.tpot_on_s * 1e3,
        "speedup": p.speedup,
        "tokens/s without": p.tokens_per_s_off,
        "tokens/s with": p.tokens_per_s_on,
        "$/1M output tokens without": p.cost_usd_per_million_off,
        "$/1M output tokens with": p.cost_usd_per_million_on,
        "verification bound by": p.verify_bound,
        "fits with drafter": p.fits_on,
    } for p in r.points])


def _speculative_inputs() -> None:
    c1, c2, c3 = st.columns(3)
    c1.selectbox("Speculative decoding", SPEC_METHODS, key="sd",
                 bind="query-params", help="The drafter: eagle3 = an EAGLE-3 head; mtp = the model's own "
                                           "multi-token-prediction module (DeepSeek-V3); draft = a smaller model of the "
                                           "same vocabulary. off shows EAGLE-3 as a what-if.")
    c2.number_input("Drafted tokens per step (k)", 1, 16, 3, 1, key="sdk", bind="query-params")
    c3.number_input("Mean acceptance length τ (blank: published)", 1.0, 17.0, None, 0.05, key="sdtau",
                    bind="query-params", placeholder="published",
                    help="Mean tokens kept per target forward, drafts accepted plus the target's own "
                         "(data/speculative_acceptance.csv).")


def speculative_section(plan: CapacityPlan, input_tokens: TokenDistribution | None = None) -> None:
    """Speculative decoding for the plan: inputs, with vs without across batch sizes, how it is computed."""
    st.markdown("#### Speculative decoding: with vs without")
    _speculative_inputs()
    _sync_speculative_inputs(plan)
    both = serving_comparison(plan, input_tokens)
    if both is None:
        return
    r = both.speculative
    if r is None:
        st.info(f"Speculative decoding is not modelled for this plan: {plain(both.speculative_error, 300)}",
                icon=":material/info:")
        return
    what_if = plan.scenario.serving.speculative == "off"
    first = r.points[0]
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Speedup at batch 1", f"{first.speedup:.2f}×",
              help=f"TPOT {duration(first.tpot_off_s)} → {duration(first.tpot_on_s)}")
    m2.metric("Stops paying at batch", integer(r.break_even_batch) if r.break_even_batch else "never",
              help=f"largest batch compared: {integer(r.points[-1].batch)} (fits without the drafter: "
                   f"{integer(r.max_batch_off)}, with it: {integer(r.max_batch_on)})")
    m3.metric("Acceptance length τ", f"{r.acceptance_length:.2f}", help=f"α = {r.acceptance_rate:.2f}; "
              f"{r.acceptance_source}")
    m4.metric("Drafter memory", f"{r.drafter_weight_bytes / 1e9:,.2f} GB",
              help=f"{r.drafter}; its KV cache adds {integer(r.drafter_kv_bytes_per_token)} bytes per token")
    if what_if:
        st.caption("Speculation is off in this plan: the table shows an EAGLE-3 head as a what-if.")
    last = r.points[-1]
    if last.cost_usd_per_million_on is not None and last.cost_usd_per_million_off is not None:
        st.caption(f"Decode cost at the largest batch: {money(last.cost_usd_per_million_off)} per 1M output tokens "
                   f"without, {money(last.cost_usd_per_million_on)} with ({r.drafter}, k = {r.spec_tokens}).")
    st.dataframe(speculative_table(r), hide_index=True, width="stretch", key="tbl_speculative",
                 column_config={c: st.column_config.NumberColumn(format="%.2f") for c in
                                ("TPOT without (ms)", "TPOT with (ms)", "speedup", "$/1M output tokens without",
                                 "$/1M output tokens with")})
    _speculative_how()


def _sync_speculative_inputs(plan: CapacityPlan) -> None:
    """Rerun once when the inputs above (seeded from a link on the first run, after the plan's scenario was
    read) differ from the plan's, so that the comparison, the report and the link agree."""
    s = plan.scenario.serving
    shown = (st.session_state.get("sd"), st.session_state.get("sdk"), st.session_state.get("sdtau"))
    if shown != (s.speculative, s.spec_tokens, s.acceptance_length) and not st.session_state.get("_sd_synced"):
        st.session_state["_sd_synced"] = True
        st.rerun()
    st.session_state["_sd_synced"] = False


def _speculative_how() -> None:
    exp = lazy_expander("How this is computed: speculative decoding", "how_spec_method", icon=":material/functions:")
    if exp is None:
        return
    with exp:
        st.markdown("A drafter proposes k tokens per sequence; the target checks all of them in one forward and keeps "
                    "the longest agreeing prefix plus one token of its own, so the output is exactly the target's. "
                    "With a per-token acceptance rate α the mean tokens per target forward is (Leviathan et al. "
                    "2023, arXiv:2211.17192, eq. 1):")
        st.latex(r"\tau = \frac{1-\alpha^{k+1}}{1-\alpha}")
        st.markdown("Each iteration at batch B is the target's forward over the n tokens it verifies per sequence "
                    "(n = k+1 for a chain, every tree node for a tree; the roofline of estimator.performance: "
                    "weights and KV cache read once, FLOPs × n), k forwards of the drafter (the first over the k+1 "
                    "verified positions, then one per draft step), each with the engine's fixed time per forward, "
                    "and the engine's host time per step and per sequence-token kept:")
        st.latex(r"t_{spec}(B) = t_{verify}(B, n) + h(B, \tau) + \sum_{j=1}^{k}\left[t_{draft,j}(B) + t_{step}\right],"
                 r"\qquad h(B, \tau) = t_{step} + t_{seq}\,B\,\tau")
        st.latex(r"\mathrm{TPOT}_{spec} = \frac{t_{spec}(B)}{\tau},\qquad "
                 r"\text{speedup} = \frac{\tau\,t_{plain}(B)}{t_{spec}(B)},\qquad "
                 r"\$/1\mathrm{M} = \frac{p_{replica}}{3600\,B/\mathrm{TPOT}}\,10^6")
        st.markdown("At small batch decode is memory-bound and verification is nearly free; at large batch the "
                    "linear layers are compute-bound, verification costs about n decode steps, the host time "
                    "grows with B τ and speculation stops paying. SGLang hides its host time behind the GPU in "
                    "plain decoding (overlap scheduler) but not with EAGLE (data/speculative_engines.csv). "
                    "Drafters: EAGLE-3 (one target-width layer, a 3d×d fusion layer and a 32k-token "
                    "head; Li et al. 2025, arXiv:2503.01840), DeepSeek-V3's MTP module (one transformer block and a "
                    "2d×d projection sharing the target's embedding and head; arXiv:2412.19437 §2.2), or a smaller "
                    "model with its own weights and KV cache. τ comes from data/speculative_acceptance.csv "
                    "(EAGLE-3 Table 1, DeepSeek-V3 §5.4.3, model cards) carried to k by eq. 1, or is your input. "
                    "Checked against 8 published results (EAGLE-3 batch-1 speedups, its SGLang and vLLM "
                    "throughput at batch 2-64, DeepSeek-V3's 1.8× MTP gain): all within 25 % "
                    "(data/serving_anchors.csv; bench/bench_speculative.py). The per-forward fixed time "
                    "(0.58 ms, fitted on target decode steps) is assumed to hold for draft forwards too.")


# ------------------------------------------------------------------ disaggregated prefill/decode

_PD_LINKS = {"auto": "auto (NVLink in one node, else network)", "nvlink": "NVLink / intra-node fabric",
             "network": "InfiniBand / RoCE / EFA", "pcie": "PCIe"}
_PD_TPS = [0, 1, 2, 4, 8]


def _disagg_inputs(hardware_ids: list[str]) -> None:
    c0, c1, c2, c3, c4 = st.columns([1.1, 1.3, 1.3, 0.8, 0.8])
    c0.toggle("Serve disaggregated", key="pd", bind="query-params",
              help="Serve disaggregated: this section then shows the disaggregated plan as the plan in force and reports "
                   "mark it chosen; the page's headline stays colocated. The comparison is shown either way.")
    c1.selectbox("Prefill accelerator", ["", *hardware_ids], key="pdhw", bind="query-params",
                 format_func=lambda h: h or "same as decode", help="The decode pool uses the accelerator above.")
    c2.selectbox("KV-cache link", list(_PD_LINKS), format_func=_PD_LINKS.__getitem__, key="pdkv",
                 bind="query-params", help="Bandwidths from data/hardware.csv (intra-node and network columns).")
    c3.selectbox("Prefill TP", _PD_TPS, key="pdtp", bind="query-params", format_func=lambda t: str(t or "auto"))
    c4.selectbox("Decode TP", _PD_TPS, key="pddtp", bind="query-params", format_func=lambda t: str(t or "auto"))


def _layout(pool: disagg.PoolPlan) -> str:
    return f"TP {pool.tp}" + (f" × PP {pool.pp}" if pool.pp > 1 else "")


def plan_batch(plan: CapacityPlan) -> float:
    """Sequences in flight per replica at the plan's load (Little's law: ``B = lambda O TPOT``)."""
    return max(1.0, plan.max_rps_per_replica * plan.output_tokens_mean * plan.tpot_s_at_plan_load)


def speculative_row(plan: CapacityPlan, spec: speculative.SpeculativeComparison) -> dict[str, object]:
    """The colocated plan with speculation at the plan's batch: TPOT from the comparison, and the fleet
    scaled by the decode-throughput gain (a what-if estimate, not a re-plan)."""
    batch = plan_batch(plan)
    point = min(spec.points, key=lambda pt: abs(pt.batch - batch))
    gain = point.tokens_per_s_on / point.tokens_per_s_off
    return {"serving": f"colocated + {spec.method} (upper bound, at batch {point.batch})",
            "cost / month": money(plan.monthly_cost_usd / gain), "p95 TTFT": duration(plan.ttft_p95_s),
            "p95 end to end": "n/a", "TPOT": duration(plan.tpot_s_at_plan_load / point.speedup),
            "GPUs at peak": "n/a", "layout": f"TP {plan.tp}, drafter {spec.drafter}, k = {spec.spec_tokens}"}


def disagg_table(r: disagg.DisaggPlan, plan: CapacityPlan | None = None,
                 spec: speculative.SpeculativeComparison | None = None) -> pd.DataFrame:
    """Colocated vs disaggregated serving (and, given ``spec``, colocated with speculative decoding) at the
    same goals, in display units."""
    def row(name: str, cost: float | None, ttft: float | None, e2e: float | None, tpot: float | None,
            gpus: int | None, layout: str) -> dict[str, object]:
        return {"serving": name, "cost / month": money(cost) if cost is not None else "n/a",
                "p95 TTFT": duration(ttft) if ttft is not None else "n/a",
                "p95 end to end": duration(e2e) if e2e is not None else "n/a",
                "TPOT": duration(tpot) if tpot is not None else "n/a",
                "GPUs at peak": integer(gpus) if gpus is not None else "n/a", "layout": layout}
    p, d = r.prefill, r.decode
    return pd.DataFrame([
        row("colocated", r.colocated_monthly_cost_usd, r.colocated_ttft_p95_s, r.colocated_e2e_p95_s,
            r.colocated_tpot_s, r.colocated_peak_accelerators, f"TP {r.colocated_tp}" if r.colocated_tp else ""),
        row(f"disaggregated {r.ratio_text}", r.monthly_cost_usd, r.ttft_p95_s, r.e2e_p95_s, r.tpot_s,
            r.peak_accelerators, f"prefill {_layout(p)} on {p.hardware_name} ({p.peak_instances} at peak); decode "
            f"{_layout(d)} on {d.hardware_name} ({d.peak_instances} at peak)"),
        *([speculative_row(plan, spec)] if plan is not None and spec is not None else []),
    ])


def disagg_section(plan: CapacityPlan, input_tokens: TokenDistribution | None = None) -> None:
    """Disaggregated prefill/decode for the plan: inputs, colocated vs disaggregated, how it is computed."""
    st.markdown("#### Disaggregated prefill/decode: colocated vs disaggregated")
    _disagg_inputs([h.hardware_id for h in catalog.list_hardware()
                    if h.kind != HardwareKind.CPU and catalog.list_instances(hardware_id=h.hardware_id)])
    both = serving_comparison(plan, input_tokens)
    if both is None:
        return
    r = both.disagg
    if r is None:
        st.info(f"Disaggregated serving cannot be planned for these goals: {plain(both.disagg_error, 400)}",
                icon=":material/info:")
        _disagg_how()
        return
    # the toggle is drawn below the plan, so on a page's first run from a link the plan's scenario predates it
    if bool(st.session_state.get("pd", plan.scenario.serving.disaggregated)):
        st.success(f"**Plan in force: disaggregated {r.ratio_text}**, {money(r.monthly_cost_usd)} a month, "
                   f"{integer(r.peak_accelerators)} GPUs at peak (prefill {_layout(r.prefill)} × "
                   f"{r.prefill.peak_instances}, decode {_layout(r.decode)} × {r.decode.peak_instances}). The "
                   "headline figures at the top of the page stay those of colocated serving; reports mark this "
                   "mode as chosen (disagg_mode).", icon=":material/call_split:")
    else:
        st.caption("This plan serves colocated; the comparison shows disaggregated serving as a what-if.")
    if abs(r.input_tokens_mean - plan.input_tokens_mean) > 0.01 * plan.input_tokens_mean:
        st.caption(f"Disaggregated serving is planned for the scenario's prompt lengths (mean "
                   f"{integer(r.input_tokens_mean)} tokens), not the uploaded histogram.")
    m1, m2, m3, m4 = st.columns(4)
    ratio = r.cost_ratio
    m1.metric("Best ratio (prefill : decode)", r.ratio_text, help=f"λ*_d / λ*_p = {r.capacity_ratio:.2f}: requests/s "
              f"a decode instance serves within the goals over what a prefill instance serves")
    m2.metric("Cost vs colocated", f"{ratio:.2f}×" if ratio else "n/a", help=f"{money(r.monthly_cost_usd)} a month "
              f"disaggregated; {r.colocated_note or 'colocated: the real-time plan above'}")
    m3.metric("KV cache per request", f"{r.kv_bytes_mean / 1e6:,.0f} MB", help=f"at the mean prompt; p95 prompt "
              f"{r.kv_bytes_p95 / 1e6:,.0f} MB")
    m4.metric("KV transfer", duration(r.kv_transfer_s_mean), help=f"over {r.link.name} at "
              f"{r.link.bandwidth_bytes_per_s / 1e9:,.0f} GB/s effective; p95 prompt {duration(r.kv_transfer_s_p95)}")
    spec = both.speculative
    st.markdown("**Serving options compared** at the same goals: colocated, disaggregated, and colocated with "
                "speculative decoding. The last row scales the fleet by the modelled decode-throughput gain at the "
                "plan's batch, an upper bound rather than a re-plan: at batches of 56-64 the engines' published gains "
                "(vLLM 1.01×, SGLang 1.38×) are below the model's (data/serving_anchors.csv).")
    st.dataframe(disagg_table(r, plan, spec), hide_index=True, width="stretch", key="tbl_disagg")
    for note in r.notes:
        st.warning(note, icon=":material/warning:")
    _disagg_how()


def _disagg_how() -> None:
    exp = lazy_expander("How this is computed: disaggregated prefill/decode", "how_pd_method", icon=":material/functions:")
    if exp is None:
        return
    with exp:
        st.markdown("Prefill instances compute each prompt and its first token; decode instances receive the "
                    "prompt's KV cache and generate the rest (DistServe, Zhong et al. OSDI 2024, arXiv:2401.09670; "
                    "Splitwise, Patel et al. ISCA 2024, arXiv:2311.18677). The KV cache of an n-token prompt "
                    "crosses the link between them, each GPU of the tensor-parallel group sending its shard:")
        st.latex(r"KV(n) = 2\,L\,h_{kv}\,d_h\,s\,n,\qquad t_{kv} = \frac{KV(n)}{e_{comm}\,\min(t_p B_p,\ t_d B_d)}"
                 r" + \ell")
        st.markdown("B is the per-GPU, per-direction link bandwidth of data/hardware.csv (NVLink and PCIe: half the "
                    "bidirectional intra-node figure; network: the NIC line rate per GPU), e_comm the link "
                    "efficiency (0.70) and ℓ the link latency. Each pool runs the planner's replica and queueing "
                    "models (continuous batching, M/G/1 prefill queue, Erlang C slot waits); the plan load of an "
                    "instance is the largest request rate within the goals, capped at the target utilization:")
        st.latex(r"\lambda^*_p:\ \mathrm{TTFT}_{p95}(\lambda) + t_{kv}(n_{p95}) \le \mathrm{TTFT}_{goal},\qquad "
                 r"\lambda^*_d:\ \mathrm{TTFT}_{p95}(\lambda^*_p) + E2E^{dec}_{p95}(\lambda) \le E2E_{goal}")
        st.latex(r"x : y = \lambda^*_d : \lambda^*_p,\qquad n_{p,h} = \lceil \lambda_h / \lambda^*_p \rceil,\quad "
                 r"n_{d,h} = \lceil \lambda_h / \lambda^*_d \rceil")
        st.markdown("The layout pair (prefill TP, decode TP) with the lowest cost per request/s wins; pools on the "
                    "same instance type share instances. The transfer is not overlapped with the prefill "
                    "(Splitwise overlaps it layer by layer). Checks against published results "
                    "(data/serving_anchors.csv, bench/bench_disagg.py): DistServe's 1.13 GB KV cache per "
                    "512-token OPT-66B request and 90 Gbps at 10 requests/s are reproduced. For DistServe's Figure 1 "
                    "the colocated baseline is modelled as the paper's vLLM ran it (each prompt prefilled whole in an "
                    "iteration of its own, decodes stalled; P90 TPOT over the Poisson count of stalls): the per-GPU "
                    "gain is 1.4×, not 2.1×, because the roofline runs OPT-13B on an A100 2-3× faster than the 2023 "
                    "engines measured. Splitwise's serialized transfer (400 Gbps stated) and pool ratios are not "
                    "reproduced either (bench/bench_disagg.py prints all). The planner's own colocated plan runs "
                    "mixed iterations (each prompt's prefill carries the running decodes along, as Sarathi-Serve and "
                    "vLLM since 0.6 do), which removes most of that interference.")
