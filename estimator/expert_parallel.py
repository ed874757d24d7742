"""Expert parallelism (EP) with data-parallel attention for mixture-of-experts serving.

Wide-EP serving (DeepSeek's inference system, SGLang's large-scale EP) spreads the routed experts
of every MoE layer over ``n`` GPUs (the EP degree) and replicates everything else (attention,
shared experts, dense layers, embeddings) on each GPU, which serves its own sequences: attention
runs data-parallel ("DP attention"), so each GPU holds only its own sequences' KV cache. Every
MoE layer then sends each token to the GPUs of its ``k`` experts (*dispatch*) and brings the
outputs back (*combine*), two all-to-alls over NVLink within a node and InfiniBand/RoCE across
nodes.

Per GPU and decode step, with ``B`` sequences per GPU at mean context ``c``, ``k`` experts per
token and the load-imbalance factor ``lambda`` (tokens at the busiest GPU / mean)::

    t_step = t_replicated(B) + t_attention(B, c) + t_activations(B)
             + t_experts(lambda B k) + 2 L_moe t_a2a(lambda B k) + t_overhead

each term on the roofline of :mod:`estimator.performance` (the slower of compute and memory
traffic, with its fitted efficiencies). The all-to-all term is added, not hidden: DeepSeek's and
SGLang's published decode throughputs are matched by the sum (see ``bench/bench_expert_parallel.py``),
and compute and communication share a GPU whose SMs also drive the transfers.

Sources: DeepSeek-AI, "DeepSeek-V3/R1 Inference System Overview" (github deepseek-ai/open-infra-index,
2025-03-01): prefill EP32 / decode EP144, dual-batch overlap, FP8 dispatch and BF16 combine;
DeepEP (github deepseek-ai/DeepEP, docs/legacy.md "Performance": low-latency kernels, 128 tokens,
hidden 7168, top-8, FP8 dispatch, BF16 combine on H800 + CX7 400 Gb/s); The SGLang Team,
"Deploying DeepSeek with PD Disaggregation and Large-scale Expert Parallelism on 96 H100 GPUs"
(lmsys.org/blog/2025-05-05-large-scale-ep); Rajbhandari et al. 2022, DeepSpeed-MoE
(arXiv:2201.05596 §5, expert + data parallel inference).

Times are seconds, sizes bytes, rates per second; GB only at display.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from estimator import memory, performance
from estimator.errors import InvalidInputError
from estimator.specs import AttentionKind, HardwareSpec, ModelSpec
from estimator.units import DType, bytes_per_element, stored_bytes_per_weight

__all__ = [
    "DEFAULT_EP_SIZES",
    "DISPATCH_SCALE_BYTES_PER_ELEMENT",
    "A2ABytes",
    "EPConfig",
    "EPMemory",
    "EPDecode",
    "EPPrefill",
    "EPRow",
    "EPPlan",
    "EPAnchor",
    "AnchorResult",
    "experts_per_gpu",
    "dispatch_bytes_per_element",
    "a2a_bytes_per_gpu",
    "a2a_time_s",
    "ep_memory",
    "max_batch_per_gpu",
    "decode_step",
    "prefill_step",
    "plan",
    "plan_for_scenario",
    "load_anchors",
    "reproduce_anchors",
]

DEFAULT_EP_SIZES: tuple[int, ...] = (8, 16, 32, 64, 72, 128, 144, 256)
"""EP degrees compared by default: one node of 8, the published deployments (SGLang EP32 prefill and
EP72 decode on H100; DeepSeek EP32 prefill and EP144 decode on H800; EP72 = one GB200 NVL72 rack)
and powers of two up to one expert per GPU for 256-expert models."""

DISPATCH_SCALE_BYTES_PER_ELEMENT: float = 4.0 / 128.0
"""Scale bytes DeepEP's FP8 dispatch adds per element: one fp32 scale per 128 channels of each token
(DeepEP ``low_latency_dispatch``: ``x`` in FP8 with ``[num_tokens, hidden // 128]`` float32 scales)."""

_LOW_PRECISION = performance.LOW_PRECISION_COMPUTE_DTYPES


class EPConfig(BaseModel):
    """One wide-EP deployment of a MoE model: degree, attention layout, imbalance and formats.

    ``ep`` GPUs form one EP group; with ``dp_attention`` every GPU runs attention for its own
    sequences (SGLang ``--enable-dp-attention``), otherwise attention is tensor-parallel over the
    ``ep`` GPUs and the MoE output is all-reduced (SGLang/vLLM EP without DP attention).
    ``imbalance`` is the max/mean routed-token load over the GPUs (1 = perfectly balanced, e.g.
    with EPLB); ``redundant_experts`` extra expert replicas are spread over the group (DeepSeek: 32).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ep: int = Field(ge=1, le=4096)
    dp_attention: bool = True
    imbalance: float = Field(default=1.0, ge=1.0, le=64.0)
    redundant_experts: int = Field(default=0, ge=0, le=4096)
    dtype: DType = DType.FP8
    kv_dtype: DType = DType.BF16
    memory_utilization: float = Field(default=memory.MEMORY_UTILIZATION, gt=0, le=1)
    runtime_overhead_bytes: float = Field(default=memory.RUNTIME_OVERHEAD_BYTES, ge=0)


# ---------------------------------------------------------------- layout and bytes


def experts_per_gpu(model: ModelSpec, ep: int, redundant_experts: int = 0) -> int:
    """Routed experts (replicas included) the busiest GPU holds per MoE layer.

    ``m = ceil((E + R) / n)``: DeepSeek's EP144 with 256 + 32 redundant experts gives 2 per GPU, its
    EP32 prefill 9 ("each GPU handles 9 routed experts", DeepSeek-V3/R1 Inference System Overview).
    Units: experts.

    >>> from estimator.catalog import get_model
    >>> experts_per_gpu(get_model("deepseek-v3"), 144, 32), experts_per_gpu(get_model("deepseek-v3"), 32, 32)
    (2, 9)
    """
    if ep < 1:
        raise InvalidInputError(f"the EP degree must be at least 1, got {ep}")
    return math.ceil((model.n_experts + redundant_experts) / ep)


def dispatch_bytes_per_element(compute_dtype: DType) -> float:
    """Bytes per hidden element a token carries in the dispatch all-to-all.

    FP8/INT8 matmuls take FP8 tokens plus :data:`DISPATCH_SCALE_BYTES_PER_ELEMENT` (DeepSeek: "dispatch
    transmissions adopt the FP8 format"); FP4 matmuls take NVFP4 tokens, 0.5625 B (SGLang GB200 part II:
    "NVFP4 quantization is fused into [DeepEP]... halving the required network traffic"); otherwise 16-bit
    activations (:data:`estimator.performance.ACTIVATION_BYTES`). The combine always returns 16-bit
    outputs ("combine transmissions use the BF16 format"). Units: bytes per element.

    >>> dispatch_bytes_per_element(DType.FP8), dispatch_bytes_per_element(DType.BF16)
    (1.03125, 2.0)
    """
    if compute_dtype == DType.FP4:
        return stored_bytes_per_weight(DType.NVFP4)
    if compute_dtype in _LOW_PRECISION:
        return 1.0 + DISPATCH_SCALE_BYTES_PER_ELEMENT
    return performance.ACTIVATION_BYTES


@dataclass(frozen=True)
class A2ABytes:
    """Bytes one GPU moves in one all-to-all (one MoE layer, one direction), split by link."""

    intra_bytes: float  # over the scale-up link (NVLink / Infinity Fabric), within the node or domain
    inter_bytes: float  # over the per-GPU network interface (InfiniBand / RoCE / EFA)


def a2a_bytes_per_gpu(tokens: float, k_active: int, d_model: int, bytes_per_element: float, ep: int,
                      gpus_per_node: int, dedup_nodes: bool = False) -> A2ABytes:
    """Bytes one GPU sends in one dispatch (or receives in one combine) for ``tokens`` local tokens.

    Notes
    -----
    Each token goes to ``k`` experts spread uniformly over ``n`` GPUs in nodes of ``g``; a copy for
    an expert on the sending GPU stays local. Low-latency kernels (decode) send one copy per expert::

        S_intra = T k d b (min(n, g) - 1) / n,   S_inter = T k d b (n - min(n, g)) / n

    Normal kernels (prefill, ``dedup_nodes``) send a token once to each remote node that holds any of
    its experts and forward it over NVLink inside that node (DeepEP "NVLink and RDMA forwarding"),
    so the network carries the expected number of remote nodes hit,
    ``(N - 1)(1 - (1 - 1/N)^k)`` for ``N = n / g`` nodes (:func:`estimator.performance.expected_distinct_experts`
    with ``N`` bins and ``k`` draws), and NVLink ``k (g - 1) / g`` copies. Units: bytes.

    Example: DeepEP's low-latency benchmark (128 tokens, top-8, hidden 7168, FP8 + scales) at EP 128
    on 8-GPU nodes sends 128 x 8 x 7168 x 1.03125 x 120/128 = 7.10 MB over InfiniBand:

    >>> round(a2a_bytes_per_gpu(128, 8, 7168, 1.03125, 128, 8).inter_bytes / 1e6, 2)
    7.1
    """
    if tokens < 0 or ep < 1 or gpus_per_node < 1:
        raise InvalidInputError("tokens must be >= 0 and the EP degree and GPUs per node >= 1")
    per_token = float(d_model) * bytes_per_element
    g = min(ep, gpus_per_node)
    if not dedup_nodes or ep <= gpus_per_node:
        intra = tokens * k_active * per_token * (g - 1) / ep
        inter = tokens * k_active * per_token * (ep - g) / ep
        return A2ABytes(intra, inter)
    nodes = ep / g
    remote_nodes = float(performance.expected_distinct_experts(nodes, 1, k_active)) * (nodes - 1.0) / nodes
    return A2ABytes(tokens * k_active * per_token * (g - 1) / g, tokens * remote_nodes * per_token)


def _links(hardware: HardwareSpec) -> tuple[float, float]:
    """(scale-up bytes/s, network bytes/s) per GPU and direction.

    The scale-up link comes from :func:`estimator.performance.link_for` (half the catalog's
    bidirectional NVLink / Infinity Fabric figure). The network figure of ``data/hardware.csv`` is one
    NIC's line rate per GPU (400 Gb/s = 50 GB/s), which is already per direction, so it is used as is;
    DeepEP reaches 39-58 GB/s "RDMA bandwidth" on such NICs (docs/legacy.md), which a halved 25 GB/s
    could not.
    """
    intra, _, _ = performance.link_for(hardware, min(hardware.max_per_node, 2))
    return intra, hardware.inter_node_bandwidth_bytes_per_s


def a2a_time_s(data: A2ABytes, hardware: HardwareSpec, efficiency: performance.Efficiency) -> float:
    """Time of one all-to-all: both links run at once and the slower path sets the time.

    Notes
    -----
    ``t = max(S_intra / (beta_intra e) + lambda, S_inter / (beta_inter e))`` with ``e`` the link
    efficiency and ``lambda`` the fitted per-collective latency of :mod:`estimator.performance` on the
    scale-up link (37 us over NVLink). The network path is GPU-initiated RDMA (DeepEP IBGDA) and
    bandwidth-bound at these sizes; its start-up hides under the transfer. Against DeepEP's
    low-latency table (H800, 128 tokens, top-8, 7168 hidden) this gives 84/108/162/189/203 us for
    dispatch at EP 8/16/32/64/128 vs 77/118/155/173/192 us measured, and 129/197/295/344/369 us for
    combine vs 114/195/273/314/369 us. Units: seconds.
    """
    intra_bw, inter_bw = _links(hardware)
    e = efficiency.communication
    t_intra = 0.0
    if data.intra_bytes > 0:
        kind = performance._link_kind(hardware.intra_node_link)
        lat = efficiency.link_latency_s * performance.LINK_LATENCY_RATIO[kind]
        t_intra = data.intra_bytes / (intra_bw * e) + lat if intra_bw > 0 else math.inf
    t_inter = 0.0
    if data.inter_bytes > 0:
        t_inter = data.inter_bytes / (inter_bw * e) if inter_bw > 0 else math.inf
    return max(t_intra, t_inter)


# ---------------------------------------------------------------- memory


class EPMemory(BaseModel):
    """Memory of one GPU of an EP group, in bytes."""

    model_config = ConfigDict(frozen=True)

    replicated_weights_bytes: float = Field(ge=0, description="attention, shared experts, dense layers, embeddings")
    expert_weights_bytes: float = Field(ge=0, description="this GPU's routed experts")
    kv_cache_bytes: float = Field(ge=0)
    activation_bytes: float = Field(ge=0)
    runtime_overhead_bytes: float = Field(ge=0)
    capacity_bytes: float = Field(gt=0, description="device memory x memory utilization")

    @property
    def total_bytes(self) -> float:
        return (self.replicated_weights_bytes + self.expert_weights_bytes + self.kv_cache_bytes
                + self.activation_bytes + self.runtime_overhead_bytes)

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.capacity_bytes


def _expert_bytes_total(model: ModelSpec, dtype: DType) -> float:
    """Bytes of all routed experts: ``P_exp b_exp`` with ``b_exp`` the stored bytes per weight of the
    body (group or block scales included, as in :func:`estimator.memory.weights_bytes`)."""
    p_exp = memory.routed_expert_params(model)
    if p_exp <= 0:
        return 0.0
    if dtype in (DType.INT8, DType.INT4):
        b = bytes_per_element(dtype) + memory.QUANT_SCALE_BYTES_PER_GROUP / memory.QUANT_GROUP_SIZE
    else:
        b = stored_bytes_per_weight(dtype)
    return min(p_exp * b, memory.weights_bytes(model, dtype))


def _kv_share(model: ModelSpec, tp: int) -> float:
    """Share of a sequence's KV cache one of ``tp`` tensor-parallel ranks holds: MLA's latent is
    replicated (1), GQA/MHA split by KV heads down to one head (``max(h_kv / t, 1) / h_kv``)."""
    if model.attention == AttentionKind.MLA or tp <= 1:
        return 1.0
    return max(model.n_kv_heads / tp, 1.0) / model.n_kv_heads


def ep_memory(model: ModelSpec, hardware: HardwareSpec, cfg: EPConfig, batch_per_gpu: int,
              context_tokens: int) -> EPMemory:
    """Memory per GPU of an EP group serving ``batch_per_gpu`` sequences of ``context_tokens`` each.

    Notes
    -----
    ``M = W_rep / t_a + W_exp m / E + KV + A + O``, where ``W_exp`` is every routed expert's weights
    (:func:`estimator.memory.routed_expert_params` at the stored bytes per weight), ``W_rep`` the rest
    (:func:`estimator.memory.weights_bytes` minus ``W_exp``: attention, shared experts, dense layers,
    embeddings), ``m`` the experts per GPU (:func:`experts_per_gpu`), ``t_a`` = 1 with DP attention
    (replicated) else ``n``; KV = :func:`estimator.memory.kv_cache_bytes` of the GPU's own ``B``
    sequences with DP attention, or of all ``n B`` sequences times the per-rank share with
    tensor-parallel attention (MLA's latent is not split: ``n`` times more; SGLang v0.4 blog, "DP
    attention ... reduces the KV cache"); ``A`` = :func:`estimator.memory.inference_activation_bytes`
    for the step's tokens; ``O`` the runtime overhead. Capacity ``M_dev u``. Units: bytes.
    """
    if batch_per_gpu < 0 or context_tokens < 0:
        raise InvalidInputError("batch and context must be >= 0")
    dtype = DType(cfg.dtype)
    w_exp = _expert_bytes_total(model, dtype)
    w_rep = memory.weights_bytes(model, dtype) - w_exp
    tp_attn = 1 if cfg.dp_attention else cfg.ep
    seqs = batch_per_gpu * (1 if cfg.dp_attention else cfg.ep)
    kv = memory.kv_cache_bytes(model, context_tokens, cfg.kv_dtype, seqs) * _kv_share(model, tp_attn)
    act = memory.inference_activation_bytes(model, seqs, dtype)
    return EPMemory(
        replicated_weights_bytes=w_rep / tp_attn,
        expert_weights_bytes=w_exp * experts_per_gpu(model, cfg.ep, cfg.redundant_experts) / model.n_experts,
        kv_cache_bytes=float(kv), activation_bytes=float(act), runtime_overhead_bytes=cfg.runtime_overhead_bytes,
        capacity_bytes=hardware.memory_bytes * cfg.memory_utilization,
    )


def max_batch_per_gpu(model: ModelSpec, hardware: HardwareSpec, cfg: EPConfig, context_tokens: int,
                      cap: int = performance.MAX_BATCH_CAP) -> int:
    """Largest number of sequences per GPU whose memory (:func:`ep_memory`) fits, at most ``cap``;
    0 where the weights alone do not fit. Memory grows with the batch, so a bisection finds it."""
    if not ep_memory(model, hardware, cfg, 0, context_tokens).fits:
        return 0
    lo, hi = 0, max(int(cap), 1)
    if ep_memory(model, hardware, cfg, hi, context_tokens).fits:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ep_memory(model, hardware, cfg, mid, context_tokens).fits else (lo, mid)
    return lo


# ---------------------------------------------------------------- time


@dataclass(frozen=True)
class _Rates:
    """Effective ceilings of one GPU: matmul and attention FLOP/s, memory bytes/s."""

    linear_flops_per_s: float
    attention_flops_per_s: float
    bytes_per_s: float
    dispatch_bytes_per_element: float


def _rates(hardware: HardwareSpec, cfg: EPConfig, eff: performance.Efficiency) -> _Rates:
    """Peaks times :class:`estimator.performance.Efficiency`: matmuls in the weights' compute format
    (:func:`estimator.performance.default_compute_dtype`), attention in fp8 where the KV cache is fp8
    and the hardware has it (FP8 attention, SGLang GB200 part II), else 16 bit."""
    cd = performance.default_compute_dtype(hardware, cfg.dtype)
    lin = hardware.peak_flops_per_s(cd) * eff.compute * (eff.low_precision_compute if cd in _LOW_PRECISION else 1.0)
    sixteen = DType.BF16 if hardware.supports(DType.BF16) else DType.FP16
    att_dtype = DType.FP8 if DType(cfg.kv_dtype) == DType.FP8 and hardware.supports(DType.FP8) else sixteen
    att = hardware.peak_flops_per_s(att_dtype) * eff.compute * (
        eff.low_precision_compute if att_dtype in _LOW_PRECISION else 1.0)
    return _Rates(lin, att, hardware.memory_bandwidth_bytes_per_s * eff.memory, dispatch_bytes_per_element(cd))


def _expert_params_one(model: ModelSpec) -> float:
    """Parameters of one routed expert over all MoE layers: ``L_moe (3 or 2) d d_ff_expert``."""
    return memory.routed_expert_params(model) / model.n_experts if model.is_moe else 0.0


class EPDecode(BaseModel):
    """One decode step of one GPU of an EP group (seconds), and what it yields."""

    model_config = ConfigDict(frozen=True)

    batch_per_gpu: int
    context_tokens: float
    replicated_s: float = Field(ge=0, description="attention projections, shared experts, dense layers, LM head")
    attention_s: float = Field(ge=0, description="attention over the KV cache")
    activations_s: float = Field(ge=0)
    experts_s: float = Field(ge=0, description="routed-expert GEMMs at the busiest GPU (imbalance included)")
    dispatch_s: float = Field(ge=0, description="all MoE layers")
    combine_s: float = Field(ge=0, description="all MoE layers")
    allreduce_s: float = Field(ge=0, description="tensor-parallel attention only")
    overhead_s: float = Field(ge=0)

    @property
    def communication_s(self) -> float:
        return self.dispatch_s + self.combine_s + self.allreduce_s

    @property
    def step_s(self) -> float:
        return (self.replicated_s + self.attention_s + self.activations_s + self.experts_s
                + self.communication_s + self.overhead_s)

    @property
    def tokens_per_s_per_gpu(self) -> float:
        return self.batch_per_gpu / self.step_s if self.step_s > 0 else 0.0

    @property
    def communication_share(self) -> float:
        """Share of the step spent in all-to-all (and all-reduce) communication."""
        return self.communication_s / self.step_s if self.step_s > 0 else 0.0


def _comm_s(model: ModelSpec, hardware: HardwareSpec, cfg: EPConfig, eff: performance.Efficiency, tokens: float,
            disp_b: float, dedup: bool) -> tuple[float, float, float]:
    """(dispatch, combine, all-reduce) seconds over all layers for ``tokens`` tokens per GPU.

    With DP attention: per MoE layer one dispatch (``disp_b`` bytes per element) and one combine (16
    bit) of the busiest GPU's ``lambda T`` tokens (:func:`a2a_bytes_per_gpu`, :func:`a2a_time_s`).
    Tensor-parallel attention instead all-reduces the ``n T`` tokens' 16-bit hidden states twice per
    layer over the ``n`` GPUs (:func:`estimator.performance.allreduce_time_s`)."""
    moe_layers = max(model.n_layers - model.n_dense_layers, 0) if model.is_moe else 0
    g = hardware.max_per_node
    if not cfg.dp_attention:
        bw, lat, _ = performance.link_for(hardware, cfg.ep, eff.link_latency_s)
        one = performance.allreduce_time_s(tokens * cfg.ep * model.d_model * performance.ACTIVATION_BYTES,
                                           cfg.ep, bw, lat, eff.communication)
        return 0.0, 0.0, 2.0 * model.n_layers * float(one)
    if cfg.ep <= 1 or moe_layers == 0:
        return 0.0, 0.0, 0.0
    t = tokens * cfg.imbalance
    k = model.n_experts_active
    disp = a2a_time_s(a2a_bytes_per_gpu(t, k, model.d_model, disp_b, cfg.ep, g, dedup), hardware, eff)
    comb = a2a_time_s(a2a_bytes_per_gpu(t, k, model.d_model, performance.ACTIVATION_BYTES, cfg.ep, g, dedup),
                      hardware, eff)
    return moe_layers * disp, moe_layers * comb, 0.0


def decode_step(model: ModelSpec, hardware: HardwareSpec, cfg: EPConfig, batch_per_gpu: int,
                context_tokens: float, efficiency: performance.Efficiency | None = None) -> EPDecode:
    """Decode step time of one GPU serving ``B = batch_per_gpu`` sequences at mean context ``c``.

    Notes
    -----
    Each part on the roofline of :mod:`estimator.performance` (``max(F / P_eff, bytes / beta_eff)``),
    with its :class:`~estimator.performance.Efficiency` and per-token features::

        t_rep = max(B (F_body - 2 k P_e + F_head) / P, W_dense / (t_a beta))
        t_att = max(B c a / P_att, B c kv s / beta)                  (a: absorbed MLA / GQA FLOPs)
        t_exp = max(2 P_e lambda B k / P, m h(n B) W_e / beta)
        t_comm = L_moe (t_a2a(dispatch) + t_a2a(combine))           (:func:`_comm_s`)
        t_step = t_rep + t_att + t_act + t_exp + t_comm + t_o

    ``P_e`` the parameters of one routed expert over all MoE layers, ``W_e`` its bytes, ``m`` experts
    per GPU, ``h(T)`` the share of experts hit by ``T`` tokens
    (:func:`estimator.performance.expected_distinct_experts` / E), ``lambda`` the imbalance, ``t_o`` the
    fitted step overhead. With tensor-parallel attention (``t_a = n``) each GPU reads ``1/n`` of the
    dense weights but the ``n B`` sequences' KV share ``s`` (MLA: all of it). Units: seconds.
    """
    if batch_per_gpu < 1 or context_tokens < 0:
        raise InvalidInputError("decode needs at least one sequence per GPU and a context >= 0")
    eff = efficiency or performance.Efficiency()
    f = performance._model_features(model, DType(cfg.dtype), DType(cfg.kv_dtype))
    r = _rates(hardware, cfg, eff)
    b, k = float(batch_per_gpu), model.n_experts_active
    tp_a = 1 if cfg.dp_attention else cfg.ep
    p_e = _expert_params_one(model)
    flops_rep = b * (f.body_flops_per_token - 2.0 * k * p_e + f.head_flops_per_token)
    t_rep = max(flops_rep / r.linear_flops_per_s, f.dense_read_bytes / tp_a / r.bytes_per_s)
    ctx_att = min(float(context_tokens), float(f.window))
    kv_tokens = float(memory.kv_cached_tokens(model, context_tokens))
    kv_bytes = b * tp_a * kv_tokens * f.kv_bytes_per_token * _kv_share(model, tp_a)
    t_att = max(b * ctx_att * f.attn_flops_per_ctx_token / r.attention_flops_per_s, kv_bytes / r.bytes_per_s)
    t_act = b * (f.act_bytes_per_token + f.logits_bytes_per_token) / r.bytes_per_s
    t_exp = 0.0
    if model.is_moe:
        m = experts_per_gpu(model, cfg.ep, cfg.redundant_experts)
        hit = float(performance.expected_distinct_experts(model.n_experts, k, b * cfg.ep)) / model.n_experts
        t_exp = max(2.0 * p_e * cfg.imbalance * b * k / r.linear_flops_per_s,
                    min(m, model.n_experts) * hit * f.expert_bytes / r.bytes_per_s)
    disp, comb, ar = _comm_s(model, hardware, cfg, eff, b, r.dispatch_bytes_per_element, dedup=False)
    return EPDecode(batch_per_gpu=batch_per_gpu, context_tokens=float(context_tokens), replicated_s=t_rep,
                    attention_s=t_att, activations_s=t_act, experts_s=t_exp, dispatch_s=disp, combine_s=comb,
                    allreduce_s=ar, overhead_s=eff.step_overhead_s)


class EPPrefill(BaseModel):
    """One prefill forward of one GPU of an EP group over ``tokens_per_gpu`` prompt tokens."""

    model_config = ConfigDict(frozen=True)

    tokens_per_gpu: int
    prompt_tokens: int
    linear_s: float = Field(ge=0, description="replicated matmuls (attention projections, shared, dense, head)")
    attention_s: float = Field(ge=0)
    experts_s: float = Field(ge=0)
    dispatch_s: float = Field(ge=0)
    combine_s: float = Field(ge=0)
    allreduce_s: float = Field(ge=0)
    overhead_s: float = Field(ge=0)

    @property
    def communication_s(self) -> float:
        return self.dispatch_s + self.combine_s + self.allreduce_s

    @property
    def step_s(self) -> float:
        return self.linear_s + self.attention_s + self.experts_s + self.communication_s + self.overhead_s

    @property
    def tokens_per_s_per_gpu(self) -> float:
        return self.tokens_per_gpu / self.step_s if self.step_s > 0 else 0.0

    @property
    def communication_share(self) -> float:
        return self.communication_s / self.step_s if self.step_s > 0 else 0.0


def _prefill_attention_flops_per_pair(model: ModelSpec) -> float:
    """FLOPs per (query, key) pair over all layers in prefill: ``2 h (d_qk + d_v) L``. MLA prefill runs
    un-absorbed (FlashMLA/FlashInfer prefill): ``d_qk`` = 192 (nope + rope), ``d_v`` = 128 for DeepSeek-V3
    (DeepSeek-V2 arXiv:2405.04434 §2.1); GQA/MHA: ``d_qk = d_v = d_head``."""
    d_qk = float(model.head_dim)
    d_v = float(model.head_dim - model.qk_rope_head_dim) if model.attention == AttentionKind.MLA else d_qk
    return 2.0 * model.n_heads * (d_qk + d_v) * model.n_layers


def prefill_step(model: ModelSpec, hardware: HardwareSpec, cfg: EPConfig, tokens_per_gpu: int, prompt_tokens: int,
                 efficiency: performance.Efficiency | None = None) -> EPPrefill:
    """Time of one prefill forward of ``T = tokens_per_gpu`` tokens per GPU, prompts of ``I`` tokens.

    Notes
    -----
    ``T / I`` prompts per GPU, each with the causal pairs ``S(I) = I (I + 1) / 2``::

        t_lin = max((T (F_body - 2 k P_e) + (T/I) F_head) / P, W_dense / (t_a beta))
        t_att = (T/I) S(I) a_pre / P_att                              (:func:`_prefill_attention_flops_per_pair`)
        t_exp = max(2 P_e lambda T k / P, m W_e / beta)
        t_comm = L_moe (t_a2a(dispatch) + t_a2a(combine))  with node de-duplication (DeepEP normal kernels)
        t = t_lin + t_att + t_exp + t_comm + t_prefill_overhead

    Units: seconds.
    """
    if tokens_per_gpu < 1 or prompt_tokens < 1:
        raise InvalidInputError("prefill needs at least one token per GPU and a prompt of at least one token")
    eff = efficiency or performance.Efficiency()
    f = performance._model_features(model, DType(cfg.dtype), DType(cfg.kv_dtype))
    r = _rates(hardware, cfg, eff)
    t, k = float(tokens_per_gpu), model.n_experts_active
    seqs = t / prompt_tokens
    tp_a = 1 if cfg.dp_attention else cfg.ep
    p_e = _expert_params_one(model)
    flops = t * (f.body_flops_per_token - 2.0 * k * p_e) + seqs * f.head_flops_per_token
    t_lin = max(flops / r.linear_flops_per_s, f.dense_read_bytes / tp_a / r.bytes_per_s)
    window = float(f.window)
    pairs = float(performance._causal_pairs(float(prompt_tokens), window, performance._PY))
    t_att = seqs * pairs * _prefill_attention_flops_per_pair(model) / r.attention_flops_per_s
    t_exp = 0.0
    if model.is_moe:
        m = min(experts_per_gpu(model, cfg.ep, cfg.redundant_experts), model.n_experts)
        t_exp = max(2.0 * p_e * cfg.imbalance * t * k / r.linear_flops_per_s, m * f.expert_bytes / r.bytes_per_s)
    disp, comb, ar = _comm_s(model, hardware, cfg, eff, t, r.dispatch_bytes_per_element, dedup=True)
    return EPPrefill(tokens_per_gpu=tokens_per_gpu, prompt_tokens=prompt_tokens, linear_s=t_lin, attention_s=t_att,
                     experts_s=t_exp, dispatch_s=disp, combine_s=comb, allreduce_s=ar,
                     overhead_s=eff.prefill_overhead_s)


# ---------------------------------------------------------------- plan over EP degrees


class EPRow(BaseModel):
    """One EP degree: memory, the batch it serves, and its decode and prefill per GPU."""

    model_config = ConfigDict(frozen=True)

    ep: int
    nodes: int = Field(description="nodes (scale-up domains) the group spans")
    experts_per_gpu: int
    max_batch_memory: int = Field(description="sequences per GPU whose KV cache fits (0: weights do not fit)")
    batch_per_gpu: int = Field(description="the batch chosen: the largest that fits and meets the TPOT target")
    meets_tpot: bool
    memory: EPMemory
    decode: EPDecode | None
    prefill: EPPrefill | None

    @property
    def fits(self) -> bool:
        return self.max_batch_memory > 0

    @property
    def decode_tokens_per_s_per_gpu(self) -> float:
        return self.decode.tokens_per_s_per_gpu if self.decode is not None else 0.0

    @property
    def prefill_tokens_per_s_per_gpu(self) -> float:
        return self.prefill.tokens_per_s_per_gpu if self.prefill is not None else 0.0


class EPPlan(BaseModel):
    """Wide-EP serving of one MoE model on one accelerator, for a list of EP degrees."""

    model_config = ConfigDict(frozen=True)

    model_id: str
    hardware_id: str
    config: EPConfig = Field(description="the settings shared by every row (its ep is the first degree)")
    input_tokens: int
    output_tokens: int
    prefill_tokens_per_gpu: int
    tpot_target_s: float | None
    rows: tuple[EPRow, ...]
    best_ep: int | None = Field(description="highest decode tokens/s per GPU among the degrees meeting the target")
    chosen_ep: int | None = Field(description="the scenario's EP degree, else the best")

    def row(self, ep: int) -> EPRow | None:
        return next((r for r in self.rows if r.ep == ep), None)


def _batch_for_tpot(model: ModelSpec, hardware: HardwareSpec, cfg: EPConfig, b_max: int, context: float,
                    tpot_s: float | None, eff: performance.Efficiency) -> tuple[int, bool]:
    """Largest batch <= ``b_max`` whose decode step meets ``tpot_s`` (the step grows with the batch, so a
    bisection), and whether any does; without a target the memory limit ``b_max``."""
    if tpot_s is None:
        return b_max, True
    if decode_step(model, hardware, cfg, 1, context, eff).step_s > tpot_s:
        return 1, False
    lo, hi = 1, b_max
    if decode_step(model, hardware, cfg, hi, context, eff).step_s <= tpot_s:
        return hi, True
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if decode_step(model, hardware, cfg, mid, context, eff).step_s <= tpot_s else (lo, mid)
    return lo, True


def _row(model: ModelSpec, hardware: HardwareSpec, cfg: EPConfig, input_tokens: int, output_tokens: int,
         prefill_tokens: int, tpot_s: float | None, eff: performance.Efficiency) -> EPRow:
    """One EP degree: memory-limited batch, the batch meeting the TPOT target, decode and prefill."""
    ctx_mem, ctx_mean = input_tokens + output_tokens, input_tokens + output_tokens / 2.0
    b_mem = max_batch_per_gpu(model, hardware, cfg, ctx_mem)
    nodes = math.ceil(cfg.ep / hardware.max_per_node)
    m = experts_per_gpu(model, cfg.ep, cfg.redundant_experts)
    if b_mem == 0:
        return EPRow(ep=cfg.ep, nodes=nodes, experts_per_gpu=m, max_batch_memory=0, batch_per_gpu=0,
                     meets_tpot=False, memory=ep_memory(model, hardware, cfg, 0, ctx_mem), decode=None, prefill=None)
    batch, meets = _batch_for_tpot(model, hardware, cfg, b_mem, ctx_mean, tpot_s, eff)
    return EPRow(ep=cfg.ep, nodes=nodes, experts_per_gpu=m, max_batch_memory=b_mem, batch_per_gpu=batch,
                 meets_tpot=meets, memory=ep_memory(model, hardware, cfg, batch, ctx_mem),
                 decode=decode_step(model, hardware, cfg, batch, ctx_mean, eff),
                 prefill=prefill_step(model, hardware, cfg, prefill_tokens, input_tokens, eff))


def plan(model: ModelSpec, hardware: HardwareSpec, cfg: EPConfig, input_tokens: int, output_tokens: int,
         ep_sizes: Sequence[int] = DEFAULT_EP_SIZES, tpot_target_s: float | None = None,
         prefill_tokens_per_gpu: int = performance.PREFILL_CHUNK_TOKENS,
         efficiency: performance.Efficiency | None = None, chosen_ep: int = 0) -> EPPlan:
    """Compare EP degrees for ``model`` on ``hardware``: per-GPU memory, decode and prefill throughput.

    Degrees above one expert per GPU (``n > E + R``) are left out unless chosen. For each degree ``n``
    (``cfg`` with ``ep = n``): the largest batch per GPU whose memory fits
    (:func:`max_batch_per_gpu`, KV for ``I + O`` tokens), within it the largest whose decode step
    (:func:`decode_step` at the mean context ``I + O/2``) meets ``tpot_target_s``, and one prefill
    forward of ``prefill_tokens_per_gpu`` tokens (:func:`prefill_step`). The best degree has the
    highest decode tokens/s per GPU among those meeting the target; ties go to the smaller group.
    """
    if not model.is_moe:
        raise InvalidInputError(f"{model.name} is not a mixture-of-experts model: expert parallelism does not apply")
    if input_tokens < 1 or output_tokens < 1:
        raise InvalidInputError("input and output tokens must be at least 1")
    if tpot_target_s is not None and tpot_target_s <= 0:
        raise InvalidInputError("the TPOT target must be positive (or None for no target)")
    eff = efficiency or performance.Efficiency()
    if any(int(n) < 1 for n in ep_sizes):
        raise InvalidInputError("EP degrees must be at least 1")
    most = model.n_experts + cfg.redundant_experts  # beyond one expert per GPU a larger group only adds traffic
    sizes = sorted({int(n) for n in ep_sizes if int(n) <= most} | ({chosen_ep} if chosen_ep > 0 else set()))
    if not sizes:
        sizes = [most]
    rows = tuple(_row(model, hardware, cfg.model_copy(update={"ep": n}), input_tokens, output_tokens,
                      prefill_tokens_per_gpu, tpot_target_s, eff) for n in sizes)
    ok = [r for r in rows if r.fits and r.meets_tpot]
    best = max(ok, key=lambda r: (r.decode_tokens_per_s_per_gpu, -r.ep)).ep if ok else None
    return EPPlan(model_id=model.model_id, hardware_id=hardware.hardware_id,
                  config=cfg.model_copy(update={"ep": sizes[0]}), input_tokens=input_tokens,
                  output_tokens=output_tokens, prefill_tokens_per_gpu=prefill_tokens_per_gpu,
                  tpot_target_s=tpot_target_s, rows=rows, best_ep=best, chosen_ep=chosen_ep or best)


def plan_for_scenario(scenario: Any) -> EPPlan:
    """:func:`plan` for a ``Scenario``: its model, accelerator, formats, token means, efficiency
    overrides, TPOT limit (``perf.tpot_limit_ms``, 0 = none) and ``moe`` section (EP degree, DP
    attention, imbalance); the default degrees plus the scenario's own."""
    from estimator import catalog

    model = catalog.get_model(scenario.model.model_id)
    hardware = catalog.get_hardware(scenario.deploy.hardware_id)
    moe = scenario.moe
    cfg = EPConfig(ep=max(moe.expert_parallel, 1), dp_attention=moe.dp_attention, imbalance=moe.expert_imbalance,
                   dtype=scenario.model.weight_dtype, kv_dtype=scenario.model.kv_dtype)
    tpot = scenario.perf.tpot_limit_ms / 1e3 if scenario.perf.tpot_limit_ms > 0 else None
    return plan(model, hardware, cfg, scenario.tokens.input_mean, scenario.tokens.output_mean,
                tpot_target_s=tpot, efficiency=performance.efficiency_for_scenario(scenario),
                chosen_ep=moe.expert_parallel)


# ---------------------------------------------------------------- published anchors

ANCHORS_FILE: str = "serving_anchors.csv"
"""Published serving results (``data/``), one row per figure, shared by the serving techniques."""

TECHNIQUE: str = "expert_parallel"
"""This module's rows of :data:`ANCHORS_FILE`."""


@dataclass(frozen=True)
class EPAnchor:
    """One published figure and the setup this module reproduces it with.

    ``phase`` is ``decode`` (output tokens/s), ``prefill`` (input tokens/s), ``dispatch`` or
    ``combine`` (one all-to-all, seconds); ``per`` is ``node`` (8 GPUs) or ``gpu``; ``batch`` is the
    decode batch per GPU, the prefill tokens per GPU or the all-to-all tokens per GPU; ``tokens`` the
    KV length (decode) or the prompt length (prefill)."""

    anchor_id: str
    metric: str
    published_value: float
    model_id: str
    hardware_id: str
    ep: int
    phase: str
    per: str
    batch: int
    tokens: int
    dtype: str
    kv_dtype: str
    redundant_experts: int
    source: str
    url: str
    as_of: date | None
    notes: str


_SETUP_KEYS = ("model", "hardware", "ep", "phase", "per", "batch", "tokens", "dtype", "kv_dtype", "redundant")


def _parse_setup(text: str) -> dict[str, str]:
    """``key=value;key=value`` of the ``setup`` column."""
    out = dict(part.strip().split("=", 1) for part in text.split(";") if "=" in part)
    missing = [k for k in _SETUP_KEYS if k not in out]
    if missing:
        raise InvalidInputError(f"anchor setup {text!r} lacks {', '.join(missing)}")
    return out


def load_anchors(path: str | Path | None = None) -> tuple[EPAnchor, ...]:
    """This module's rows of :data:`ANCHORS_FILE` (``technique == expert_parallel``) with their setups."""
    file = Path(path) if path is not None else Path(__file__).resolve().parent.parent / "data" / ANCHORS_FILE
    with file.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("technique") == TECHNIQUE]
    out = []
    for r in rows:
        s = _parse_setup(r["setup"])
        out.append(EPAnchor(
            anchor_id=r["anchor_id"], metric=r["metric"], published_value=float(r["published_value"]),
            model_id=s["model"], hardware_id=s["hardware"], ep=int(s["ep"]), phase=s["phase"], per=s["per"],
            batch=int(s["batch"]), tokens=int(s["tokens"]), dtype=s["dtype"], kv_dtype=s["kv_dtype"],
            redundant_experts=int(s["redundant"]), source=r["source"], url=r["url"],
            as_of=date.fromisoformat(r["as_of"]) if r.get("as_of") else None, notes=r.get("notes", "")))
    return tuple(out)


@dataclass(frozen=True)
class AnchorResult:
    """A published figure next to this module's prediction of it."""

    anchor: EPAnchor
    predicted: float

    @property
    def ratio(self) -> float:
        return self.predicted / self.anchor.published_value


def _predict(a: EPAnchor, eff: performance.Efficiency) -> float:
    from estimator import catalog

    model, hw = catalog.get_model(a.model_id), catalog.get_hardware(a.hardware_id)
    cfg = EPConfig(ep=a.ep, dtype=DType(a.dtype), kv_dtype=DType(a.kv_dtype), redundant_experts=a.redundant_experts)
    per = min(8, hw.max_per_node) if a.per == "node" else 1
    if a.phase == "decode":
        return decode_step(model, hw, cfg, a.batch, a.tokens, eff).tokens_per_s_per_gpu * per
    if a.phase == "prefill":
        return prefill_step(model, hw, cfg, a.batch, a.tokens, eff).tokens_per_s_per_gpu * per
    if a.phase in ("dispatch", "combine"):
        b = (dispatch_bytes_per_element(performance.default_compute_dtype(hw, cfg.dtype)) if a.phase == "dispatch"
             else performance.ACTIVATION_BYTES)
        data = a2a_bytes_per_gpu(a.batch, model.n_experts_active, model.d_model, b, a.ep, hw.max_per_node)
        return a2a_time_s(data, hw, eff)
    raise InvalidInputError(f"unknown anchor phase {a.phase!r}")


def reproduce_anchors(anchors: Sequence[EPAnchor] | None = None,
                      efficiency: performance.Efficiency | None = None) -> tuple[AnchorResult, ...]:
    """Each anchor's published value and this module's prediction at the fitted efficiencies."""
    eff = efficiency or performance.Efficiency()
    return tuple(AnchorResult(a, _predict(a, eff)) for a in (load_anchors() if anchors is None else anchors))
