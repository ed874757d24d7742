"""Training page section: LoRA and QLoRA fine-tuning, and serving many adapters (``estimator.lora``)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from estimator import lora
from estimator.errors import EstimatorError
from estimator.formatting import integer, money
from estimator.scenario import Scenario
from pages._ui import lazy_expander, show_error

D = Scenario().lora
TARGETS = {"qv": "q, v (PEFT default)", "attention": "q, k, v, o", "all_linear": "all linear layers (QLoRA)"}


def lora_section(scenario: Scenario) -> None:
    """Inputs of the adapters, then fine-tuning and serving tables (only when switched on)."""
    with st.expander("LoRA and QLoRA fine-tuning, and serving many adapters", icon=":material/tune:",
                     expanded=scenario.lora.enabled):
        if not st.toggle("Fine-tune the model with LoRA adapters", D.enabled, key="lo", bind="query-params"):
            st.caption("Off. The model, accelerator, sequence length and micro-batch come from the inputs above.")
            return
        c1, c2, c3 = st.columns(3)
        inputs = {
            "enabled": True,
            "rank": c1.number_input("Rank r", 1, 1024, D.rank, 8, key="lor", bind="query-params"),
            "targets": c1.selectbox("Target modules", list(TARGETS), index=list(TARGETS).index(D.targets),
                                    format_func=TARGETS.__getitem__, key="lotgt",
                                    bind="query-params"),
            "qlora": c2.toggle("4-bit base (QLoRA)", D.qlora, key="loq", bind="query-params",
                               help="NF4 weights with double quantization (Dettmers et al. 2023)."),
            "train_tokens_m": c2.number_input("Fine-tuning tokens (millions)", 0.001, 1e7, D.train_tokens_m, 10.0,
                                              key="lotok", bind="query-params"),
            "adapters": c3.number_input("Adapters served", 1, 1_000_000, D.adapters, 10, key="loads",
                                        bind="query-params"),
            "max_loras": c3.number_input("Adapters per batch (--max-loras)", 1, 4096, D.max_loras, 1, key="lomax",
                                         bind="query-params"),
        }
        try:
            scenario = scenario.replace(lora=inputs)  # the widgets' values, also on a link's first run
            plan = lora.finetune_plan(scenario)
            serve = lora.serving(scenario)
        except EstimatorError as exc:
            show_error(exc)
            return
        except ValueError as exc:  # a value the schema refuses
            st.error(f"LoRA: {exc}", icon=":material/error:")
            return
        _finetune(plan, scenario.lora.qlora)
        _serving(serve, scenario)
        _how_computed()


def _finetune(plan: lora.FinetunePlan, qlora: bool) -> None:
    chosen = plan.options[2 if qlora else 1]
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Trainable parameters", integer(plan.trainable_params),
              f"{plan.trainable_params / plan.total_params:.3%} of the model", delta_color="off")
    m2.metric("Memory per GPU", f"{chosen.per_gpu_bytes / 1e9:,.1f} GB")
    m3.metric("GPUs", integer(chosen.gpus) if chosen.gpus else "does not fit")
    m4.metric("Cost", money(chosen.cost_usd))
    rows = []
    for o in plan.options:
        m = o.memory
        rows.append({
            "Method": o.name, "GPUs": o.gpus or "no fit",
            "Memory per GPU (GB)": f"{o.per_gpu_bytes / 1e9:,.1f}",
            "Base weights (GB, total)": f"{m.base_weights_bytes / 1e9:,.1f}" if m else "-",
            "Adapter states (GB)": f"{m.adapter_states_bytes / 1e9:,.2f}" if m else "-",
            "Activations (GB)": f"{m.activation_bytes / 1e9:,.2f}" if m else "-",
            "Hours": f"{o.hours:,.1f}", "Cost": money(o.cost_usd),
        })
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption(f"{plan.model_name} on {plan.hardware_name}: {plan.tokens / 1e6:,.0f}M tokens at "
               f"{plan.utilization:.0%} utilization, {money(plan.price_usd_per_gpu_h)} per GPU-hour.")


def _serving(serve: lora.LoraServing, scenario: Scenario) -> None:
    lo = scenario.lora
    st.markdown(f"**Serving {integer(lo.adapters)} adapters** on tensor parallel {serve.tp}: "
                f"{serve.adapter_bytes / 1e6:,.1f} MB each; {lo.max_loras} GPU slots reserve "
                f"{serve.slot_bytes / 1e9:,.2f} GB; all adapters in host memory take {serve.host_bytes / 1e9:,.1f} GB.")
    st.dataframe(pd.DataFrame([{
        "Batch": p.batch, "Distinct adapters": f"{p.distinct_adapters:,.1f}",
        "Base decode step (ms)": f"{p.base_tpot_s * 1e3:,.2f}", "Extra (ms)": f"{p.extra_s * 1e3:,.2f}",
        "Throughput cost": f"{p.throughput_cost:.1%}"} for p in serve.points]), hide_index=True)


def _how_computed() -> None:
    exp = lazy_expander("How this is computed (LoRA)", "how_lora_method", icon=":material/functions:")
    if exp is None:
        return
    with exp:
        st.latex(r"P_{LoRA} = r \sum_{layers} \sum_{modules} (d_{in} + d_{out})")
        st.markdown("A rank-$r$ adapter on a $d_{in} \\times d_{out}$ weight adds $A$ ($r \\times d_{in}$) and $B$ "
                    "($d_{out} \\times r$) (Hu et al. 2021, arXiv:2106.09685 §4.1); GPT-3 175B with $r=4$ on "
                    "$W_q, W_v$ gives 18.9M (Table 5: 18M); PEFT's mt0-large example prints 2,359,296.")
        st.latex(r"M = P_{base}\, b_{base} + 12\, P_{LoRA} + L\, A_{layer} + 4\, s\, b\, V + O")
        st.markdown("$b_{base}$ = 2 bytes, or 4.127 bits for QLoRA's NF4 with double quantization (Dettmers et al. "
                    "2023, arXiv:2305.14314 §3); 12 bytes per adapter parameter (bf16 weight and gradient, fp32 Adam "
                    "moments); activations with gradient checkpointing; the frozen base is sharded over the GPUs "
                    "(FSDP). QLoRA's 65B on one 48 GB GPU: the model gives 46 GB. Time: $6N$ FLOPs per token "
                    "(no weight gradients, one recomputed forward) vs $8N$ for full fine-tuning, over "
                    "GPUs x peak x the fitted utilization; the dequantization cost of QLoRA is not modelled.")
        st.latex(r"E[D] = N\,\big(1 - (1 - 1/N)^{B}\big),\quad \Delta t = \frac{D\, 2 P_{LoRA}}{BW\, e_m} "
                 r"+ \frac{2 B P_{LoRA}}{F\, e_c}")
        st.markdown("A decode batch of $B$ requests over $N$ equally popular adapters holds $E[D]$ distinct ones "
                    "(at most `--max-loras`); each is read once per step (Punica SGMV, arXiv:2310.18547; S-LoRA, "
                    "arXiv:2311.03285). Punica's '2 ms per token' on a 7B model is matched within 10% "
                    "(`bench/bench_lora.py`, `data/serving_anchors.csv`).")
