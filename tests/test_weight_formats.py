"""Weight formats (issue 13, part 4): FP4 block formats (NVFP4, MXFP4), llama.cpp GGUF formats
(Q4_K_M, Q5_K_M, Q8_0), the compute format each runs in, and FP8 KV caches. Every byte figure is
pinned to the format's specification or to a published checkpoint size."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from estimator import catalog, memory, performance
from estimator import variants as V
from estimator.catalog import get_hardware, get_model
from estimator.errors import InvalidInputError
from estimator.specs import HardwareSpec, ModelSpec
from estimator.units import (
    BLOCK_BYTES_PER_WEIGHT,
    KV_DTYPES,
    WEIGHT_DTYPES,
    DType,
    bytes_per_element,
    stored_bytes_per_weight,
)

GIB = 2**30
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- bytes per weight


def test_block_formats_store_what_their_specifications_say() -> None:
    # NVFP4: 16 E2M1 values (4 bit each) share one FP8 E4M3 scale (NVIDIA developer blog "Introducing
    # NVFP4 for Efficient and Accurate Low-Precision Inference", 2025-06-24; ModelOpt NVFP4_DEFAULT_CFG:
    # block_sizes {-1: 16}, scale_bits (4, 3)): (16 x 4 + 8) / 16 = 4.5 bits.
    assert stored_bytes_per_weight("nvfp4") * 8 == 4.5
    # MXFP4: 32 E2M1 values share one E8M0 scale (OCP Microscaling Formats v1.0, Table 1; llama.cpp
    # block_mxfp4 = 1 + 16 bytes per 32): 4.25 bits.
    assert stored_bytes_per_weight("mxfp4") * 8 == 4.25
    # Q8_0: block_q8_0 = fp16 scale + 32 int8 = 34 bytes per 32 weights (ggml/src/ggml-common.h): 8.5 bits.
    assert stored_bytes_per_weight("q8_0") * 32 == 34
    # The E2M1 element itself is half a byte (both FP4 formats, and the fp4 compute format).
    assert bytes_per_element("nvfp4") == bytes_per_element("mxfp4") == bytes_per_element("fp4") == 0.5


def test_k_quant_mixes_are_llama_cpp_measured_averages() -> None:
    # llama.cpp tools/quantize/README.md, Llama-3.1-8B table: Q4_K_M 4.8944 and Q5_K_M 5.7036 bits/weight.
    assert stored_bytes_per_weight("q4_k_m") * 8 == pytest.approx(4.8944, abs=1e-12)
    assert stored_bytes_per_weight("q5_k_m") * 8 == pytest.approx(5.7036, abs=1e-12)
    # A mix sits between its base k-quant and Q6_K (ggml-common.h: block_q4_K 144 B, block_q5_K 176 B,
    # block_q6_K 210 B, each per 256 weights).
    q4_k, q5_k, q6_k = 144 * 8 / 256, 176 * 8 / 256, 210 * 8 / 256
    assert (q4_k, q5_k, q6_k) == (4.5, 5.5, 6.5625)
    assert q4_k < stored_bytes_per_weight("q4_k_m") * 8 < q6_k
    assert q5_k < stored_bytes_per_weight("q5_k_m") * 8 < q6_k


def test_every_weight_format_has_a_size_and_fp4_is_compute_only() -> None:
    assert DType.FP4 not in WEIGHT_DTYPES
    assert set(BLOCK_BYTES_PER_WEIGHT) == {DType.NVFP4, DType.MXFP4, DType.Q4_K_M, DType.Q5_K_M, DType.Q8_0}
    for d in WEIGHT_DTYPES:
        assert 0 < stored_bytes_per_weight(d) <= 4
    with pytest.raises(InvalidInputError, match="compute format"):
        memory.weights_bytes(get_model("llama-3.1-8b"), "fp4")
    with pytest.raises(InvalidInputError, match="nvfp4"):
        memory.require_runnable(get_hardware("h100-sxm"), "fp4")


# ---------------------------------------------------------------- weights of known checkpoints


@pytest.mark.parametrize(
    ("dtype", "published_gib"),
    [
        # llama.cpp tools/quantize/README.md, meta-llama/Llama-3.1-8B: size (GiB) column.
        ("q4_k_m", 4.58),
        ("q5_k_m", 5.33),
        ("q8_0", 7.95),
    ],
)
def test_gguf_sizes_of_llama_3_1_8b_match_llama_cpp(dtype: str, published_gib: float) -> None:
    got = memory.weights_bytes(get_model("llama-3.1-8b"), dtype) / GIB
    assert got == pytest.approx(published_gib, abs=0.005)  # the README rounds to 0.01 GiB


def test_q4_k_m_sizes_of_larger_llamas_match_the_readme() -> None:
    # llama.cpp tools/quantize/README.md "Memory/Disk Requirements": Llama 3.1 70B Q4_K_M 43.1 GB, 405B 249.1 GB
    # (Hugging Face's GB = 1e9 bytes); the 8B's bits/weight carries over within 1%.
    assert memory.weights_bytes(get_model("llama-3.1-70b"), "q4_k_m") / 1e9 == pytest.approx(43.1, rel=0.01)
    assert memory.weights_bytes(get_model("llama-3.1-405b"), "q4_k_m") / 1e9 == pytest.approx(249.1, rel=0.01)


def _gpt_oss(total: float, layers: int, experts: int) -> ModelSpec:
    # config.json of openai/gpt-oss-120b and -20b: hidden 2880, expert width 2880, 64 query / 8 KV heads of
    # 64, vocab 201088, 4 experts per token, untied embeddings; total parameters from the model card.
    return ModelSpec(model_id="gpt-oss", name="gpt-oss", params_total=total, params_active=5.13e9 if experts == 128
                     else 3.61e9, n_layers=layers, d_model=2880, n_heads=64, n_kv_heads=8, head_dim=64, d_ff=2880,
                     vocab_size=201088, max_context=131072, n_experts=experts, n_experts_active=4, d_ff_expert=2880,
                     attention="gqa", gated_mlp=True, tied_embeddings=False)


@pytest.mark.parametrize(
    ("total", "layers", "experts", "checkpoint_gib"),
    [
        # OpenAI 2025, gpt-oss-120b & gpt-oss-20b Model Card (arXiv:2508.10925) Table 1: 116.83B total
        # parameters, 60.8 GiB checkpoint; 20.91B, 12.8 GiB. MoE weights in MXFP4, the rest bf16.
        (116.83e9, 36, 128, 60.8),
        (20.91e9, 24, 32, 12.8),
    ],
)
def test_gpt_oss_mxfp4_checkpoints(total: float, layers: int, experts: int, checkpoint_gib: float) -> None:
    model = _gpt_oss(total, layers, experts)
    got = memory.weights_bytes(model, "mxfp4", experts_only=True) / GIB
    assert got == pytest.approx(checkpoint_gib, abs=0.05)  # the card rounds to 0.1 GiB
    # Quantizing attention too (the generic rule) would undershoot by more than the rounding.
    assert memory.weights_bytes(model, "mxfp4") / GIB < checkpoint_gib - 0.3


def test_nvfp4_is_the_3_5x_reduction_nvidia_publishes() -> None:
    # nvidia/Llama-3.1-405B-Instruct-FP4 model card: "reducing the disk size and GPU memory requirements by
    # approximately 3.5x" (linear layers in transformer blocks quantized; embeddings and lm_head stay 16 bit).
    m = get_model("llama-3.1-405b")
    ratio = memory.weights_bytes(m, "bf16") / memory.weights_bytes(m, "nvfp4")
    assert ratio == pytest.approx(3.5, abs=0.05)
    # Same split for both FP4 formats: they differ only by the scale bytes of the quantized weights.
    body = m.params_total - memory.embedding_params(m)
    diff = memory.weights_bytes(m, "nvfp4") - memory.weights_bytes(m, "mxfp4")
    assert diff == pytest.approx(body * (1 / 16 - 1 / 32))


# ---------------------------------------------------------------- compute format


def _with_fp4(hw: HardwareSpec) -> HardwareSpec:
    """``hw`` with an FP4 peak added (twice its fp8 peak, as Blackwell's FP4 tensor cores have; the value
    only matters for timing, not for which format is chosen)."""
    peaks = dict(hw.peak_flops_per_s_by_dtype)
    peaks[DType.FP4] = 2 * peaks[DType.FP8]
    return hw.model_copy(update={"peak_flops_per_s_by_dtype": peaks})


def test_fp4_compute_only_on_fp4_hardware() -> None:
    fp4_hw = _with_fp4(get_hardware("b200"))
    for d in ("nvfp4", "mxfp4"):
        assert performance.default_compute_dtype(fp4_hw, d) == DType.FP4
        for hw_id in ("h100-sxm", "a100-80gb-sxm", "l4", "mi300x", "tpu-v5e"):
            hw = get_hardware(hw_id)
            if hw.supports(DType.FP4):
                continue  # a catalog row that has FP4 tensor cores (checked below)
            assert performance.default_compute_dtype(hw, d) in (DType.BF16, DType.FP16)  # weight-only
            memory.require_runnable(hw, d)  # dequantized: runs wherever 16-bit compute does
    for d in ("q4_k_m", "q5_k_m", "q8_0", "int4", "int8"):  # weight-only everywhere, FP4 hardware included
        assert performance.default_compute_dtype(fp4_hw, d) == DType.BF16
    for hw in catalog.list_hardware():  # the catalog's own FP4 column, once it lists any
        assert (performance.default_compute_dtype(hw, "nvfp4") == DType.FP4) == hw.supports(DType.FP4)


def test_fp4_compute_speeds_up_prefill_and_takes_the_low_precision_factor() -> None:
    m, fp4_hw = get_model("llama-3.1-70b"), _with_fp4(get_hardware("b200"))
    fp4 = performance.estimate(m, fp4_hw, "nvfp4", batch=1, input_tokens=8192, output_tokens=2)
    w4a16 = performance.estimate(m, fp4_hw, "nvfp4", batch=1, input_tokens=8192, output_tokens=2,
                                 compute_dtype="bf16")
    assert (fp4.compute_dtype, w4a16.compute_dtype) == (DType.FP4, DType.BF16)
    assert DType.FP4 in performance.LOW_PRECISION_COMPUTE_DTYPES
    assert fp4.ttft_s < w4a16.ttft_s  # compute-bound prefill at the higher peak
    with pytest.raises(InvalidInputError, match="fp4 compute needs FP4 tensor cores"):
        performance.estimate(m, "h100-sxm", "nvfp4", batch=1, input_tokens=512, output_tokens=8, compute_dtype="fp4")


def test_catalog_maps_the_fp4_column() -> None:
    frame = catalog.table_frame("hardware")
    if "peak_tflops_fp4" not in frame.columns:
        pytest.skip("data/hardware.csv has no peak_tflops_fp4 column yet")
    listed = frame.dropna(subset=["peak_tflops_fp4"])
    listed = listed[listed["peak_tflops_fp4"] > 0]
    for row in listed.itertuples():
        hw = get_hardware(str(row.hardware_id))
        assert hw.peak_flops_per_s(DType.FP4) == pytest.approx(float(row.peak_tflops_fp4) * 1e12)


# ---------------------------------------------------------------- KV caches


def test_fp8_kv_cache_halves_the_cache_with_any_weight_format() -> None:
    m = get_model("llama-3.1-8b")
    # 2 x 32 layers x 8 KV heads x 128 x 1 B = 64 KiB per token (vs 128 KiB in bf16).
    assert memory.kv_cache_bytes_per_token(m, "fp8") == 65536 == memory.kv_cache_bytes_per_token(m, "bf16") / 2
    for wd in ("bf16", "nvfp4", "q4_k_m"):
        est = performance.estimate(m, "l4", wd, batch=4, input_tokens=2048, output_tokens=64, kv_dtype="fp8")
        assert est.kv_dtype == DType.FP8
    assert DType.FP8 in KV_DTYPES
    with pytest.raises(InvalidInputError, match="KV cache in q4_k_m is not modelled"):
        performance.estimate(m, "l4", "bf16", batch=1, input_tokens=64, output_tokens=8, kv_dtype="q4_k_m")
    assert performance.default_kv_dtype("nvfp4") == performance.default_kv_dtype("q8_0") == DType.FP16


# ---------------------------------------------------------------- accuracy evidence


def test_new_formats_without_accuracy_rows_say_so() -> None:
    q = V.quantization_retentions("nvfp4", [8.03e9])
    # ISTA-DASLab Llama-3.1-8B-Instruct-FPQuant-QAT-NVFP4 card: BF16 average 78.9, NVFP4 RTN 74.0.
    assert float(q.retention[0]) == pytest.approx(74.0 / 78.9)
    for d in ("mxfp4", "q4_k_m"):
        with pytest.raises(InvalidInputError, match="no published retention"):
            V.quantization_retentions(d, [8e9])


# ---------------------------------------------------------------- pages


@pytest.mark.parametrize("wd", ["nvfp4", "q4_k_m", "int4", "fp8"])
def test_memory_page_opens_links_in_every_format(wd: str) -> None:
    at = AppTest.from_file(str(ROOT / "pages" / "memory.py"), default_timeout=60)
    at.query_params.update({"wd": wd, "m": "llama-3.1-8b", "hw": "l4"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="wd").value == wd  # old links (int4, fp8) keep working
    assert "fp4" not in at.selectbox(key="wd").options  # compute-only: not offered as a weight format
