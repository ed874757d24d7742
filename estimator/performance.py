"""Inference performance on the roofline: TTFT, TPOT, end-to-end latency and throughput.

Each phase of serving runs at the slower of two ceilings (the roofline; Williams, Waterman &
Patterson 2009, "Roofline", CACM 52(4)), plus the time spent talking to other devices::

    t_phase = max(FLOPs / (peak x e_compute), bytes / (bandwidth x e_memory)) + t_comm + t_overhead

applied per kind of kernel and summed (linear layers against the weights, attention against the
KV cache, elementwise work against activation traffic), so a compute-bound GEMM cannot hide a
memory-bound attention kernel that runs after it.

- **Prefill** processes the whole prompt at once: ``2 P`` FLOPs per token for the matmuls plus
  the causal attention term, against one read of the weights: compute-bound at any real length.
- **Decode** produces one token per sequence per step: every step reads all the weights (for a
  mixture of experts, the experts the batch routes to) and the whole KV cache, for ``2 P`` FLOPs per
  sequence: memory-bound at small batch, compute-bound only at very large batch
  (Pope et al. 2022, "Efficiently Scaling Transformer Inference", arXiv:2211.05102, §2-3).
- **Tensor parallel** ``t`` splits FLOPs, weights and KV heads ``t`` ways and adds two ring
  all-reduces per layer (Megatron-LM, Shoeybi et al. 2019 arXiv:1909.08053 §3; ring all-reduce
  ``2 (t-1)/t x bytes / bandwidth + latency``, Patarasuk & Yuan 2009).
- **Pipeline parallel** ``p`` splits the layers; a batch is cut into ``m = min(B, p)`` micro-batches
  and prefill pays the bubble ``(m + p - 1) / m`` (GPipe, Huang et al. 2019 arXiv:1811.06965 §2).
- **Continuous batching** (Orca, Yu et al. OSDI 2022; vLLM, Kwon et al. 2023 arXiv:2309.06180)
  mixes one prefill per finishing sequence into the decode iterations; ``max_throughput`` models
  that steady state.

All times are seconds, sizes bytes, rates per second. Every function that takes a batch or a
token count also takes numpy arrays through :func:`estimate_arrays` (1M configurations in well
under a second). The efficiency factors are fitted to published measurements
(``data/measurements.csv``; :func:`calibration_table`) and can be overridden with
:class:`Efficiency`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from estimator import memory
from estimator.errors import DoesNotFitError, EstimatorError, InvalidInputError
from estimator.specs import Architecture, AttentionKind, HardwareSpec, ModelSpec
from estimator.units import BLOCK_SCALED_FP4, KV_DTYPES, DType

__all__ = [
    "COMPUTE_EFFICIENCY",
    "LOW_PRECISION_COMPUTE_FACTOR",
    "LOW_PRECISION_COMPUTE_DTYPES",
    "MEMORY_EFFICIENCY",
    "STEP_OVERHEAD_S",
    "PREFILL_OVERHEAD_S",
    "COMMUNICATION_EFFICIENCY",
    "MOE_GEMM_EFFICIENCY",
    "LINK_LATENCY_S",
    "LINK_LATENCY_RATIO",
    "ACTIVATION_BYTES",
    "MAX_BATCH_CAP",
    "PREFILL_CHUNK_TOKENS",
    "BOUNDS",
    "Efficiency",
    "PerformanceEstimate",
    "ThroughputEstimate",
    "estimate",
    "estimate_arrays",
    "estimate_frame",
    "steady_state_arrays",
    "max_throughput",
    "max_batch_attention_dp",
    "expected_distinct_experts",
    "allreduce_time_s",
    "link_for",
    "load_measurements",
    "predict_measurements",
    "calibration_table",
    "calibration_summary",
    "fit_efficiency",
    "fit_prepared",
    "shrink_efficiency",
    "prepare_measurements",
    "predict_prepared",
    "skip_reason",
    "vendor_family",
    "calibration_family",
    "BLACKWELL_DATACENTER",
    "BLACKWELL_FAMILY",
    "calibration_for",
    "calibration_cells",
    "efficiency_for",
    "prediction_range",
    "TIME_METRICS",
    "SHRINK_POINTS",
    "ROBUST_DELTA",
    "CellCalibration",
    "PreparedMeasurements",
]

FloatArray = npt.NDArray[np.float64]

# ---------------------------------------------------------------- fitted and assumed constants

COMPUTE_EFFICIENCY: float = 0.67
"""Fraction of the dense 16-bit peak FLOP/s the matmuls and attention sustain.

Fitted, with :data:`LOW_PRECISION_COMPUTE_FACTOR`, :data:`MEMORY_EFFICIENCY`,
:data:`STEP_OVERHEAD_S`, :data:`PREFILL_OVERHEAD_S` and :data:`LINK_LATENCY_S`, by
:func:`fit_efficiency`: Nelder-Mead minimizing the mean squared ``ln(predicted / measured)`` over
the 40 scored rows ``data/measurements.csv`` held before issue 12 (the set has grown since; the
engine x vendor factors fitted on all of it are :func:`efficiency_for`, and these constants remain
the fallback) (TensorRT-LLM 0.5/0.6.1/0.14/0.17 performance
tables, NVIDIA NIM 1.8, LMDeploy 0.1, MLPerf Inference v4.1 closed results of NVIDIA and AMD, two
vLLM write-ups; six accelerators, six models, each row with its source). The fit converges to the
same point from different starts (0.668, 0.850, 0.752, 0.65 ms, 7.1 ms, 37 us); the defaults are
those values rounded. Result: median |error| 6.4%, worst 48% (1.48x), all within 2x
(:func:`calibration_summary`); refitting with each source family left out and predicting it
gives a held-out median of 10% and worst of 57%. Cross-check: 0.67 x 312 TFLOP/s is what Llama-2-7B prefill
reaches on A100 in the TensorRT-LLM first-token latencies."""

LOW_PRECISION_COMPUTE_FACTOR: float = 0.85
"""Multiplier on :data:`COMPUTE_EFFICIENCY` when the matmuls run in fp8/int8 (fitted as above).

8-bit tensor cores double the peak but the non-GEMM work (softmax, norms, sampling,
quantize/dequantize) does not speed up, so the achieved fraction of the 8-bit peak is lower.
FP4 matmuls take the same factor: an assumption (no FP4 rows in ``data/measurements.csv``); the
same reason applies with a peak twice as high again."""

MEMORY_EFFICIENCY: float = 0.75
"""Fraction of the HBM/GDDR bandwidth that kernels sustain streaming weights, KV cache and
activations (fitted as above; bandwidth-test copies reach 85-92% of the datasheet figure, and
decode kernels with their launch gaps and paged KV reads fall below that).

Why the KV-cache reads share this efficiency with the weights (issue 12, 2026-11-30 refits on sha256
d357e096..., ``bench/fit_performance.py``). A paged KV cache is read as scattered blocks through a block table:
the vLLM paper (Kwon et al. 2023, SOSP, arXiv:2309.06180 §7.1, Fig. 18a) measures its PagedAttention kernel at
20-26% higher latency than FasterTransformer's contiguous one (block-table reads, extra branches, variable
lengths), and FlashInfer's README (flashinfer-ai/flashinfer, "vector-sparse attention can achieve 90% of the
bandwidth of dense kernels with same problem size") puts paged reads at 0.9 of dense. Tried: a factor ``e_kv``
on the attention's KV bytes only, ``max(F_attention / peak, KV / (bw e_kv))``. (a) One global constant fitted
with the others and held in every cell like :data:`MOE_GEMM_EFFICIENCY`: the fit puts it at its bound, 1.000
(also in the leave-one-source-out folds), because the 102 TensorRT-LLM points want their KV reads no slower
than their weights (in-sample loss of that cell 0.0408 at 1, 0.0418 at 0.8, 0.0853 at 0.4) while the vLLM and
SGLang cells want it lower (vLLM-AMD 0.0686 at 1, 0.0515 at 0.4); the model is then unchanged (LOSO all
points 18.7% against 19.4%, worst 2.4841x against 2.4835x: the fits' paths, not the factor). (b) Fitted per
engine x vendor cell and shrunk (log coordinate, toward the global 1): vLLM-AMD 0.34, SGLang-AMD 0.35, vLLM-
NVIDIA 0.54, TensorRT-LLM 0.77 (its memory fraction then 0.98): all 18.3%, but worst 2.55x, SGLang 31.8% ->
40.9%, MoE 23.3% -> 26.0%. (c) Held at 0.8 (the vLLM paper's 1/1.20-1/1.26) in every fit: all 19.2%, worst
2.46x, but SGLang 31.8% -> 34.1%, coverage 81% -> 79%, and TensorRT-LLM's memory fraction goes to 0.998 of the
datasheet bandwidth. None was kept."""

STEP_OVERHEAD_S: float = 0.58e-3
"""Fixed time per decode iteration (seconds): launches not hidden by CUDA graphs, scheduling,
sampling and detokenization (fitted as above; 0.65 ms before device memory was taken as the device
reports it, which changed the batch of the max-throughput rows; refit 2026-11-29)."""

PREFILL_OVERHEAD_S: float = 7.1e-3
"""Fixed time per prefill (seconds): request admission, the first forward's launches and, in
served figures, the HTTP/gRPC round trip (fitted as above; TensorRT-LLM 0.5 lists 7 ms first-token
latency for a 128-token Llama prompt on H100, which is almost all overhead)."""

SEQUENCE_OVERHEAD_S: float = 10e-6
"""Host time per sequence in flight per decode iteration (seconds): the part of each iteration
that grows with the batch, not with the model: scheduling (block tables, slot mappings),
preparing the step's inputs, sampling bookkeeping, detokenizing and streaming each sequence's
token. The vLLM v0.6.0 performance update (vLLM blog, 2024-09-05, "Performance Diagnosis") profiles
Llama 3 8B on one H100 and finds the HTTP API server 33% and scheduling 29% of the total execution
time, the GPU idle meanwhile; the cost is per request, so it scales with the batch.

Assumed value, 10 us, chosen on the data and not per row: of 0, 2, 5, 10, 20 and 40 us, the one
whose global pseudo-Huber refit over all 174 scored points of ``data/measurements.csv`` has the
lowest loss (0.170 at 0, 0.159 at 10 us); leaving it out drags the fitted memory efficiency to 0.40
(batch-1 rows then come out 1.5x too slow) because the large-batch rows need the time somewhere.
It is applied by the engine x vendor calibration (:func:`efficiency_for`, ``bench/fit_performance.py``);
:class:`Efficiency`'s default is 0 because the fallback constants above were fitted without it.

Why one assumed value for every engine (issue 12, 2026-11-30 refits on sha256 d357e096...). The host cost per
sequence differs by runtime: vLLM's V0 engine does it in Python between GPU steps (the blog above); SGLang 0.4
overlaps it with the GPU ("zero-overhead batch scheduler": the CPU prepares batch n+1 while the GPU runs batch
n; lmsys.org/blog/2024-12-04-sglang-v0-4, Nsight trace with no GPU idle between decode batches); TensorRT-LLM
schedules in its C++ executor (batch manager, docs "Executor API") and, in the PyTorch backend, overlaps the
same work ("Overlap Scheduler", nvidia.github.io/TensorRT-LLM/features/overlap-scheduler.html). Fitting it
(one more log-coordinate constant, ``bench/fit_performance.py`` experiment) did not help held out. Per engine
x vendor cell, shrunk like the others: global 7.4 +- 1.6 us, TensorRT-LLM 8.5 +- 1.4, vLLM-AMD 24 +- 6,
vLLM-NVIDIA 40 +- 14, SGLang-NVIDIA 0.07 us. Leave-one-source-out median |error| went from 19.4% to 21.0% (all
159 points), worst from 2.48x to 2.85x, 80% range coverage 81% to 79%; vLLM 30.9% -> 28.2% and AMD 33.1% ->
26.9% better, SGLang 31.8% -> 32.8% and dense models 18.6% -> 19.6% worse. Per engine (pooled over vendors,
shrunk by its points; cells keep it): all 22.2%, worst 2.33x, coverage 78%, vLLM 25.2%, AMD 22.6%, but SGLang
33.9% and MoE 25.9% against 23.3%. Global only: all 21.1%, worst 2.62x. In the vLLM cells only (the runtime
whose host work the blog measured; the others held at 10 us): all 19.2%, worst 2.48x, coverage 81%, vLLM 30.9%
-> 24.7%, AMD 33.1% -> 24.8%, SGLang and TensorRT-LLM unchanged, dense 18.4%, but MoE 23.7% against 23.3%, and
the 8-point vLLM-NVIDIA cell moved to another optimum (compute 0.31, prefill overhead 166 ms, per-sequence 0.2
us, from 0.78 and 0.5 ms): the app's default plan (vLLM on NVIDIA) would show a TTFT of 406 ms instead of 104
ms. None was kept.

Where vLLM and SGLang come out too fast at large batch held out: vLLM 0.9-0.10 on MI300X with Llama 3.1
70B/405B at 1500-3200 sequences (AMD's tables, 1.15-1.73x), which the per-cell constant did bring closer
(1.47x -> 1.27x at best), and DeepSeek-R1 at concurrency 128 and batch 256 (dstack, 3200/800 tokens,
throughput 1.2-2.5x), which it did not: there the published TPOT grows 0.37-0.81 ms per added sequence between
concurrency 4 and 128 against 0.30-0.44 ms in the model, a gap of 50-513 us per sequence, 5-51x this constant:
more likely the DeepSeek-R1 (MLA) decode and prefill of those early-2025 stacks than host work (which SGLang
hides), and a per-sequence constant that large would slow every dense large-batch row."""

MOE_GEMM_EFFICIENCY: float = 0.33
"""Efficiency of the routed experts' grouped GEMMs relative to dense GEMMs (fraction, applied to the
expert FLOPs and expert weight bytes only: :func:`_moe_gemm_work`).

A fused-MoE layer does not run one large GEMM: it permutes the tokens by expert, launches a grouped
GEMM over many small, uneven per-expert shapes, and gathers and accumulates the routed outputs, so
at the same FLOPs and bytes it reaches a lower fraction of the ceilings than a dense GEMM. The
TensorRT-LLM team's "MoE as Dense GEMM" tech blog (nvidia.github.io/TensorRT-LLM/latest/blogs/
tech_blog/blog24_MoE_as_Dense_GEMM.html, Blackwell NVFP4): routed experts are "still largely memory-bound, while grouped-GEMM
execution pays overheads from small per-expert shapes, expert scheduling, input permutation, and
routed-output accumulation" (running all experts densely, with more FLOPs, is up to 1.12x faster at
64-208 tokens); Gale et al. 2023, MegaBlocks (MLSys, arXiv:2211.15841 §3), on why uneven
per-expert token counts do not map onto one dense batched GEMM (padding or dropped tokens).

Fitted: the ``moe_gemm`` of the global pseudo-Huber refit over all 159 scored points of
``data/measurements.csv`` (``bench/fit_performance.py``, 2026-11-29, sha256 d357e096...: 0.332,
standard error 0.028, 70 MoE points from 6 sources), rounded. It is the one constant the
calibration adds for MoE models, the same in every engine x vendor cell (the cells refit the rest:
``bench/fit_performance.py`` ``CELL_FIXED``); with it the global refit's compute and memory fractions
(0.64, 0.73) come back near this module's defaults (0.67, 0.75) instead of being dragged to 0.49
memory by the MoE rows, and the leave-one-source-out median error of all points goes from 25.4% to
19.4% (MoE points 36.7% to 23.3%), the share within 1.5x from 72% to 83%. A dense model has no
routed experts and is unaffected.

Where it applies: every engine x vendor cell (:func:`efficiency_for`, the calibration CSV) carries
it; the fallback :class:`Efficiency` defaults keep ``moe_gemm = 1``, because they are the fit of
:data:`COMPUTE_EFFICIENCY` on 40 rows made without it (3 of them Mixtral), and this factor is carried
by DeepSeek-R1, gpt-oss and Qwen3 rows: the 3 Mixtral-8x7B TensorRT-LLM rows go from 0.74-0.98x to
0.51-0.67x of their measured throughput with it, and no scored MoE row is at batch 1 (the smallest
is 4 concurrent requests), so applying it to a batch-1 decode (2.5x the TPOT of Mixtral on an H200)
is an extrapolation. An estimate that wants it passes ``Efficiency(moe_gemm=MOE_GEMM_EFFICIENCY)``.

Why one constant and not a function of the step's shape (issue 12, 2026-11-30 refits on sha256 d357e096...,
``bench/fit_performance.py`` with one more fitted constant ``m_half``, held fixed per cell like this one): with
``m = tokens x k / E_distinct`` tokens per active expert, (a) the expert compute at ``e m / (m + m_half)``
(``F_eff = F_linear + F_experts (1/e - 1) + E_distinct 2 P_expert m_half / e``, weights at ``e``; fitted
``m_half`` = 12 tokens) and (b) the expert weights at ``e``, the expert compute at the dense efficiency times
``m / (m + m_half)`` (a padded block per active expert: DeepGEMM's contiguous layout aligns each expert's rows
to the GEMM M block, and its README (github.com/deepseek-ai/DeepGEMM, 2025 release, "Performance": FP8 on H800)
lists a masked grouped GEMM of N x K = 4096 x 7168 at 932, 1040 and 1233
TFLOPS at 256, 512 and 1024 rows per expert against 1304 dense at M = 4096, i.e. ``m_half`` ~ 60-140; fitted 181) both
scored worse held out: all points' median 19.4% (a) and 20.0% (b) against 19.4%, worst 2.53x and 2.59x against
2.48x, MoE points 25.3% and 24.6% against 23.3%, range coverage 81% and 77% against 81% (dense points 18.4%
and 17.5% against 18.6%). In-sample, applying the shape to the weight reads too, or splitting this factor into
constant compute and weight factors, fitted no better (global pseudo-Huber loss at best 0.0610 against 0.0613).
The largest MoE misses (DeepSeek-R1 at concurrency 128 on vLLM 0.7 / SGLang 0.4, 2x too fast) are not the
expert GEMMs' shape: the same runs' decode TPOT is predicted within 0.60-1.13x; their throughput is lost
outside the decode step (prefill)."""

COMMUNICATION_EFFICIENCY: float = 0.70
"""Fraction of one direction of the link bandwidth a ring all-reduce sustains (assumed: NCCL
``all_reduce_perf`` bus bandwidth is typically 70-85% of the per-direction link rate; the
bandwidth term is small next to the latency term at decode message sizes, so it is not fitted)."""

LINK_LATENCY_S: float = 37e-6
"""Effective time of one small all-reduce over NVLink (seconds), fitted as above. Larger than
NCCL's bare small-message latency (~10-25 us) because it also absorbs the launch, synchronization
and smaller-GEMM losses each tensor-parallel layer adds; other links scale it by
:data:`LINK_LATENCY_RATIO`."""

LINK_LATENCY_RATIO: dict[str, float] = {
    "nvlink": 1.0,
    "fabric": 1.25,
    "pcie": 3.0,
    "network": 5.0,
    "none": 3.0,
}
"""Latency of each link kind relative to NVLink (assumed, order of magnitude: peer-to-peer over
PCIe switches and host bridges, then NICs and switches for InfiniBand/RoCE/EFA)."""

ACTIVATION_BYTES: float = 2.0
"""Bytes per activation element exchanged between devices (16-bit activations)."""

MAX_BATCH_CAP: int = 4096
"""Default upper bound on concurrent sequences per replica in :func:`max_throughput` (the runtime
batch limit TensorRT-LLM's ``trtllm-bench`` prints, "Max Runtime Batch Size: 4096"; vLLM's
``max_num_seqs`` default is lower, 256; override per call)."""

PREFILL_CHUNK_TOKENS: int = memory.PREFILL_CHUNK_TOKENS
"""Tokens one continuous-batching iteration processes at most ("Max Runtime Tokens: 8192" in
TensorRT-LLM; ``max_num_batched_tokens`` in vLLM); sets how many iterations a prompt's prefill
spans in the steady-state TTFT (Agrawal et al. 2024, Sarathi-Serve, arXiv:2403.02310)."""

BOUNDS: tuple[str, ...] = ("compute", "memory bandwidth", "communication", "overhead")
"""Names of the codes in ``*_bound`` arrays: which term of a phase's time is largest."""

LOW_PRECISION_COMPUTE_DTYPES: frozenset[DType] = frozenset({DType.FP8, DType.INT8, DType.INT4, DType.FP4})
"""Compute formats whose matmuls take :data:`LOW_PRECISION_COMPUTE_FACTOR`."""
_LOW_PRECISION = LOW_PRECISION_COMPUTE_DTYPES


class Efficiency(BaseModel):
    """Achieved fractions of the hardware ceilings and fixed overheads (all overridable).

    Defaults are the fitted constants of this module; see each constant's docstring.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    compute: float = Field(default=COMPUTE_EFFICIENCY, gt=0, le=1, description="of 16-bit dense peak")
    low_precision_compute: float = Field(
        default=LOW_PRECISION_COMPUTE_FACTOR, gt=0, le=1, description="multiplier for fp8/int8/fp4 matmuls"
    )
    memory: float = Field(default=MEMORY_EFFICIENCY, gt=0, le=1, description="of memory bandwidth")
    communication: float = Field(default=COMMUNICATION_EFFICIENCY, gt=0, le=1, description="of link bandwidth")
    step_overhead_s: float = Field(default=STEP_OVERHEAD_S, ge=0, le=1)
    sequence_overhead_s: float = Field(
        default=0.0, ge=0, le=1e-3, description="per sequence in flight per decode iteration (SEQUENCE_OVERHEAD_S)"
    )
    prefill_overhead_s: float = Field(default=PREFILL_OVERHEAD_S, ge=0, le=10)
    link_latency_s: float = Field(
        default=LINK_LATENCY_S, ge=0, le=1, description="per all-reduce over NVLink; other links scale it"
    )
    moe_gemm: float = Field(
        default=1.0, gt=0, le=1,
        description="routed experts' grouped GEMMs, as a fraction of the dense GEMMs' compute and memory efficiency "
        "(1 in the fallback constants, fitted without it; MOE_GEMM_EFFICIENCY in the engine x vendor cells)",
    )


# ---------------------------------------------------------------- features


@dataclass(frozen=True)
class _ModelFeatures:
    """Per-model quantities the vectorized core needs (floats or arrays, SI units)."""

    n_layers: Any
    d_model: Any
    body_flops_per_token: Any  # 2 x active parameters outside embeddings and LM head
    head_flops_per_token: Any  # 2 x V x d (LM head, once per sequence in prefill)
    attn_flops_per_ctx_token: Any  # FLOPs per (query token, cached token) pair, all layers
    window: Any  # sliding window (inf where none)
    window_share: Any  # share of the layers that attend within the window (1.0: all; hybrids less)
    dense_read_bytes: Any  # weights read every step whatever the routing
    expert_bytes: Any  # one routed expert over all MoE layers
    expert_flops_per_token: Any  # 2 x parameters of the k routed experts a token visits, all MoE layers (0: dense)
    n_experts: Any
    k_active: Any
    kv_bytes_per_token: Any  # whole model
    kv_share_numer: Any  # KV heads (for the share one TP rank holds); 0 for MLA (replicated)
    act_bytes_per_token: Any  # activations written and read back, all layers
    logits_bytes_per_token: Any  # fp32 logits written and read by sampling


@dataclass(frozen=True)
class _HardwareFeatures:
    peak_flops_per_s: Any
    low_precision: Any  # 1.0 where the matmuls run in 8 bits or less, else 0.0
    bandwidth_bytes_per_s: Any
    intra_link_bytes_per_s: Any  # one direction
    inter_link_bytes_per_s: Any  # one direction, per device
    intra_latency_ratio: Any
    inter_latency_ratio: Any
    max_per_node: Any


def _resolve_model(model: ModelSpec | str) -> ModelSpec:
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, str):
        from estimator import catalog

        return catalog.get_model(model)
    raise InvalidInputError(f"model must be a ModelSpec or a catalog id, got {type(model).__name__}")


def _resolve_hardware(hardware: HardwareSpec | str) -> HardwareSpec:
    if isinstance(hardware, HardwareSpec):
        return hardware
    if isinstance(hardware, str):
        from estimator import catalog

        return catalog.get_hardware(hardware)
    raise InvalidInputError(f"hardware must be a HardwareSpec or a catalog id, got {type(hardware).__name__}")


def _dtype(value: DType | str, what: str) -> DType:
    try:
        return DType(value)
    except ValueError:
        raise InvalidInputError(
            f"unknown {what} {value!r}; choose one of {', '.join(d.value for d in DType)}"
        ) from None


def default_kv_dtype(dtype: DType | str) -> DType:
    """KV-cache format that goes with weights in ``dtype`` unless the caller says otherwise.

    16/32-bit and fp8 weights keep the KV cache in the same format (TensorRT-LLM sets an FP8 KV
    cache with FP8 quantization); quantized weights (int8/int4, GGUF, nvfp4/mxfp4) keep a 16-bit
    cache unless the caller chooses fp8 (``kv_dtype="fp8"``).
    """
    d = _dtype(dtype, "dtype")
    return DType.FP16 if d in memory.WEIGHT_ONLY_DTYPES or d not in KV_DTYPES else d


def default_compute_dtype(hardware: HardwareSpec, dtype: DType | str) -> DType:
    """Format the matmuls run in, for weights stored in ``dtype``.

    - fp32/bf16/fp16/fp8: the weights' own format (native compute).
    - nvfp4/mxfp4: ``fp4`` where the hardware has FP4 tensor cores (``hardware.supports("fp4")``:
      Blackwell, MI355X; W4A4 as TensorRT Model Optimizer's ``NVFP4_DEFAULT_CFG`` quantizes
      inputs too); elsewhere weight-only: dequantized to bf16 (fp16 where bf16 is missing), as
      vLLM's FP4 Marlin kernels run them on Ampere and Hopper.
    - int8/int4 and the GGUF formats (q4_k_m, q5_k_m, q8_0): weight-only, dequantized to bf16
      (fp16 where bf16 is missing). llama.cpp's CUDA MMQ kernels multiply GGUF weights against
      int8-quantized activations; modelling them in 16 bit is conservative for prefill only
      (decode is bandwidth-bound).

    W8A8/W4A8 integer compute can be chosen explicitly (``compute_dtype="int8"``) where the
    hardware has it.
    """
    d = _dtype(dtype, "dtype")
    if d in BLOCK_SCALED_FP4 and hardware.supports(DType.FP4):
        return DType.FP4
    if d in memory.WEIGHT_ONLY_DTYPES:
        return DType.BF16 if hardware.supports(DType.BF16) else DType.FP16
    return d


def _link_kind(name: str) -> str:
    n = name.lower()
    if "nvlink" in n:
        return "nvlink"
    if any(k in n for k in ("infinity", "ici", "neuronlink", "xgmi")):
        return "fabric"
    if "pcie" in n:
        return "pcie"
    if any(k in n for k in ("roce", "infiniband", "ethernet", "efa")):
        return "network"
    return "none"


def link_for(
    hardware: HardwareSpec, devices: int, latency_s: float = LINK_LATENCY_S
) -> tuple[float, float, str]:
    """Per-direction bandwidth (bytes/s), latency (s) and name of the link ``devices`` share.

    Within one node (``devices <= max_per_node``) the intra-node link; beyond it the slowest hop
    of the ring is the per-device network share. The catalog's intra-node figure is a
    bidirectional aggregate (NVLink 4: 900 GB/s, NVIDIA H100 datasheet), and a ring all-reduce is
    bounded by one direction: half of it. Its inter-node figure is already one direction: the NIC
    line rate per GPU (``data/hardware.csv`` ``inter_node_gbps``, H100: 3200 Gb/s EFA / 8 GPUs =
    400 Gb/s = 50 GB/s each way on a full-duplex link), so it is used as is.
    """
    if devices <= hardware.max_per_node:
        kind = _link_kind(hardware.intra_node_link)
        bw = hardware.intra_node_bandwidth_bytes_per_s / 2.0
        return bw, latency_s * LINK_LATENCY_RATIO[kind], hardware.intra_node_link
    return (hardware.inter_node_bandwidth_bytes_per_s, latency_s * LINK_LATENCY_RATIO["network"],
            "network")


def _model_features(model: ModelSpec, dtype: DType, kv_dtype: DType) -> _ModelFeatures:
    return _model_features_cached(model, dtype, kv_dtype)


@lru_cache(maxsize=512)
def _model_features_cached(model: ModelSpec, dtype: DType, kv_dtype: DType) -> _ModelFeatures:
    v, d = float(model.vocab_size), float(model.d_model)
    emb_params = v * d * (1.0 if model.tied_embeddings else 2.0)
    body_params = max(model.params_active - emb_params, 0.0)
    weights = memory.weights_bytes(model, dtype)
    emb_elem = memory.embedding_bytes_per_param(dtype)
    emb_bytes_total = emb_params * emb_elem
    # The input embedding is gathered row by row, not streamed; a tied table is the LM head.
    read_bytes = weights - (0.0 if model.tied_embeddings else v * d * emb_elem)
    n_experts = float(model.n_experts)
    expert_bytes = expert_flops = 0.0
    if model.is_moe:
        body_total = max(model.params_total - emb_params, 1.0)
        bytes_per_param = (weights - emb_bytes_total) / body_total
        width = float(model.d_ff_expert or model.d_ff)
        moe_layers = max(model.n_layers - model.n_dense_layers, 0)
        expert_params = moe_layers * (3.0 if model.gated_mlp else 2.0) * d * width
        expert_bytes = expert_params * bytes_per_param
        expert_flops = min(2.0 * float(model.n_experts_active) * expert_params, 2.0 * body_params)
        expert_bytes = min(expert_bytes, max(read_bytes, 0.0) / n_experts)
    dense_read = max(read_bytes - n_experts * expert_bytes, 0.0)
    if model.attention == AttentionKind.MLA:
        # Absorbed MLA: scores over the latent plus RoPE key, values over the latent.
        d_qk = float(model.kv_lora_rank + model.qk_rope_head_dim)
        d_v = float(model.kv_lora_rank)
        share_numer = 0.0
    else:
        d_qk = d_v = float(model.head_dim)
        share_numer = float(model.n_kv_heads)
    layers = float(model.total_layers if model.architecture == Architecture.ENCODER_DECODER else model.n_layers)
    q = float(model.n_heads * model.head_dim)
    kvw = float(model.n_kv_heads * model.head_dim)
    ffn = float((model.d_ff_expert or model.d_ff) * (model.n_experts_active + model.n_shared_experts)
                if model.is_moe else model.d_ff)
    # Per layer: residual + norm (2d), q/k/v (q + 2 kv), MLP gate/up (2f if gated) and output;
    # each written once and read once in 16-bit (the working set of memory.inference_activation_bytes).
    act = layers * (2.0 * d + q + 2.0 * kvw + (2.0 if model.gated_mlp else 1.0) * ffn + ffn) * ACTIVATION_BYTES * 2.0
    act += moe_dispatch_bytes_per_token(model)
    return _ModelFeatures(
        n_layers=layers,
        d_model=d,
        body_flops_per_token=2.0 * body_params,
        head_flops_per_token=2.0 * v * d,
        attn_flops_per_ctx_token=2.0 * model.n_heads * (d_qk + d_v) * layers,
        window=float(model.sliding_window) if model.sliding_window > 0 else math.inf,
        window_share=(model.n_sliding_layers / model.n_layers) if model.n_sliding_layers else 1.0,
        dense_read_bytes=dense_read,
        expert_bytes=expert_bytes,
        expert_flops_per_token=expert_flops,
        n_experts=n_experts,
        k_active=float(model.n_experts_active),
        kv_bytes_per_token=memory.kv_cache_bytes_per_token(model, kv_dtype),
        kv_share_numer=share_numer,
        act_bytes_per_token=act,
        logits_bytes_per_token=v * 4.0 * 2.0,
    )


def _hardware_features(hardware: HardwareSpec, compute_dtype: DType) -> _HardwareFeatures:
    intra_kind = _link_kind(hardware.intra_node_link)
    return _HardwareFeatures(
        peak_flops_per_s=hardware.peak_flops_per_s(compute_dtype),
        low_precision=1.0 if compute_dtype in _LOW_PRECISION else 0.0,
        bandwidth_bytes_per_s=hardware.memory_bandwidth_bytes_per_s,
        intra_link_bytes_per_s=hardware.intra_node_bandwidth_bytes_per_s / 2.0,
        inter_link_bytes_per_s=hardware.inter_node_bandwidth_bytes_per_s,  # already per direction (link_for)
        intra_latency_ratio=LINK_LATENCY_RATIO[intra_kind],
        inter_latency_ratio=LINK_LATENCY_RATIO["network"],
        max_per_node=float(hardware.max_per_node),
    )


# ---------------------------------------------------------------- vectorized physics


def expected_distinct_experts(n_experts: npt.ArrayLike, k_active: npt.ArrayLike, tokens: npt.ArrayLike) -> Any:
    """Expected number of distinct experts a layer reads for ``tokens`` routed tokens.

    Notes
    -----
    With ``E`` experts, ``k`` chosen per token and routing treated as uniform and independent,
    an expert is missed by one token with probability ``1 - k/E``, hence::

        E_distinct(T) = E (1 - (1 - k/E)^T)

    One token reads ``k`` experts; a large batch reads all ``E``. Units: experts.

    >>> float(expected_distinct_experts(8, 2, 1))
    2.0
    >>> round(float(expected_distinct_experts(8, 2, 64)), 3)
    8.0
    """
    e = np.asarray(n_experts, dtype=float)
    k = np.asarray(k_active, dtype=float)
    t = np.asarray(tokens, dtype=float)
    with np.errstate(divide="ignore"):
        miss = np.where(e > 1, np.exp(t * np.log1p(-np.minimum(k / e, 1.0) + 0.0 * t)), 0.0)
    out = np.where(e > 1, e * (1.0 - miss), np.minimum(e, 1.0))
    return out


def moe_dispatch_bytes_per_token(model: ModelSpec) -> float:
    """Memory traffic of routing one token's hidden state to its experts and back, all MoE layers.

    Notes
    -----
    A routed MoE layer does not multiply the hidden state in place: it first *permutes* (dispatches)
    each token's ``d``-vector into the contiguous block of each of its ``k`` experts, runs the grouped
    GEMMs on those blocks, and then *un-permutes* (combines) the ``k`` expert outputs, each a
    ``d``-vector, into their weighted sum (Gale et al. 2022, MegaBlocks, arXiv:2211.15841 §3,
    Fig. 3 "permute"/"un-permute"; vLLM's ``fused_moe`` and DeepSeek's DeepEP call the two steps
    dispatch and combine). Each step writes ``k d`` elements and reads them back, so per token::

        bytes = L_moe x 2 (dispatch, combine) x 2 (write, read) x k x d x 2 B

    with ``L_moe = n_layers - n_dense_layers`` and 16-bit activations (:data:`ACTIVATION_BYTES`).
    Zero for a dense model. It is elementwise traffic at the memory bandwidth, like the rest of
    ``act_bytes_per_token``; it grows with ``k`` and not with the expert width, so it weighs most
    on fine-grained MoE (many small experts, large ``k``). Units: bytes per token.

    gpt-oss-120b (36 MoE layers, top-4, d = 2880): 36 x 4 x 4 x 2880 x 2 B = 3.3 MB per token,
    half again its other activation traffic:

    >>> moe_dispatch_bytes_per_token(_resolve_model("gpt-oss-120b"))
    3317760.0
    """
    if not model.is_moe:
        return 0.0
    moe_layers = float(max(model.n_layers - model.n_dense_layers, 0))
    return moe_layers * 2.0 * 2.0 * float(model.n_experts_active) * float(model.d_model) * ACTIVATION_BYTES


def allreduce_time_s(
    n_bytes: npt.ArrayLike, devices: npt.ArrayLike, link_bytes_per_s: npt.ArrayLike,
    latency_s: npt.ArrayLike, efficiency: float = COMMUNICATION_EFFICIENCY,
) -> Any:
    """Ring all-reduce time of ``n_bytes`` over ``devices`` ranks.

    Notes
    -----
    ``t = 2 (n-1)/n x bytes / (b_link x e) + latency`` (Patarasuk & Yuan 2009; the cost model
    Megatron-LM, Shoeybi et al. 2019, uses for its two all-reduces per layer). Zero for one
    device. Units: seconds.

    >>> round(float(allreduce_time_s(1e9, 2, 450e9, 0.0, 1.0)), 6)
    0.002222
    """
    n = np.asarray(devices, dtype=float)
    b = np.asarray(n_bytes, dtype=float)
    bw = np.asarray(link_bytes_per_s, dtype=float) * efficiency
    with np.errstate(divide="ignore", invalid="ignore"):
        t = 2.0 * (n - 1.0) / n * b / bw + np.asarray(latency_s, dtype=float)
    return np.where(n > 1, t, 0.0)


@dataclass(frozen=True)
class _Ops:
    """Elementwise helpers of one backend: numpy for arrays, builtins for Python floats.

    Both backends evaluate the same IEEE-754 double operations in the same order, so a scalar
    :func:`estimate` and the same configuration inside :func:`estimate_arrays` agree to the last bit;
    the float backend only skips numpy's per-call overhead. :data:`_NP_FINITE` selects with products
    instead of ``np.where`` (the same doubles wherever the selected values are finite, which
    :func:`_evaluation` checks).
    """

    minimum: Callable[[Any, Any], Any]
    maximum: Callable[[Any, Any], Any]
    where: Callable[[Any, Any, Any], Any]
    any: Callable[[Any], bool]
    keep: Callable[[Any, Any], Any]  # x where cond, else 0.0
    drop: Callable[[Any, Any], Any]  # 0.0 where cond, else x


def _pick(cond: Any, a: Any, b: Any) -> Any:
    return a if cond else b


def _keep_py(cond: Any, x: Any) -> Any:
    return x if cond else 0.0


def _drop_py(cond: Any, x: Any) -> Any:
    return 0.0 if cond else x


def _keep_np(cond: Any, x: Any) -> Any:
    return np.where(cond, x, 0.0)


def _drop_np(cond: Any, x: Any) -> Any:
    return np.where(cond, 0.0, x)


def _keep_finite(cond: Any, x: Any) -> Any:
    """``x * cond``: the same doubles as ``where(cond, x, 0.0)`` for finite ``x >= 0``, at half the cost."""
    return np.multiply(x, cond)


def _drop_finite(cond: Any, x: Any) -> Any:
    return np.multiply(x, np.logical_not(cond))


_NP = _Ops(np.minimum, np.maximum, np.where, np.any, _keep_np, _drop_np)
_PY = _Ops(min, max, _pick, bool, _keep_py, _drop_py)
_NP_FINITE = _Ops(np.minimum, np.maximum, np.where, np.any, _keep_finite, _drop_finite)
"""numpy with ``keep``/``drop`` as products with the mask: only for phases whose times all come out finite
(:meth:`_Evaluation.finite`); :func:`estimate_arrays` evaluates a chunk again with :data:`_NP` otherwise."""


def _causal_pairs(tokens: Any, window: Any, xp: _Ops = _NP, share: Any = 1.0) -> Any:
    """Sum over positions c = 1..T of min(c, W): the (query, key) pairs of causal attention.

    With a hybrid model (a share ``s`` of the layers windowed, the rest global, e.g. gpt-oss, Gemma 3,
    Llama 4: ``memory.kv_cached_tokens``) the layer average ``s P_W + (1 - s) P_inf``.
    Halving is written ``* 0.5``: the same double as ``/ 2.0`` (exact reciprocal), at the cost of a product.
    """
    t = tokens
    full = t * (t + 1.0) * 0.5
    if _no_window(window):  # W = inf: min(c, W) = c, and the (T - W) W term is exactly 0
        return full
    w = xp.minimum(window, t)
    banded = w * (w + 1.0) * 0.5 + (t - w) * w
    return banded if _all_layers(share) else share * banded + (1.0 - share) * full


def _no_window(window: Any) -> bool:
    if isinstance(window, float):  # (the usual case, without numpy's call overhead)
        return window == math.inf
    return np.ndim(window) == 0 and window == math.inf


def _cap_window(tokens: Any, window: Any, xp: _Ops, share: Any = 1.0) -> Any:
    """``min(tokens, window)``; the tokens themselves without a sliding window (the same values).

    Hybrid models: the layer average ``s min(T, W) + (1 - s) T`` (``memory.kv_cached_tokens``)."""
    if _no_window(window):
        return tokens
    capped = xp.minimum(tokens, window)
    return capped if _all_layers(share) else share * capped + (1.0 - share) * tokens


def _all_layers(share: Any) -> bool:
    """Whether every layer is windowed (a scalar 1.0: skip the blend, keeping the old arithmetic exactly)."""
    return isinstance(share, float) and share == 1.0


class _Phase:
    """Time of one phase, split by what limits each part (seconds), with its FLOPs and bytes.

    The per-device FLOPs and bytes and the two ceilings are computed when first asked for, so an
    evaluation that only wants latencies does not pay for them.
    """

    def __init__(self, lay: _Layout, compute_s: Any, memory_s: Any, comm_s: Any, overhead_s: Any,
                 scale: Any, flops_total: Any, bytes_total: Any) -> None:
        self.compute_s = compute_s  # kernels whose FLOPs ceiling is the larger
        self.memory_s = memory_s  # kernels whose bytes ceiling is the larger (incl. elementwise traffic)
        self.comm_s = comm_s
        self.overhead_s = overhead_s
        self._lay, self._scale = lay, scale
        self._flops, self._bytes = flops_total, bytes_total  # (lin, attn FLOPs), (W, A bytes, KV per device)

    @property
    def total_s(self) -> Any:
        return self.compute_s + self.memory_s + self.comm_s + self.overhead_s

    @cached_property
    def dev_flops(self) -> Any:
        """FLOPs per device over the whole model (all its stages)."""
        lin, attn = self._flops
        return _per_rank(lin + attn, self._lay)

    @cached_property
    def dev_bytes(self) -> Any:
        """Bytes per device over the whole model (all its stages)."""
        w_bytes, other_bytes, kv_dev = self._bytes
        return _per_rank(w_bytes + other_bytes, self._lay) + kv_dev

    @property
    def flops(self) -> Any:
        """FLOPs per device of one stage."""
        return self.dev_flops if self._lay.one_stage else self.dev_flops / self._lay.pp

    @property
    def bytes(self) -> Any:
        """Bytes per device of one stage."""
        return self.dev_bytes if self._lay.one_stage else self.dev_bytes / self._lay.pp

    @property
    def flops_ceiling_s(self) -> Any:
        """All FLOPs at the effective peak."""
        return _scaled(self.dev_flops / self._lay.peak, self._scale)

    @property
    def bytes_ceiling_s(self) -> Any:
        """All bytes at the effective bandwidth."""
        return _scaled(self.dev_bytes / self._lay.bw, self._scale)

    def bound(self, xp: _Ops = _NP) -> Any:
        """Code into :data:`BOUNDS` of the largest of the four parts (ties to the earlier)."""
        parts = (self.compute_s, self.memory_s, self.comm_s, self.overhead_s)
        if xp is _PY:
            return max(range(4), key=lambda k: (parts[k], -k))
        best = np.asarray(self.compute_s, dtype=float)
        shapes = [np.shape(p) for p in parts[1:]]
        same = all(s == best.shape or s == () for s in shapes)
        shape = best.shape if same else np.broadcast_shapes(best.shape, *shapes)
        first = 1
        if best.ndim and best.shape == shape == np.shape(self.memory_s):  # memory > compute: the code so far
            code = np.greater(self.memory_s, best).view(np.int8)
            best = np.maximum(best, self.memory_s)
            first = 2
        else:
            code = np.zeros(shape, dtype=np.int8)
        for k in range(first, 4):
            greater = np.greater(parts[k], best)
            if greater.any():
                # every code so far is below k: the larger of the two is k where greater, the code elsewhere
                code = np.maximum(code, greater.view(np.int8) * np.int8(k))
                if k < 3:
                    best = np.maximum(best, parts[k])
        return code


def _kv_share(f: _ModelFeatures, tp: Any, xp: _Ops = _NP) -> Any:
    """Fraction of the KV cache one tensor-parallel rank holds (replicated below one head)."""
    if np.ndim(f.kv_share_numer) == 0:
        kvh_s = float(f.kv_share_numer)
        if kvh_s <= 0:
            return 1.0
        return xp.maximum(kvh_s / tp, 1.0) / kvh_s
    kvh = np.asarray(f.kv_share_numer, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.maximum(kvh / tp, 1.0) / kvh
    return np.where(kvh > 0, share, 1.0)


def _links(h: _HardwareFeatures, tp: Any, pp: Any, eff: Efficiency, xp: _Ops = _NP) -> tuple[Any, Any, Any, Any]:
    """(TP link bw, TP latency, PP link bw, PP latency) per configuration."""
    devices = tp if np.ndim(pp) == 0 and pp == 1 else tp * pp
    if np.ndim(h.max_per_node) == 0 and (devices <= h.max_per_node if xp is _PY else _within(devices, h.max_per_node)):
        return _intra_links(h, eff)
    tp_inter = tp > h.max_per_node
    pp_inter = tp * pp > h.max_per_node
    tp_bw = xp.where(tp_inter, h.inter_link_bytes_per_s, h.intra_link_bytes_per_s)
    pp_bw = xp.where(pp_inter, h.inter_link_bytes_per_s, h.intra_link_bytes_per_s)
    tp_lat = eff.link_latency_s * xp.where(tp_inter, h.inter_latency_ratio, h.intra_latency_ratio)
    pp_lat = eff.link_latency_s * xp.where(pp_inter, h.inter_latency_ratio, h.intra_latency_ratio)
    return tp_bw, tp_lat, pp_bw, pp_lat


def _intra_links(h: _HardwareFeatures, eff: Efficiency) -> tuple[Any, Any, Any, Any]:
    """:func:`_links` where every group fits in one node: the intra-node link for both."""
    lat = eff.link_latency_s * h.intra_latency_ratio
    return h.intra_link_bytes_per_s, lat, h.intra_link_bytes_per_s, lat


def _within(devices: Any, limit: float) -> bool:
    """``all(devices <= limit)`` by one reduction (True for an empty array)."""
    return np.size(devices) == 0 or bool(np.max(devices) <= limit)


@dataclass(frozen=True)
class _Layout:
    """What the phases of one evaluation share: degrees, effective ceilings, KV share, link terms.

    ``one_stage`` marks ``pp = 1`` with every batch >= 1: one micro-batch and no bubble, so the
    stage factors are exactly 1 and are skipped (``x * 1.0`` and ``x / 1.0`` are ``x``).
    """

    xp: _Ops
    tp: Any
    pp: Any
    one_stage: bool
    peak: Any  # effective FLOP/s
    bw: Any  # effective bytes/s
    share: Any  # of the KV cache one rank holds
    dense_bytes_s: Any  # W_dense / t / bw: streaming the always-read weights (dense models), else None
    ring: Any  # 2 (t - 1) / t of the ring all-reduce
    multi: Any  # t > 1 (where there are all-reduces at all)
    any_multi: bool  # whether any configuration has t > 1
    tp_link_bytes_per_s: Any  # one direction x communication efficiency
    tp_lat: Any  # all-reduce latency where t > 1, else 0
    pp_bw: Any
    pp_lat: Any
    inv_tp: Any = None  # 1/t where that is exact (t a power of two), else None: see _per_rank
    attention_dp: bool = False  # attention data-parallel over the t ranks (:func:`_attention_dp_layout`)


def _per_rank(x: Any, lay: _Layout) -> Any:
    """``x / t``: ``x`` itself for ``t = 1``, ``x`` times the exact reciprocal where :attr:`_Layout.inv_tp` is set.

    For ``t = 2^k`` the reciprocal ``2^-k`` is exact, and IEEE-754 rounds ``x * 2^-k`` and ``x / 2^k``
    from the same real number: the same double, with a multiplication instead of a division.
    """
    inv = lay.inv_tp
    if inv is None:
        return x / lay.tp
    if isinstance(inv, float) and inv == 1.0:
        return x
    return x * inv


def _layout(f: _ModelFeatures, h: _HardwareFeatures, eff: Efficiency, b: Any, tp: Any, pp: Any,
            xp: _Ops = _NP, tp_index: Any = None, attention_dp: bool = False) -> _Layout:
    """The shared terms of one evaluation; ``tp_index``, the degrees as ints, lets them be looked up;
    ``attention_dp``: attention data-parallel over the ``tp`` ranks (:func:`_attention_dp_layout`)."""
    peak, bw, dense = _ceilings(f, h, eff, xp)
    one_stage = np.ndim(pp) == 0 and pp == 1 and (b >= 1 if xp is _PY else np.size(b) == 0 or np.min(b) >= 1)
    tp_bw, tp_lat, pp_bw, pp_lat = _links(h, tp, pp, eff, xp)
    link = tp_bw * eff.communication
    share, dense_s, ring, multi, lat, any_multi = _degree_terms(f, tp, bw, link, tp_lat, dense, xp, tp_index)
    lay = _Layout(
        xp=xp, tp=tp, pp=pp, one_stage=bool(one_stage), peak=peak, bw=bw, share=share, dense_bytes_s=dense_s,
        ring=ring, multi=multi, any_multi=any_multi, tp_link_bytes_per_s=link, tp_lat=lat, pp_bw=pp_bw,
        pp_lat=pp_lat,
    )
    return _attention_dp_layout(f, lay) if attention_dp else lay


def _attention_dp_layout(f: _ModelFeatures, lay: _Layout) -> _Layout:
    """``lay`` with attention data-parallel over its ``n = t`` ranks (expert-parallel MoE layers).

    Notes
    -----
    With attention DP (SGLang ``--enable-dp-attention``, TensorRT-LLM ``enable_attention_dp``,
    vLLM ``--data-parallel-size`` with expert parallelism) each of the ``n`` ranks runs attention for
    its own ``B/n`` sequences: it holds and reads only their KV cache, and it holds the attention
    weights (with everything else outside the routed experts) whole, while the routed experts stay
    sharded ``n`` ways (EP). Per rank and step::

        W_read = W_dense + E_distinct(B) x expert / n      (today: (W_dense + E_distinct(B) x expert) / n)
        KV     = B min(c, W) kv / n                       (today: B min(c, W) kv s(t); MLA: s = 1)
        FLOPs  = (linear + attention FLOPs of all B) / n  (unchanged: each rank computes its own B/n)

    so the KV share is ``1/n`` whatever the attention kind (MLA's latent is not replicated) and the
    always-read weights are not divided. The MoE exchange keeps today's term, two ring all-reduces of
    the step's tokens per layer (the all-gather before the experts and the reduce-scatter after them move
    the bytes of one all-reduce, so their bandwidth is counted twice; their latency, two collectives, is
    as is), and the host time per sequence
    (:func:`iteration_overhead_s`) stays on the whole batch: the ranks step together (they meet at every
    MoE layer), and dividing it by ``n`` fitted the 27 scored attention-DP rows worse (in-sample median
    ``|ln(pred/meas)|`` 0.26 against 0.19 at the same factors). TensorRT-LLM's parallelism
    guide (docs/source/features/parallel-strategy.md, "Attention Data Parallelism": "All GEMM weights
    are replicated on every GPU. The KV-cache is partitioned, because different user requests are
    routed to different DP ranks"); SGLang v0.4 release blog (lmsys.org, 2024-12-04, "Data
    Parallelism Attention for DeepSeek Models": DP attention "reduces the KV cache"); the same terms
    as :func:`estimator.expert_parallel.ep_memory` and :func:`estimator.expert_parallel.decode_step`
    with ``dp_attention``. Units: those of :class:`_Layout`.
    """
    with np.errstate(divide="ignore"):
        share = 1.0 / lay.tp
    dense_s = None if lay.dense_bytes_s is None else f.dense_read_bytes / lay.bw
    return replace(lay, share=share, dense_bytes_s=dense_s, attention_dp=True)


def _ceilings(f: _ModelFeatures, h: _HardwareFeatures, eff: Efficiency, xp: _Ops) -> tuple[Any, Any, bool]:
    """(Effective FLOP/s, effective bytes/s, whether no configuration routes to experts)."""
    peak = h.peak_flops_per_s * eff.compute * xp.where(h.low_precision > 0, eff.low_precision_compute, 1.0)
    bw = h.bandwidth_bytes_per_s * eff.memory
    dense = bool((np.ndim(f.n_experts) == 0 and f.n_experts <= 1) or np.all(np.asarray(f.n_experts) <= 1))
    return peak, bw, dense


def _degree_terms(
    f: _ModelFeatures, tp: Any, bw: Any, link: Any, lat: Any, dense: bool, xp: _Ops, tp_index: Any,
) -> tuple[Any, Any, Any, Any, Any, bool]:
    """(KV share, dense weight streaming time, ring factor, t > 1, latency where t > 1, any t > 1).

    These depend on the tensor-parallel degree alone. Given the degrees as small ints, they are
    computed once per distinct degree and gathered (the same operations on the same values, so the
    same numbers); otherwise element by element.
    """
    if (tp_index is not None and np.ndim(link) == 0 and link > 0 and np.ndim(lat) == 0 and tp_index.size
            and (top := int(tp_index.max())) <= 4096):
        table = _degree_table(f, top, float(bw), float(link), float(lat), dense)
        share, dense_s, ring, lat_t = (np.take(x, tp_index) if np.ndim(x) else x for x in table)
        return share, dense_s, ring, None, lat_t, top > 1
    multi = tp > 1
    any_multi = bool(xp.any(multi))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (_kv_share(f, tp, xp), f.dense_read_bytes / tp / bw if dense else None,
                2.0 * (tp - 1.0) / tp if any_multi else 0.0, multi, xp.where(multi, lat, 0.0), any_multi)


@lru_cache(maxsize=64)
def _degree_table(f: _ModelFeatures, top: int, bw: float, link: float, lat: float, dense: bool) -> tuple[Any, ...]:
    """:func:`_degree_terms` for every degree 0..``top`` (KV share, dense time, ring factor, latency)."""
    share, dense_s, ring, _, lat_t, _ = _degree_terms(f, np.arange(top + 1, dtype=float), bw, link, lat, dense,
                                                      _NP, None)
    return share, dense_s, ring, lat_t


@dataclass(frozen=True)
class _LayoutPlan:
    """The layout terms all chunks of one :func:`estimate_arrays` call share, worked out once per call.

    ``base`` holds the ceilings, the intra-node links, the stage flag and, for 0-d degrees, the
    per-degree terms. For whole-number degree arrays ``table`` holds the per-degree terms of every
    degree 0..top (:func:`_degree_table`), gathered per chunk; ``inv`` the reciprocals ``1/t`` where
    every degree present is a power of two (exact: see :func:`_per_rank`). ``scales`` has, per term
    of ``table``, the ``c`` with ``term(t) == c * (1/t)`` to the last bit for every degree present
    (checked), else None: such a term is one product with the gathered reciprocals (none for
    ``c = 1``: the KV share of GQA with ``t`` up to the KV heads) instead of a gather of its own.
    Each chunk's :class:`_Layout` is then the one :func:`_layout` would build, without its reductions.
    """

    base: _Layout
    table: tuple[Any, ...] | None = None
    inv: Any = None
    scales: tuple[float | None, ...] = (None, None, None, None)

    def layout(self, tp: Any, pp: Any, tp_index: Any, xp: _Ops) -> _Layout:
        """The layout of one chunk with degrees ``tp`` (floats or the whole numbers themselves) and ``pp``."""
        b = self.base
        share, dense_s, ring, lat, inv, any_multi = b.share, b.dense_bytes_s, b.ring, b.tp_lat, b.inv_tp, b.any_multi
        if self.table is not None:
            inv = None if self.inv is None else self.inv.take(tp_index)
            share, dense_s, ring, lat = (_chunk_term(x, c, inv, tp_index)
                                         for x, c in zip(self.table, self.scales, strict=True))
            any_multi = bool(tp_index.size) and int(tp_index.max()) > 1  # as :func:`_degree_terms` per chunk
        return _Layout(
            xp=xp, tp=tp, pp=pp, one_stage=b.one_stage, peak=b.peak, bw=b.bw, share=share, dense_bytes_s=dense_s,
            ring=ring, multi=b.multi, any_multi=any_multi, tp_link_bytes_per_s=b.tp_link_bytes_per_s, tp_lat=lat,
            pp_bw=b.pp_bw, pp_lat=b.pp_lat, inv_tp=inv,
        )


def _gather(x: Any, index: Any) -> Any:
    return x.take(index) if np.ndim(x) else x


def _chunk_term(term: Any, scale: float | None, inv: Any, index: Any) -> Any:
    """One per-degree term for a chunk: ``scale`` times the chunk's reciprocals where that is the term
    exactly (:func:`_inverse_scale`), else gathered from its table."""
    if scale is None or inv is None:
        return _gather(term, index)
    return inv if scale == 1.0 else inv * scale


def _inverse_scale(term: Any, inv: Any, degrees: npt.NDArray[Any]) -> float | None:
    """``c`` where ``term[t] == c * inv[t]`` exactly for every degree ``t`` present (``inv[1] = 1``), else None."""
    if inv is None or np.ndim(term) != 1:
        return None
    c = float(term[1])
    return c if bool(np.all(term[degrees] == c * inv[degrees])) else None


def _layout_plan(
    f: _ModelFeatures, h: _HardwareFeatures, eff: Efficiency, tp: npt.NDArray[Any], pp: npt.NDArray[Any],
    degrees: npt.NDArray[Any] | None,
) -> _LayoutPlan | None:
    """The per-call layout terms of :func:`estimate_arrays` (validated ``tp``, ``pp``; ``degrees``: the
    distinct whole-number ``tp`` values, or None), or None where groups may span nodes, a degree array
    is not whole-number typed or too large, or there is no link: then each chunk builds its own layout.
    """
    if np.ndim(h.max_per_node) or _top(tp, degrees) * _largest(pp) > h.max_per_node:
        return None
    peak, bw, dense = _ceilings(f, h, eff, _NP)
    tp_bw, lat, pp_bw, pp_lat = _intra_links(h, eff)
    link = tp_bw * eff.communication
    one_stage = bool(pp.ndim == 0 and pp == 1)  # (every batch is >= 1)
    if tp.ndim == 0:
        t = np.float64(tp)
        share, dense_s, ring, multi, lat_t, any_multi = _degree_terms(f, t, bw, link, lat, dense, _NP, None)
        return _LayoutPlan(_Layout(
            xp=_NP, tp=t, pp=None, one_stage=one_stage, peak=peak, bw=bw, share=share, dense_bytes_s=dense_s,
            ring=ring, multi=multi, any_multi=any_multi, tp_link_bytes_per_s=link, tp_lat=lat_t, pp_bw=pp_bw,
            pp_lat=pp_lat, inv_tp=1.0 / float(t) if _powers_of_two(t) else None,
        ))
    if tp.dtype.kind not in "iu" or degrees is None or not tp.size or not link > 0 or (top := _top(tp, degrees)) > 4096:
        return None
    table = _degree_table(f, top, float(bw), float(link), float(lat), dense)
    inv = 1.0 / np.arange(1.0, top + 1.0) if _powers_of_two(degrees) else None
    if inv is not None:
        inv = np.concatenate(([math.inf], inv))  # index = degree (0 never occurs)
    return _LayoutPlan(_Layout(
        xp=_NP, tp=None, pp=None, one_stage=one_stage, peak=peak, bw=bw, share=None, dense_bytes_s=None, ring=None,
        multi=None, any_multi=True, tp_link_bytes_per_s=link, tp_lat=None, pp_bw=pp_bw, pp_lat=pp_lat,
    ), table, inv, tuple(_inverse_scale(x, inv, degrees) for x in table))


def _powers_of_two(degrees: Any) -> bool:
    """Whether every degree (>= 1) is a power of two: then ``1/t`` is exact (mantissa 0.5)."""
    return bool(np.all(np.frexp(np.asarray(degrees, dtype=float))[0] == 0.5))


def _group_step(
    f: _ModelFeatures, lay: _Layout, eff: Efficiency,
    lin_flops: Any, attn_flops: Any, weight_tokens: Any, kv_bytes: Any, other_bytes: Any, comm_tokens: Any,
    overhead_s: Any, stages: Any,
) -> _Phase:
    """One forward over the whole model by a tensor-parallel group, scaled by ``stages / pp``.

    Operator-level roofline (each kind of kernel at its own ceiling, then summed; Yuan et al.
    2024, "LLM Inference Unveiled", arXiv:2402.16363 §3)::

        t = max(F_linear/peak, W/bw) + max(F_attention/peak, KV/bw) + A/bw + comm + overhead

    with weights ``W``, KV-cache traffic ``KV`` and elementwise activation/logit traffic ``A``; for a
    MoE model the routed experts' share of ``F_linear`` and ``W`` is divided by the grouped-GEMM factor
    :attr:`Efficiency.moe_gemm` (:func:`_moe_gemm_work`).
    FLOPs and bytes are totals for the micro-batch; per device they divide by ``tp`` (KV by the
    rank's head share). ``stages`` is how many stage-times the phase takes (``p`` for a decode
    step with a full pipeline, ``m + p - 1`` for a prefill of ``m`` micro-batches; None for one
    stage, where the factor is exactly 1).
    """
    xp, peak, bw = lay.xp, lay.peak, lay.bw
    scale = None if stages is None else stages / lay.pp
    # Attention DP: the always-read weights are whole on every rank (counted t times here, so /t is one copy).
    dense_read = f.dense_read_bytes * lay.tp if lay.attention_dp else f.dense_read_bytes
    if lay.dense_bytes_s is not None:
        w_bytes = dense_read
        m_lin = _scaled(lay.dense_bytes_s, scale)
        c_lin = _scaled(_per_rank(lin_flops, lay) / peak, scale)
    else:
        expert_read = f.expert_bytes * expected_distinct_experts(f.n_experts, f.k_active, weight_tokens)
        w_bytes = dense_read + expert_read
        w_time, f_time = _moe_gemm_work(f, eff, dense_read, expert_read, lin_flops, weight_tokens)
        m_lin = _scaled(_per_rank(w_time, lay) / bw, scale)
        c_lin = _scaled(_per_rank(f_time, lay) / peak, scale)
    kv_dev = kv_bytes * lay.share
    c_attn = _scaled(_per_rank(attn_flops, lay) / peak, scale)
    m_attn = _scaled(kv_dev / bw, scale)
    m_other = _scaled(_per_rank(other_bytes, lay) / bw, scale)
    lin_compute = c_lin >= m_lin
    attn_compute = c_attn >= m_attn
    compute_s = xp.keep(lin_compute, c_lin) + xp.keep(attn_compute, c_attn)
    memory_s = xp.drop(lin_compute, m_lin) + xp.drop(attn_compute, m_attn) + m_other
    comm, p2p = _comm_s(f, lay, eff, comm_tokens)
    return _Phase(lay, compute_s, memory_s, comm if lay.one_stage else comm * scale + p2p, overhead_s, scale,
                  (lin_flops, attn_flops), (w_bytes, other_bytes, kv_dev))


def _scaled(x: Any, scale: Any) -> Any:
    return x if scale is None else x * scale


def _moe_gemm_work(f: _ModelFeatures, eff: Efficiency, dense_read: Any, expert_read: Any, lin_flops: Any,
                   weight_tokens: Any) -> tuple[Any, Any]:
    """(Weight bytes, linear FLOPs) of a MoE step at the dense-GEMM ceilings: the routed experts'
    share divided by :attr:`Efficiency.moe_gemm` (:data:`MOE_GEMM_EFFICIENCY`)::

        W_eff = W_dense + W_experts / e_moe        (bytes)
        F_eff = F_linear + F_experts (1/e_moe - 1)  (FLOPs; F_experts = tokens x 2 k P_expert)

    so the expert GEMMs run at ``e_moe`` times the compute and bandwidth fractions the dense GEMMs
    reach, and the rest (attention, shared experts, projections, LM head) is unchanged. The true FLOPs
    and bytes (what :class:`_Phase` reports) are not altered. ``e_moe = 1`` returns the inputs
    untouched (the same doubles)."""
    e = eff.moe_gemm
    if e == 1.0:
        return dense_read + expert_read, lin_flops
    return dense_read + expert_read / e, lin_flops + weight_tokens * f.expert_flops_per_token * (1.0 / e - 1.0)


def _comm_s(f: _ModelFeatures, lay: _Layout, eff: Efficiency, comm_tokens: Any) -> tuple[Any, Any]:
    """(Tensor-parallel all-reduces of one stage, pipeline hand-offs) in seconds.

    ``2 L x allreduce(tokens x d x 2 B)`` (:func:`allreduce_time_s`, the ring factor ``2 (t-1)/t``
    precomputed) and ``(p - 1) (bytes / (b_link e) + latency)`` for the point-to-point sends.
    """
    xp = lay.xp
    if math.frexp(ACTIVATION_BYTES)[0] == 0.5:  # a power of two: (x d) 2 and x (d 2) are the same double
        act = comm_tokens * (f.d_model * ACTIVATION_BYTES)
    else:
        act = comm_tokens * f.d_model * ACTIVATION_BYTES
    comm: Any = 0.0
    if lay.any_multi:
        if np.ndim(lay.tp_link_bytes_per_s) or not lay.tp_link_bytes_per_s > 0:  # (never with tp_index)
            with np.errstate(divide="ignore", invalid="ignore"):  # t = 1 rows have no link (0/0); masked
                ring = xp.where(lay.multi, lay.ring * act / lay.tp_link_bytes_per_s + lay.tp_lat, 0.0)
        else:
            ring = lay.ring * act / lay.tp_link_bytes_per_s + lay.tp_lat
        comm = 2.0 * f.n_layers * ring  # where t = 1 the ring factor and the latency are 0: exactly 0 s
    p2p: Any = 0.0
    if not lay.one_stage and xp.any(lay.pp > 1):
        with np.errstate(divide="ignore", invalid="ignore"):
            p2p = xp.where(lay.pp > 1, (lay.pp - 1.0) * (act / (lay.pp_bw * eff.communication) + lay.pp_lat), 0.0)
    return comm, p2p


def _micro_batches(lay: _Layout, b: Any) -> tuple[Any, Any]:
    """(micro-batches ``m = min(B, p)``, sequences per micro-batch ``B / m``); (1, B) for one stage."""
    if lay.one_stage:
        return 1.0, b
    m = lay.xp.minimum(b, lay.pp)
    return m, b / m


def iteration_overhead_s(eff: Efficiency, sequences: Any) -> Any:
    """Fixed time of one decode iteration with ``sequences`` in flight (seconds).

    Notes
    -----
    ``t = t_step + n x t_seq``: the per-iteration launch/synchronization cost
    (:data:`STEP_OVERHEAD_S`) plus the host work per sequence (:data:`SEQUENCE_OVERHEAD_S`; vLLM
    v0.6.0 performance update, 2024). Where ``t_seq`` is 0 this is ``t_step`` itself (the same
    double, and a scalar, so estimates at the default constants are unchanged). Units: seconds.

    >>> iteration_overhead_s(Efficiency(step_overhead_s=1e-3, sequence_overhead_s=1e-5), 100.0)
    0.002
    """
    if eff.sequence_overhead_s == 0.0:
        return eff.step_overhead_s
    return eff.step_overhead_s + eff.sequence_overhead_s * sequences


def _prefill(f: _ModelFeatures, lay: _Layout, eff: Efficiency, b: Any, i: Any) -> _Phase:
    m, mb = _micro_batches(lay, b)
    tokens = mb * i
    lin = mb * (i * f.body_flops_per_token + f.head_flops_per_token)
    attn = mb * f.attn_flops_per_ctx_token * _causal_pairs(i, f.window, lay.xp, f.window_share)
    kv_write = (tokens if _no_window(f.window) else mb * _cap_window(i, f.window, lay.xp, f.window_share)
                ) * f.kv_bytes_per_token
    other = mb * (i * f.act_bytes_per_token + f.logits_bytes_per_token)
    return _group_step(f, lay, eff, lin, attn, tokens, kv_write, other, tokens, eff.prefill_overhead_s,
                       None if lay.one_stage else m + lay.pp - 1.0)


def _decode(f: _ModelFeatures, lay: _Layout, eff: Efficiency, b: Any, ctx: Any) -> _Phase:
    _, mb = _micro_batches(lay, b)
    cached = _cap_window(ctx, f.window, lay.xp, f.window_share)
    lin = mb * (f.body_flops_per_token + f.head_flops_per_token)
    attn = mb * f.attn_flops_per_ctx_token * cached
    kv = mb * (cached + 1.0) * f.kv_bytes_per_token
    other = mb * (f.act_bytes_per_token + f.logits_bytes_per_token)
    return _group_step(f, lay, eff, lin, attn, mb, kv, other, mb, iteration_overhead_s(eff, mb),
                       None if lay.one_stage else lay.pp)


def _mixed_iteration(f: _ModelFeatures, lay: _Layout, eff: Efficiency, b: Any, i: Any, o: Any) -> _Phase:
    """One continuous-batching iteration at steady state with ``b`` sequences in flight.

    Each iteration decodes one token for every sequence (mean context ``i + o/2``) and, since
    ``b/o`` sequences finish per iteration, prefills ``b/o`` new prompts in chunks.

    Every engine is modelled this way, also those that by default run prefill as separate iterations that
    stall decode: SGLang (``enable_mixed_chunk: bool = False`` in ``python/sglang/srt/server_args.py``
    ``ServerArgs``) and vLLM 0.7 with an MLA model (its V0 engine logs "MLA is enabled; forcing chunked
    prefill and prefix caching to be disabled"). Tried on the dstack DeepSeek-R1 runs of both (issue 12,
    2026-11-30, at the stored cells): a decode step plus ``b/o`` one-prompt prefills per step,
    ``t = t_decode(b) + t_prefill(1, i) b / o``, brings the throughput at concurrency 128 from 1.4-2.6x to
    1.0-2.0x of the published value but at concurrency 4 from 1.0-1.4x to 2.4-3.3x (TPOT 0.78-1.08x to
    0.32-0.46x): the 16 prompt tokens a mixed step carries there route to more experts, which matches the
    measured 26-46 ms TPOT, and the separate decode step (14 ms on MI300X with vLLM) is too fast for those stacks.
    Not adopted; the SGLang concurrency-128 misses are largely in the decode step itself (TPOT 0.49-0.71x) (:data:`SEQUENCE_OVERHEAD_S`).
    """
    _, mb = _micro_batches(lay, b)
    new = mb / o
    cached = _cap_window(i + o * 0.5, f.window, lay.xp, f.window_share)
    tokens = mb + new * i
    lin = mb * f.head_flops_per_token + tokens * f.body_flops_per_token
    attn = f.attn_flops_per_ctx_token * (mb * cached + new * _causal_pairs(i, f.window, lay.xp, f.window_share))
    kv = (mb * (cached + 1.0) + new * _cap_window(i, f.window, lay.xp, f.window_share)) * f.kv_bytes_per_token
    other = tokens * f.act_bytes_per_token + mb * f.logits_bytes_per_token
    return _group_step(f, lay, eff, lin, attn, tokens, kv, other, tokens, iteration_overhead_s(eff, mb),
                       None if lay.one_stage else lay.pp)


def _as_array(name: str, value: npt.ArrayLike, minimum: float = 1.0) -> FloatArray:
    arr = np.asarray(value, dtype=float)
    if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr < minimum)):
        bad = arr[~np.isfinite(arr) | (arr < minimum)].flat[0]
        raise InvalidInputError(f"{name} must be at least {minimum:g}, got {bad:g}")
    return arr


class _Evaluation:
    """The static-batch figures of one (batch of) configuration(s), each computed when first asked for."""

    def __init__(self, f: _ModelFeatures, h: _HardwareFeatures, eff: Efficiency,
                 batch: Any, inp: Any, out: Any, tp: Any, pp: Any, xp: _Ops, tp_index: Any = None,
                 lay: _Layout | None = None, attention_dp: bool = False) -> None:
        self.xp, self.batch, self.out = xp, batch, out
        self.lay = lay = _layout(f, h, eff, batch, tp, pp, xp, tp_index, attention_dp) if lay is None else lay
        self.pre = _prefill(f, lay, eff, batch, inp)
        self.dec = _decode(f, lay, eff, batch, inp + out * 0.5)
        self.ttft_s = self.pre.total_s
        self.tpot_s = self.dec.total_s
        self.decode_s = (out - 1.0) * self.tpot_s
        self.e2e_s = self.ttft_s + self.decode_s

    def finite(self) -> bool:
        """Whether every end-to-end time is finite: then so are TTFT, TPOT and every term of both phases
        (all of them are sums and products of terms >= 0, and ``0 x inf`` would be NaN)."""
        e2e = self.e2e_s
        return np.size(e2e) == 0 or bool((e2e.max() if isinstance(e2e, np.ndarray) else e2e) < math.inf)

    @cached_property
    def output_tokens_per_s(self) -> Any:
        return self.batch * self.out / self.e2e_s

    @cached_property
    def prefill_bound(self) -> Any:
        return self.pre.bound(self.xp)

    @cached_property
    def decode_bound(self) -> Any:
        return self.dec.bound(self.xp)

    def per_device(self) -> Any:
        lay = self.lay
        if lay.one_stage:
            return _per_rank(self.output_tokens_per_s, lay)
        return self.output_tokens_per_s / (lay.tp * lay.pp)

    def per_request(self) -> Any:
        return self.xp.where(self.out > 1, 1.0 / self.tpot_s, self.out / self.e2e_s)

    def binding(self) -> Any:
        heavy = self.decode_s / self.e2e_s >= 0.5
        dec, pre = self.decode_bound, self.prefill_bound
        if self.xp is _PY:
            return dec if heavy else pre
        if isinstance(heavy, np.ndarray) and heavy.shape == np.shape(dec) == np.shape(pre):
            # int8 codes: pre + (dec - pre) x heavy is dec where heavy and pre elsewhere (exact small integers)
            return pre + (dec - pre) * heavy.view(np.int8)
        return np.where(heavy, dec, pre).astype(np.int8, copy=False)

    @staticmethod
    def intensity(ph: _Phase) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return ph.flops / ph.bytes


_RESULTS: dict[str, Callable[[_Evaluation], Any]] = {
    "ttft_s": lambda r: r.ttft_s,
    "tpot_s": lambda r: r.tpot_s,
    "e2e_s": lambda r: r.e2e_s,
    "output_tokens_per_s": lambda r: r.output_tokens_per_s,
    "output_tokens_per_s_per_device": _Evaluation.per_device,
    "output_tokens_per_s_per_request": _Evaluation.per_request,
    "requests_per_s": lambda r: r.batch / r.e2e_s,
    "prefill_bound": lambda r: r.prefill_bound,
    "decode_bound": lambda r: r.decode_bound,
    "binding": _Evaluation.binding,
    "prefill_compute_s": lambda r: r.pre.flops_ceiling_s,
    "prefill_memory_s": lambda r: r.pre.bytes_ceiling_s,
    "prefill_comm_s": lambda r: r.pre.comm_s,
    "prefill_compute_bound_s": lambda r: r.pre.compute_s,
    "prefill_memory_bound_s": lambda r: r.pre.memory_s,
    "decode_compute_s": lambda r: r.dec.flops_ceiling_s,
    "decode_memory_s": lambda r: r.dec.bytes_ceiling_s,
    "decode_comm_s": lambda r: r.dec.comm_s,
    "decode_compute_bound_s": lambda r: r.dec.compute_s,
    "decode_memory_bound_s": lambda r: r.dec.memory_s,
    "prefill_flops_per_device": lambda r: r.pre.flops,
    "prefill_bytes_per_device": lambda r: r.pre.bytes,
    "decode_flops_per_device": lambda r: r.dec.flops,
    "decode_bytes_per_device": lambda r: r.dec.bytes,
    "prefill_intensity_flops_per_byte": lambda r: _Evaluation.intensity(r.pre),
    "decode_intensity_flops_per_byte": lambda r: _Evaluation.intensity(r.dec),
}
"""How each result of :func:`estimate_arrays` comes out of an evaluation (in its documented order)."""


def _core(
    f: _ModelFeatures, h: _HardwareFeatures, eff: Efficiency,
    batch: Any, inp: Any, out: Any, tp: Any, pp: Any, xp: _Ops = _NP, outputs: Sequence[str] | None = None,
    attention_dp: bool = False,
) -> dict[str, Any]:
    """The static-batch results named in ``outputs`` (all of :data:`_RESULTS` by default)."""
    ev = _Evaluation(f, h, eff, batch, inp, out, tp, pp, xp, attention_dp=attention_dp)
    return {k: _RESULTS[k](ev) for k in (_RESULTS if outputs is None else outputs)}


def _check_parallel_arrays(model: ModelSpec, hardware: HardwareSpec, tp: FloatArray, pp: FloatArray) -> None:
    if np.any(tp != np.floor(tp)) or np.any(pp != np.floor(pp)):
        raise InvalidInputError("tensor and pipeline parallel degrees must be whole numbers")
    bad = np.mod(model.n_heads, tp) != 0
    if np.any(bad):
        raise _tp_error(model, int(np.asarray(tp)[bad].flat[0]) if np.ndim(tp) else int(tp))
    n = tp * pp
    _check_layout(model, hardware, bool(np.any(pp > model.total_layers)), bool(np.any(n > hardware.max_per_node)),
                  bool(np.any((n > 1) & (n <= hardware.max_per_node))))


def _check_parallel_ints(model: ModelSpec, hardware: HardwareSpec, tp: int, pp: int) -> None:
    """:func:`_check_parallel_arrays` for one whole-number layout (same checks, same messages)."""
    if model.n_heads % tp:
        raise _tp_error(model, tp)
    n = tp * pp
    _check_layout(model, hardware, pp > model.total_layers, n > hardware.max_per_node, 1 < n <= hardware.max_per_node)


def _tp_error(model: ModelSpec, tp: int) -> InvalidInputError:
    return InvalidInputError(
        f"tensor parallel degree {tp} does not divide {model.name}'s {model.n_heads} attention heads; "
        f"use one of {', '.join(str(x) for x in _divisors(model.n_heads, 64))}"
    )


def _check_layout(model: ModelSpec, hardware: HardwareSpec, too_deep: bool, beyond_node: bool,
                  within_node: bool) -> None:
    """Raise where a layout has more stages than layers or needs a link the catalog lacks."""
    if too_deep:
        raise InvalidInputError(f"pipeline parallel degree exceeds {model.name}'s {model.total_layers} layers")
    if beyond_node and hardware.inter_node_bandwidth_bytes_per_s <= 0:
        raise InvalidInputError(
            f"{hardware.name} holds at most {hardware.max_per_node} per node and the catalog has no "
            "inter-node network for it; keep tensor x pipeline parallel within one node"
        )
    if within_node and hardware.intra_node_bandwidth_bytes_per_s <= 0:
        raise InvalidInputError(
            f"the catalog lists no link between {hardware.name} devices in one node; use tensor and pipeline "
            "parallel degree 1"
        )


def _divisors(n: int, limit: int) -> list[int]:
    return [d for d in range(1, min(n, limit) + 1) if n % d == 0]


def _prepare(
    model: ModelSpec | str, hardware: HardwareSpec | str, dtype: DType | str,
    kv_dtype: DType | str | None, compute_dtype: DType | str | None,
) -> tuple[ModelSpec, HardwareSpec, DType, DType, DType]:
    m = _resolve_model(model)
    h = _resolve_hardware(hardware)
    d = _dtype(dtype, "dtype")
    if not m.generates:
        raise InvalidInputError(
            f"{m.name} is encoder-only: it has no decode phase, so TTFT/TPOT do not apply"
        )
    memory.require_runnable(h, d)
    kv = default_kv_dtype(d) if kv_dtype is None else _dtype(kv_dtype, "KV-cache dtype")
    if kv not in KV_DTYPES:
        raise InvalidInputError(f"a KV cache in {kv.value} is not modelled; use fp8, int8 or a 16-bit format")
    c = default_compute_dtype(h, d) if compute_dtype is None else _dtype(compute_dtype, "compute dtype")
    if not h.supports(c):
        have = ", ".join(x.value for x in DType if h.supports(x))
        hint = {DType.FP8: " (fp8 compute needs Hopper, Ada, Blackwell or MI300-class hardware)",
                DType.FP4: " (fp4 compute needs FP4 tensor cores: Blackwell or MI355X)"}.get(c, "")
        raise InvalidInputError(f"{h.name} has no native {c.value} compute{hint}; it supports {have}")
    return m, h, d, kv, c


def estimate_arrays(
    model: ModelSpec | str,
    hardware: HardwareSpec | str,
    dtype: DType | str,
    batch: npt.ArrayLike,
    input_tokens: npt.ArrayLike,
    output_tokens: npt.ArrayLike,
    tp: npt.ArrayLike = 1,
    pp: npt.ArrayLike = 1,
    *,
    kv_dtype: DType | str | None = None,
    compute_dtype: DType | str | None = None,
    efficiency: Efficiency | None = None,
    check_memory: bool = True,
    outputs: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Vectorized :func:`estimate` over numpy arrays of batch, lengths and parallel degrees.

    Arrays broadcast against each other; model, hardware and dtypes are scalars (use
    :func:`estimate_frame` for a table mixing them). Returns a dict of arrays: ``ttft_s``,
    ``tpot_s``, ``e2e_s``, ``output_tokens_per_s`` (per replica), ``..._per_device``,
    ``..._per_request``, ``requests_per_s``, ``prefill_bound``/``decode_bound``/``binding``
    (codes into :data:`BOUNDS`); per phase ``*_compute_s`` (all FLOPs at the effective peak),
    ``*_memory_s`` (all bytes at the effective bandwidth), ``*_comm_s``, and the split of the
    actual time into ``*_compute_bound_s`` / ``*_memory_bound_s`` (kernels limited by each);
    per-device FLOPs and bytes, the arithmetic intensities, and ``fits`` (weights + KV of
    ``input + output`` tokens + runtime overhead within the memory budget;
    ``memory_per_device_bytes`` beside it).

    ``outputs`` names the results to return (all of them by default, in the order above); a
    shorter list skips the arithmetic and the arrays of the rest (``("ttft_s", "tpot_s",
    "e2e_s")`` is several times faster than everything). Unknown names raise ``InvalidInputError``.

    Static batching: all ``batch`` sequences prefill together, then decode ``output - 1`` steps at
    the mean context ``input + output/2``. Nothing here raises for configurations that do not fit;
    check ``fits`` (the scalar :func:`estimate` raises instead).
    """
    m, h, d, kv, c = _prepare(model, hardware, dtype, kv_dtype, compute_dtype)
    eff = efficiency or _default_efficiency()
    args, degrees = _array_args(m, h, batch, input_tokens, output_tokens, tp, pp)
    names = _result_names(outputs, check_memory)
    f = _model_features(m, d, kv)
    hw = _hardware_features(h, c)
    plan = _layout_plan(f, hw, eff, args[3], args[4], degrees)
    mem = (memory.weights_bytes(m, d), h.memory_bytes * memory.MEMORY_UTILIZATION)
    memory_results = check_memory and bool(_MEMORY_RESULTS & set(names))

    def evaluate(raw: tuple[npt.NDArray[Any], ...], scratch: npt.NDArray[np.float64] | None) -> dict[str, Any]:
        b, i, o, p = (_float(a, None if scratch is None else scratch[k]) for k, a in enumerate(raw[:3] + raw[4:]))
        ev = _evaluation(f, hw, eff, plan, (b, i, o, p), raw[3])
        res = {k: _RESULTS[k](ev) for k in names if k in _RESULTS}
        if memory_results:
            per_dev = _memory_per_device(f, ev.lay, mem[0], b, i + o)
            res.update({"memory_per_device_bytes": per_dev, "fits": per_dev <= mem[1]})
        return {k: res[k] for k in names}

    return _chunked(evaluate, args)


def _evaluation(
    f: _ModelFeatures, hw: _HardwareFeatures, eff: Efficiency, plan: _LayoutPlan | None,
    floats: tuple[Any, Any, Any, Any], tp: npt.NDArray[Any],
) -> _Evaluation:
    """One chunk of :func:`estimate_arrays` (batch, input, output, pp as floats; ``tp`` as given).

    First with :data:`_NP_FINITE`; where a time comes out infinite or NaN (inputs near the largest
    double), again with ``np.where``, so the numbers are always those of :data:`_NP`. With a table of
    the degrees the whole-number ``tp`` itself is the layout's degree (exact below 2^53, so the same doubles).
    """
    b, i, o, p = floats
    table = plan is not None and plan.table is not None
    t = tp if table else _float(tp)
    index = tp if tp.ndim and tp.dtype.kind in "iu" else None
    for xp in (_NP_FINITE, _NP):
        lay = plan.layout(t, p, tp, xp) if plan is not None else None
        ev = _Evaluation(f, hw, eff, b, i, o, t, p, xp, index, lay)
        if xp is _NP or ev.finite():
            break
    return ev


_CHUNK = 24576
"""Configurations evaluated per pass in :func:`estimate_arrays`: temporaries of 192 KiB stay in the
L2 cache, and numpy's fixed cost per call is spread over enough elements (16k-48k measured within a few
percent of each other on 1M configurations; smaller chunks pay the per-call overhead, larger ones the cache)."""

_MEMORY_RESULTS = frozenset({"memory_per_device_bytes", "fits"})


def _result_names(outputs: Sequence[str] | None, check_memory: bool) -> list[str]:
    """The results :func:`estimate_arrays` returns: ``outputs`` checked, or all of them in order."""
    every = [*_RESULTS, *(_MEMORY_RESULTS_ORDER if check_memory else ())]
    if outputs is None:
        return every
    unknown = [k for k in outputs if k not in every]
    if unknown:
        extra = "" if check_memory else " (memory results need check_memory=True)"
        raise InvalidInputError(f"unknown results {unknown}{extra}; choose from {', '.join(every)}")
    return list(dict.fromkeys(outputs))


_MEMORY_RESULTS_ORDER = ("memory_per_device_bytes", "fits")


def _array_args(
    m: ModelSpec, h: HardwareSpec, batch: Any, inp: Any, out: Any, tp: Any, pp: Any,
) -> tuple[tuple[npt.NDArray[Any], ...], npt.NDArray[Any] | None]:
    """Validated (batch, input, output, tp, pp) arrays, kept in their own int or float type, and the
    distinct tensor-parallel degrees where ``tp`` is a whole-number array (:func:`_distinct_degrees`).

    Same checks and messages as converting each to float and testing it (finite, at least 1), the
    parallel layout and the context window, but with reductions instead of full-size temporaries.
    """
    b, i, o, t, p = (_checked_array(name, v) for name, v in
                     (("batch", batch), ("input_tokens", inp), ("output_tokens", out), ("tp", tp), ("pp", pp)))
    if (t.dtype.kind == "f" or p.dtype.kind == "f") and (np.any(t != np.floor(t)) or np.any(p != np.floor(p))):
        raise InvalidInputError("tensor and pipeline parallel degrees must be whole numbers")
    degrees = _distinct_degrees(t)
    if not _divides_all(m.n_heads, t, degrees):
        bad = np.mod(m.n_heads, t) != 0
        raise _tp_error(m, int(np.asarray(t)[bad].flat[0]) if np.ndim(t) else int(t))
    _check_layout(m, h, bool(np.any(p > m.total_layers)), bool(_top(t, degrees) * _largest(p) > h.max_per_node),
                  h.intra_node_bandwidth_bytes_per_s <= 0 and bool(np.any((t * p > 1) & (t * p <= h.max_per_node))))
    if _largest(i) + _largest(o) > m.max_context and np.any(i + o > m.max_context):
        raise InvalidInputError(
            f"input + output tokens exceed {m.name}'s context window of {m.max_context:,} tokens"
        )
    return (b, i, o, t, p), degrees


def _largest(a: npt.NDArray[Any]) -> Any:
    """The largest element (0 for an empty array): ``max(x) * max(y) >= x * y`` for positive arrays."""
    return a.max() if a.size else 0


def _distinct_degrees(degrees: npt.NDArray[Any]) -> npt.NDArray[Any] | None:
    """The distinct values of a whole-number array of degrees (>= 1), or None for 0-d, float or huge ones.

    Arrays of moderate degrees are counted by value (one pass) instead of sorted; up to 62, as bits.
    """
    if degrees.dtype.kind not in "iu" or degrees.ndim == 0:
        return None
    if degrees.size <= 64:
        return np.unique(degrees)
    top = int(_largest(degrees))
    if top <= 62:  # one bit per degree, OR-ed together: a quarter of the time of counting
        one = np.uint64(1) if degrees.dtype.kind == "u" else np.int64(1)
        bits = int(np.bitwise_or.reduce(np.left_shift(one, degrees), axis=None))
        return np.array([d for d in range(top + 1) if bits >> d & 1], dtype=np.int64)
    if top > 1 << 16:
        return None
    return np.flatnonzero(np.bincount(degrees.ravel().astype(np.intp, copy=False)))


def _top(degrees: npt.NDArray[Any], distinct: npt.NDArray[Any] | None) -> int:
    """The largest degree (0 for none), from the sorted ``distinct`` values where they are known."""
    if distinct is not None:
        return int(distinct[-1]) if distinct.size else 0
    return int(_largest(degrees))


def _divides_all(n: int, degrees: npt.NDArray[Any], distinct: npt.NDArray[Any] | None) -> bool:
    """Whether every element of ``degrees`` (whole numbers >= 1) divides ``n``; only the ``distinct``
    values are tested where they are known."""
    if distinct is not None:
        return not np.any(n % distinct)
    return not np.any(np.mod(n, degrees) != 0)


def _checked_array(name: str, value: npt.ArrayLike, minimum: float = 1.0) -> npt.NDArray[Any]:
    """``value`` as an int or float array (other types as float), each element finite and >= ``minimum``."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        arr = np.asarray(value, dtype=float)
    if arr.size:
        lo = arr.min()
        ok = lo >= minimum and (arr.dtype.kind != "f" or bool(np.isfinite(arr.max())))
        if not ok:
            _as_array(name, arr.astype(float), minimum)
    return arr


def _chunked(
    evaluate: Callable[[tuple[npt.NDArray[Any], ...], npt.NDArray[np.float64] | None], dict[str, Any]],
    args: tuple[npt.NDArray[Any], ...],
) -> dict[str, Any]:
    """``evaluate`` over the broadcast arguments, in :data:`_CHUNK`-sized pieces.

    Small inputs come back as read-only broadcast views of one evaluation; large ones are evaluated
    chunk by chunk (temporaries stay in cache) into one new array per result. ``evaluate`` gets the
    arguments as they are (int or float; 0-d ones whole) and converts them itself, into the rows of
    ``scratch`` (one per argument, reused by every chunk: its results are copied out before the next).
    """
    shape = np.broadcast_shapes(*(a.shape for a in args))
    n = math.prod(shape)
    if n <= _CHUNK:
        return {k: np.broadcast_to(v, shape) for k, v in evaluate(args, None).items()}
    flat = [a if a.ndim == 0 else (a if a.shape == shape else np.broadcast_to(a, shape)).ravel() for a in args]
    scratch = np.empty((len(args), _CHUNK))
    out: dict[str, Any] = {}
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        part = evaluate(tuple(a if a.ndim == 0 else a[start:stop] for a in flat), scratch[:, :stop - start])
        if not out:
            out = _allocate(part, n)
        for k, v in part.items():
            out[k][start:stop] = v
    return {k: v.reshape(shape) for k, v in out.items()}


def _allocate(first: dict[str, Any], n: int) -> dict[str, Any]:
    """One empty array of ``n`` per result, typed like ``first``'s; the float64 ones are rows of one block.

    One large allocation is mapped with huge pages where the kernel allows it: a fraction of the page
    faults of many separate arrays, which otherwise cost as much as the arithmetic.
    """
    floats = [k for k, v in first.items() if np.asarray(v).dtype == np.float64]
    block = np.empty((len(floats), n))
    out = {k: block[j] for j, k in enumerate(floats)}
    return {k: out[k] if k in out else np.empty(n, dtype=np.asarray(v).dtype) for k, v in first.items()}


def _float(a: npt.NDArray[Any], scratch: npt.NDArray[np.float64] | None = None) -> Any:
    """``a`` as float64: a scalar for 0-d, ``a`` itself if it is one, else converted (into ``scratch`` if given)."""
    if a.ndim == 0:
        return np.float64(a)
    if a.dtype == np.float64 or scratch is None:
        return np.asarray(a, dtype=np.float64)
    np.copyto(scratch, a)
    return scratch


def _memory_per_device(f: _ModelFeatures, lay: _Layout, weights: float, b: Any, ctx: Any) -> Any:
    """Weights/(t p) + KV x share / p + runtime overhead (activations of 8k-token chunks ignored)."""
    kv = b * _cap_window(ctx, f.window, lay.xp, f.window_share) * f.kv_bytes_per_token * lay.share
    if lay.one_stage:
        return _per_rank(weights, lay) + kv + memory.RUNTIME_OVERHEAD_BYTES
    return weights / (lay.tp * lay.pp) + kv / lay.pp + memory.RUNTIME_OVERHEAD_BYTES


# ---------------------------------------------------------------- scalar API


class PerformanceEstimate(BaseModel):
    """Latency and throughput of one static batch on one replica (``tp x pp`` devices)."""

    model_config = ConfigDict(frozen=True)

    model_id: str
    hardware_id: str
    dtype: DType
    kv_dtype: DType
    compute_dtype: DType
    batch: int = Field(gt=0)
    input_tokens: int = Field(gt=0)
    output_tokens: int = Field(gt=0)
    tp: int = Field(gt=0)
    pp: int = Field(gt=0)
    ttft_s: float = Field(gt=0, description="prefill of the batch until every first token")
    tpot_s: float = Field(gt=0, description="decode step at the mean context")
    e2e_s: float = Field(gt=0, description="ttft + (output - 1) x tpot")
    output_tokens_per_s: float = Field(gt=0, description="per replica: batch x output / e2e")
    output_tokens_per_s_per_device: float = Field(gt=0)
    output_tokens_per_s_per_request: float = Field(gt=0, description="1 / tpot: streaming speed")
    requests_per_s: float = Field(gt=0)
    prefill_bound: str
    decode_bound: str
    binding: str = Field(description="bound of the phase that takes most of the end-to-end time")
    prefill_compute_s: float
    prefill_memory_s: float
    prefill_comm_s: float
    decode_compute_s: float
    decode_memory_s: float
    decode_comm_s: float
    prefill_intensity_flops_per_byte: float
    decode_intensity_flops_per_byte: float
    memory_per_device_bytes: float
    memory_budget_bytes: float
    max_batch: int = Field(ge=0, description="largest batch whose KV cache fits")
    efficiency: Efficiency

    @property
    def devices(self) -> int:
        return self.tp * self.pp


def _fit_error(
    m: ModelSpec, h: HardwareSpec, d: DType, kv: DType, context: int, batch: int, tp: int, pp: int,
) -> DoesNotFitError:
    mem1 = memory.inference_memory(m, d, kv, context, 1, hardware=h, tp=tp, pp=pp, prefill_chunk_tokens=PREFILL_CHUNK_TOKENS)
    usable = (mem1.device_budget_bytes or 0.0)
    if not mem1.fits:
        fit = memory.min_accelerators(m, h, d, kv, context, 1)
        where = f"{tp} × {h.name}" + (f" (pipeline {pp})" if pp > 1 else "")
        if fit.fits:
            hint = (f"The smallest layout that fits is tensor parallel {fit.tp}"
                    + (f" × pipeline parallel {fit.pp}" if fit.pp > 1 else "") + f" ({fit.devices} devices).")
        else:
            hint = f"It {fit.message}; choose a smaller dtype or larger accelerators."
        return DoesNotFitError(
            f"{m.name} in {d.value} (KV cache {kv.value}) does not fit on {where} even at batch 1 and "
            f"{context:,} tokens: it needs {mem1.per_device_total_bytes / 1e9:,.1f} GB per device against "
            f"{usable / 1e9:,.1f} GB usable, {mem1.shortfall_bytes / 1e9:,.1f} GB short. {hint}"
        )
    best = memory.max_batch(m, h, d, kv, context, tp=tp, pp=pp)
    return DoesNotFitError(
        f"batch {batch:,} does not fit: at most {best:,} sequences of {context:,} tokens fit on "
        f"{tp * pp} × {h.name} ({m.name}, {d.value} weights, {kv.value} KV cache). Lower the batch, "
        "raise tensor parallelism or use a smaller KV-cache dtype."
    )


def _int_arg(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)):
        raise InvalidInputError(f"{name} must be a whole number, got {value!r}")
    if not math.isfinite(float(value)) or float(value) != int(value):
        raise InvalidInputError(f"{name} must be a whole number, got {value!r}")
    if int(value) < minimum:
        raise InvalidInputError(f"{name} must be at least {minimum}, got {int(value)}")
    return int(value)


def estimate(
    model: ModelSpec | str,
    hardware: HardwareSpec | str,
    dtype: DType | str,
    batch: int,
    input_tokens: int,
    output_tokens: int,
    tp: int = 1,
    pp: int = 1,
    *,
    kv_dtype: DType | str | None = None,
    compute_dtype: DType | str | None = None,
    efficiency: Efficiency | None = None,
) -> PerformanceEstimate:
    """TTFT, TPOT, end-to-end latency and throughput of one static batch on one replica.

    Notes
    -----
    Per device of a tensor-parallel group of ``t`` (pipeline ``p``, micro-batches ``m = min(B, p)``)::

        prefill FLOPs = B (2 P_body I + 2 V d + a S(I))        S(I) = sum_c min(c, W) (causal pairs)
        decode FLOPs  = B (2 P_body + 2 V d + a min(c, W))      a = 2 L h (d_qk + d_v)
        decode bytes  = W_read(B) / t + B min(c, W) kv s(t)     W_read = dense + E_distinct(B) x expert
        t_phase       = stages/p x [sum over kernel kinds of max(FLOPs/(t peak e_c), bytes/(bw e_m))
                                    + 2 L x allreduce] + overhead
        TTFT = prefill (stages = m + p - 1),  TPOT = decode step at c = I + O/2 (stages = p)
        e2e  = TTFT + (O - 1) TPOT,           throughput = B O / e2e

    ``P_body`` counts active parameters outside the embeddings and LM head (2 FLOPs per
    multiply-add; Kaplan et al. 2020 Table 1), ``s(t)`` the share of KV heads a rank holds; the
    kernel kinds are linear layers (weights), attention (KV cache) and elementwise work
    (activations and fp32 logits, written and read once per layer in 16 bit).
    Sources: Pope et al. 2022 (arXiv:2211.05102) §2-3 for the decode roofline; Kwon et al. 2023
    (vLLM) §3 for KV bytes; Shoeybi et al. 2019 §3 for tensor-parallel all-reduces.

    Raises
    ------
    InvalidInputError
        Non-positive lengths or batch, a TP degree that does not divide the heads, an unsupported
        dtype, or a context beyond the model's window.
    DoesNotFitError
        When the weights plus the KV cache do not fit (the message gives the shortfall and the
        smallest tensor-parallel degree that fits) or the batch exceeds the largest that fits.

    Examples
    --------
    Batch-1 decode of Llama-2-7B in fp16 on an H100 streams 13.5 GB of weights per token:

    >>> e = estimate("llama-2-7b", "h100-sxm", "fp16", 1, 128, 128)
    >>> e.decode_bound
    'memory bandwidth'
    """
    m, h, d, kv, c = _prepare(model, hardware, dtype, kv_dtype, compute_dtype)
    b, i, o, t, p = _scalar_layout(m, h, batch, input_tokens, output_tokens, tp, pp)
    eff = efficiency or _default_efficiency()
    mem = memory.batch_memory(m, d, kv, i + o, hardware=h, tp=t, pp=p, prefill_chunk_tokens=PREFILL_CHUNK_TOKENS)
    if not mem.fits(b):
        raise _fit_error(m, h, d, kv, i + o, b, t, p)
    r = _core(_model_features(m, d, kv), _hardware_features(h, c), eff,
              float(b), float(i), float(o), float(t), float(p), _PY)
    return _estimate_result(m, h, (d, kv, c), (b, i, o, t, p), r, mem, eff)


def _estimate_result(
    m: ModelSpec, h: HardwareSpec, dtypes: tuple[DType, DType, DType], layout: tuple[int, int, int, int, int],
    r: dict[str, Any], mem: memory.BatchMemory, eff: Efficiency,
) -> PerformanceEstimate:
    """:class:`PerformanceEstimate` of one configuration from its :func:`_core` results."""
    d, kv, c = dtypes
    b, i, o, t, p = layout
    fl = {k: float(v) for k, v in r.items() if not k.endswith("bound") and k != "binding"}
    return PerformanceEstimate(
        model_id=m.model_id, hardware_id=h.hardware_id, dtype=d, kv_dtype=kv, compute_dtype=c,
        batch=b, input_tokens=i, output_tokens=o, tp=t, pp=p,
        ttft_s=fl["ttft_s"], tpot_s=fl["tpot_s"], e2e_s=fl["e2e_s"],
        output_tokens_per_s=fl["output_tokens_per_s"],
        output_tokens_per_s_per_device=fl["output_tokens_per_s_per_device"],
        output_tokens_per_s_per_request=fl["output_tokens_per_s_per_request"],
        requests_per_s=fl["requests_per_s"],
        prefill_bound=BOUNDS[int(r["prefill_bound"])], decode_bound=BOUNDS[int(r["decode_bound"])],
        binding=BOUNDS[int(r["binding"])],
        prefill_compute_s=fl["prefill_compute_s"], prefill_memory_s=fl["prefill_memory_s"],
        prefill_comm_s=fl["prefill_comm_s"], decode_compute_s=fl["decode_compute_s"],
        decode_memory_s=fl["decode_memory_s"], decode_comm_s=fl["decode_comm_s"],
        prefill_intensity_flops_per_byte=fl["prefill_intensity_flops_per_byte"],
        decode_intensity_flops_per_byte=fl["decode_intensity_flops_per_byte"],
        memory_per_device_bytes=mem.per_device_total_bytes(b),
        memory_budget_bytes=mem.device_budget_bytes or 0.0,
        max_batch=mem.max_batch(),
        efficiency=eff,
    )


def _scalar_layout(
    m: ModelSpec, h: HardwareSpec, batch: Any, input_tokens: Any, output_tokens: Any, tp: Any, pp: Any,
) -> tuple[int, int, int, int, int]:
    """Validated (batch, input, output, tp, pp) of one configuration, as ints."""
    b = _int_arg("batch", batch)
    i = _int_arg("input_tokens", input_tokens)
    o = _int_arg("output_tokens", output_tokens)
    t = _int_arg("tp", tp)
    p = _int_arg("pp", pp)
    _check_parallel_ints(m, h, t, p)
    _check_context(m, i, o)
    return b, i, o, t, p


def _check_context(m: ModelSpec, i: int, o: int) -> None:
    if i + o > m.max_context:
        raise InvalidInputError(
            f"{i:,} input + {o:,} output tokens exceed {m.name}'s context window of {m.max_context:,}"
        )


@lru_cache(maxsize=1)
def _default_efficiency() -> Efficiency:
    """The fitted defaults (``Efficiency()``), made once: the model is frozen."""
    return Efficiency()


# ---------------------------------------------------------------- continuous batching


def steady_state_arrays(
    model: ModelSpec | str,
    hardware: HardwareSpec | str,
    dtype: DType | str,
    batch: npt.ArrayLike,
    input_tokens: npt.ArrayLike,
    output_tokens: npt.ArrayLike,
    tp: npt.ArrayLike = 1,
    pp: npt.ArrayLike = 1,
    *,
    kv_dtype: DType | str | None = None,
    compute_dtype: DType | str | None = None,
    efficiency: Efficiency | None = None,
    prefill_chunk_tokens: int = PREFILL_CHUNK_TOKENS,
) -> dict[str, Any]:
    """Continuous batching at steady state with ``batch`` sequences in flight (vectorized).

    Notes
    -----
    Every iteration decodes one token per sequence at the mean context ``I + O/2`` and prefills the
    ``B/O`` prompts that replace finishing sequences (Orca iteration-level scheduling, Yu et al.
    2022; chunked prefill, Agrawal et al. 2024)::

        t_iter = max(FLOPs/(peak e_c), bytes/(bw e_m)) + comm + step overhead
        throughput = B / t_iter,   TPOT = t_iter,   TTFT ~ t_iter (1/2 + ceil(I / chunk))

    Returns arrays ``output_tokens_per_s`` (per replica), ``tpot_s``, ``ttft_s``,
    ``requests_per_s``, ``bound`` (codes into :data:`BOUNDS`).
    """
    m, h, d, kv, c = _prepare(model, hardware, dtype, kv_dtype, compute_dtype)
    eff = efficiency or Efficiency()
    b = _as_array("batch", batch)
    i = _as_array("input_tokens", input_tokens)
    o = _as_array("output_tokens", output_tokens)
    t = _as_array("tp", tp)
    p = _as_array("pp", pp)
    _check_parallel_arrays(m, h, t, p)
    f = _model_features(m, d, kv)
    hw = _hardware_features(h, c)
    return _steady(f, hw, eff, b, i, o, t, p, prefill_chunk_tokens)


def _steady(
    f: _ModelFeatures, hw: _HardwareFeatures, eff: Efficiency, b: Any, i: Any, o: Any, t: Any, p: Any,
    chunk: int, attention_dp: bool = False,
) -> dict[str, Any]:
    lay = _layout(f, hw, eff, b, t, p, attention_dp=attention_dp)
    it = _mixed_iteration(f, lay, eff, b, i, o)
    t_iter = it.total_s
    tput = b / t_iter
    return {
        "output_tokens_per_s": tput,
        "output_tokens_per_s_per_device": tput / (t * p),
        "tpot_s": t_iter,
        "ttft_s": t_iter * (0.5 + np.ceil(i / float(chunk))),
        "requests_per_s": tput / o,
        "bound": it.bound(),
        "compute_s": it.flops_ceiling_s,
        "memory_s": it.bytes_ceiling_s,
        "comm_s": it.comm_s,
        "compute_bound_s": it.compute_s,
        "memory_bound_s": it.memory_s,
    }


class ThroughputEstimate(BaseModel):
    """Best steady-state throughput of one replica under continuous batching."""

    model_config = ConfigDict(frozen=True)

    model_id: str
    hardware_id: str
    dtype: DType
    kv_dtype: DType
    input_tokens: int
    output_tokens: int
    tp: int
    pp: int
    batch: int = Field(gt=0, description="sequences in flight at the best point")
    max_batch_memory: int = Field(gt=0, description="largest batch whose KV cache (input + output) fits")
    batch_cap: int = Field(gt=0)
    output_tokens_per_s: float = Field(gt=0, description="per replica")
    output_tokens_per_s_per_device: float = Field(gt=0)
    output_tokens_per_s_per_request: float = Field(gt=0)
    requests_per_s: float = Field(gt=0)
    ttft_s: float = Field(gt=0)
    tpot_s: float = Field(gt=0)
    limited_by: str = Field(description="what stops a larger batch")
    iteration_bound: str = Field(description="which ceiling sets the iteration time at that batch")
    ttft_limit_s: float | None = None
    tpot_limit_s: float | None = None
    efficiency: Efficiency
    attention_dp: bool = Field(default=False, description="attention data-parallel over the tp ranks")

    @property
    def devices(self) -> int:
        return self.tp * self.pp


def max_throughput(
    model: ModelSpec | str,
    hardware: HardwareSpec | str,
    dtype: DType | str,
    input_tokens: int,
    output_tokens: int,
    tp: int = 1,
    pp: int = 1,
    *,
    ttft_limit_s: float | None = None,
    tpot_limit_s: float | None = None,
    batch_cap: int = MAX_BATCH_CAP,
    kv_dtype: DType | str | None = None,
    compute_dtype: DType | str | None = None,
    efficiency: Efficiency | None = None,
    prefill_chunk_tokens: int = PREFILL_CHUNK_TOKENS,
    attention_dp: bool = False,
) -> ThroughputEstimate:
    """Output tokens/s of one replica at the best batch that fits (continuous batching).

    Notes
    -----
    Evaluates :func:`steady_state_arrays` at every batch from 1 to
    ``min(batch_cap, B_mem)``, where ``B_mem`` is the largest number of sequences whose KV cache
    of ``input + output`` tokens fits beside the weights (``memory.max_batch``), keeps the batches
    meeting the TTFT and TPOT limits, and returns the one with the highest throughput. Without
    limits throughput grows with the batch (the iteration time is affine in it), so the best
    batch is the largest that fits.

    ``attention_dp`` runs attention data-parallel over the ``tp`` ranks (each rank its own sequences'
    KV cache and the attention weights whole; routed experts expert-parallel: :func:`_attention_dp_layout`,
    batch limit :func:`max_batch_attention_dp`); it needs ``pp = 1``. Off by default.

    Raises
    ------
    DoesNotFitError
        When not even one sequence fits (with the smallest tensor-parallel degree that does).
    InvalidInputError
        Bad lengths or degrees, or limits that no batch meets (the message gives batch 1's
        TTFT and TPOT).

    >>> r = max_throughput("llama-3.1-8b", "h100-sxm", "fp8", 128, 2048)
    >>> r.limited_by
    'memory capacity'
    """
    m, h, d, kv, c = _prepare(model, hardware, dtype, kv_dtype, compute_dtype)
    i, o, t, p, cap, chunk = _throughput_args(m, h, input_tokens, output_tokens, tp, pp, batch_cap,
                                              prefill_chunk_tokens, ttft_limit_s, tpot_limit_s)
    eff = efficiency or _default_efficiency()
    if attention_dp and p > 1:
        raise InvalidInputError("attention data parallelism is modelled with pipeline parallel degree 1 only")
    dp = bool(attention_dp) and t > 1
    b_mem = max_batch_attention_dp(m, h, d, kv, i + o, t, cap) if dp else memory.max_batch(m, h, d, kv, i + o,
                                                                                          tp=t, pp=p)
    if b_mem < 1:
        raise _fit_error(m, h, d, kv, i + o, 1, t, p)
    top = min(b_mem, cap)
    r = _steady(_model_features(m, d, kv), _hardware_features(h, c), eff, np.arange(1, top + 1, dtype=float),
                np.float64(i), np.float64(o), np.float64(t), np.float64(p), chunk, dp)
    k, limited = _best_batch(r, b_mem, ttft_limit_s, tpot_limit_s, f"{t * p} × {h.name}")
    return ThroughputEstimate(
        model_id=m.model_id, hardware_id=h.hardware_id, dtype=d, kv_dtype=kv,
        input_tokens=i, output_tokens=o, tp=t, pp=p,
        batch=k + 1, max_batch_memory=b_mem, batch_cap=cap,
        output_tokens_per_s=float(r["output_tokens_per_s"][k]),
        output_tokens_per_s_per_device=float(r["output_tokens_per_s_per_device"][k]),
        output_tokens_per_s_per_request=1.0 / float(r["tpot_s"][k]),
        requests_per_s=float(r["requests_per_s"][k]),
        ttft_s=float(r["ttft_s"][k]), tpot_s=float(r["tpot_s"][k]),
        limited_by=limited, iteration_bound=BOUNDS[int(r["bound"][k])],
        ttft_limit_s=ttft_limit_s, tpot_limit_s=tpot_limit_s, efficiency=eff, attention_dp=dp,
    )


def _throughput_args(
    m: ModelSpec, h: HardwareSpec, input_tokens: Any, output_tokens: Any, tp: Any, pp: Any, batch_cap: Any,
    prefill_chunk_tokens: Any, ttft_limit_s: float | None, tpot_limit_s: float | None,
) -> tuple[int, int, int, int, int, int]:
    """Validated (input, output, tp, pp, batch cap, prefill chunk) of :func:`max_throughput`."""
    i = _int_arg("input_tokens", input_tokens)
    o = _int_arg("output_tokens", output_tokens)
    t = _int_arg("tp", tp)
    p = _int_arg("pp", pp)
    cap = _int_arg("batch_cap", batch_cap)
    chunk = _int_arg("prefill_chunk_tokens", prefill_chunk_tokens)
    for name, lim in (("TTFT limit", ttft_limit_s), ("TPOT limit", tpot_limit_s)):
        if lim is not None and not (math.isfinite(lim) and lim > 0):
            raise InvalidInputError(f"{name} must be a positive number of seconds, got {lim}")
    _check_parallel_ints(m, h, t, p)
    _check_context(m, i, o)
    return i, o, t, p, cap, chunk


def _best_batch(
    r: dict[str, Any], b_mem: int, ttft_limit_s: float | None, tpot_limit_s: float | None, where: str,
) -> tuple[int, str]:
    """(Index of the fastest batch within the limits, what stops a larger one) over batches 1..N.

    Raises ``InvalidInputError`` when no batch meets the limits (with batch 1's TTFT and TPOT).
    """
    ok = np.ones(np.shape(r["tpot_s"]), dtype=bool)
    if ttft_limit_s is not None:
        ok &= r["ttft_s"] <= ttft_limit_s
    if tpot_limit_s is not None:
        ok &= r["tpot_s"] <= tpot_limit_s
    if not ok.any():
        raise InvalidInputError(
            f"no batch meets the limits: at batch 1 TTFT is {float(r['ttft_s'][0]) * 1e3:,.1f} ms and "
            f"TPOT {float(r['tpot_s'][0]) * 1e3:,.2f} ms on {where}; relax the limits, raise "
            "tensor parallelism or choose faster hardware"
        )
    k = int(np.argmax(np.where(ok, r["output_tokens_per_s"], -np.inf)))
    if k + 1 == ok.size:
        return k, "memory capacity" if ok.size == b_mem else "batch cap"
    if not ok[k + 1]:
        over_ttft = ttft_limit_s is not None and float(r["ttft_s"][k + 1]) > ttft_limit_s
        return k, "TTFT limit" if over_ttft else "TPOT limit"
    return k, BOUNDS[int(r["bound"][k])]  # a larger batch is allowed but no faster: the iteration ceiling binds


# ---------------------------------------------------------------- tables of configurations


def estimate_frame(
    frame: pd.DataFrame, *, efficiency: Efficiency | None = None
) -> pd.DataFrame:
    """:func:`estimate_arrays` over a DataFrame of configurations, one row each.

    Required columns: ``model_id``, ``hardware_id``, ``dtype``, ``batch``, ``input_tokens``,
    ``output_tokens``; optional ``tp``, ``pp``, ``kv_dtype``. Rows are grouped by
    (model, hardware, dtypes) and each group is evaluated in one vectorized call. Returns the
    frame with the estimate columns appended (bounds as names).
    """
    need = ["model_id", "hardware_id", "dtype", "batch", "input_tokens", "output_tokens"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"configuration table lacks columns {missing}")
    df = frame.copy()
    if "tp" not in df:
        df["tp"] = 1
    if "pp" not in df:
        df["pp"] = 1
    if "kv_dtype" not in df:
        df["kv_dtype"] = None
    results: list[pd.DataFrame] = []
    keys = ["model_id", "hardware_id", "dtype", "kv_dtype"]
    for key, grp in df.groupby(keys, dropna=False, sort=False):
        mid, hid, dt, kv_raw = key
        kvd = str(kv_raw) if isinstance(kv_raw, str) and kv_raw else None
        r = estimate_arrays(
            str(mid), str(hid), str(dt), grp["batch"].to_numpy(float), grp["input_tokens"].to_numpy(float),
            grp["output_tokens"].to_numpy(float), grp["tp"].to_numpy(float), grp["pp"].to_numpy(float),
            kv_dtype=kvd, efficiency=efficiency,
        )
        cols = {k: (np.asarray(BOUNDS, dtype=object)[v] if k.endswith("bound") or k == "binding" else v)
                for k, v in r.items()}
        results.append(pd.DataFrame(cols, index=grp.index))
    return df.join(pd.concat(results)) if results else df


# ---------------------------------------------------------------- calibration


MetricName = Literal["output_tokens_per_s", "output_tokens_per_s_per_gpu", "ttft_s", "tpot_s", "e2e_s"]


def _data_dir() -> Path:
    from estimator import catalog

    return catalog.data_dir()


def load_measurements(path: str | Path | None = None) -> pd.DataFrame:
    """Published measurements in ``data/measurements.csv`` (one row per figure, with source).

    Columns: ``measurement_id, model_id, hardware_id, dtype, kv_dtype, tp, pp, gpus, scenario,
    batch, input_tokens, output_tokens, metric, value, framework, assumed, source, url, as_of,
    notes, excluded_reason, engine, engine_version, concurrency, attention_dp``. ``scenario`` is ``static``
    (fixed batch run to completion), ``latency`` (a batch, usually 1), ``max_throughput``
    (continuous batching at an unbounded request rate; ``batch`` then holds the engine's batch cap
    when published, else ``concurrency`` caps it) or ``online`` (a benchmark client holding
    ``concurrency`` requests in flight: continuous batching at that batch). ``engine`` is
    ``vllm``, ``sglang``, ``trtllm`` or ``lmdeploy``. ``gpus`` counts all accelerators the figure
    covers, so a system figure is ``gpus / (tp x pp)`` replicas. Rows naming a model or accelerator
    the catalog lacks load like any other; :func:`calibration_table` skips them with a counted
    reason (:func:`skip_reason`).
    """
    if path is None:  # the catalog copy: typed columns, loaded through DuckDB
        from estimator import catalog

        return _check_measurements(catalog.table_frame("measurements").copy(), "measurements.csv")
    return _read_measurements(str(Path(path)))


@lru_cache(maxsize=4)
def _read_measurements(path: str) -> pd.DataFrame:
    return _check_measurements(pd.read_csv(path), path)


def _check_measurements(df: pd.DataFrame, path: str) -> pd.DataFrame:
    need = {"source", "as_of", "assumed", "metric", "value", "scenario", "model_id", "hardware_id"}
    missing = need - set(df.columns)
    if missing:
        raise InvalidInputError(f"{path}: missing columns {sorted(missing)}")
    if "engine" not in df.columns:  # a file from before issue 12: engine unknown
        df = df.assign(engine="", engine_version="", concurrency=np.nan)
    df["engine"] = df["engine"].fillna("").astype(str).str.strip().str.lower()
    return df


def _num(row: pd.Series, column: str) -> float:
    """``row[column]`` as a float; NaN where the column is absent or empty (pandas ``NA`` included)."""
    value = row.get(column)
    return float("nan") if value is None or pd.isna(value) else float(value)


def skip_reason(row: pd.Series, model_ids: frozenset[str] | set[str], hardware_ids: frozenset[str] | set[str]) -> str:
    """Why a measurement row cannot be predicted (``""`` when it can, as far as the row shows).

    Rows are kept in the data either way; the calibration counts the reasons
    (``calibration_table(...).attrs["skipped"]``) so that ids still being added to the catalog
    show up as a count, not an error.
    """
    if str(row["model_id"]) not in model_ids:
        return "model not in the catalog"
    if str(row["hardware_id"]) not in hardware_ids:
        return "accelerator not in the catalog"
    if any(math.isnan(_num(row, c)) for c in ("input_tokens", "output_tokens", "tp")):
        return "input/output length or parallelism not stated"
    scenario, metric = str(row["scenario"]), str(row["metric"])
    if scenario not in ("static", "latency", "max_throughput", "online"):
        return f"unknown scenario {scenario!r}"
    if metric not in ("output_tokens_per_s", "output_tokens_per_s_per_gpu", "ttft_s", "tpot_s", "e2e_s") or (
            metric == "e2e_s" and scenario in ("max_throughput", "online")):
        return f"metric {metric!r} not modelled for a {scenario} run"
    if scenario == "online" and math.isnan(_num(row, "concurrency")):
        return "online run without a fixed concurrency"
    if scenario in ("static", "latency") and math.isnan(_num(row, "batch")):
        return f"{scenario} run without a batch"
    return ""


@dataclass(frozen=True)
class _Prepared:
    """Efficiency-independent part of one measurement's prediction (cached for fitting)."""

    f: _ModelFeatures
    hw: _HardwareFeatures
    scenario: str
    metric: str
    batch: float
    inp: float
    out: float
    tp: float
    pp: float
    replicas: float
    attention_dp: bool = False


def _flag(row: pd.Series, column: str) -> bool:
    """``row[column]`` as a boolean: False where the column is absent or empty."""
    value = row.get(column)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return False
    return str(value).strip().lower() in ("true", "1", "1.0", "yes")


def max_batch_attention_dp(model: ModelSpec, hardware: HardwareSpec, dtype: DType, kv_dtype: DType,
                           context_tokens: int, ranks: int, cap: int = MAX_BATCH_CAP,
                           memory_utilization: float = memory.MEMORY_UTILIZATION) -> int:
    """Largest number of sequences ``n`` attention-data-parallel ranks hold together (0 if none).

    Notes
    -----
    ``B_max = n x b``, with ``b`` the largest per-rank batch whose memory
    ``W_rep + W_exp m / E + KV(b) + A(b) + O`` fits (:func:`estimator.expert_parallel.max_batch_per_gpu`
    with ``dp_attention``: the attention and other non-expert weights ``W_rep`` whole on each rank, the
    routed experts ``W_exp`` sharded over the ``n`` ranks, each rank's KV cache its own ``b`` sequences';
    TensorRT-LLM docs/source/features/parallel-strategy.md, "Attention Data Parallelism"), and at most
    ``ceil(cap / n)`` per rank; capacity ``M_dev u`` (``memory_utilization``). Units: sequences.
    """
    from estimator import expert_parallel

    cfg = expert_parallel.EPConfig(ep=ranks, dp_attention=True, dtype=dtype, kv_dtype=kv_dtype,
                                   memory_utilization=memory_utilization)
    per_rank = expert_parallel.max_batch_per_gpu(model, hardware, cfg, context_tokens, cap=-(-int(cap) // ranks))
    return per_rank * ranks


def _prepare_row(row: pd.Series) -> _Prepared:
    """The efficiency-independent inputs of one row's prediction.

    ``max_throughput`` runs at the largest batch that fits (:func:`memory.max_batch`), capped by
    the published batch cap, else by the client concurrency, else :data:`MAX_BATCH_CAP`; an
    ``online`` run at a fixed concurrency ``C`` (a closed-loop benchmark client) is continuous
    batching with ``min(C, memory limit)`` sequences in flight (Little's law: the client keeps
    ``C`` requests in the system). A row with ``attention_dp`` true runs attention data-parallel over
    its ``tp`` ranks (:func:`_attention_dp_layout`; batch limit :func:`max_batch_attention_dp`).
    """
    m, h, d, kv, c = _prepare(str(row["model_id"]), str(row["hardware_id"]), str(row["dtype"]),
                              row.get("kv_dtype") if isinstance(row.get("kv_dtype"), str) else None, None)
    tp = _num(row, "tp") if not math.isnan(_num(row, "tp")) else 1.0
    pp = _num(row, "pp") if not math.isnan(_num(row, "pp")) else 1.0
    i, o = _num(row, "input_tokens"), _num(row, "output_tokens")
    gpus = _num(row, "gpus") if not math.isnan(_num(row, "gpus")) else tp * pp
    scenario = str(row["scenario"])
    batch, conc = _num(row, "batch"), _num(row, "concurrency")
    dp = _flag(row, "attention_dp") and tp > 1
    if scenario in ("max_throughput", "online"):
        if scenario == "online" and math.isnan(conc):
            raise InvalidInputError(f"{row['measurement_id']}: an online measurement needs a concurrency")
        b_mem = (max_batch_attention_dp(m, h, d, kv, int(i + o), int(tp), memory.MAX_BATCH_SEARCH) if dp else
                 memory.max_batch(m, h, d, kv, int(i + o), tp=int(tp), pp=int(pp)))
        cap = batch if not math.isnan(batch) else conc if not math.isnan(conc) else MAX_BATCH_CAP
        batch = float(max(min(b_mem, cap), 1))
    elif math.isnan(batch):
        raise InvalidInputError(f"{row['measurement_id']}: a {scenario} measurement needs a batch")
    return _Prepared(_model_features(m, d, kv), _hardware_features(h, c), scenario, str(row["metric"]),
                     batch, i, o, tp, pp, gpus / (tp * pp), dp)


def _predict_prepared(x: _Prepared, eff: Efficiency) -> float:
    b, i, o, t, p = (np.float64(v) for v in (x.batch, x.inp, x.out, x.tp, x.pp))
    if x.scenario in ("max_throughput", "online"):
        r = _steady(x.f, x.hw, eff, b, i, o, t, p, PREFILL_CHUNK_TOKENS, x.attention_dp)
    else:
        r = _core(x.f, x.hw, eff, b, i, o, t, p, attention_dp=x.attention_dp)
    per_replica = float(r["output_tokens_per_s"])
    metric = x.metric
    if metric == "output_tokens_per_s":
        return per_replica * x.replicas
    if metric == "output_tokens_per_s_per_gpu":
        return per_replica / (x.tp * x.pp)
    if metric in ("ttft_s", "tpot_s"):
        return float(r[metric])
    if metric == "e2e_s" and "e2e_s" in r:
        return float(r["e2e_s"])
    raise InvalidInputError(f"unknown metric {metric!r} for scenario {x.scenario!r}")


@dataclass(frozen=True)
class PreparedMeasurements:
    """The rows of a measurements frame the model can predict, prepared once (fits reuse them).

    ``frame`` holds those rows (original index), ``rows`` their efficiency-independent inputs in
    the same order, ``vendor`` each row's vendor family (:func:`vendor_family`), ``skipped`` the
    ``(measurement_id, reason)`` of every other row and ``family`` each row's calibration family
    (:func:`calibration_family`: the cell its engine's factors come from).
    """

    frame: pd.DataFrame
    rows: tuple[_Prepared, ...]
    vendor: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    family: tuple[str, ...]

    def skipped_counts(self) -> dict[str, int]:
        """How many rows each reason skipped."""
        counts: dict[str, int] = {}
        for _, reason in self.skipped:
            counts[reason] = counts.get(reason, 0) + 1
        return counts


def vendor_family(hardware: HardwareSpec | str) -> str:
    """The vendor family of an accelerator: its catalog ``vendor`` in lower case (``nvidia``, ``amd``, ...);
    the grouping of the leave-one-source-out tables and of the ranges (:mod:`estimator.uncertainty`)."""
    h = _resolve_hardware(hardware)
    return (h.vendor or "unknown").strip().lower()


BLACKWELL_DATACENTER: frozenset[str] = frozenset({"b200", "b300", "gb200", "gb300"})
"""NVIDIA's data-centre Blackwell accelerators (HGX B200/B300, GB200/GB300 NVL72; NVLink 5 in ``data/hardware.csv``):
calibrated as their own family (:func:`calibration_family`)."""

BLACKWELL_FAMILY: str = "nvidia-blackwell"
"""The calibration family of :data:`BLACKWELL_DATACENTER`."""


def calibration_family(hardware: HardwareSpec | str) -> str:
    """The family whose engine cell calibrates an accelerator: :data:`BLACKWELL_FAMILY` for NVIDIA's data-centre
    Blackwell parts, else :func:`vendor_family`.

    Notes
    -----
    Blackwell reaches other fractions of its datasheet peaks than Hopper and Ampere do (new tensor-core
    generation with FP4, new kernels). With its own engine cells, the leave-one-source-out error of the 159 scored
    points fell from 19.4% to 17.4% median (TensorRT-LLM 17.4 -> 15.3%, NVIDIA 18.0 -> 16.6%; within 1.5x 83 -> 85%;
    80% coverage 81% either way; vLLM, SGLang and AMD unchanged), 2026-11-30 refits on measurements sha256
    d357e096... (issue 12; ``bench/fit_performance.py``). One efficiency multiplier per accelerator on top of the
    vendor cells instead scored 19.4%.

    >>> calibration_family("gb200"), calibration_family("h100-sxm"), calibration_family("mi300x")
    ('nvidia-blackwell', 'nvidia', 'amd')
    """
    h = _resolve_hardware(hardware)
    return BLACKWELL_FAMILY if h.hardware_id in BLACKWELL_DATACENTER else vendor_family(h)


def prepare_measurements(frame: pd.DataFrame) -> PreparedMeasurements:
    """Split ``frame`` into predictable rows (prepared) and skipped rows with their reason.

    A row is skipped when :func:`skip_reason` names a reason, or when the model refuses it (an
    :class:`~estimator.errors.EstimatorError`, e.g. a weight format the accelerator cannot run);
    the reason is then ``"not predictable: <error class>"``.
    """
    from estimator import catalog
    from estimator.errors import EstimatorError

    model_ids = {m.model_id for m in catalog.list_models()}
    hardware_ids = {h.hardware_id for h in catalog.list_hardware()}
    keep: list[Any] = []
    rows: list[_Prepared] = []
    vendor: list[str] = []
    family: list[str] = []
    skipped: list[tuple[str, str]] = []
    for idx, row in frame.iterrows():
        reason = skip_reason(row, model_ids, hardware_ids)
        if not reason:
            try:
                rows.append(_prepare_row(row))
            except EstimatorError as exc:
                reason = f"not predictable: {type(exc).__name__}"
        if reason:
            skipped.append((str(row["measurement_id"]), reason))
            continue
        keep.append(idx)
        vendor.append(vendor_family(str(row["hardware_id"])))
        family.append(calibration_family(str(row["hardware_id"])))
    return PreparedMeasurements(frame.loc[keep], tuple(rows), tuple(vendor), tuple(skipped), tuple(family))


def _engine_of(frame: pd.DataFrame) -> list[str]:
    col = frame["engine"] if "engine" in frame.columns else pd.Series([""] * len(frame), index=frame.index)
    return [str(e) if isinstance(e, str) else "" for e in col]


def predict_prepared(prep: PreparedMeasurements, efficiency: Efficiency | None = None,
                     by_engine: bool = False) -> FloatArray:
    """Predictions of ``prep.rows`` at one efficiency, or (``by_engine``) at each row's engine x calibration
    family factors (:func:`efficiency_for`)."""
    if not by_engine:
        eff = efficiency or Efficiency()
        return np.array([_predict_prepared(x, eff) for x in prep.rows], dtype=float)
    engines = _engine_of(prep.frame)
    return np.array([_predict_prepared(x, efficiency_for(e, v))
                     for x, e, v in zip(prep.rows, engines, prep.family, strict=True)], dtype=float)


def predict_measurements(frame: pd.DataFrame, efficiency: Efficiency | None = None,
                         by_engine: bool = False) -> FloatArray:
    """The model's prediction of every measurement row (same units as its ``value``); NaN for a row
    :func:`prepare_measurements` skips."""
    prep = prepare_measurements(frame)
    out = pd.Series(np.nan, index=frame.index, dtype=float)
    out.loc[prep.frame.index] = predict_prepared(prep, efficiency, by_engine)
    return out.to_numpy(float)


def _excluded_mask(df: pd.DataFrame) -> npt.NDArray[np.bool_]:
    if "excluded_reason" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    col = df["excluded_reason"]
    return (col.notna() & (col.astype(str).str.strip() != "")).to_numpy()


def calibration_table(
    efficiency: Efficiency | None = None, frame: pd.DataFrame | None = None, by_engine: bool = False
) -> pd.DataFrame:
    """Every predictable measurement beside the model's prediction and the error.

    ``error`` = predicted / measured - 1 (signed), ``abs_error`` its magnitude, ``ratio`` =
    max(predicted/measured, measured/predicted) (1 = exact, 2 = a factor of two off);
    ``excluded`` marks rows shown but neither fitted nor scored (``excluded_reason`` says why);
    ``vendor`` is the vendor family. ``by_engine`` predicts each row at its engine x vendor
    factors (:func:`efficiency_for`) instead of ``efficiency``. Rows the model cannot predict are
    left out and counted by reason in ``table.attrs["skipped"]`` (ids and reasons in
    ``table.attrs["skipped_rows"]``).
    """
    prep = prepare_measurements(load_measurements() if frame is None else frame)
    df = prep.frame.copy()
    pred = predict_prepared(prep, efficiency, by_engine)
    df["vendor"] = list(prep.vendor)
    df["predicted"] = pred
    df["error"] = pred / df["value"].to_numpy(float) - 1.0
    df["abs_error"] = df["error"].abs()
    r = pred / df["value"].to_numpy(float)
    df["ratio"] = np.maximum(r, 1.0 / r)
    df["excluded"] = _excluded_mask(df)
    df.attrs["skipped"] = prep.skipped_counts()
    df.attrs["skipped_rows"] = list(prep.skipped)
    return df


def calibration_summary(table: pd.DataFrame | None = None) -> dict[str, float]:
    """Median and worst absolute error, worst factor and share within 2x over the scored rows."""
    t = calibration_table() if table is None else table
    excluded = t["excluded"].to_numpy(bool) if "excluded" in t else np.zeros(len(t), dtype=bool)
    s = t[~excluded]
    return {
        "points": float(len(s)),
        "excluded_points": float(excluded.sum()),
        "median_abs_error": float(s["abs_error"].median()),
        "mean_abs_error": float(s["abs_error"].mean()),
        "worst_abs_error": float(s["abs_error"].max()),
        "worst_ratio": float(s["ratio"].max()),
        "within_2x": float((s["ratio"] <= 2.0).mean()),
    }


def _nelder_mead(fun: Callable[[FloatArray], float], x0: FloatArray, step: float = 0.15,
                 iters: int = 800, tol: float = 1e-9) -> FloatArray:
    """Minimal Nelder-Mead simplex minimizer (Nelder & Mead 1965), numpy only."""
    n = x0.size
    pts = [x0.astype(float)]
    for k in range(n):
        v = x0.astype(float).copy()
        v[k] += step
        pts.append(v)
    vals = [fun(p) for p in pts]
    for _ in range(iters):
        order = np.argsort(vals)
        pts = [pts[j] for j in order]
        vals = [vals[j] for j in order]
        if abs(vals[-1] - vals[0]) < tol:
            break
        centroid = np.mean(pts[:-1], axis=0)
        xr = centroid + (centroid - pts[-1])
        fr = fun(xr)
        if fr < vals[0]:
            xe = centroid + 2.0 * (centroid - pts[-1])
            fe = fun(xe)
            pts[-1], vals[-1] = (xe, fe) if fe < fr else (xr, fr)
        elif fr < vals[-2]:
            pts[-1], vals[-1] = xr, fr
        else:
            xc = centroid + 0.5 * (pts[-1] - centroid)
            fc = fun(xc)
            if fc < vals[-1]:
                pts[-1], vals[-1] = xc, fc
            else:
                pts = [pts[0] + 0.5 * (q - pts[0]) for q in pts]
                vals = [fun(q) for q in pts]
    return pts[int(np.argmin(vals))]


FIT_FIELDS: tuple[str, ...] = (
    "compute", "low_precision_compute", "memory", "step_overhead_s", "prefill_overhead_s", "link_latency_s",
    "moe_gemm",
)
"""The :class:`Efficiency` fields :func:`fit_efficiency` fits; the communication efficiency stays assumed."""

FRACTION_FIELDS: frozenset[str] = frozenset({"compute", "low_precision_compute", "memory", "moe_gemm"})
"""The :data:`FIT_FIELDS` that are fractions (logit coordinates); the rest are times (log coordinates)."""

MOE_GEMM_START: float = 0.5
"""Where the fits start :attr:`Efficiency.moe_gemm` (logit 0, the middle of its range; a start, not a figure)."""


def _logit(v: float) -> float:
    v = min(max(v, 1e-3), 1 - 1e-3)
    return math.log(v / (1 - v))


FIXED_FIELDS: tuple[str, ...] = ("sequence_overhead_s",)
"""Constants the engine x vendor calibration applies but does not fit (stored with ``assumed=true``)."""


def calibration_start() -> Efficiency:
    """Where ``bench/fit_performance.py`` starts its fits: the module's constants with
    :data:`SEQUENCE_OVERHEAD_S` applied (held fixed; only :data:`FIT_FIELDS` move)."""
    return Efficiency(sequence_overhead_s=SEQUENCE_OVERHEAD_S, moe_gemm=MOE_GEMM_START)


def efficiency_to_z(eff: Efficiency) -> FloatArray:
    """:data:`FIT_FIELDS` of ``eff`` in the fit's unconstrained coordinates: logit for the four
    efficiencies (:data:`FRACTION_FIELDS`), natural log for the two overheads and the NVLink all-reduce latency."""
    return np.array([_logit(eff.compute), _logit(eff.low_precision_compute), _logit(eff.memory),
                     math.log(max(eff.step_overhead_s, 1e-6)), math.log(max(eff.prefill_overhead_s, 1e-6)),
                     math.log(max(eff.link_latency_s, 1e-7)), _logit(eff.moe_gemm)])


def efficiency_from_z(z: FloatArray, base: Efficiency | None = None) -> Efficiency:
    """Inverse of :func:`efficiency_to_z`; fields outside :data:`FIT_FIELDS` come from ``base``."""
    frac = np.clip(1.0 / (1.0 + np.exp(-z[[0, 1, 2, 6]])), 1e-3, 1.0)
    over = np.exp(z[3:6])
    return (base or Efficiency()).model_copy(update={
        "compute": float(frac[0]), "low_precision_compute": float(frac[1]), "memory": float(frac[2]),
        "step_overhead_s": float(min(over[0], 1.0)), "prefill_overhead_s": float(min(over[1], 10.0)),
        "link_latency_s": float(min(over[2], 1.0)), "moe_gemm": float(frac[3]),
    })


def log_residuals(rows: Sequence[_Prepared], measured: FloatArray, eff: Efficiency) -> FloatArray:
    """``ln(predicted / measured)`` of prepared rows at ``eff`` (the quantity the fit minimizes)."""
    pred = np.array([_predict_prepared(x, eff) for x in rows], dtype=float)
    return np.asarray(np.log(pred / measured), dtype=float)


ROBUST_DELTA: float = math.log(1.5)
"""Scale ``delta`` of the pseudo-Huber loss of the engine x vendor fits (``bench/fit_performance.py``):
``rho(r) = 2 delta^2 (sqrt(1 + (r/delta)^2) - 1)`` on ``r = ln(predicted / measured)`` is quadratic
within a factor of about 1.5 and linear beyond (Charbonnier et al. 1997; scipy's ``soft_l1``), so a
few points the model cannot represent (a TTFT dominated by queueing, 100x off) do not drag every
constant of their cell. A choice, not fitted: 1.5x is the issue's per-point target."""


def fit_prepared(rows: Sequence[_Prepared], measured: FloatArray, start: Efficiency | None = None,
                 iters: int = 800, delta: float | None = None, tol: float = 1e-9,
                 fixed: Sequence[str] = ()) -> Efficiency:
    """Nelder-Mead fit of :data:`FIT_FIELDS` to prepared rows in the coordinates of
    :func:`efficiency_to_z`, starting at ``start`` (deterministic: no random start, the same rows
    give the same constants). Minimizes the mean of ``ln(pred/measured)^2``, or with ``delta`` the
    pseudo-Huber loss :data:`ROBUST_DELTA` describes. ``fixed``: fields held at ``start``'s values."""
    base = start or Efficiency()
    z0 = efficiency_to_z(base)
    free = np.array([name not in fixed for name in FIT_FIELDS])
    keep = {name: getattr(base, name) for name in fixed}

    def at(zf: FloatArray) -> Efficiency:
        z = z0.copy()
        z[free] = zf
        eff = efficiency_from_z(z, base)
        return eff.model_copy(update=keep) if keep else eff

    def loss(zf: FloatArray) -> float:
        r = log_residuals(rows, measured, at(zf))
        if delta is None:
            return float(np.mean(r**2))
        return float(np.mean(2.0 * delta**2 * (np.sqrt(1.0 + (r / delta) ** 2) - 1.0)))

    return at(_nelder_mead(loss, z0[free], iters=iters, tol=tol))


def fit_efficiency(frame: pd.DataFrame | None = None, start: Efficiency | None = None,
                   fixed: Sequence[str] = ()) -> Efficiency:
    """Fit the efficiency factors to the measurements (how this module's defaults were made).

    Minimizes the mean squared log ratio ``ln(predicted / measured)`` over the scored rows
    (``excluded_reason`` empty, and predictable: :func:`prepare_measurements`) with Nelder-Mead in
    unconstrained coordinates: logit for the three efficiencies, log for the overheads and the
    NVLink all-reduce latency (:func:`fit_prepared`); ``fixed`` fields stay at ``start``'s values (the
    defaults other than :data:`MOE_GEMM_EFFICIENCY` were fitted with ``moe_gemm = 1``, held fixed).
    """
    df = load_measurements() if frame is None else frame
    prep = prepare_measurements(df[~_excluded_mask(df)])
    return fit_prepared(prep.rows, prep.frame["value"].to_numpy(float), start, fixed=fixed)


SHRINK_POINTS: float = 10.0
"""``k`` of the shrinkage of an engine x vendor fit toward the global fit: a cell with ``n`` scored
points keeps the weight ``w = n / (n + k)`` on its own fit, ``z = z_global + w (z_cell - z_global)``
in the coordinates of :func:`efficiency_to_z` (a cell of 10 points sits half-way; 40 points keep 80%).
The form is the precision-weighted mean of a normal hierarchical model with equal within- and
between-cell variance per point (Gelman et al., *Bayesian Data Analysis*, 3rd ed., §5.4, eq. 5.17);
k = 10 is a choice (about the 6 fitted constants plus a few points of slack), not fitted."""


def shrink_efficiency(cell: Efficiency, toward: Efficiency, points: int, k: float = SHRINK_POINTS) -> Efficiency:
    """``cell`` pulled toward ``toward`` with weight ``points / (points + k)`` on ``cell`` (:data:`SHRINK_POINTS`);
    a constant both hold at the same value keeps it exactly (no round trip through the fit coordinates)."""
    if k < 0:
        raise InvalidInputError("the shrinkage constant k must be >= 0")
    w = points / (points + k) if points + k > 0 else 0.0
    zg, zc = efficiency_to_z(toward), efficiency_to_z(cell)
    same = {name: getattr(toward, name) for name in FIT_FIELDS if getattr(cell, name) == getattr(toward, name)}
    return efficiency_from_z(zg + w * (zc - zg), toward).model_copy(update=same)


CALIBRATION_FILE: str = "calibration_engines.csv"
"""The engine x vendor constants :func:`efficiency_for` reads (in ``data/``), written by
``bench/fit_performance.py``: one row per (engine, vendor, constant) with its standard error,
points, shrinkage weight, the date and the SHA-256 of ``measurements.csv`` they were fitted on."""

CALIBRATION_COLUMNS: dict[str, str] = {
    "engine": "VARCHAR", "vendor": "VARCHAR", "constant": "VARCHAR", "value": "DOUBLE",
    "std_error": "DOUBLE", "unit": "VARCHAR", "points": "INTEGER", "weight": "DOUBLE",
    "measurements_sha256": "VARCHAR", "assumed": "BOOLEAN", "source": "VARCHAR", "as_of": "DATE",
    "notes": "VARCHAR",
}
"""Columns of :data:`CALIBRATION_FILE` (DuckDB types, read by ``catalog.read_csv_typed``)."""

CALIBRATION_ENGINES: tuple[str, ...] = ("vllm", "sglang", "trtllm")
"""Engines with their own calibration cell; others (e.g. ``lmdeploy``) take the global constants."""

_ENGINE_ALIASES = {"tensorrt-llm": "trtllm", "tensorrt_llm": "trtllm", "trt-llm": "trtllm", "nim": "trtllm"}

RANGE_CONSTANTS: tuple[str, str] = ("log_residual_p10", "log_residual_p90")
"""Rows of :data:`CALIBRATION_FILE` holding a cell's nominal 80% range: the 10th and 90th
percentiles of its leave-one-source-out residuals ``ln(measured speed / predicted speed)`` (speed =
the value for a rate, 1 / value for a time), so a predicted rate ``r`` has the range
``r exp(p10) .. r exp(p90)`` and a predicted time ``t`` the range ``t exp(-p90) .. t exp(-p10)``."""


TIME_METRICS: frozenset[str] = frozenset({"ttft_s", "tpot_s", "e2e_s"})
"""Measurement metrics that are times (the rest are rates)."""


@dataclass(frozen=True)
class CellCalibration:
    """The fitted factors of one engine x vendor cell and the spread of its held-out residuals.

    ``std_error`` maps each :data:`FIT_FIELDS` constant to its standard error (same unit);
    ``points`` is the number of scored measurements in the cell, ``weight`` the shrinkage weight
    ``n / (n + k)`` on the cell's own fit; ``fitted`` is False where no cell exists and the
    module's global defaults (:class:`Efficiency`) stand in.
    """

    engine: str
    vendor: str
    efficiency: Efficiency
    std_error: tuple[tuple[str, float], ...]
    points: int
    weight: float
    log_residual_p10: float
    log_residual_p90: float
    fitted: bool


def canonical_engine(engine: str | None) -> str:
    """``vLLM`` -> ``vllm``, ``TensorRT-LLM`` -> ``trtllm``, ``SGLang`` -> ``sglang`` (lower case otherwise)."""
    e = (engine or "").strip().lower()
    return _ENGINE_ALIASES.get(e, e)


@lru_cache(maxsize=4)
def _calibration_cells(path: str) -> dict[tuple[str, str], CellCalibration]:
    from estimator import catalog

    file = Path(path)
    if not file.is_file():
        return {}
    df = catalog.read_csv_typed(file, CALIBRATION_COLUMNS)
    cells: dict[tuple[str, str], CellCalibration] = {}
    for (engine, vendor), g in df.groupby(["engine", "vendor"], sort=True):
        vals = dict(zip(g["constant"], g["value"].astype(float), strict=True))
        errs = dict(zip(g["constant"], g["std_error"].astype(float), strict=True))
        eff = Efficiency().model_copy(update={k: vals[k] for k in (*FIT_FIELDS, *FIXED_FIELDS) if k in vals})
        cells[(str(engine), str(vendor))] = CellCalibration(
            engine=str(engine), vendor=str(vendor), efficiency=Efficiency.model_validate(eff.model_dump()),
            std_error=tuple((k, errs[k]) for k in FIT_FIELDS if k in errs), points=int(g["points"].iloc[0]),
            weight=float(g["weight"].iloc[0]), log_residual_p10=float(vals.get(RANGE_CONSTANTS[0], math.nan)),
            log_residual_p90=float(vals.get(RANGE_CONSTANTS[1], math.nan)), fitted=True)
    return cells


def calibration_cells(path: str | Path | None = None) -> dict[tuple[str, str], CellCalibration]:
    """Every stored engine x vendor cell of :data:`CALIBRATION_FILE` (``("all", "all")`` is the
    global refit the cells were shrunk toward); empty where the file does not exist yet."""
    return _calibration_cells(str(Path(path) if path is not None else _data_dir() / CALIBRATION_FILE))


def calibration_for(engine: str | None, vendor: str | None) -> CellCalibration:
    """The cell of ``engine`` x ``vendor`` (:func:`canonical_engine`; ``vendor`` a calibration family,
    :func:`calibration_family`, in lower case).

    A family without a cell of its own falls back to its vendor's (``nvidia-blackwell`` -> ``nvidia``), then to the
    module's global constants (``Efficiency()``, unchanged by the per-cell fit), with the spread of the pooled
    residuals (``("all", "all")``).
    """
    return _calibration_for(canonical_engine(engine), (vendor or "").strip().lower(), str(_data_dir()))


@lru_cache(maxsize=64)
def _calibration_for(engine: str, vendor: str, data_dir: str) -> CellCalibration:
    """:func:`calibration_for` of a canonical engine and vendor family, memoized per data directory (every
    planner step asks for it: this keeps it a dictionary lookup)."""
    cells = _calibration_cells(str(Path(data_dir) / CALIBRATION_FILE))
    key = (engine, vendor)
    if key in cells:
        return cells[key]
    base = vendor.split("-", 1)[0]
    if (engine, base) in cells:
        return cells[(engine, base)]
    pooled = cells.get(("all", "all"))
    p10, p90 = (pooled.log_residual_p10, pooled.log_residual_p90) if pooled else (math.nan, math.nan)
    return CellCalibration(engine=key[0], vendor=key[1], efficiency=_default_efficiency(), std_error=(),
                           points=0, weight=0.0, log_residual_p10=p10, log_residual_p90=p90, fitted=False)


def efficiency_for(engine: str | None, vendor: str | None) -> Efficiency:
    """The efficiency factors of an engine on a vendor family (:func:`calibration_for`)."""
    return calibration_for(engine, vendor).efficiency


def prediction_range(value: float, metric: str, cell: CellCalibration) -> tuple[float, float]:
    """The nominal 80% range of a predicted ``value`` of ``metric`` from ``cell``'s held-out
    residuals (:data:`RANGE_CONSTANTS`): ``value exp(p10) .. value exp(p90)`` for a rate,
    ``value exp(-p90) .. value exp(-p10)`` for a time (:data:`TIME_METRICS`)."""
    lo, hi = cell.log_residual_p10, cell.log_residual_p90
    if metric in TIME_METRICS:
        return value * math.exp(-hi), value * math.exp(-lo)
    return value * math.exp(lo), value * math.exp(hi)


def efficiency_for_scenario(scenario: Any, hardware: HardwareSpec | None = None) -> Efficiency:
    """The efficiency factors a ``Scenario`` runs with: the calibrated cell of its serving engine on the
    hardware's calibration family (:func:`calibration_family`, :func:`calibration_for`: fitted per engine x family
    by ``bench/fit_performance.py``, shrunk toward the global fit; the vendor's cell, then the global constants,
    where the family has none), then the scenario's overrides.

    ``hardware`` defaults to the scenario's own accelerator; a planner screening other accelerators passes each
    one, so an AMD option is estimated with the engine's AMD factors and a B200 with its Blackwell factors. These are the factors whose
    leave-one-source-out residuals give the predictions' ranges (:mod:`estimator.uncertainty`).
    """
    a, p = scenario.assumptions, scenario.perf
    d = efficiency_for(scenario.engine.name, _vendor(scenario, hardware))
    update: dict[str, float] = {}
    for name, value, scale in (("compute", a.compute_efficiency, 1.0),
                               ("low_precision_compute", p.low_precision_factor, 1.0),
                               ("memory", a.memory_efficiency, 1.0), ("communication", p.link_efficiency, 1.0),
                               ("step_overhead_s", p.step_overhead_ms, 1e-3),
                               ("prefill_overhead_s", p.prefill_overhead_ms, 1e-3),
                               ("link_latency_s", p.allreduce_latency_us, 1e-6)):
        if value is not None:
            update[name] = value * scale
    return d.model_copy(update=update) if update else d


def _vendor(scenario: Any, hardware: HardwareSpec | None) -> str | None:
    """The calibration family of ``hardware``, else of the scenario's accelerator (None if the catalog lacks it)."""
    if hardware is not None:
        return calibration_family(hardware)
    from estimator import catalog  # the catalog imports this module's data helpers: import late

    try:
        return calibration_family(catalog.get_hardware(scenario.deploy.hardware_id))
    except EstimatorError:  # an unknown accelerator is reported where it is used; the global factors apply here
        return None


def smallest_tp(
    model: ModelSpec, hardware: HardwareSpec, dtype: DType | str, kv_dtype: DType | str, context_tokens: int, batch: int
) -> int:
    """The smallest tensor-parallel degree that holds ``batch`` x ``context`` (the page's "auto"), else the
    largest degree within a node so that the estimate can explain the shortfall."""
    fit = memory.min_accelerators(model, hardware, dtype, kv_dtype, context_tokens, batch)
    if fit.fits:
        return fit.tp
    return max((t for t in (1, 2, 4, 8, 16, 32, 64) if model.n_heads % t == 0 and t <= hardware.max_per_node),
               default=1)
