"""Model & memory: how much accelerator memory a model needs, and on how many devices it fits.

The page maps its widgets to a :class:`Scenario`, calls its one entry point
(``entrypoints.compute("memory", ...)`` = :func:`estimator.analysis.memory_analysis`) once per rerun and
draws the result with the figure builders of :mod:`pages.figures.memory`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from estimator import catalog, entrypoints, hf, imported, memory
from estimator.analysis import MemoryAnalysis, TrainingMemoryAnalysis
from estimator.errors import EstimatorError
from estimator.formatting import bytes_gb, integer
from estimator.scenario import QUERY_KEYS, Scenario, encode_value, from_query_params
from estimator.specs import ModelSpec
from estimator.units import WEIGHT_DTYPES
from pages._ui import (
    MEMORY_FRACTION_HELP,
    TP_CHOICES,
    WEIGHT_FORMAT_HELP,
    check_query_params,
    engine_input,
    imported_model,
    lazy_expander,
    one_of,
    plain,
    run_page,
    scenario_toolbar,
    show_error,
    sources_table,
    use_imported_model,
    with_imported,
)
from pages.figures import memory as figures

DTYPES = [d.value for d in WEIGHT_DTYPES]  # KV-cache selectors offer DTYPES[:5] (units.KV_DTYPES)
D = Scenario()  # widget defaults = scenario defaults, so a link holds only what the user changed
PAGE_KEYS = {"src": one_of(["catalog", "config"])}
_SCENARIO_KEYS = frozenset(QUERY_KEYS.values())


@dataclass(frozen=True)
class _Inputs:
    """What the widgets say: the scenario, and the imported model when it comes from a config.json."""

    scenario: Scenario
    imported: ModelSpec | None


def _models() -> dict[str, ModelSpec]:
    return with_imported({m.model_id: m for m in catalog.list_models()})


def _hardware() -> dict[str, Any]:
    return {h.hardware_id: h for h in catalog.list_hardware()}


def _import_new(col: Any) -> hf.ImportedModel | None:
    """A config.json uploaded or pasted, or a Hugging Face model id fetched, in this run (None if none)."""
    upload = col.file_uploader("Upload config.json", type=["json"], key="cfg_upload")
    pasted = col.text_area("…or paste it", key="cfg_text", height=90, placeholder='{"model_type": "llama", ...}')
    hub_id = col.text_input("…or a Hugging Face model id", key="cfg_hub", placeholder="openai/gpt-oss-20b",
                            help="Reads config.json (and the checkpoint's parameter total) from the Hub, or from "
                                 "the mirror HF_ENDPOINT names. Needs network access to it.")
    raw = upload.getvalue() if upload is not None else (pasted or "").strip()
    if not raw and not hub_id.strip():
        return None
    key = ("hub:" + hub_id.strip()) if not raw else ("cfg:" + str(hash(raw)))
    if st.session_state.get("_cfg_last") == key:  # already imported: later widget changes stay the user's
        return None
    try:
        result = hf.import_config_json(raw) if raw else hf.import_from_hub(hub_id.strip())
    except EstimatorError as exc:
        col.error(f"Could not import this model: {exc}")
        return None
    st.session_state["_cfg_last"] = key
    return result


def _imported_model(col: Any) -> ModelSpec | None:
    """The model of an uploaded or pasted Hugging Face config.json (or one fetched by model id), which
    becomes the scenario's model on every page (and travels in the link); otherwise the session's imported
    model. A config's quantization (fp8, MXFP4, NVFP4...) becomes the weight format."""
    result = _import_new(col)
    if result is not None:
        use_imported_model(result.spec)  # the "m" and "wd" widgets are drawn after this branch
        if result.weight_dtype.value in DTYPES:
            st.session_state["wd"] = result.weight_dtype.value
        st.session_state["_cfg_notes"] = list(result.assumptions)
    for note in st.session_state.get("_cfg_notes", []):
        col.caption(f"Assumed: {plain(note)}")
    spec = imported_model()
    if spec is None:
        col.info("Upload or paste a config.json, or give a Hugging Face model id: the model then joins every "
                 "page, the link and saved scenarios.")
        return None
    col.caption(f"Imported: **{plain(spec.name)}** · {spec.params_total / 1e9:,.3g}B parameters"
                + (f" ({spec.params_active / 1e9:,.3g}B active)" if spec.is_moe else "")
                + ". It is now the model on every page and in this page's link.")
    return spec


def _serving_inputs(values: dict[str, Any]) -> tuple[str, ModelSpec | None]:
    """The model, accelerator, layout, dtypes, context and batch widgets; fills ``values`` (query key ->
    widget value) and returns the model source and the model to show."""
    models, hardware = _models(), _hardware()
    c1, c2, c3, c4 = st.columns([1.4, 1.1, 1, 1])
    # Bound widgets put their option *labels* in the URL, so options are the short ids themselves.
    source = c1.radio("Model from", ["catalog", "config"], horizontal=True, key="src", bind="query-params",
                      help="catalog: a published or illustrative model; config: a Hugging Face config.json")
    spec: ModelSpec | None
    if source == "catalog":
        values["m"] = c1.selectbox("Model", list(models), index=list(models).index(D.model.model_id), key="m",
                                   bind="query-params")
        spec = models[values["m"]]
        c1.caption(f"{plain(spec.name)} · {spec.params_total / 1e9:,.3g}B parameters"
                   + (f" ({spec.params_active / 1e9:,.3g}B active)" if spec.is_moe else "")
                   + (" · illustrative" if spec.assumed else ""))
    else:
        spec = _imported_model(c1)
        if spec is not None:
            values["m"], values["mc"] = spec.model_id, imported.encode_link(spec)
    values["hw"] = c2.selectbox("Accelerator", list(hardware), index=list(hardware).index(D.deploy.hardware_id),
                                key="hw", bind="query-params")
    hw = hardware[values["hw"]]
    c2.caption(f"{hw.name} · {hw.memory_bytes / 1e9:,.0f} GB · {hw.memory_bandwidth_bytes_per_s / 1e9:,.0f} GB/s")
    values["tp"] = c2.selectbox("Tensor parallel degree", TP_CHOICES, key="tp", bind="query-params",
                                help="Devices one replica is split over (Megatron-style); must divide the head "
                                     "count. auto: the smallest degree that fits.")
    values["wd"] = c3.selectbox("Weight dtype", DTYPES, index=DTYPES.index(D.model.weight_dtype), key="wd",
                                bind="query-params",
                                help=WEIGHT_FORMAT_HELP)
    values["kd"] = c3.selectbox("KV-cache dtype", DTYPES[:5], index=DTYPES.index(D.model.kv_dtype), key="kd",
                                bind="query-params")
    values["ctx"] = c4.number_input("Context per sequence (tokens)", min_value=1, max_value=10_000_000,
                                    value=D.memory.context_tokens, step=1024, key="ctx", bind="query-params")
    values["b"] = c4.number_input("Concurrent sequences (batch)", min_value=1, max_value=65_536, value=D.memory.batch,
                                  step=1, key="b", bind="query-params")
    return source, spec


def _assumption_inputs(values: dict[str, Any]) -> None:
    a1, a2, a3 = st.columns(3)
    values["mu"] = a1.number_input("Engine memory fraction", 0.3, 1.0, None, 0.01, key="mu", bind="query-params",
                                   placeholder="engine default", help=MEMORY_FRACTION_HELP)
    values["eng"] = engine_input(a1)
    values["ovh"] = a2.number_input(
        "Runtime overhead per device (GB)", 0.0, 40.0, D.assumptions.runtime_overhead_gb, 0.1, key="ovh",
        bind="query-params", help="CUDA context, library workspaces, NCCL buffers, fragmentation.")
    a3.markdown(f"Quantization: group size **{memory.QUANT_GROUP_SIZE}**, "
                f"**{memory.QUANT_SCALE_BYTES_PER_GROUP} B** of scale and zero point per group; "
                "embeddings and output head stay 16-bit.")


def _training_inputs(values: dict[str, Any]) -> None:
    t1, t2, t3, t4, t5, t6 = st.columns(6)
    opts = [o.value for o in memory.Optimizer]
    values["opt"] = t1.selectbox("Optimizer", opts, index=opts.index(D.memory.optimizer), key="opt",
                                 bind="query-params")
    values["zero"] = t2.selectbox("ZeRO stage / FSDP", [0, 1, 2, 3], index=D.memory.zero_stage, key="zero",
                                  bind="query-params",
                                  help="3 = parameters, gradients and optimizer states sharded (FSDP full shard).")
    values["dp"] = t3.number_input("Data-parallel ranks", 1, 65_536, D.memory.dp, key="dp", bind="query-params")
    values["seq"] = t4.number_input("Sequence length", 1, 1_000_000, D.memory.seq_len, 512, key="seq",
                                    bind="query-params")
    values["mb"] = t5.number_input("Micro-batch", 1, 1024, D.memory.micro_batch, key="mb", bind="query-params")
    rcs = ["none", "selective", "full"]
    values["rc"] = t6.selectbox("Activation recomputation", rcs, index=rcs.index(D.memory.recompute), key="rc",
                                bind="query-params")


def _scenario(values: dict[str, Any]) -> tuple[Scenario, list[str]]:
    """The page's widget values (by query key) as a validated Scenario, and the values it refused."""
    params = {k: encode_value(v) for k, v in values.items() if k in _SCENARIO_KEYS and v is not None}
    return from_query_params(params)


def _headline(r: MemoryAnalysis) -> None:
    spec, hw, mem, fit, s = r.model, r.hardware, r.memory, r.fit, r.scenario
    ctx, batch, util = s.memory.context_tokens, s.memory.batch, r.budget_bytes / hw.memory_bytes
    st.subheader(f"{plain(spec.name)} on {r.tp} × {hw.name}" + (" (auto)" if r.tp_auto else ""))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Weights (total)", bytes_gb(mem.weights_bytes, 2),
              help=f"{integer(spec.params_total)} parameters in {s.model.weight_dtype.value}")
    m2.metric("KV cache (total)", bytes_gb(mem.kv_cache_bytes, 2),
              help=f"{batch} sequence(s) × {ctx:,} tokens in {s.model.kv_dtype.value}")
    m3.metric("Per device", bytes_gb(mem.per_device_total_bytes, 2),
              help=f"Budget {bytes_gb(r.budget_bytes, 2)} = {util:.0%} of {bytes_gb(hw.memory_bytes, 0)}")
    m4.metric("Fits?", "yes" if mem.fits else "no",
              delta=f"{(r.budget_bytes - mem.per_device_total_bytes) / 1e9:+,.1f} GB headroom", delta_color="normal")
    n1, n2, n3, n4 = st.columns(4)
    n1.metric("Accelerators needed", f"{fit.devices}" if fit.fits else "none fit", help=fit.message)
    n2.metric("Max batch", integer(r.max_batch), help=f"Most concurrent sequences of {ctx:,} tokens on {r.tp} device(s)")
    n3.metric("Max context", integer(r.max_context_tokens), help=f"Longest context for batch {batch} on {r.tp} "
              f"device(s), capped at the model's {spec.max_context:,}")
    n4.metric("KV cache per token", f"{r.kv_cache_per_token_bytes / 1024:,.1f} KiB",
              help="All layers, keys and values, in the KV dtype")
    if mem.fits:
        st.success(f"Fits: {bytes_gb(mem.per_device_total_bytes, 2)} of a {bytes_gb(r.budget_bytes, 2)} budget per "
                   f"device. Smallest layout: {fit.message}.", icon=":material/check_circle:")
    else:
        st.error(f"Does not fit on {r.tp} × {hw.name}: {bytes_gb(mem.shortfall_bytes, 2)} per device over budget. "
                 f"Smallest layout: {fit.message}.", icon=":material/block:")
    left, right = st.columns(2)
    left.plotly_chart(figures.breakdown_figure(r), width="stretch", key="fig_breakdown")
    right.plotly_chart(figures.context_figure(r), width="stretch", key="fig_context")


def _training(r: MemoryAnalysis) -> None:
    if r.training is None:
        show_error(EstimatorError(r.training_error or "training memory could not be computed"))
        return
    t: TrainingMemoryAnalysis = r.training
    hw, chosen = r.hardware, t.chosen
    k1, k2, k3 = st.columns(3)
    k1.metric(f"Per device, ZeRO-{t.zero_stage} over {t.dp:,} ranks, TP {t.tp}", bytes_gb(chosen.total_bytes, 2))
    k2.metric("Fits a device?", "yes" if t.fits_device else "no",
              delta=f"{(t.device_memory_bytes - chosen.total_bytes) / 1e9:+,.1f} GB", delta_color="normal")
    k3.metric("Fewest devices to train", integer(t.fit.devices) if t.fit.fits else "—", help=t.fit.message)
    if not t.fits_device:
        st.warning(
            f"Training does not fit at ZeRO-{t.zero_stage}: {bytes_gb(chosen.total_bytes, 2)} per device against "
            f"{bytes_gb(hw.memory_bytes, 2)}. {t.fit.message[0].upper() + t.fit.message[1:]}. Higher ZeRO stages "
            "shard states over more ranks; full recomputation keeps only each layer's input.",
            icon=":material/warning:")
    st.plotly_chart(figures.training_figure(t, hw.name), width="stretch", key="fig_training")


def _details(r: MemoryAnalysis) -> None:
    spec, hw = r.model, r.hardware
    exp = lazy_expander("Model architecture and sources", "how_mem_sources", icon=":material/menu_book:")
    if exp is None:
        return
    with exp:
        arch = spec.model_dump(exclude={"source", "as_of", "notes", "assumed"})
        st.dataframe(pd.DataFrame({"field": list(arch), "value": [str(v) for v in arch.values()]}),
                     hide_index=True, width="stretch")
        if spec.assumed:
            st.info("This model's figures are illustrative (assumed), not published.")
        sources_table(pd.DataFrame([
            {"item": spec.name, "source": spec.source, "as_of": spec.as_of, "assumed": spec.assumed},
            {"item": hw.name, "source": hw.source, "as_of": hw.as_of, "assumed": hw.assumed}]),
            "Where the figures come from")
        if hw.notes:
            st.caption(f"{hw.name}: {hw.notes}")


def _method(scenario: Scenario) -> None:
    a = scenario.assumptions
    exp = lazy_expander("How this is computed", "how_mem_method", icon=":material/functions:")
    if exp is None:
        return
    with exp:
        st.markdown("**Weights.** Parameters (embeddings included) times bytes per element; weight-only integer "
                    "formats add one scale and zero point per group and keep embeddings in 16 bit (GPTQ, AWQ).")
        st.latex(r"W = P\,b \qquad W_{\text{int}} = (P - P_{\text{emb}})\left(b + \tfrac{s}{g}\right) + 2P_{\text{emb}}")
        st.markdown("**KV cache** per token: keys and values for every layer and KV head (vLLM paper, Kwon et al. "
                    "2023 §3). GQA/MQA shrink it by sharing KV heads; multi-head latent attention caches a compressed "
                    "latent (DeepSeek-V2, Table 1); a sliding window caps the cached tokens (Mistral 7B §2).")
        st.latex(r"KV = 2\,L\,n_{kv}\,d_{head}\,b_{kv}\,\min(T, W)\,B \qquad "
                 r"KV_{\text{MLA}} = L\,(d_c + d_h^R)\,b_{kv}\,T\,B")
        st.markdown("**Per device** with tensor parallel t (weights split exactly; KV heads split, replicated when "
                    "t > n_kv):")
        st.latex(r"M_{dev} = \frac{W}{t} + KV\cdot\frac{\max(n_{kv}/t,\,1)}{n_{kv}} + \frac{A}{t} + O_{runtime} "
                 r"\;\le\; u\,M_{device}")
        st.markdown("**Training**: mixed-precision model states are 2 + 2 + K bytes per parameter (K = 12 for AdamW), "
                    "partitioned by ZeRO stage over N_d ranks (Rajbhandari et al. 2020, Fig. 1); activations per "
                    "layer follow Korthikanti et al. 2022 Table 2, generalized to GQA and gated MLPs.")
        st.latex(r"\text{ZeRO-3: } \frac{(2 + 2 + K)\,P}{N_d} \qquad A_{layer} = s\,b\,h\left(34 + \frac{5 a s}{h}\right)/t")
        st.markdown("**Serving engine**: each engine bounds memory its own way (data/engines.csv): vLLM "
                    "`--gpu-memory-utilization f` bounds everything, SGLang `--mem-fraction-static f` bounds weights "
                    "plus KV pool, TensorRT-LLM takes `f` of the memory left free after weights and activations. "
                    "The page turns each rule into one budget u·M:")
        st.latex(r"	ext{vLLM: } u M = f M \quad 	ext{SGLang: } u M = f M + A + O \quad "
                 r"	ext{TRT-LLM: } u M = W + A + O + f\,(M - W - A - O)")
        fraction = "engine default" if a.memory_utilization is None else f"{a.memory_utilization:.2f} (override)"
        st.caption(f"Assumptions in force: {scenario.engine.name.value} memory fraction {fraction}; runtime overhead "
                   f"{a.runtime_overhead_gb:.1f} GB per device; activations 16-bit with fused (Flash) attention; "
                   "logits in fp32.")


def _read_inputs() -> tuple[_Inputs | None, Any, Any]:
    """All widgets (serving, assumptions, training), laid out in page order; returns the inputs (None when
    there is no model to show or a value was refused) and the containers the results go into."""
    values: dict[str, Any] = {}
    with st.container(border=True):
        source, spec = _serving_inputs(values)
    with st.expander("Assumptions you can change", icon=":material/tune:"):
        _assumption_inputs(values)
    serving_box = st.container()
    st.subheader("Training memory")
    with st.container(border=True):
        _training_inputs(values)
    training_box = st.container()
    scenario, refused = _scenario(values)
    if refused:
        serving_box.error("These inputs are out of range: " + "; ".join(refused), icon=":material/error:")
        return None, serving_box, training_box
    if spec is None:
        return None, serving_box, training_box
    return _Inputs(scenario, None if source == "catalog" else spec), serving_box, training_box


def render() -> None:
    """Draw the Model & memory page: inputs -> one memory analysis -> metrics, charts, training memory."""
    st.title("Model & memory")
    st.caption("How many bytes a model needs to serve or train (weights, KV cache, activations, optimizer "
               "states), whether it fits your accelerator, and the smallest layout that does. GB means 10⁹ bytes.")
    check_query_params({"m": one_of(_models()), "hw": one_of(_hardware()), "tp": one_of(TP_CHOICES),
                        "kd": one_of(DTYPES[:5])}, page_keys=PAGE_KEYS)
    inputs, serving_box, training_box = _read_inputs()
    if inputs is None:
        return
    with serving_box:
        try:
            result: MemoryAnalysis = entrypoints.compute("memory", inputs.scenario)
        except EstimatorError as exc:
            scenario_toolbar("memory", inputs.scenario)
            show_error(exc)
            return
        scenario_toolbar("memory", inputs.scenario, result)
        _headline(result)
    with training_box:
        _training(result)
    _details(result)
    _method(inputs.scenario)


if __name__ == "__main__":
    run_page(render)
