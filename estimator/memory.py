"""Accelerator memory: weights, KV cache, activations, training states, and fit checks.

All results are bytes. Functions that take a token count or batch also take numpy arrays
of them (sweeps) and broadcast.

Assumptions are named constants below; each can be overridden per call (and in the UI).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar, overload

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from estimator.errors import InvalidInputError
from estimator.specs import Architecture, AttentionKind, HardwareSpec, ModelSpec
from estimator.units import BLOCK_SCALED_FP4, GGUF_DTYPES, DType, bytes_per_element, stored_bytes_per_weight

__all__ = [
    "Optimizer",
    "QUANT_GROUP_SIZE",
    "QUANT_SCALE_BYTES_PER_GROUP",
    "RUNTIME_OVERHEAD_BYTES",
    "MEMORY_UTILIZATION",
    "OPTIMIZER_BYTES_PER_PARAM",
    "embedding_params",
    "embedding_bytes_per_param",
    "routed_expert_params",
    "weights_bytes",
    "kv_cache_bytes_per_token",
    "kv_cache_bytes",
    "kv_cached_tokens",
    "inference_activation_bytes",
    "usable_memory_bytes",
    "require_runnable",
    "WEIGHT_ONLY_DTYPES",
    "InferenceMemory",
    "inference_memory",
    "BatchBytes",
    "BatchMemory",
    "batch_memory",
    "MAX_BATCH_SEARCH",
    "TrainingMemory",
    "training_memory",
    "training_activation_bytes_per_layer",
    "FitResult",
    "min_accelerators",
    "max_batch",
    "max_context",
    "min_accelerators_training",
]

ArrayLike = TypeVar("ArrayLike", float, npt.NDArray[np.float64])

QUANT_GROUP_SIZE: int = 128
"""Weights per quantization group for int4/int8 weight-only formats (GPTQ, AWQ default group
size 128: Frantar et al. 2022 arXiv:2210.17323 §5; Lin et al. 2023 arXiv:2306.00978 §5)."""

QUANT_SCALE_BYTES_PER_GROUP: float = 2.5
"""Per group: one fp16 scale (2 B) plus one packed 4-bit zero point (0.5 B), as in GPTQ/AWQ
checkpoints (``scales`` fp16 and ``qzeros`` int32-packed tensors per group)."""

RUNTIME_OVERHEAD_BYTES: float = 1.5e9
"""Fixed per-accelerator overhead of the serving runtime: CUDA context (~0.3-0.5 GB), cuBLAS/
cuDNN workspaces, NCCL buffers and allocator fragmentation. Assumption (order of magnitude from
vLLM's startup memory profiling logs); override per call."""

PREFILL_CHUNK_TOKENS: int = 8192
"""Tokens one serving step processes at most (chunked prefill): ``max_num_batched_tokens`` in
vLLM, "Max Runtime Tokens: 8192" in TensorRT-LLM (Agrawal et al. 2024, Sarathi-Serve,
arXiv:2403.02310). The fit check, max batch and max context all assume it, so they agree."""

MEMORY_UTILIZATION: float = 0.90
"""Fraction of device memory a serving engine may use: vLLM's ``gpu_memory_utilization``
default of 0.9 (vLLM engine arguments docs)."""

OPTIMIZER_BYTES_PER_PARAM: dict[str, float] = {
    "adamw": 12.0,
    "adamw_8bit": 6.0,
    "sgd_momentum": 8.0,
    "adafactor": 4.0,
}
"""Optimizer bytes per parameter in mixed-precision training (fp32 master copy included).

- AdamW: fp32 master weights + momentum + variance = 4 + 4 + 4 = 12 (ZeRO, Rajbhandari et al.
  2020 arXiv:1910.02054 §3.1, "K = 12").
- 8-bit AdamW: fp32 master + two 8-bit states = 4 + 1 + 1 = 6 (Dettmers et al. 2022
  arXiv:2110.02861 §2).
- SGD with momentum: fp32 master + momentum = 8.
- Adafactor: fp32 master; factored second moments are negligible (Shazeer & Stern 2018).
"""


class Optimizer(StrEnum):
    ADAMW = "adamw"
    ADAMW_8BIT = "adamw_8bit"
    SGD_MOMENTUM = "sgd_momentum"
    ADAFACTOR = "adafactor"


WEIGHT_ONLY_DTYPES: frozenset[DType] = frozenset({DType.INT8, DType.INT4}) | GGUF_DTYPES | BLOCK_SCALED_FP4
"""Quantized weight formats that any accelerator with fp16 or bf16 compute can serve: stored
quantized and dequantized to 16 bit for the matmuls (GPTQ/AWQ/Marlin kernels for int8/int4;
llama.cpp for the GGUF formats; vLLM's FP4 Marlin kernels, ``is_fp4_marlin_supported`` = compute
capability 8.0+, for nvfp4/mxfp4 on GPUs without FP4 tensor cores). nvfp4/mxfp4 compute in ``fp4``
where the hardware has it (:func:`estimator.performance.default_compute_dtype`)."""


def require_runnable(hardware: HardwareSpec, weight_dtype: DType | str) -> None:
    """Raise ``InvalidInputError`` if ``hardware`` cannot serve weights stored in ``weight_dtype``.

    fp32/bf16/fp16/fp8 need native compute in that format; the quantized formats of
    :data:`WEIGHT_ONLY_DTYPES` need fp16 or bf16 compute for the dequantized matmuls (or, for
    nvfp4/mxfp4, FP4 tensor cores). ``fp4`` is a compute format, not a way to store weights.
    """
    d = DType(weight_dtype)
    _require_weight_format(d)
    if d in WEIGHT_ONLY_DTYPES:
        native = DType.FP4 if d in BLOCK_SCALED_FP4 else d
        if not (hardware.supports(DType.FP16) or hardware.supports(DType.BF16) or hardware.supports(native)):
            raise InvalidInputError(f"{hardware.name} has neither fp16/bf16 compute nor native {native}")
        return
    if not hardware.supports(d):
        have = ", ".join(str(x) for x in DType if hardware.supports(x))
        hint = " (fp8 needs Hopper, Ada, Blackwell or MI300-class hardware)" if d == DType.FP8 else ""
        raise InvalidInputError(f"{hardware.name} cannot compute in {d}{hint}; it supports {have}")


def _require_weight_format(d: DType) -> None:
    if d == DType.FP4:
        raise InvalidInputError(
            "fp4 is a compute format (FP4 tensor cores); store the weights as nvfp4 (16-element blocks, "
            "FP8 scales) or mxfp4 (32-element blocks, E8M0 scales)"
        )


def _check_positive(name: str, value: object, allow_zero: bool = False) -> None:
    arr = np.asarray(value, dtype=float)
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        first = arr[bad].flat[0] if arr.ndim else float(arr)
        need = "zero or more" if allow_zero else "greater than zero"
        raise InvalidInputError(f"{name} must be a finite number {need}, got {first}")


def embedding_params(model: ModelSpec) -> float:
    """Parameters of the input embedding and (if untied) output projection.

    Notes
    -----
    ``P_emb = V * d_model * (1 if tied else 2)``.

    >>> from estimator.catalog import get_model
    >>> embedding_params(get_model("llama-2-7b"))
    262144000.0
    """
    return float(model.vocab_size * model.d_model * (1 if model.tied_embeddings else 2))


def weights_bytes(
    model: ModelSpec,
    dtype: DType | str,
    *,
    group_size: int = QUANT_GROUP_SIZE,
    scale_bytes_per_group: float = QUANT_SCALE_BYTES_PER_GROUP,
    quantize_embeddings: bool = False,
    experts_only: bool = False,
) -> float:
    """Bytes of the model weights stored in ``dtype``.

    Notes
    -----
    For 16- and 32-bit formats: ``W = P_total * b(dtype)``.

    For weight-only integer formats (``int8``, ``int4``), group quantization adds one scale
    and zero point per ``g`` weights, and embeddings/output head usually stay in 16 bit
    (AWQ and GPTQ checkpoints keep ``embed_tokens`` and ``lm_head`` in fp16)::

        W = (P_total - P_emb) * (b(dtype) + s/g) + P_emb * 2

    with ``s`` = ``scale_bytes_per_group``. ``fp8`` uses per-tensor scales (negligible bytes).

    The FP4 block formats split the same way with their bytes per weight, block scales included
    (:data:`estimator.units.BLOCK_BYTES_PER_WEIGHT`: nvfp4 0.5625 B, mxfp4 0.53125 B), since
    TensorRT Model Optimizer's NVFP4 configs leave ``lm_head`` unquantized and the embedding is
    not a linear layer: ``W = (P_total - P_emb) * b_blk + P_emb * 2``.

    ``experts_only=True`` quantizes only the routed experts' MLP weights,
    ``P_exp = L_moe * E * (3 if gated else 2) * d * d_ff_expert``, and keeps everything else in
    16 bit, as gpt-oss ships (MXFP4 MoE weights, bf16 attention and embeddings; OpenAI 2025,
    gpt-oss-120b & gpt-oss-20b Model Card, arXiv:2508.10925 §2.1):
    ``W = P_exp * b + (P_total - P_exp) * 2``.

    The GGUF formats (``q4_k_m``, ``q5_k_m``, ``q8_0``) quantize the embeddings and output head
    too (llama.cpp), and their bytes per weight are whole-file averages: ``W = P_total * b_gguf``.

    ``fp4`` is a compute format, not a storage one: it raises ``InvalidInputError``.

    Units: bytes. Sources: element sizes (IEEE 754, OCP 8-bit FP spec); group quantization
    (Frantar et al. 2022 arXiv:2210.17323; Lin et al. 2023 arXiv:2306.00978); block formats as
    cited at :data:`estimator.units.BLOCK_BYTES_PER_WEIGHT`.

    Examples
    --------
    Llama-2-7B in fp16 is 6,738,415,616 x 2 B = 13.48 GB (Touvron et al. 2023; HF model card):

    >>> from estimator.catalog import get_model
    >>> weights_bytes(get_model("llama-2-7b"), "fp16")
    13476831232.0

    Llama-3.1-8B in Q4_K_M: 8,030,261,248 x 4.8944 / 8 B = 4.58 GiB, the size llama.cpp's
    tools/quantize/README.md lists:

    >>> round(weights_bytes(get_model("llama-3.1-8b"), "q4_k_m") / 2**30, 2)
    4.58
    """
    d = DType(dtype)
    _require_weight_format(d)
    if group_size <= 0:
        raise InvalidInputError(f"quantization group size must be positive, got {group_size}")
    if d in GGUF_DTYPES:
        return model.params_total * stored_bytes_per_weight(d)
    if d in (DType.INT8, DType.INT4):
        b = bytes_per_element(d) + scale_bytes_per_group / group_size
    elif d in BLOCK_SCALED_FP4:
        b = stored_bytes_per_weight(d)
    else:
        return model.params_total * bytes_per_element(d)
    if experts_only:
        quantized = min(routed_expert_params(model), model.params_total)
    else:
        emb = 0.0 if quantize_embeddings else min(embedding_params(model), model.params_total)
        quantized = model.params_total - emb
    return quantized * b + (model.params_total - quantized) * 2.0


def routed_expert_params(model: ModelSpec) -> float:
    """Parameters of the routed experts' MLPs (0 for a dense model).

    ``P_exp = (L - L_dense) * E * (3 if gated else 2) * d * d_ff_expert`` (gate, up and down
    projections of every expert in every MoE layer; ``d_ff`` where ``d_ff_expert`` is 0).
    """
    if not model.is_moe:
        return 0.0
    width = model.d_ff_expert or model.d_ff
    moe_layers = max(model.n_layers - model.n_dense_layers, 0)
    return float(moe_layers * model.n_experts * (3 if model.gated_mlp else 2) * model.d_model * width)


def embedding_bytes_per_param(dtype: DType | str) -> float:
    """Bytes per parameter of the embedding table and output head in a model stored in ``dtype``.

    16 bit for the group-quantized and FP4 formats (kept unquantized, see :func:`weights_bytes`),
    the whole-file average for GGUF (llama.cpp quantizes them), else the element size.
    """
    d = DType(dtype)
    if d in GGUF_DTYPES:
        return stored_bytes_per_weight(d)
    return 2.0 if d in WEIGHT_ONLY_DTYPES else bytes_per_element(d)


def kv_cache_bytes_per_token(model: ModelSpec, dtype: DType | str) -> float:
    """KV-cache bytes that one cached token position occupies across all layers.

    Notes
    -----
    - MHA / GQA / MQA: ``2 * L * n_kv * d_head * b`` (K and V per layer; vLLM paper,
      Kwon et al. 2023 arXiv:2309.06180 §3: OPT-13B = 2 x 5120 x 40 x 2 B = 800 KB).
    - MLA: ``L * (d_c + d_h^R) * b``: the compressed latent plus the decoupled RoPE key
      (DeepSeek-V2, arXiv:2405.04434 Table 1).
    - Encoder-only models cache nothing (no autoregressive decoding): 0.

    Units: bytes per token.

    >>> from estimator.catalog import get_model
    >>> kv_cache_bytes_per_token(get_model("llama-2-7b"), "fp16")
    524288.0
    """
    if model.architecture == Architecture.ENCODER:
        return 0.0
    b = bytes_per_element(DType(dtype))
    if model.attention == AttentionKind.MLA:
        return float(model.n_layers * (model.kv_lora_rank + model.qk_rope_head_dim) * b)
    return float(2 * model.n_layers * model.n_kv_heads * model.head_dim * b)


@overload
def kv_cache_bytes(model: ModelSpec, tokens: float, dtype: DType | str, batch: float = 1) -> float: ...
@overload
def kv_cache_bytes(
    model: ModelSpec, tokens: npt.ArrayLike, dtype: DType | str, batch: npt.ArrayLike = 1
) -> npt.NDArray[np.float64]: ...
def kv_cache_bytes(model, tokens, dtype, batch=1):  # type: ignore[no-untyped-def]
    """KV-cache bytes for ``batch`` sequences of ``tokens`` cached positions each.

    Notes
    -----
    ``KV = kv_per_token * T_kv(T) * B`` with ``T_kv`` the cached positions per layer, averaged over
    the layers (:func:`kv_cached_tokens`): ``min(T, W)`` where every layer has the sliding window
    ``W`` (Mistral 7B's rolling buffer cache, Jiang et al. 2023 arXiv:2310.06825 §2), a mix where only
    some layers do, else ``T``. For encoder-decoder models ``T`` counts the encoder input
    (cross-attention K/V, cached once per decoder layer) plus the generated tokens (self-attention K/V).

    Units: bytes. Accepts numpy arrays for ``tokens`` and ``batch``.

    >>> from estimator.catalog import get_model
    >>> kv_cache_bytes(get_model("llama-2-7b"), 4096, "fp16") / 2**30
    2.0
    """
    _check_positive("tokens", tokens, allow_zero=True)
    _check_positive("batch", batch, allow_zero=True)
    t = kv_cached_tokens(model, np.asarray(tokens, dtype=float))
    out = kv_cache_bytes_per_token(model, dtype) * t * np.asarray(batch, dtype=float)
    return float(out) if np.ndim(out) == 0 else out


def kv_cached_tokens(model: ModelSpec, tokens: npt.ArrayLike) -> float | npt.NDArray[np.float64]:
    """Cached positions per layer, averaged over the ``L`` layers, for a ``T``-token sequence.

    ``T_kv = ((L - L_w) T + L_w min(T, W)) / L``, where ``L_w`` layers attend within the window ``W``
    (``n_sliding_layers``; 0 with a window means all ``L``) and the others see the whole sequence.
    Hybrid models: gpt-oss alternates banded-window (128 tokens) and dense layers (OpenAI 2025,
    gpt-oss model card arXiv:2508.10925 §2.1); Gemma 3 has 5 local layers (1,024 tokens) per global
    one (Gemma 3 report arXiv:2503.19786 §2.2: "reduces the KV-cache memory"); Llama 4 chunks 3 of 4
    layers into 8,192-token attention (a chunk caches at most its own tokens).

    Units: tokens (float, or an array for an array ``tokens``).

    >>> from estimator.catalog import get_model
    >>> kv_cached_tokens(get_model("llama-2-7b"), 4096)
    4096.0
    """
    t = np.asarray(tokens, dtype=float)
    if model.sliding_window <= 0:
        out = t
    else:
        windowed = np.minimum(t, float(model.sliding_window))
        n_w = model.n_sliding_layers or model.n_layers
        out = ((model.n_layers - n_w) * t + n_w * windowed) / model.n_layers
    return float(out) if np.ndim(out) == 0 else out


def inference_activation_bytes(
    model: ModelSpec, tokens_in_flight: npt.ArrayLike, dtype: DType | str = DType.BF16
) -> float | npt.NDArray[np.float64]:
    """Peak transient activation memory of one forward pass (one layer live at a time).

    Notes
    -----
    At inference, activations are freed layer by layer; the peak is one layer's working set
    for the tokens processed in one step (the prefill chunk, or the decode batch)::

        A = T * (2 d + q + 2 kv + 2 f_eff) * b  +  T_logits * V * 4

    with ``q = n_heads d_head``, ``kv = n_kv d_head``, ``f_eff`` the MLP width used per token
    (experts active x expert width for MoE; doubled for gated MLPs), and fp32 logits for the
    last position of each sequence (``T_logits`` = min(T, 256)). Attention is assumed fused
    (FlashAttention, Dao et al. 2022): no ``T^2`` score matrix is materialized.
    This is an estimate; serving engines measure it in a profiling run (vLLM).

    Units: bytes.
    """
    _check_positive("tokens_in_flight", tokens_in_flight, allow_zero=True)
    t = np.asarray(tokens_in_flight, dtype=float)
    logits = np.minimum(t, 256.0) * model.vocab_size * 4.0
    out = t * _activation_bytes_per_token(model, dtype) + logits
    return float(out) if np.ndim(out) == 0 else out


_SIXTEEN_BIT_ACTIVATIONS: frozenset[DType] = frozenset({DType.INT4, DType.FP4}) | BLOCK_SCALED_FP4 | GGUF_DTYPES
"""Formats whose activations are kept in 16 bit between the matmuls (4-bit and GGUF weights)."""


def _activation_bytes_per_token(model: ModelSpec, dtype: DType | str) -> float:
    """``(2 d + q + 2 kv + 2 f_eff) * b`` of :func:`inference_activation_bytes` (bytes per token)."""
    b = 2.0 if DType(dtype) in _SIXTEEN_BIT_ACTIVATIONS else bytes_per_element(DType(dtype))
    f = _ffn_width_per_token(model) * (2 if model.gated_mlp else 1)
    q = model.n_heads * model.head_dim
    kv = model.n_kv_heads * model.head_dim
    return (2 * model.d_model + q + 2 * kv + 2 * f) * b


def _ffn_width_per_token(model: ModelSpec) -> float:
    if model.is_moe:
        width = model.d_ff_expert or model.d_ff
        return float(width * (model.n_experts_active + model.n_shared_experts))
    return float(model.d_ff)


def usable_memory_bytes(
    hardware: HardwareSpec,
    *,
    memory_utilization: float = MEMORY_UTILIZATION,
    runtime_overhead_bytes: float = RUNTIME_OVERHEAD_BYTES,
) -> float:
    """Memory left for weights, KV cache and activations on one device.

    Notes
    -----
    ``M_usable = M_device * u - O_runtime`` (``u`` = vLLM ``gpu_memory_utilization``).
    """
    if not 0 < memory_utilization <= 1:
        raise InvalidInputError(f"memory utilization must be in (0, 1], got {memory_utilization}")
    return hardware.memory_bytes * memory_utilization - runtime_overhead_bytes


class InferenceMemory(BaseModel):
    """Per-device and total memory of a serving configuration, in bytes."""

    model_config = ConfigDict(frozen=True)

    weights_bytes: float = Field(ge=0)
    kv_cache_bytes: float = Field(ge=0)
    activation_bytes: float = Field(ge=0)
    runtime_overhead_bytes: float = Field(ge=0)
    tp: int = Field(ge=1)
    pp: int = Field(ge=1)
    per_device_weights_bytes: float = Field(ge=0)
    per_device_kv_cache_bytes: float = Field(ge=0)
    per_device_activation_bytes: float = Field(ge=0)
    per_device_total_bytes: float = Field(ge=0)
    device_memory_bytes: float | None = None
    device_budget_bytes: float | None = Field(
        default=None, description="device memory x memory utilization cap"
    )

    @property
    def devices(self) -> int:
        return self.tp * self.pp

    @property
    def total_bytes(self) -> float:
        """Sum over all devices (replicated KV heads and overheads counted on each device)."""
        return self.per_device_total_bytes * self.devices

    @property
    def fits(self) -> bool | None:
        """Whether the per-device total stays within the budget (None without hardware)."""
        if self.device_budget_bytes is None:
            return None
        return self.per_device_total_bytes <= self.device_budget_bytes

    @property
    def shortfall_bytes(self) -> float:
        """How many bytes per device are missing (0 when it fits or without hardware)."""
        if self.device_budget_bytes is None:
            return 0.0
        return max(0.0, self.per_device_total_bytes - self.device_budget_bytes)


def _kv_split_factor(model: ModelSpec, tp: int) -> float:
    """Fraction of the KV cache each tensor-parallel rank holds.

    KV heads are split across ranks; when ``tp > n_kv_heads`` they are replicated so each rank
    holds one head (vLLM/Megatron behaviour). The MLA latent is not split by heads: each rank
    holds all of it (vLLM MLA backend).
    """
    if model.attention == AttentionKind.MLA:
        return 1.0
    return max(1.0, model.n_kv_heads / tp) / model.n_kv_heads


def _check_parallel(model: ModelSpec, tp: int, pp: int) -> None:
    if tp < 1 or pp < 1:
        raise InvalidInputError(f"tensor and pipeline parallel degrees must be >= 1 (tp={tp}, pp={pp})")
    if model.n_heads % tp != 0:
        raise InvalidInputError(
            f"tensor parallel degree {tp} does not divide {model.name}'s {model.n_heads} attention heads"
        )
    if pp > model.total_layers:
        raise InvalidInputError(
            f"pipeline parallel degree {pp} exceeds {model.name}'s {model.total_layers} layers"
        )


def inference_memory(
    model: ModelSpec,
    weight_dtype: DType | str,
    kv_dtype: DType | str,
    context_tokens: int,
    batch: int = 1,
    *,
    hardware: HardwareSpec | None = None,
    tp: int = 1,
    pp: int = 1,
    prefill_chunk_tokens: int | None = PREFILL_CHUNK_TOKENS,
    memory_utilization: float = MEMORY_UTILIZATION,
    runtime_overhead_bytes: float = RUNTIME_OVERHEAD_BYTES,
) -> InferenceMemory:
    """Memory breakdown of serving ``batch`` sequences of ``context_tokens`` each.

    Notes
    -----
    Per device with tensor parallel ``t`` and pipeline parallel ``p``::

        M_dev = W / (t p) + KV * s_kv(t) / p + A / t + O_runtime

    where ``s_kv(t)`` is the share of KV heads one rank holds (replicated when
    ``t > n_kv``; the MLA latent is replicated), ``A`` the peak activation of one step
    processing ``min(batch * context, prefill_chunk)`` tokens (``prefill_chunk_tokens``, default
    :data:`PREFILL_CHUNK_TOKENS`, the same step :func:`max_batch` and :func:`max_context` assume;
    ``None`` = the whole batch's prompts in one step). Weights divide exactly
    across ranks (Megatron-LM, Shoeybi et al. 2019 arXiv:1909.08053 §3).

    Units: bytes.
    """
    _check_parallel(model, tp, pp)
    if context_tokens < 1:
        raise InvalidInputError(f"context must be at least 1 token, got {context_tokens}")
    if batch < 1:
        raise InvalidInputError(f"batch must be at least 1, got {batch}")
    terms = batch_memory(
        model, weight_dtype, kv_dtype, context_tokens, hardware=hardware, tp=tp, pp=pp,
        prefill_chunk_tokens=prefill_chunk_tokens, memory_utilization=memory_utilization,
        runtime_overhead_bytes=runtime_overhead_bytes,
    )
    _check_positive("batch", batch, allow_zero=True)
    at = terms.at(batch)
    return InferenceMemory(
        weights_bytes=terms.weights_bytes,
        kv_cache_bytes=at.kv_cache_bytes,
        activation_bytes=at.activation_bytes,
        runtime_overhead_bytes=runtime_overhead_bytes,
        tp=tp,
        pp=pp,
        per_device_weights_bytes=at.per_device_weights_bytes,
        per_device_kv_cache_bytes=at.per_device_kv_cache_bytes,
        per_device_activation_bytes=at.per_device_activation_bytes,
        per_device_total_bytes=at.per_device_total_bytes,
        device_memory_bytes=terms.device_memory_bytes,
        device_budget_bytes=terms.device_budget_bytes,
    )


MAX_BATCH_SEARCH: int = 1 << 24
"""Largest batch :func:`max_batch` reports (16,777,216 sequences: beyond any serving engine)."""


@dataclass(frozen=True)
class BatchBytes:
    """:func:`inference_memory`'s breakdown at one batch (bytes; per device where named so)."""

    kv_cache_bytes: float
    activation_bytes: float
    per_device_weights_bytes: float
    per_device_kv_cache_bytes: float
    per_device_activation_bytes: float
    per_device_total_bytes: float


@dataclass(frozen=True)
class BatchMemory:
    """The batch-independent terms of :func:`inference_memory` for one layout and context.

    Made by :func:`batch_memory` (which validates like :func:`inference_memory`); evaluating a
    batch is then plain float arithmetic, in the same order as :func:`inference_memory`, so the
    results are identical to the last bit. Units: bytes, tokens.
    """

    weights_bytes: float  # whole model
    kv_bytes_per_sequence: float  # kv_cache_bytes_per_token x min(context, window), whole model
    kv_share: float  # fraction of the KV cache one tensor-parallel rank holds
    activation_bytes_per_token: float
    vocab_size: int
    context_tokens: int
    tp: int
    pp: int
    prefill_chunk_tokens: int | None
    runtime_overhead_bytes: float
    device_memory_bytes: float | None
    device_budget_bytes: float | None

    def step_tokens(self, batch: int) -> int:
        """Tokens of the largest step: ``min(B c, max(chunk, B))`` (``B c`` without chunking)."""
        step = self.context_tokens * batch
        if self.prefill_chunk_tokens is not None:
            step = min(step, max(self.prefill_chunk_tokens, batch))
        return step

    def _terms(self, batch: int) -> tuple[float, float, float, float, float]:
        kv = self.kv_bytes_per_sequence * float(batch)
        t = float(self.step_tokens(batch))
        act = t * self.activation_bytes_per_token + min(t, 256.0) * self.vocab_size * 4.0
        return kv, act, self.weights_bytes / (self.tp * self.pp), kv * self.kv_share / self.pp, act / self.tp

    def at(self, batch: int) -> BatchBytes:
        """Memory at ``batch`` sequences: ``M_dev = W/(t p) + KV s_kv / p + A / t + O_runtime``."""
        kv, act, dev_w, dev_kv, dev_act = self._terms(batch)
        return BatchBytes(kv, act, dev_w, dev_kv, dev_act, dev_w + dev_kv + dev_act + self.runtime_overhead_bytes)

    def per_device_total_bytes(self, batch: int) -> float:
        """``M_dev`` of :meth:`at` alone (the fit check's hot path)."""
        _, _, dev_w, dev_kv, dev_act = self._terms(batch)
        return dev_w + dev_kv + dev_act + self.runtime_overhead_bytes

    def fits(self, batch: int) -> bool:
        """Whether ``batch`` sequences fit the budget (``InferenceMemory.fits``; False without hardware)."""
        return self.device_budget_bytes is not None and self.per_device_total_bytes(batch) <= self.device_budget_bytes

    def max_batch(self, cap: int = MAX_BATCH_SEARCH) -> int:
        """Largest batch that fits, at most ``cap`` (0 if none): closed form, checked exactly.

        Notes
        -----
        ``M_dev(B)`` is affine in ``B`` between the batches where the step's token count
        ``min(B c, max(chunk, B))`` or the logit rows ``min(step, 256)`` change regime, so on each
        piece ``B_max = floor((M_budget - M_fixed) / M_per_sequence)`` (:meth:`_pieces`). The
        float result is then checked against :meth:`fits` one batch either side, which makes it the
        same integer a bisection over :meth:`fits` returns (``M_dev`` is monotone in ``B``).
        """
        if self.device_budget_bytes is None or not self.fits(1):
            return 0
        budget = self.device_budget_bytes
        guess = 1
        for lo, hi, fixed, per_seq in self._pieces(cap):
            if per_seq > 0:
                top = math.floor((budget - fixed) / per_seq) if budget >= fixed else lo - 1
            else:
                top = hi if fixed <= budget else lo - 1
            if top >= lo:
                guess = max(guess, min(top, hi))
        b = max(1, min(guess, cap))
        while b > 1 and not self.fits(b):
            b -= 1
        while b < cap and self.fits(b + 1):
            b += 1
        return b

    def _pieces(self, cap: int) -> list[tuple[int, int, float, float]]:
        """``(first batch, last batch, M_fixed, M_per_sequence)`` of each affine piece of ``M_dev(B)``.

        With context ``c``, chunk ``C``, activation bytes per token ``a``, logit bytes per row
        ``4 V`` and ``base = W/(t p) + O_runtime``, ``kv = KV_seq s_kv / p``:

        - ``B c <= min(256, C)``: step ``B c``, all of it logits: ``base + B (kv + c (a + 4V) / t)``;
        - ``256 < B c <= C``: step ``B c``: ``base + 256 x 4V / t + B (kv + c a / t)``;
        - ``B c > C >= B``: step ``C``: ``base + min(C, 256) x 4V / t + C a / t + B kv``
          (with ``C < 256`` the step stays under 256: ``base + C (a + 4V) / t + B kv``);
        - ``B > C``: step ``B``: ``base + min(B, 256) ...``, affine once ``B >= 256``.

        Without chunking only the first two apply. Pieces are clipped to ``[1, cap]``.
        """
        c, tp = self.context_tokens, float(self.tp)
        a, lg = self.activation_bytes_per_token, self.vocab_size * 4.0
        base = self.weights_bytes / (self.tp * self.pp) + self.runtime_overhead_bytes
        kv = self.kv_bytes_per_sequence * self.kv_share / self.pp
        chunk = self.prefill_chunk_tokens
        limit = cap if chunk is None else min(cap, chunk)
        # B c <= 256 (and within the chunk), then 256 < B c while B c still fits the chunk
        full_c = limit if chunk is None else min(limit, chunk // c)
        small = min(full_c, 256 // c)
        out = [(1, small, base, kv + c * (a + lg) / tp), (small + 1, full_c, base + 256 * lg / tp, kv + c * a / tp)]
        if chunk is not None:
            held = float(chunk)
            out.append((full_c + 1, limit, base + (held * a + min(held, 256.0) * lg) / tp, kv))
            if chunk < 256:  # B tokens, fewer than 256 of them logits rows
                out.append((chunk + 1, min(cap, 256), base, kv + (a + lg) / tp))
            out.append((max(chunk, 256) + 1, cap, base + 256 * lg / tp, kv + a / tp))
        return [p for p in out if p[0] <= p[1]]


def batch_memory(
    model: ModelSpec,
    weight_dtype: DType | str,
    kv_dtype: DType | str,
    context_tokens: int,
    *,
    hardware: HardwareSpec | None = None,
    tp: int = 1,
    pp: int = 1,
    prefill_chunk_tokens: int | None = None,
    memory_utilization: float = MEMORY_UTILIZATION,
    runtime_overhead_bytes: float = RUNTIME_OVERHEAD_BYTES,
) -> BatchMemory:
    """The terms of :func:`inference_memory` that do not depend on the batch, validated as it does.

    Raises ``InvalidInputError`` for the same layouts, contexts, dtypes and utilizations as
    :func:`inference_memory`, and for a negative runtime overhead.
    """
    _check_parallel(model, tp, pp)
    if context_tokens < 1:
        raise InvalidInputError(f"context must be at least 1 token, got {context_tokens}")
    if context_tokens > model.max_context:
        raise InvalidInputError(
            f"context {context_tokens:,} tokens exceeds {model.name}'s maximum of {model.max_context:,}"
        )
    w = weights_bytes(model, weight_dtype)
    if not math.isfinite(context_tokens):
        raise InvalidInputError(f"tokens must be a finite number zero or more, got {float(context_tokens)}")
    t = float(kv_cached_tokens(model, float(context_tokens)))
    kv_seq = kv_cache_bytes_per_token(model, kv_dtype) * t
    act_dtype = DType.BF16 if DType(weight_dtype) in WEIGHT_ONLY_DTYPES | {DType.FP8} else DType(weight_dtype)
    act = _activation_bytes_per_token(model, act_dtype)
    if not 0 < memory_utilization <= 1:
        raise InvalidInputError(f"memory utilization must be in (0, 1], got {memory_utilization}")
    if not runtime_overhead_bytes >= 0:
        raise InvalidInputError(f"runtime overhead must be zero or more bytes, got {runtime_overhead_bytes}")
    mem = hardware.memory_bytes if hardware is not None else None
    return BatchMemory(
        weights_bytes=w, kv_bytes_per_sequence=kv_seq, kv_share=_kv_split_factor(model, tp),
        activation_bytes_per_token=act, vocab_size=model.vocab_size, context_tokens=context_tokens, tp=tp, pp=pp,
        prefill_chunk_tokens=prefill_chunk_tokens, runtime_overhead_bytes=runtime_overhead_bytes,
        device_memory_bytes=mem, device_budget_bytes=mem * memory_utilization if mem is not None else None,
    )


# ---------------------------------------------------------------- training memory


def training_activation_bytes_per_layer(
    model: ModelSpec,
    seq_len: int,
    micro_batch: int,
    *,
    tp: int = 1,
    sequence_parallel: bool = True,
    recompute: str = "selective",
    flash_attention: bool = True,
) -> float:
    """Activation bytes one transformer layer stores for the backward pass (16-bit activations).

    Notes
    -----
    Korthikanti et al. 2022 (arXiv:2205.05198) eq. 1 and Table 2, for a GPT layer with
    ``h`` hidden, ``a`` heads, sequence ``s``, micro-batch ``b``, tensor parallel ``t``::

        no recompute, no SP :  s b h (10 + 24/t + 5 a s / (h t))
        SP                  :  s b h (34 + 5 a s / h) / t
        selective recompute :  s b h 34 / t                (with SP)
        full recompute      :  2 s b h / t                 (layer input only, with SP)

    The constant 34 = 11 (attention) + 19 (MLP with d_ff = 4h) + 4 (layer norms). Here it is
    generalized to the model's shapes: attention ``2 + 4 q/h + 4 kv/h + 1`` (GQA shrinks K, V),
    MLP ``3 + 4 f/h`` (``3 + 6 f/h`` for gated MLPs; ``f`` per-token width, experts active
    included), layer norms 4; 10 of it is not split by TP without SP. The ``5 a s / h``
    attention-score term vanishes with fused attention (FlashAttention stores no ``s^2``
    matrix) or selective recomputation.

    Units: bytes.
    """
    if recompute not in ("none", "selective", "full"):
        raise InvalidInputError(f"recompute must be none, selective or full, got {recompute!r}")
    if seq_len < 1 or micro_batch < 1 or tp < 1:
        raise InvalidInputError("sequence length, micro-batch and tp must be >= 1")
    s, b, h, a = float(seq_len), float(micro_batch), float(model.d_model), float(model.n_heads)
    q = model.n_heads * model.head_dim / h
    kv = model.n_kv_heads * model.head_dim / h
    f = _ffn_width_per_token(model) / h
    attn = 2 + 4 * q + 4 * kv + 1
    mlp = 3 + (6 if model.gated_mlp else 4) * f
    coeff = attn + mlp + 4
    score = 0.0 if (flash_attention or recompute != "none") else 5 * a * s / h
    if recompute == "full":
        return 2 * s * b * h / (tp if sequence_parallel else 1)
    if sequence_parallel or tp == 1:
        return s * b * h * (coeff + score) / tp
    return s * b * h * (10 + (coeff - 10) / tp + score / tp)


class TrainingMemory(BaseModel):
    """Per-device memory of a training configuration, in bytes."""

    model_config = ConfigDict(frozen=True)

    weights_bytes: float = Field(ge=0)
    gradients_bytes: float = Field(ge=0)
    optimizer_bytes: float = Field(ge=0)
    activation_bytes: float = Field(ge=0)
    runtime_overhead_bytes: float = Field(ge=0)
    dp: int
    tp: int
    pp: int
    zero_stage: int

    @property
    def total_bytes(self) -> float:
        return (
            self.weights_bytes
            + self.gradients_bytes
            + self.optimizer_bytes
            + self.activation_bytes
            + self.runtime_overhead_bytes
        )

    @property
    def devices(self) -> int:
        return self.dp * self.tp * self.pp


def training_memory(
    model: ModelSpec,
    *,
    seq_len: int,
    micro_batch: int = 1,
    dp: int = 1,
    tp: int = 1,
    pp: int = 1,
    zero_stage: int = 0,
    optimizer: Optimizer | str = Optimizer.ADAMW,
    param_dtype: DType | str = DType.BF16,
    recompute: str = "selective",
    sequence_parallel: bool = True,
    flash_attention: bool = True,
    runtime_overhead_bytes: float = RUNTIME_OVERHEAD_BYTES,
) -> TrainingMemory:
    """Per-device training memory: model states (ZeRO-partitioned) plus activations.

    Notes
    -----
    Model states per parameter with mixed precision: 16-bit weights ``2``, 16-bit gradients
    ``2``, optimizer ``K`` (12 for AdamW with fp32 master weights). ZeRO (Rajbhandari et al.
    2020 arXiv:1910.02054 Fig. 1) partitions them over ``N_d`` data-parallel ranks::

        stage 0: (2 + 2 + K) P
        stage 1: (2 + 2) P + K P / N_d
        stage 2: 2 P + (2 + K) P / N_d
        stage 3: (2 + 2 + K) P / N_d          (= FSDP full sharding)

    with ``P = P_total / (t p)`` after tensor and pipeline splits (Megatron-LM). In fp32
    training weights and gradients take 4 bytes each and there is no separate master copy
    (``K`` drops 4). Activations: ``L/p`` layers of ``training_activation_bytes_per_layer``
    times ``p`` micro-batches in flight on the first 1F1B pipeline stage (Korthikanti et al.
    2022 §4.2.3: the first stage holds ``L`` layers' worth) plus fp32 logits ``4 s b V / t``.

    Units: bytes per device.
    """
    if zero_stage not in (0, 1, 2, 3):
        raise InvalidInputError(f"ZeRO stage must be 0, 1, 2 or 3, got {zero_stage}")
    if dp < 1:
        raise InvalidInputError(f"data parallel degree must be >= 1, got {dp}")
    _check_parallel(model, tp, pp)
    opt = Optimizer(optimizer)
    pd_ = DType(param_dtype)
    if pd_ not in (DType.BF16, DType.FP16, DType.FP32):
        raise InvalidInputError(f"training parameters must be bf16, fp16 or fp32, got {pd_}")
    p_local = model.params_total / (tp * pp)
    wb = bytes_per_element(pd_)
    k = OPTIMIZER_BYTES_PER_PARAM[opt.value]
    if pd_ == DType.FP32:
        k -= 4.0  # the weights themselves are the fp32 master copy
    w, g, o = wb * p_local, wb * p_local, k * p_local
    if zero_stage >= 1:
        o /= dp
    if zero_stage >= 2:
        g /= dp
    if zero_stage >= 3:
        w /= dp
    per_layer = training_activation_bytes_per_layer(
        model,
        seq_len,
        micro_batch,
        tp=tp,
        sequence_parallel=sequence_parallel,
        recompute=recompute,
        flash_attention=flash_attention,
    )
    logits = 4.0 * seq_len * micro_batch * model.vocab_size / tp
    act = per_layer * model.total_layers + logits
    return TrainingMemory(
        weights_bytes=w,
        gradients_bytes=g,
        optimizer_bytes=o,
        activation_bytes=act,
        runtime_overhead_bytes=runtime_overhead_bytes,
        dp=dp,
        tp=tp,
        pp=pp,
        zero_stage=zero_stage,
    )


# ---------------------------------------------------------------- fit checks


class FitResult(BaseModel):
    """Smallest layout that fits, and the memory it needs per device."""

    model_config = ConfigDict(frozen=True)

    fits: bool
    devices: int = Field(ge=0)
    tp: int = Field(ge=0)
    pp: int = Field(ge=0)
    per_device_bytes: float = Field(ge=0)
    usable_bytes_per_device: float
    message: str


def _tp_candidates(model: ModelSpec, hardware: HardwareSpec) -> list[int]:
    out = []
    t = 1
    while t <= max(1, hardware.max_per_node):
        if model.n_heads % t == 0:
            out.append(t)
        t *= 2
    return out or [1]


def min_accelerators(
    model: ModelSpec,
    hardware: HardwareSpec,
    weight_dtype: DType | str,
    kv_dtype: DType | str,
    context_tokens: int,
    batch: int = 1,
    *,
    max_devices: int = 1024,
    memory_utilization: float = MEMORY_UTILIZATION,
    runtime_overhead_bytes: float = RUNTIME_OVERHEAD_BYTES,
) -> FitResult:
    """Fewest accelerators that hold the weights and KV cache of ``batch`` x ``context``.

    Tries tensor parallelism in powers of two within one node (``hardware.max_per_node``),
    then adds pipeline stages across nodes. Returns ``fits=False`` with the shortfall when even
    ``max_devices`` do not suffice.
    """
    require_runnable(hardware, weight_dtype)
    usable = hardware.memory_bytes * memory_utilization - runtime_overhead_bytes
    tps = _tp_candidates(model, hardware)
    best: InferenceMemory | None = None
    pp = 1
    while True:
        for tp in tps:
            if tp * pp > max_devices:
                break
            mem = inference_memory(
                model, weight_dtype, kv_dtype, context_tokens, batch, hardware=hardware, tp=tp, pp=pp,
                memory_utilization=memory_utilization, runtime_overhead_bytes=runtime_overhead_bytes,
            )
            best = mem
            if mem.fits:
                n = tp * pp
                return FitResult(
                    fits=True, devices=n, tp=tp, pp=pp,
                    per_device_bytes=mem.per_device_total_bytes, usable_bytes_per_device=usable,
                    message=f"fits on {n} x {hardware.name} (tensor parallel {tp}"
                    + (f", pipeline parallel {pp})" if pp > 1 else ")"),
                )
        pp += 1
        if pp > model.total_layers or tps[-1] * pp > max_devices:
            break
    if best is None:  # max_devices < 1
        raise InvalidInputError(f"max_devices must be at least 1, got {max_devices}")
    return FitResult(
        fits=False, devices=0, tp=0, pp=0, per_device_bytes=best.per_device_total_bytes,
        usable_bytes_per_device=usable,
        message=f"does not fit on up to {max_devices} x {hardware.name}: "
        f"{best.shortfall_bytes / 1e9:,.1f} GB per device missing",
    )


def max_batch(
    model: ModelSpec,
    hardware: HardwareSpec,
    weight_dtype: DType | str,
    kv_dtype: DType | str,
    context_tokens: int,
    *,
    tp: int = 1,
    pp: int = 1,
    memory_utilization: float = MEMORY_UTILIZATION,
    runtime_overhead_bytes: float = RUNTIME_OVERHEAD_BYTES,
) -> int:
    """Largest number of concurrent sequences of ``context_tokens`` that fit (0 if none).

    Notes
    -----
    ``B_max = floor((M_usable - W/(t p) - A/t) / (KV_seq * s_kv(t) / p))`` on the piece of
    ``M_dev(B)`` where the budget is crossed (the activation term changes slope where the step
    reaches 256 logit rows and the 8,192-token prefill chunk; :meth:`BatchMemory.max_batch`),
    checked exactly against the fit test, and capped at :data:`MAX_BATCH_SEARCH`.
    """
    return batch_memory(
        model, weight_dtype, kv_dtype, context_tokens, hardware=hardware, tp=tp, pp=pp,
        prefill_chunk_tokens=PREFILL_CHUNK_TOKENS, memory_utilization=memory_utilization,
        runtime_overhead_bytes=runtime_overhead_bytes,
    ).max_batch()


def max_context(
    model: ModelSpec,
    hardware: HardwareSpec,
    weight_dtype: DType | str,
    kv_dtype: DType | str,
    batch: int = 1,
    *,
    tp: int = 1,
    pp: int = 1,
    memory_utilization: float = MEMORY_UTILIZATION,
    runtime_overhead_bytes: float = RUNTIME_OVERHEAD_BYTES,
) -> int:
    """Longest context (tokens, capped at the model's maximum) that fits for ``batch`` sequences."""
    def fits(t: int) -> bool:
        return inference_memory(
            model, weight_dtype, kv_dtype, t, batch, hardware=hardware, tp=tp, pp=pp,
            prefill_chunk_tokens=PREFILL_CHUNK_TOKENS,
            memory_utilization=memory_utilization, runtime_overhead_bytes=runtime_overhead_bytes,
        ).fits is True

    if not fits(1):
        return 0
    if fits(model.max_context):
        return model.max_context
    lo, hi = 1, model.max_context
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def min_accelerators_training(
    model: ModelSpec,
    hardware: HardwareSpec,
    *,
    seq_len: int,
    micro_batch: int = 1,
    zero_stage: int = 3,
    optimizer: Optimizer | str = Optimizer.ADAMW,
    recompute: str = "selective",
    max_devices: int = 65536,
    memory_utilization: float = 1.0,
    runtime_overhead_bytes: float = RUNTIME_OVERHEAD_BYTES,
) -> FitResult:
    """Fewest accelerators to train ``model`` with ZeRO ``zero_stage`` data parallelism,
    adding tensor parallelism within a node when ZeRO alone cannot hold the activations."""
    usable = hardware.memory_bytes * memory_utilization
    best: TrainingMemory | None = None
    for tp in _tp_candidates(model, hardware):
        dp = 1
        while dp * tp <= max_devices:
            mem = training_memory(
                model, seq_len=seq_len, micro_batch=micro_batch, dp=dp, tp=tp, zero_stage=zero_stage,
                optimizer=optimizer, recompute=recompute, runtime_overhead_bytes=runtime_overhead_bytes,
            )
            if best is None or mem.total_bytes < best.total_bytes:
                best = mem
            if mem.total_bytes <= usable:
                n = dp * tp
                return FitResult(
                    fits=True, devices=n, tp=tp, pp=1, per_device_bytes=mem.total_bytes,
                    usable_bytes_per_device=usable,
                    message=f"trains on {n} x {hardware.name} (ZeRO-{zero_stage} over {dp} ranks, tensor parallel {tp})",
                )
            if zero_stage == 0:
                break
            dp *= 2
    if best is None:
        raise InvalidInputError(f"max_devices must be at least 1, got {max_devices}")
    return FitResult(
        fits=False, devices=0, tp=0, pp=0, per_device_bytes=best.total_bytes, usable_bytes_per_device=usable,
        message=f"does not fit with ZeRO-{zero_stage}: at best {best.total_bytes / 1e9:,.1f} GB per device "
        f"against {usable / 1e9:,.1f} GB; try a higher ZeRO stage, full recomputation or pipeline parallelism",
    )

