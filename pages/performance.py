"""Latency & throughput: TTFT, TPOT and tokens/s on the roofline, calibrated on published measurements.

The page maps its widgets to a :class:`Scenario`, calls its one entry point
(``entrypoints.compute("performance", ...)`` = :func:`estimator.analysis.performance_analysis`) once per
rerun and draws the result with the figure builders of :mod:`pages.figures.performance`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from estimator import catalog, entrypoints, performance
from estimator.analysis import NO_COMPARISON, PerformanceAnalysis
from estimator.errors import EstimatorError
from estimator.formatting import duration, integer, percent
from estimator.scenario import QUERY_KEYS, Scenario, encode_value, from_query_params, option_label
from estimator.units import WEIGHT_DTYPES
from pages._moe import moe_section
from pages._ui import (
    TP_CHOICES,
    WEIGHT_FORMAT_HELP,
    check_query_params,
    float_between,
    lazy_expander,
    lazy_tabs,
    one_of,
    run_page,
    scenario_toolbar,
    show_error,
    sources_table,
    with_imported,
)
from pages.figures import performance as figures

DTYPES = [d.value for d in WEIGHT_DTYPES]  # KV-cache selectors offer DTYPES[:5] (units.KV_DTYPES)
PP_CHOICES = [1, 2, 4, 8]
D = Scenario()  # widget defaults = scenario defaults, so a link holds only what the user changed
E = performance.efficiency_for_scenario(D)  # the fitted defaults (the one rule that builds efficiencies)
_SCENARIO_KEYS = frozenset(QUERY_KEYS.values())
# Efficiency widgets -> the fitted default in the widget's unit; a widget left there means "fitted".
# (No bare strings at module level: Streamlit's "magic" would draw them when the file runs as a script.)
_FITTED_IN_WIDGET_UNITS = {"ceff": E.compute, "lpf": E.low_precision_compute, "meff": E.memory,
                           "cme": E.communication, "sov": E.step_overhead_s * 1e3,
                           "pov": E.prefill_overhead_s * 1e3, "arl": E.link_latency_s * 1e6}


def _models() -> dict[str, Any]:
    return with_imported({m.model_id: m for m in catalog.list_models() if m.generates})


def _hardware() -> dict[str, Any]:
    return {h.hardware_id: h for h in catalog.list_hardware()}


def _check_link() -> None:
    models, hardware = _models(), _hardware()
    check_query_params(
        {"m": one_of(models), "hw": one_of(hardware), "tp": one_of(TP_CHOICES), "wd": one_of(DTYPES),
         "kd": one_of(DTYPES[:5])},
        page_keys={
            "hw2": one_of([NO_COMPARISON, *hardware]), "pp": one_of(PP_CHOICES), "tpotl": float_between(0, 10_000),
            "lpf": float_between(0.05, 1.0), "sov": float_between(0, 100), "pov": float_between(0, 1000),
            "arl": float_between(0, 1000), "cme": float_between(0.05, 1.0),
        },
    )


def _model_inputs(values: dict[str, Any]) -> None:
    """Model, accelerators, dtypes, parallelism, lengths and batch; fills ``values`` (query key -> value)."""
    models, hardware = _models(), _hardware()
    c1, c2, c3, c4 = st.columns([1.3, 1.2, 1, 1])
    values["m"] = c1.selectbox("Model", list(models), index=list(models).index(D.model.model_id), key="m",
                               bind="query-params")
    spec = models[values["m"]]
    c1.caption(f"{spec.name} · {spec.params_total / 1e9:,.3g}B parameters"
               + (f" ({spec.params_active / 1e9:,.3g}B active, {spec.n_experts_active} of {spec.n_experts} experts)"
                  if spec.is_moe else "")
               + f" · context {spec.max_context:,}" + (" · illustrative" if spec.assumed else ""))
    values["wd"] = c1.selectbox("Weight dtype", DTYPES, index=DTYPES.index(D.model.weight_dtype), key="wd",
                                bind="query-params",
                                help=WEIGHT_FORMAT_HELP)
    values["hw"] = c2.selectbox("Accelerator", list(hardware), index=list(hardware).index(D.deploy.hardware_id),
                                key="hw", bind="query-params")
    hw = hardware[values["hw"]]
    c2.caption(f"{hw.name} · {hw.memory_bytes / 1e9:,.0f} GB · {hw.memory_bandwidth_bytes_per_s / 1e12:,.2f} TB/s")
    options = [NO_COMPARISON, *hardware]
    values["hw2"] = c2.selectbox("Compare with", options, index=options.index(D.perf.compare_hardware_id)
                                 if D.perf.compare_hardware_id in options else 0, key="hw2", bind="query-params",
                                 help="A second accelerator shown side by side (its own smallest tensor-parallel "
                                      "degree).")
    values["kd"] = c3.selectbox("KV-cache dtype", DTYPES[:5], index=DTYPES.index(D.model.kv_dtype), key="kd",
                                bind="query-params")
    values["tp"] = c3.selectbox("Tensor parallel", TP_CHOICES, key="tp", bind="query-params",
                                help="Devices one replica is split over; must divide the head count. "
                                     "auto: the smallest degree that fits.")
    values["pp"] = c3.selectbox("Pipeline parallel", PP_CHOICES, key="pp", bind="query-params",
                                help="Pipeline stages (layers split); prefill pays the pipeline bubble.")
    values["in"] = c4.number_input("Input tokens", 1, 2_000_000, D.tokens.input_mean, 256, key="in",
                                   bind="query-params")
    values["out"] = c4.number_input("Output tokens", 1, 200_000, D.tokens.output_mean, 64, key="out",
                                    bind="query-params")
    values["b"] = c4.number_input("Batch (concurrent sequences)", 1, 65_536, D.memory.batch, 1, key="b",
                                  bind="query-params")


def _assumption_inputs(values: dict[str, Any]) -> None:
    """The efficiency factors, overheads and latency limits; fills ``values``."""
    st.caption("Defaults are fitted to the measurements below (fraction of the datasheet ceiling each kernel "
               "class sustains, and fixed overheads), per serving engine and accelerator family (NVIDIA, NVIDIA "
               "Blackwell, AMD); the sliders start at vLLM on NVIDIA's. A slider left untouched uses the fitted value "
               "of the engine and accelerator chosen above (listed as the assumptions in force in the method "
               "section below). Change them to see how sensitive the answer is.")
    a1, a2, a3, a4 = st.columns(4)
    values["ceff"] = a1.slider("Compute efficiency (16-bit)", 0.05, 1.0, E.compute, 0.01, key="ceff",
                               bind="query-params", help=f"Fitted {performance.COMPUTE_EFFICIENCY}: share of the "
                                                         "dense peak the matmuls sustain.")
    values["lpf"] = a1.slider("fp8/int8/fp4 factor", 0.05, 1.0, E.low_precision_compute, 0.01, key="lpf",
                              bind="query-params", help=f"Fitted {performance.LOW_PRECISION_COMPUTE_FACTOR}: "
                                                        "multiplies the compute efficiency when the matmuls run in 8 "
                                                        "bits (fitted) or fp4 (assumed the same).")
    values["meff"] = a2.slider("Memory-bandwidth efficiency", 0.05, 1.0, E.memory, 0.01, key="meff",
                               bind="query-params", help=f"Fitted {performance.MEMORY_EFFICIENCY}: share of the "
                                                         "memory bandwidth sustained.")
    values["cme"] = a2.slider("Link efficiency", 0.05, 1.0, E.communication, 0.01, key="cme", bind="query-params",
                              help=f"Assumed {performance.COMMUNICATION_EFFICIENCY}: share of one link direction an "
                                   "all-reduce sustains.")
    values["sov"] = a3.number_input("Overhead per decode step (ms)", 0.0, 100.0, E.step_overhead_s * 1e3, 0.05,
                                    key="sov", bind="query-params", help="Launches, scheduling, sampling (fitted).")
    values["pov"] = a3.number_input("Overhead per prefill (ms)", 0.0, 1000.0, E.prefill_overhead_s * 1e3, 0.5,
                                    key="pov", bind="query-params",
                                    help="Admission, first launches, HTTP round trip (fitted).")
    values["arl"] = a4.number_input(
        "All-reduce latency over NVLink (µs)", 0.0, 1000.0, E.link_latency_s * 1e6, 1.0, key="arl",
        bind="query-params", help="Per all-reduce, two per layer with tensor parallelism (fitted); PCIe and networks "
                                  f"scale it by {performance.LINK_LATENCY_RATIO['pcie']:g}× and "
                                  f"{performance.LINK_LATENCY_RATIO['network']:g}×.")
    values["ttft"] = a4.number_input("TTFT limit (s)", 0.001, 3600.0, D.slo.ttft_p95_s, 0.1, key="ttft",
                                     bind="query-params", help="For the best batch under limits.")
    values["tpotl"] = a4.number_input("TPOT limit (ms, 0 = none)", 0.0, 10_000.0, D.perf.tpot_limit_ms, 5.0,
                                      key="tpotl", bind="query-params", help="For the best batch under limits.")


def _scenario(values: dict[str, Any]) -> tuple[Scenario, list[str]]:
    """The widget values (by query key) as a validated Scenario, and the values it refused. An efficiency
    widget left at its fitted default stays "fitted" (``None``), as in a link without it."""
    params = {k: encode_value(v) for k, v in values.items()
              if k in _SCENARIO_KEYS and v is not None
              and not (k in _FITTED_IN_WIDGET_UNITS and math.isclose(float(v), _FITTED_IN_WIDGET_UNITS[k],
                                                                       rel_tol=1e-9, abs_tol=1e-12))}
    # this page has no p95 lengths: keep them at least the means so that the lengths stay valid
    for mean_key, p95_key, p95 in (("in", "in95", D.tokens.input_p95), ("out", "out95", D.tokens.output_p95)):
        if mean_key in params and int(params[mean_key]) > p95:
            params[p95_key] = params[mean_key]
    return from_query_params(params)


def _inputs() -> tuple[Scenario | None, list[str]]:
    values: dict[str, Any] = {}
    with st.container(border=True):
        _model_inputs(values)
    with st.expander("Assumptions you can change", icon=":material/tune:"):
        _assumption_inputs(values)
    scenario, refused = _scenario(values)
    return (None if refused else scenario), refused


def _headline(r: PerformanceAnalysis) -> None:
    est, unlimited, best, hw = r.estimate, r.unlimited, r.best, r.hardware
    st.subheader(f"{r.model.name} on {r.tp * r.pp} × {hw.name} (tensor {r.tp}"
                 + (f" × pipeline {r.pp})" if r.pp > 1 else ")") + (" · TP auto" if r.tp_auto else ""))
    st.caption(f"Bound by: prefill {est.prefill_bound}, decode {est.decode_bound}; the phase that takes most of "
               f"the end-to-end time is bound by **{est.binding}**.")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("TTFT", duration(est.ttft_s), help=f"Prefill of {r.batch} × {r.scenario.tokens.input_mean:,} tokens; "
              f"bound: {est.prefill_bound}")
    m2.metric("TPOT", duration(est.tpot_s), help=f"Decode step at the mean context; bound: {est.decode_bound}")
    m3.metric("End-to-end latency", duration(est.e2e_s), help="TTFT + (output − 1) × TPOT")
    m4.metric("Tokens/s per request", f"{est.output_tokens_per_s_per_request:,.1f}", help="Streaming speed: 1 / TPOT")
    n1, n2, n3, n4, n5 = st.columns(5)
    n1.metric("Output tokens/s", f"{est.output_tokens_per_s:,.0f}",
              help=f"At batch {r.batch:,}, per replica; {est.output_tokens_per_s_per_device:,.0f} per device; "
                   "static batch run to completion")
    n2.metric("Requests/s", f"{est.requests_per_s:,.2f}", help=f"At batch {r.batch:,}, static batching")
    n3.metric("Max output tokens/s", f"{unlimited.output_tokens_per_s:,.0f}",
              help=f"Continuous batching at steady state with {unlimited.batch:,} sequences in flight "
                   f"({unlimited.output_tokens_per_s_per_device:,.0f} per device); limited by "
                   f"{unlimited.limited_by}, iteration {unlimited.iteration_bound}-bound")
    n4.metric("Max-throughput batch", integer(unlimited.batch), help=f"Largest batch whose KV cache fits: "
              f"{unlimited.max_batch_memory:,}; cap {unlimited.batch_cap:,}")
    limits = f"TTFT ≤ {r.ttft_limit_s:g} s" + (f", TPOT ≤ {r.tpot_limit_s * 1e3:g} ms" if r.tpot_limit_s else "")
    if best is not None:
        n5.metric("Best batch under limits", integer(best.batch),
                  help=f"{limits}; limited by {best.limited_by}; TPOT {best.tpot_s * 1e3:,.1f} ms, "
                       f"TTFT {best.ttft_s * 1e3:,.0f} ms")
        n5.caption(f"{best.output_tokens_per_s:,.0f} output tokens/s")
    else:
        n5.metric("Best batch under limits", "none", help=limits)
        st.warning(r.best_message or "", icon=":material/timer_off:")
    if r.ranges is not None:
        st.caption(figures.ranges_caption(r.ranges),
                   help=f"Throughput: {r.ranges.rate_band.basis}. Times: {r.ranges.time_band.basis}. "
                        "Ranges are the conformal 10%/90% ranks of the model's errors on published measurements "
                        "predicted without their source (data/calibration_loso.csv), the engine x vendor class "
                        "shrunk toward all; on sources held out they cover 70-90% of points overall, fewer for "
                        "SGLang and AMD (bench/bench_performance.py).")


PERF_VIEWS = ("Roofline and batch", "Context length", "Side by side")
"""The result views (lazy tabs, :func:`pages._ui.lazy_tabs`: a rerun draws the open one only)."""


def _charts(r: PerformanceAnalysis) -> None:
    roofline, context, side = lazy_tabs(PERF_VIEWS, "perf_view")
    if roofline is not None:
        left, right = roofline.columns(2)
        left.plotly_chart(figures.roofline_figure(r), width="stretch", key="fig_roofline")
        right.plotly_chart(figures.batch_figure(r), width="stretch", key="fig_batch")
    if context is not None:
        if r.context_sweep is not None:
            context.plotly_chart(figures.context_figure(r.context_sweep, r.ranges), width="stretch", key="fig_context")
        else:
            context.info(r.context_sweep_note)
    if side is not None:
        with side:
            _comparison(r)


def _comparison(r: PerformanceAnalysis) -> None:
    chosen = r.scenario.perf.compare_hardware_id != NO_COMPARISON
    st.markdown("**Side by side**" + ("" if chosen else " (choose a second accelerator above)"))
    fig = figures.comparison_figure(r)
    if fig is not None:
        st.plotly_chart(fig, width="stretch", key="fig_compare")
    table = figures.comparison_frame(r)
    fmt = {c: st.column_config.NumberColumn(format="%.2f") for c in ("TTFT (ms)", "TPOT (ms)", "e2e (s)")}
    fmt.update({c: st.column_config.NumberColumn(format="%,.0f") for c in table.columns
                if str(c).startswith(("tok/s", "max tok/s"))})
    st.dataframe(table, hide_index=True, width="stretch", column_config=fmt)


def _calibration(r: PerformanceAnalysis) -> None:
    cal = r.calibration
    st.subheader("Calibration against published measurements")
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("Median |error|", percent(cal.median_abs_error), help="Target ≤ 20%")
    k2.metric("Worst |error|", percent(cal.worst_abs_error, 0), help=f"worst factor {cal.worst_ratio:.2f}×")
    k3.metric("Within 2×", percent(cal.within_2x, 0), help="Target: every point")
    k4.metric("Points", f"{cal.scored_points}", help=f"{cal.excluded_points} more shown but not scored")
    chart, table = lazy_tabs(("Model vs measured", "Every measurement"), "perf_cal_view")
    if chart is not None:
        chart.plotly_chart(figures.calibration_figure(r), width="stretch", key="fig_calibration")
    if table is not None:
        _calibration_table(table, r)
    st.caption("`batch` of a max-throughput row is the engine's batch cap when published. Error = model / measured "
               "− 1. Rows marked *not scored* are shown with the reason; they are neither fitted nor counted. "
               "Regenerate the fit with `estimator.performance.fit_efficiency()`; `python bench/bench_performance.py` "
               "prints this table's summary.")


def _calibration_table(where: Any, r: PerformanceAnalysis) -> None:
    where.dataframe(
        figures.calibration_frame(r), hide_index=True, width="stretch", height=640,
        column_config={
            "error": st.column_config.NumberColumn("error", format="percent"),
            "value": st.column_config.NumberColumn("measured", format="%.4g"),
            "predicted": st.column_config.NumberColumn("model", format="%.4g"),
            "url": st.column_config.LinkColumn("url"),
            "source": st.column_config.TextColumn("source", width="large"),
            "as_of": st.column_config.DateColumn("as of"),
            "assumed": st.column_config.CheckboxColumn("setup partly inferred"),
            "excluded": st.column_config.CheckboxColumn("not scored"),
            "excluded_reason": st.column_config.TextColumn("why not scored"),
        },
    )


def _microbenchmarks(r: PerformanceAnalysis) -> None:
    exp = lazy_expander("Raw ceilings we measured on an H100 and an H200 (microbenchmarks)", "how_perf_micro",
                        icon=":material/science:")
    if exp is None:
        return
    with exp:
        st.dataframe(figures.microbenchmark_frame(r), hide_index=True, width="stretch",
                     column_config={"share_of_datasheet": st.column_config.NumberColumn("of datasheet",
                                                                                        format="percent"),
                                    "value": st.column_config.NumberColumn(format="%.4g")})
        st.caption(f"Serving engines sustain less than these raw kernels, so the fitted efficiencies "
                   f"(compute {performance.COMPUTE_EFFICIENCY:.0%}, memory {performance.MEMORY_EFFICIENCY:.0%}) sit "
                   "below them; tests/test_microbenchmarks.py checks that, and that the predicted batch-1 TPOT of "
                   "Llama-3.1-8B lies just above the measured pure weight-streaming step. Re-measure with "
                   "`python bench/device_roofline.py` on any CUDA machine.")


def _method(r: PerformanceAnalysis) -> None:
    eff = r.efficiency
    exp = lazy_expander("How this is computed", "how_perf_method", icon=":material/functions:")
    if exp is None:
        return
    with exp:
        st.markdown("**Per phase, per kind of kernel, on the roofline** (Williams et al. 2009). Linear layers run "
                    "against the weights, attention against the KV cache, elementwise work against activation "
                    "traffic; each at the slower of its compute and bandwidth ceilings, then summed with "
                    "communication and overhead:")
        st.latex(r"t = \max\!\Big(\tfrac{F_{lin}}{t_p\,P\,e_c},\tfrac{W(T)}{t_p\,\beta\,e_m}\Big)"
                 r" + \max\!\Big(\tfrac{F_{att}}{t_p\,P\,e_c},\tfrac{KV\,s(t_p)}{\beta\,e_m}\Big)"
                 r" + \tfrac{A}{t_p\,\beta\,e_m} + 2L\,t_{AR} + t_{o}")
        st.caption("P peak FLOP/s in the compute dtype, β memory bandwidth, e efficiencies, t_p tensor-parallel "
                   "degree, W(T) weight bytes read for T tokens, KV cache bytes with s(t_p) the share of KV heads "
                   "per rank, A activation and logit traffic, t_AR one all-reduce, t_o fixed overhead.")
        st.markdown("**FLOPs** (Kaplan et al. 2020 Table 1): 2 per active parameter per token plus causal attention; "
                    "**prefill** processes the whole prompt at once (compute-bound), **decode** one token per "
                    "sequence per step and re-reads the weights and the KV cache (memory-bound at small batch; "
                    "Pope et al. 2022 §2):")
        st.latex(r"F_{pre} = B\,(2P_{body}I + 2Vd + a\,S(I)),\quad F_{dec} = B\,(2P_{body} + 2Vd + a\min(c, W)),"
                 r"\quad a = 2Lh(d_{qk}+d_v)")
        st.markdown("**Mixture of experts**: decode reads the dense weights plus the experts the batch routes to; "
                    "with E experts, k per token and T tokens, a layer reads on average")
        st.latex(r"E_{distinct} = E\,\big(1 - (1 - k/E)^{T}\big)")
        st.markdown("**Tensor parallel** splits FLOPs, weights and KV heads t ways and adds two ring all-reduces per "
                    "layer (Megatron-LM, Shoeybi et al. 2019 §3; ring cost Patarasuk & Yuan 2009). **Pipeline** "
                    "splits layers into p stages; with m = min(B, p) micro-batches prefill takes (m + p − 1) stage "
                    "times (GPipe bubble) and a decode step p stage times of B/m sequences. Beyond one node the ring "
                    "runs over the network.")
        st.latex(r"t_{AR} = 2\,\tfrac{t_p-1}{t_p}\,\tfrac{T\,d\,b_{act}}{\beta_{link}\,e_{link}} + \lambda"
                 r"\qquad TTFT = t_{pre},\; TPOT = t_{dec}(c = I + O/2),\; e2e = TTFT + (O-1)\,TPOT")
        st.markdown("**Continuous batching** (Orca; vLLM, Kwon et al. 2023) at steady state: every iteration decodes "
                    "one token for each of B sequences and prefills the B/O prompts that replace finishing ones; "
                    "throughput = B / t_iter. The best batch is the largest whose KV cache of input + output tokens "
                    "fits (or meets the TTFT/TPOT limits). Quantized weights and KV cut bytes; fp8/int8 matmuls use "
                    "the 8-bit peak, and nvfp4/mxfp4 weights the fp4 peak, only where the accelerator has it; "
                    "elsewhere quantized weights are dequantized to bf16/fp16 for the matmuls.")
        st.caption(
            f"Assumptions in force ({option_label('eng', r.scenario.engine.name.value)} on the "
            f"{performance.calibration_family(r.hardware)} calibration family unless changed above): "
            f"compute efficiency {eff.compute:.2f} (×{eff.low_precision_compute:.2f} in 8 or 4 bits), "
            f"memory efficiency {eff.memory:.2f}, link efficiency {eff.communication:.2f}, all-reduce latency "
            f"{eff.link_latency_s * 1e6:.0f} µs over NVLink, overheads {eff.step_overhead_s * 1e3:.2f} ms per step "
            f"and {eff.prefill_overhead_s * 1e3:.1f} ms per prefill; KV cache reserved for input + output tokens; "
            f"batch cap {performance.MAX_BATCH_CAP:,}; prefill chunk {performance.PREFILL_CHUNK_TOKENS:,} tokens; "
            "16-bit activations; dense peak (no 2:4 sparsity).")
        spec, hw = r.model, r.hardware
        sources_table(pd.DataFrame([
            {"item": spec.name, "source": spec.source, "as_of": spec.as_of, "assumed": spec.assumed},
            {"item": hw.name, "source": hw.source, "as_of": hw.as_of, "assumed": hw.assumed},
            {"item": "efficiency factors", "source": "fitted to data/measurements.csv (see the calibration table)",
             "as_of": r.calibration.as_of, "assumed": False},
        ]), "Where the figures come from")
        if r.estimate.decode_intensity_flops_per_byte is None or not math.isfinite(
                r.estimate.decode_intensity_flops_per_byte):
            st.caption("Decode intensity undefined (no bytes moved).")


def render() -> None:
    """Draw the Latency & throughput page: inputs -> one performance analysis -> metrics, charts, calibration."""
    st.title("Latency & throughput")
    st.caption(
        "Time to first token (TTFT), time per output token (TPOT), end-to-end latency and tokens per second "
        "of one replica, on the roofline: each phase runs at the slower of its compute and memory-bandwidth "
        "ceilings, plus tensor-parallel communication and fixed overheads. The efficiency factors are fitted "
        "to published measurements (table at the bottom) and can be changed below."
    )
    _check_link()
    scenario, refused = _inputs()
    if scenario is None:
        st.error("These inputs are out of range: " + "; ".join(refused), icon=":material/error:")
        return
    scenario = moe_section(scenario)  # MoE models: expert parallelism inputs and results (pages/_moe.py)
    try:
        result: PerformanceAnalysis = entrypoints.compute("performance", scenario)
    except EstimatorError as exc:
        scenario_toolbar("performance", scenario)
        show_error(exc)
        return
    scenario_toolbar("performance", scenario, result)
    _headline(result)
    _charts(result)
    _calibration(result)
    _microbenchmarks(result)
    _method(result)


if __name__ == "__main__":
    run_page(render)
