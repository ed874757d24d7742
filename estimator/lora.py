"""LoRA adapters: serving many on one base model, and LoRA / QLoRA fine-tuning memory and time.

- **Adapter size**: a rank-``r`` adapter on a ``d_in x d_out`` weight adds ``A (r x d_in)`` and
  ``B (d_out x r)``: ``r (d_in + d_out)`` parameters (Hu et al. 2021, LoRA, arXiv:2106.09685 §4.1),
  per target module per layer (:func:`trainable_params`).
- **Serving**: the engine reserves ``--max-loras`` adapter slots of ``--max-lora-rank`` on the GPU
  (vLLM engine arguments); a decode step of a batch mixing adapters reads each distinct adapter
  once (Punica's SGMV kernel, Chen et al. 2023 arXiv:2310.18547 §4; S-LoRA's MBGMV, Sheng et al.
  2023 arXiv:2311.03285 §5), so its extra time is the distinct adapters' bytes over the memory
  bandwidth (:func:`mixed_batch_step_overhead_s`).
- **Fine-tuning**: frozen base weights (16-bit, or 4-bit NF4 with double quantization for QLoRA,
  Dettmers et al. 2023 arXiv:2305.14314 §3), optimizer states only for the adapters, activations
  with gradient checkpointing (:func:`finetune_memory`); ``4 N`` FLOPs per token without weight
  gradients, ``6 N`` with recomputation (:func:`finetune_flops_per_token`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from estimator import memory
from estimator.errors import InvalidInputError
from estimator.specs import ModelSpec

if TYPE_CHECKING:
    from estimator.scenario import Scenario

__all__ = [
    "Targets",
    "TARGET_MODULES",
    "NF4_BITS_PER_PARAM",
    "ADAPTER_STATE_BYTES_PER_PARAM",
    "module_shapes",
    "trainable_params",
    "adapter_bytes",
    "slot_bytes",
    "expected_distinct_adapters",
    "mixed_batch_step_overhead_s",
    "FinetuneMemory",
    "finetune_memory",
    "finetune_flops_per_token",
    "finetune_time_s",
    "anchor_predictions",
    "FinetuneOption",
    "FinetunePlan",
    "finetune_plan",
    "ServingPoint",
    "LoraServing",
    "serving",
]

Targets = Literal["qv", "attention", "all_linear"]

TARGET_MODULES: dict[str, tuple[str, ...]] = {
    "qv": ("q", "v"),
    "attention": ("q", "k", "v", "o"),
    "all_linear": ("q", "k", "v", "o", "gate", "up", "down"),
}
"""Target sets: PEFT's default for Llama-style models is ``q_proj, v_proj`` (the LoRA paper's
choice, §4.2 and Table 5); QLoRA applies adapters to all linear layers (Dettmers et al. 2023 §4)."""

NF4_BITS_PER_PARAM: float = 4.0 + 8 / 64 + 32 / (64 * 256)
"""4-bit NormalFloat weights plus double-quantized block constants: 8-bit constants per block of 64
and one fp32 second-level constant per 256 blocks, "0.127 bits per parameter" (QLoRA §3)."""

ADAPTER_STATE_BYTES_PER_PARAM: float = 2.0 + 2.0 + 8.0
"""Per adapter parameter in fine-tuning: bf16 weight and gradient plus two fp32 Adam moments (QLoRA's
reference set-up: ``--bf16`` adapters, 32-bit paged AdamW)."""


def module_shapes(model: ModelSpec, targets: Targets | str) -> list[tuple[int, int]]:
    """``(d_in, d_out)`` of each targeted weight in one layer.

    q: ``d -> n_h d_h``, k and v: ``d -> n_kv d_h``, o: ``n_h d_h -> d``; gate and up ``d -> f`` and down
    ``f -> d`` (gate only for gated MLPs). MoE: every routed and shared expert has its own MLP of
    width ``f_e`` (all targeted with ``all_linear``, as PEFT's ``all-linear`` does).
    """
    if targets not in TARGET_MODULES:
        raise InvalidInputError(f"LoRA targets must be one of {', '.join(TARGET_MODULES)}, got {targets!r}")
    d, q, kv = model.d_model, model.n_heads * model.head_dim, model.n_kv_heads * model.head_dim
    shapes = {"q": [(d, q)], "k": [(d, kv)], "v": [(d, kv)], "o": [(q, d)]}
    f = model.d_ff_expert or model.d_ff if model.is_moe else model.d_ff
    experts = model.n_experts + model.n_shared_experts if model.is_moe else 1
    shapes["gate"] = [(d, f)] * experts if model.gated_mlp else []
    shapes["up"] = [(d, f)] * experts
    shapes["down"] = [(f, d)] * experts
    return [s for name in TARGET_MODULES[targets] for s in shapes[name]]


def trainable_params(model: ModelSpec, rank: int, targets: Targets | str) -> int:
    """LoRA parameters: ``r sum_layers sum_modules (d_in + d_out)`` (LoRA §4.1: ``W + B A`` with ``B``
    d_out x r and ``A`` r x d_in).

    Every decoder (and encoder) layer carries the targeted modules; a decoder layer of an
    encoder-decoder model has a second, cross-attention block whose q, k, v, o are targeted too
    (PEFT matches the module names in both blocks). Llama-2-7B, r = 8 on q, v: 32 x 8 x 2 x 8192 = 4,194,304.
    """
    if rank < 1:
        raise InvalidInputError(f"LoRA rank must be at least 1, got {rank}")
    per_layer = sum(a + b for a, b in module_shapes(model, targets))
    attention = sum(a + b for a, b in module_shapes(model, targets)[:len(_attention(targets))])
    cross = model.n_layers if model.n_encoder_layers > 0 else 0
    return rank * ((model.n_layers + model.n_encoder_layers) * per_layer + cross * attention)


def _attention(targets: Targets | str) -> tuple[str, ...]:
    return tuple(m for m in TARGET_MODULES[targets] if m in ("q", "k", "v", "o"))


def adapter_bytes(model: ModelSpec, rank: int, targets: Targets | str, bytes_per_param: float = 2.0) -> float:
    """Bytes of one adapter (16-bit by default): ``trainable_params x bytes``."""
    return trainable_params(model, rank, targets) * bytes_per_param


def slot_bytes(model: ModelSpec, max_rank: int, targets: Targets | str, max_loras: int) -> float:
    """GPU memory the engine reserves for adapters: ``max_loras`` slots of ``max_lora_rank``
    (vLLM ``--max-loras``, ``--max-lora-rank``: buffers are allocated at the largest rank)."""
    if max_loras < 1:
        raise InvalidInputError(f"max LoRAs must be at least 1, got {max_loras}")
    return max_loras * adapter_bytes(model, max_rank, targets)


def expected_distinct_adapters(adapters: float, batch: float, max_loras: float | None = None) -> float:
    """Distinct adapters in a batch of ``B`` requests drawn uniformly from ``N`` adapters.

    ``E[D] = N (1 - (1 - 1/N)^B)`` (occupancy of ``N`` urns by ``B`` balls), at most ``max_loras``
    (the engine schedules at most that many adapters per batch).
    """
    if adapters < 1 or batch < 0:
        raise InvalidInputError("adapters must be at least 1 and the batch zero or more")
    d = adapters * -np.expm1(batch * np.log1p(-1.0 / adapters)) if adapters > 1 else min(1.0, batch)
    return float(min(d, max_loras) if max_loras is not None else d)


def mixed_batch_step_overhead_s(model: ModelSpec, rank: int, targets: Targets | str, distinct: float, batch: float,
                                bandwidth_bytes_per_s: float, peak_flops: float, memory_efficiency: float = 0.7,
                                compute_efficiency: float = 0.5) -> float:
    """Extra time of one decode step whose batch uses ``D`` distinct adapters.

    Notes
    -----
    ``dt = D a / (BW e_m) + B 2 P_lora / (F e_c)``: every distinct adapter's ``a = 2 P_lora`` bytes
    (16-bit) are read once per step (SGMV gathers the batch's adapters, Punica §4), and each token does
    the two low-rank matmuls, ``P_lora`` multiply-adds = ``2 P_lora`` FLOPs. Efficiencies are
    assumptions (0.7 of the memory bandwidth, 0.5 of peak for skinny matmuls). Not modelled: the launch
    cost of the extra small kernels (two per targeted module per layer), which S-LoRA's A10G ablation runs
    (github.com/S-LoRA/S-LoRA ``benchmarks/a10g``, with vs without LoRA compute) put at 6-8% of throughput
    even with one adapter; fused or graph-captured kernels (Punica SGMV, vLLM) shrink it. Units: seconds.
    """
    if bandwidth_bytes_per_s <= 0 or peak_flops <= 0:
        raise InvalidInputError("bandwidth and peak FLOPs must be positive")
    p = trainable_params(model, rank, targets)
    return distinct * p * 2.0 / (bandwidth_bytes_per_s * memory_efficiency) + batch * 2.0 * p / (
        peak_flops * compute_efficiency)


# ------------------------------------------------------------------ fine-tuning


class FinetuneMemory(BaseModel):
    """Per-device memory of LoRA / QLoRA fine-tuning (bytes)."""

    model_config = ConfigDict(frozen=True)

    base_weights_bytes: float = Field(ge=0)
    adapter_states_bytes: float = Field(ge=0)
    activation_bytes: float = Field(ge=0)
    runtime_overhead_bytes: float = Field(ge=0)
    trainable_params: int = Field(ge=0)

    @property
    def total_bytes(self) -> float:
        return self.base_weights_bytes + self.adapter_states_bytes + self.activation_bytes + self.runtime_overhead_bytes


def finetune_memory(model: ModelSpec, rank: int, targets: Targets | str, *, qlora: bool, seq_len: int,
                    micro_batch: int = 1, recompute: str = "full",
                    runtime_overhead_bytes: float = memory.RUNTIME_OVERHEAD_BYTES) -> FinetuneMemory:
    """Memory of LoRA (16-bit base) or QLoRA (4-bit NF4 base) fine-tuning on one device.

    Notes
    -----
    ``M = P_base b_base + P_emb 2 + P_lora (2 + 2 + 8) + L A_layer + 4 s b V + O``: frozen weights
    (``b_base`` = 2 bytes, or :data:`NF4_BITS_PER_PARAM` / 8 for QLoRA; embeddings and LM head stay
    16-bit as bitsandbytes keeps them), adapter weight, gradient and Adam moments only
    (:data:`ADAPTER_STATE_BYTES_PER_PARAM`; no gradients or optimizer states for the frozen base, LoRA §4.2),
    activations per layer as :func:`estimator.memory.training_activation_bytes_per_layer` (QLoRA uses
    gradient checkpointing: ``recompute="full"``) and fp32 logits. Units: bytes.
    """
    emb = memory.embedding_params(model)
    body = max(model.params_total - emb, 0.0)
    base = body * (NF4_BITS_PER_PARAM / 8 if qlora else 2.0) + emb * 2.0
    p = trainable_params(model, rank, targets)
    act = memory.training_activation_bytes_per_layer(model, seq_len, micro_batch, recompute=recompute)
    act = act * model.total_layers + 4.0 * seq_len * micro_batch * model.vocab_size
    return FinetuneMemory(base_weights_bytes=base, adapter_states_bytes=p * ADAPTER_STATE_BYTES_PER_PARAM,
                          activation_bytes=act, runtime_overhead_bytes=runtime_overhead_bytes, trainable_params=p)


def finetune_flops_per_token(model: ModelSpec, recompute: bool = True) -> float:
    """FLOPs per training token of LoRA: forward ``2 N`` + backward to the activations ``2 N`` (no
    weight gradients for the frozen base; the adapters' own are negligible) + ``2 N`` forward again
    with gradient checkpointing. Full fine-tuning is ``6 N`` without recomputation (Kaplan et al. 2020
    §2.1); the LoRA paper measures a 25% speed-up on GPT-3 175B (§4.2), against the ``1/3`` that
    ``4 N`` vs ``6 N`` bounds. ``N`` = active parameters. Units: FLOPs per token."""
    n = model.params_active
    return (6.0 if recompute else 4.0) * n


def finetune_time_s(model: ModelSpec, tokens: float, accelerators: int, peak_flops: float, mfu: float,
                    recompute: bool = True) -> float:
    """Wall time ``t = D x FLOPs/token / (n peak MFU)``. Units: seconds."""
    if tokens <= 0 or accelerators < 1 or peak_flops <= 0 or not 0 < mfu <= 1:
        raise InvalidInputError("tokens, accelerators, peak FLOPs and MFU in (0, 1] must be positive")
    return tokens * finetune_flops_per_token(model, recompute) / (accelerators * peak_flops * mfu)


def _llama_65b() -> ModelSpec:
    """LLaMA-65B (Touvron et al. 2023, arXiv:2302.13971 Table 2) on llama-2-70b's spec (MHA, d_ff 22016)."""
    from estimator import catalog  # late: the catalog loads data/ into DuckDB

    return catalog.get_model("llama-2-70b").model_copy(update=dict(
        model_id="llama-65b", name="LLaMA 65B", n_kv_heads=64, d_ff=22016, params_total=65.2e9,
        params_active=65.2e9, max_context=2048))


def anchor_predictions() -> dict[str, float]:
    """The model's value for each LoRA anchor of ``data/serving_anchors.csv``, for the setup its
    ``notes`` record (``bench/bench_lora.py`` compares them with the published values)."""
    from estimator import catalog

    flan = catalog.get_model("flan-t5-xl")
    mt0 = flan.model_copy(update=dict(model_id="mt0-large", d_model=1024, n_heads=16, n_kv_heads=16, d_ff=2816))
    a100 = catalog.get_hardware("a100-80gb-sxm")
    l7 = catalog.get_model("llama-2-7b")
    punica = mixed_batch_step_overhead_s(l7, 16, "all_linear", 32, 32, a100.memory_bandwidth_bytes_per_s,
                                         a100.peak_flops_per_s("bf16"))
    return {
        "lora-gpt3-qv-r4-params": float(trainable_params(catalog.get_model("gpt-3-175b"), 4, "qv")),
        "lora-peft-mt0-large-r8": float(trainable_params(mt0, 8, "qv")),
        "lora-qlora-65b-48gb": finetune_memory(_llama_65b(), 64, "all_linear", qlora=True, seq_len=512).total_bytes / 1e9,
        "lora-punica-7b-latency": punica * 1e3,
    }


class FinetuneOption(BaseModel):
    """One way to fine-tune: per-GPU memory with the frozen base sharded over ``gpus``, time and cost."""

    model_config = ConfigDict(frozen=True)

    name: str
    memory: FinetuneMemory | None = None
    per_gpu_bytes: float = Field(ge=0)
    gpus: int = Field(ge=0, description="fewest that hold it; 0 = none up to the search limit")
    hours: float = Field(ge=0)
    cost_usd: float = Field(ge=0)


class FinetunePlan(BaseModel):
    """The Training page's LoRA section: full fine-tuning vs LoRA vs QLoRA for the scenario's model."""

    model_config = ConfigDict(frozen=True)

    model_name: str
    hardware_name: str
    rank: int
    targets: str
    trainable_params: int
    total_params: float
    tokens: float
    utilization: float
    price_usd_per_gpu_h: float
    options: tuple[FinetuneOption, ...]


MAX_FINETUNE_GPUS: int = 1024


def _fewest_gpus(fixed_bytes: float, sharded_bytes: float, usable_bytes: float) -> tuple[int, float]:
    """Fewest ``n`` (powers of two) with ``fixed + sharded / n <= usable`` (FSDP shards the frozen base:
    Answer.AI FSDP+QLoRA, 2024); ``(0, fixed + sharded)`` when none up to :data:`MAX_FINETUNE_GPUS`."""
    n = 1
    while n <= MAX_FINETUNE_GPUS:
        if fixed_bytes + sharded_bytes / n <= usable_bytes:
            return n, fixed_bytes + sharded_bytes / n
        n *= 2
    return 0, fixed_bytes + sharded_bytes


def finetune_plan(s: Scenario) -> FinetunePlan:
    """Full fine-tuning vs LoRA vs QLoRA of ``s.model`` on ``s.deploy.hardware_id``.

    Notes
    -----
    Memory per GPU: :func:`finetune_memory` with the base weights sharded over the GPUs; full
    fine-tuning is :func:`estimator.memory.training_memory` with ZeRO-3 and full recomputation (16 bytes
    per parameter with AdamW, sharded). Time ``t = D F / (n peak u)`` with ``F`` from
    :func:`finetune_flops_per_token` (``6 N``; full fine-tuning ``8 N``: ``6 N`` plus the recomputed
    forward, so LoRA is 25% faster, as LoRA §4.2 measures on GPT-3 175B), ``u`` the
    scenario's MFU or the MFU x goodput fitted on published runs for the accelerator's generation
    (:func:`estimator.training.fitted_efficiency`). Cost: GPU-hours x the cheapest instance's price per
    accelerator-hour under the scenario's pricing model.
    """
    from estimator import catalog, pricing, training  # late: the catalog loads data/ into DuckDB

    model, hw, lo = catalog.get_model(s.model.model_id), catalog.get_hardware(s.deploy.hardware_id), s.lora
    seq, mb = s.memory.seq_len, s.memory.micro_batch
    if s.train.mfu is not None:
        util = s.train.mfu
    else:
        fit = training.fitted_efficiency(hw.hardware_id)
        util = fit.mfu * fit.goodput
    price = pricing.cheapest_instance(hw.hardware_id, s.deploy.pricing.value).price_usd_per_accelerator_h
    peak = hw.peak_flops_per_s("bf16")
    tokens = lo.train_tokens_m * 1e6
    usable = hw.memory_bytes
    overhead = s.assumptions.runtime_overhead_gb * 1e9
    options = []
    for name, qlora in (("LoRA (16-bit base)", False), ("QLoRA (4-bit base)", True)):
        m = finetune_memory(model, lo.rank, lo.targets, qlora=qlora, seq_len=seq, micro_batch=mb,
                            runtime_overhead_bytes=overhead)
        n, per_gpu = _fewest_gpus(m.total_bytes - m.base_weights_bytes, m.base_weights_bytes, usable)
        hours = finetune_time_s(model, tokens, max(n, 1), peak, util) / 3600
        options.append(FinetuneOption(name=name, memory=m, per_gpu_bytes=per_gpu, gpus=n, hours=hours,
                                      cost_usd=hours * max(n, 1) * price))
    full = memory.training_memory(model, seq_len=seq, micro_batch=mb, zero_stage=3, recompute="full",
                                  runtime_overhead_bytes=overhead)
    states = full.weights_bytes + full.gradients_bytes + full.optimizer_bytes
    n, per_gpu = _fewest_gpus(full.activation_bytes + overhead, states, usable)
    hours = tokens * 8.0 * model.params_active / (max(n, 1) * peak * util) / 3600  # 6N + 2N recomputation
    options.insert(0, FinetuneOption(name="Full fine-tuning (ZeRO-3)", per_gpu_bytes=per_gpu, gpus=n, hours=hours,
                                     cost_usd=hours * max(n, 1) * price))
    return FinetunePlan(model_name=model.name, hardware_name=hw.name, rank=lo.rank, targets=lo.targets,
                        trainable_params=trainable_params(model, lo.rank, lo.targets), total_params=model.params_total,
                        tokens=tokens, utilization=util, price_usd_per_gpu_h=price, options=tuple(options))


class ServingPoint(BaseModel):
    """Mixed-adapter decode at one batch size: distinct adapters, base step, extra time, throughput cost."""

    model_config = ConfigDict(frozen=True)

    batch: int = Field(ge=1)
    distinct_adapters: float = Field(ge=0)
    base_tpot_s: float = Field(gt=0)
    extra_s: float = Field(ge=0)

    @property
    def throughput_cost(self) -> float:
        """Share of throughput lost: ``dt / (t_step + dt)``."""
        return self.extra_s / (self.base_tpot_s + self.extra_s)


class LoraServing(BaseModel):
    """Serving ``adapters`` LoRA adapters on one base model: memory, slots and mixed-batch cost."""

    model_config = ConfigDict(frozen=True)

    adapter_bytes: float = Field(ge=0)
    slot_bytes: float = Field(ge=0)
    host_bytes: float = Field(ge=0, description="all adapters kept in host memory (S-LoRA)")
    tp: int = Field(ge=1)
    points: tuple[ServingPoint, ...]


def serving(s: Scenario, batches: tuple[int, ...] = (1, 4, 8, 16, 32, 64, 128)) -> LoraServing:
    """Adapter memory, ``--max-loras`` slots and the mixed-batch decode cost for ``s``'s model on
    ``s.deploy.hardware_id`` with the scenario's tensor parallel degree (auto: the fewest that hold the
    largest batch, else one sequence;
    adapters are split over the ranks as the weights are, so bandwidth and FLOPs scale with ``tp``).

    Base decode step: :func:`estimator.performance.estimate` (TPOT at the scenario's mean tokens);
    extra: :func:`mixed_batch_step_overhead_s` with ``D = min(E[distinct], max_loras)``. Batches that do not
    fit the memory are skipped.
    """
    from estimator import catalog, performance  # late: the catalog loads data/ into DuckDB
    from estimator.errors import EstimatorError

    model, hw, lo = catalog.get_model(s.model.model_id), catalog.get_hardware(s.deploy.hardware_id), s.lora
    context = s.tokens.input_mean + s.tokens.output_mean
    fit = memory.min_accelerators(model, hw, s.model.weight_dtype, s.model.kv_dtype, context, max(batches))
    if not fit.fits:
        fit = memory.min_accelerators(model, hw, s.model.weight_dtype, s.model.kv_dtype, context)
    tp = s.deploy.tp or max(1, fit.tp)
    points = []
    for b in batches:
        try:
            base = performance.estimate(model, hw, s.model.weight_dtype, b, s.tokens.input_mean,
                                        s.tokens.output_mean, tp, kv_dtype=s.model.kv_dtype).tpot_s
        except EstimatorError:
            continue
        d = expected_distinct_adapters(lo.adapters, b, lo.max_loras)
        extra = mixed_batch_step_overhead_s(model, lo.rank, lo.targets, d, b, tp * hw.memory_bandwidth_bytes_per_s,
                                            tp * hw.peak_flops_per_s("bf16"))
        points.append(ServingPoint(batch=b, distinct_adapters=d, base_tpot_s=base, extra_s=extra))
    a = adapter_bytes(model, lo.rank, lo.targets)
    return LoraServing(adapter_bytes=a, slot_bytes=slot_bytes(model, lo.rank, lo.targets, lo.max_loras),
                       host_bytes=a * lo.adapters, tp=tp, points=tuple(points))
