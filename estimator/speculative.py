"""Speculative decoding and multi-token prediction: with vs without, across batch sizes.

A drafter proposes ``k`` tokens per sequence; the target checks them all in one forward pass and
keeps the longest prefix it agrees with, plus one token of its own (Leviathan, Kalman & Matias
2023, "Fast Inference from Transformers via Speculative Decoding", arXiv:2211.17192; Chen et al.
2023, arXiv:2302.01318). One speculative iteration at batch ``B`` and context ``c`` costs::

    t_spec(B)  = t_verify(B, n) + host(B, tau) + [d(B, k+1) + t_d] + (k - 1) [d(B, w) + t_d]   (seconds)
    t_plain(B) = t_verify(B, 1) + host(B, 1)                  (the ordinary decode step)
    host(B, n) = t_step + t_seq B n, or max(0, host - t_gpu) behind an overlap scheduler

where ``t_verify(B, n)`` is the target's forward over ``n`` query tokens per sequence on the
roofline of :mod:`estimator.performance` (weights read once, the KV cache read once, FLOPs x n;
``n = k + 1`` for a chain, every tree node for a tree), ``d(B, w)`` one forward of the drafter
with ``w`` tokens per sequence (the first over the ``k + 1`` verified positions, the draft extend;
then ``k - 1`` steps of ``w`` = 1 for a chain, top-k for a tree), ``t_d`` the fixed time of a
draft forward (:data:`DRAFT_STEP_OVERHEAD_S`: the engine's per-forward step time), and ``host``
the engine's host time per iteration: per-step plus per-sequence-per-token
(:func:`host_time_s`), hidden or exposed as the engine schedules it (SGLang overlaps it in plain
decoding but not with EAGLE speculation; an eager engine pays its layers' launch time instead of
``t_step``; ``data/speculative_engines.csv``). It yields ``tau``
tokens per sequence on average (the mean acceptance length, published per task in
``data/speculative_acceptance.csv`` or given), so::

    TPOT_spec = t_spec / tau,   speedup = tau t_plain / t_spec,   throughput = B / TPOT

At small batch decode is memory-bound: the extra ``k`` query tokens ride on the same weight read,
verification is nearly free and the speedup approaches ``tau / (1 + drafts / t_plain)``. At
large batch the linear layers become compute-bound, ``t_verify(B, k+1)`` grows like ``(k+1)
t_plain``, the exposed host time grows with ``B tau``, and speculation stops paying (EAGLE-3
paper §4.3-4.4, Tables 3 and 5, reproduced within 25% by :func:`anchor_checks`).

Drafters: ``eagle3`` (one decoder layer of the target's width fed by three fused target features,
and an LM head over a reduced 32k draft vocabulary; Li et al. 2025, arXiv:2503.01840 §3.1),
``mtp`` (DeepSeek-V3's multi-token-prediction module: one transformer block of the target, a
2d -> d projection, and the target's shared embedding and output head; DeepSeek-AI 2024,
arXiv:2412.19437 §2.2), and ``draft`` (a separate smaller model of the same vocabulary from the
catalog, Leviathan et al. 2023). All sizes are bytes, times seconds, rates per second.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from estimator import catalog, memory, performance
from estimator.anchors import AnchorCheck
from estimator.errors import InvalidInputError
from estimator.specs import HardwareSpec, ModelSpec
from estimator.units import DType

__all__ = [
    "METHODS",
    "EAGLE3_DRAFT_VOCAB",
    "DRAFT_STEP_OVERHEAD_S",
    "DEFAULT_BATCHES",
    "AcceptanceRow",
    "Drafter",
    "SpeculativePoint",
    "SpeculativeComparison",
    "expected_tokens_per_step",
    "acceptance_rate_for_length",
    "acceptance_rows",
    "published_acceptance_length",
    "drafter_for",
    "step_times_s",
    "compare",
    "AnchorSetup",
    "AnchorCheck",
    "ANCHOR_SETUPS",
    "predict_anchor",
    "anchor_step_times",
    "ANCHOR_EFFICIENCY",
    "RTX_3090",
    "EngineOverlap",
    "engine_overlap",
    "host_time_s",
    "anchor_checks",
    "for_plan",
    "StepTimes",
]

METHODS: tuple[str, ...] = ("off", "eagle3", "mtp", "draft")
"""Speculation methods: none, an EAGLE-3 head, a multi-token-prediction module, a separate draft model."""

EAGLE3_DRAFT_VOCAB: int = 32_000
"""Vocabulary of the EAGLE-3 draft head's LM head (``draft_vocab_size`` 32000 in the official
``yuhuili/EAGLE3-LLaMA3.1-Instruct-8B`` config; Li et al. 2025 use a reduced draft vocabulary)."""

DRAFT_STEP_OVERHEAD_S: float | None = None
"""Fixed time per draft forward beyond its kernels (seconds); None = the engine's per-forward fixed
time, :attr:`estimator.performance.Efficiency.step_overhead_s` (:data:`estimator.performance.STEP_OVERHEAD_S`,
0.58 ms fitted on target decode steps). Assumed: a draft forward is a forward of its own, launched,
its logits reduced to top-k and its next inputs prepared like a target step's (SGLang
``EAGLEWorker.draft_forward``, vLLM ``EagleProposer.propose``). Cross-check: vLLM PR #24343
(2025-09-14) lists, for Llama-3.1-8B with an EAGLE head and FR-Spec's reduced draft vocabulary on
one A100-40GB at batch 1, 108.45 tokens/s at k = 1 (tau 1.63) and 48.32 tokens/s at k = 32
(tau 2.18): 31 more draft steps cost ``2.18/48.32 - 1.63/108.45 = 30.1 ms``, about 0.97 ms each,
of which the head's weight read (about 0.38 B parameters) is about 0.65 ms at 75% of 1,555 GB/s,
leaving about 0.3 ms of fixed time per step: the same order as the 0.58 ms charged. Charging 0
(the value before issue 14) over-predicts EAGLE-3 Table 3 by 29-36% (``bench/bench_speculative.py``).
An eager engine (the EAGLE authors' code, :func:`engine_overlap`) charges its launch time instead."""

SPEC_ENGINES_FILE = "speculative_engines.csv"
"""How each engine schedules host work with and without speculation (``data/speculative_engines.csv``)."""

RTX_3090: HardwareSpec = HardwareSpec(
    hardware_id="rtx-3090", name="NVIDIA GeForce RTX 3090", vendor="nvidia", memory_bytes=24 * 2**30,
    memory_datasheet_gb=24, memory_bandwidth_bytes_per_s=936e9,
    peak_flops_per_s_by_dtype={DType.FP32: 35.6e12, DType.BF16: 71e12, DType.FP16: 71e12},
    tdp_w=350, idle_w=20, intra_node_link="PCIe4", intra_node_bandwidth_bytes_per_s=64e9, max_per_node=4,
    released="2020-09", assumed=True, as_of=date(2020, 9, 1),
    source="NVIDIA Ampere GA102 GPU Architecture whitepaper, Appendix A (GeForce RTX 3090: 24 GB GDDR6X at "
           "19.5 Gbps on 384 bits = 936 GB/s; FP32 35.6 TFLOPS; FP16/BF16 Tensor with FP32 accumulate 71 | 142* "
           "TFLOPS, *sparsity, the FP32-accumulate figures as in the catalog's rtx-4090 row; 350 W; PCIe Gen 4)",
    notes="idle_w 20 W and max_per_node 4 assumed as for the catalog's rtx-4090 row; memory 24 GiB",
)
"""The GPU of EAGLE-3's vLLM experiment (Table 5), absent from ``data/hardware.csv`` (which this module
does not own): used only by :data:`ANCHOR_SETUPS`; a catalog row ``rtx-3090`` takes precedence."""

DEFAULT_BATCHES: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
"""Batch sizes of the with/without comparison."""

_ACCEPTANCE_FILE = "speculative_acceptance.csv"


# ---------------------------------------------------------------- acceptance


def expected_tokens_per_step(alpha: float, k: int) -> float:
    """Mean tokens one speculative iteration yields per sequence.

    Leviathan et al. 2023 (arXiv:2211.17192) eq. 1, with per-token acceptance rate ``alpha``
    (i.i.d.) and ``k`` drafted tokens::

        E[tokens] = (1 - alpha^(k+1)) / (1 - alpha)        (-> k + 1 as alpha -> 1)

    >>> round(expected_tokens_per_step(0.8, 3), 4)
    2.952
    """
    if not 0.0 <= alpha <= 1.0 or not math.isfinite(alpha):
        raise InvalidInputError(f"acceptance rate must be in [0, 1], got {alpha}")
    if k < 0:
        raise InvalidInputError(f"drafted tokens must be zero or more, got {k}")
    if alpha == 1.0:
        return float(k + 1)
    return (1.0 - alpha ** (k + 1)) / (1.0 - alpha)


def acceptance_rate_for_length(tau: float, k: int) -> float:
    """The ``alpha`` whose :func:`expected_tokens_per_step` with ``k`` drafts is ``tau`` (bisection).

    ``tau`` must lie in ``[1, k + 1]``; the function is increasing in ``alpha``.
    """
    if not 1.0 <= tau <= k + 1:
        raise InvalidInputError(f"acceptance length {tau:g} must be between 1 and k + 1 = {k + 1}")
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if expected_tokens_per_step(mid, k) < tau:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class AcceptanceRow:
    """One published mean acceptance length (``data/speculative_acceptance.csv``)."""

    method: str
    model: str
    task: str
    acceptance_length: float
    spec_tokens: int | None
    source: str
    url: str
    as_of: str
    notes: str


@lru_cache(maxsize=1)
def acceptance_rows() -> tuple[AcceptanceRow, ...]:
    """Every row of ``data/speculative_acceptance.csv``."""
    path = Path(catalog.data_dir()) / _ACCEPTANCE_FILE
    with path.open(newline="", encoding="utf-8") as fh:
        return tuple(
            AcceptanceRow(
                method=r["method"], model=r["model"], task=r["task"],
                acceptance_length=float(r["acceptance_length"]),
                spec_tokens=int(r["spec_tokens"]) if r.get("spec_tokens") else None,
                source=r["source"], url=r["url"], as_of=r["as_of"], notes=r.get("notes", ""),
            )
            for r in csv.DictReader(fh)
        )


def published_acceptance_length(method: str, model_id: str, task: str | None = None,
                                spec_tokens: int | None = None) -> tuple[float, str]:
    """(mean acceptance length, where it comes from) for ``method`` on ``model_id`` with ``spec_tokens`` drafts.

    The pool is the model's rows (the task's row where one exists), else every model's rows for
    the method (said so in the provenance). Rows drafting ``spec_tokens`` are averaged as
    published; otherwise each row with a known draft length ``k_i`` gives a per-token rate
    ``alpha_i`` (:func:`acceptance_rate_for_length`), and the mean rate is carried to
    ``spec_tokens`` by Leviathan et al. 2023 eq. 1. Raises ``InvalidInputError`` for a method
    with no published rows.
    """
    rows = [r for r in acceptance_rows() if r.method == method]
    if not rows:
        raise InvalidInputError(f"no published acceptance lengths for {method!r}; give one")
    mine = [r for r in rows if r.model == model_id]
    if task is not None and any(r.task == task for r in mine):
        mine = [r for r in mine if r.task == task]
    pool = mine or rows
    whose = f"for {model_id}" if mine else "for other models"
    same = pool if spec_tokens is None else [r for r in pool if r.spec_tokens == spec_tokens]
    if same or spec_tokens is None:
        return (sum(r.acceptance_length for r in same) / len(same),
                f"{_sources(same)} (mean of {len(same)} rows {whose})")
    known = [r for r in pool if r.spec_tokens]
    if not known:
        mean = sum(r.acceptance_length for r in pool) / len(pool)
        return (min(mean, spec_tokens + 1.0),
                f"{_sources(pool)} (mean of {len(pool)} rows {whose}, draft length not published)")
    alpha = sum(acceptance_rate_for_length(min(r.acceptance_length, (r.spec_tokens or 1) + 1.0), r.spec_tokens or 1)
                for r in known) / len(known)
    return (expected_tokens_per_step(alpha, spec_tokens),
            f"{_sources(known)} (mean rate {alpha:.2f} of {len(known)} rows {whose}, carried to k = {spec_tokens} "
            "by Leviathan eq. 1)")


def _sources(rows: list[AcceptanceRow]) -> str:
    return "; ".join(sorted({r.source for r in rows}))


# ---------------------------------------------------------------- drafters


class Drafter(BaseModel):
    """The drafting network as a model the roofline can run, and what it adds to memory."""

    model_config = ConfigDict(frozen=True)

    method: str
    name: str
    spec: ModelSpec = Field(description="one forward of this model is one draft step")
    extra_weight_bytes: float = Field(ge=0, description="weights the drafter adds (shared tables excluded)")
    kv_bytes_per_token: float = Field(ge=0, description="the drafter's own KV cache per cached token")


def _layer_params(target: ModelSpec) -> tuple[float, float]:
    """(total, active) parameters of one average decoder layer of ``target`` (embeddings excluded)."""
    emb = memory.embedding_params(target)
    return ((target.params_total - emb) / target.n_layers, (target.params_active - emb) / target.n_layers)


def _head_spec(target: ModelSpec, method: str, extra_params: float, vocab: int) -> ModelSpec:
    """``target`` cut to one decoder layer plus ``extra_params`` and an untied ``vocab``-row head."""
    total, active = _layer_params(target)
    emb = 2.0 * vocab * target.d_model
    data = target.model_dump()
    data.update(
        model_id=f"{target.model_id}-{method}-head", name=f"{target.name} {method} head", n_layers=1,
        n_dense_layers=0, n_sliding_layers=0, vocab_size=vocab, tied_embeddings=False,
        params_total=total + extra_params + emb, params_active=active + extra_params + emb,
        assumed=True, source="derived from the target's shape (estimator.speculative)",
    )
    return ModelSpec.model_validate(data)


def drafter_for(target: ModelSpec, method: str, weight_dtype: DType | str, kv_dtype: DType | str,
                draft_model: ModelSpec | str | None = None) -> Drafter:
    """The drafter of ``method`` for ``target``.

    - ``eagle3``: one target-width decoder layer, the fusion layer ``3d x d`` and a ``d x 32000``
      draft LM head (Li et al. 2025 §3.1; the input embedding is the target's): for Llama-3.1-8B
      0.22 B (layer) + 0.05 B + 0.13 B = 0.40 B parameters.
    - ``mtp``: one transformer block of the target (an MoE block for DeepSeek-V3) and the
      ``2d x d`` projection; embedding and output head are shared with the target, so they add
      no memory but are read again at each step (DeepSeek-V3 §2.2, Fig. 3).
    - ``draft``: ``draft_model`` (default: the smallest catalog model with the target's
      vocabulary), with its own weights and KV cache.
    """
    d = float(target.d_model)
    w_elem = memory.weights_bytes(target, weight_dtype) / target.params_total
    one_layer_kv = memory.kv_cache_bytes_per_token(target, kv_dtype) / target.n_layers
    if method == "eagle3":
        vocab = min(target.vocab_size, EAGLE3_DRAFT_VOCAB)
        spec = _head_spec(target, method, 3.0 * d * d, vocab)
        extra = (spec.params_total - vocab * d) * w_elem
        return Drafter(method=method, name=f"EAGLE-3 head ({extra / w_elem / 1e9:.2f} B)", spec=spec,
                       extra_weight_bytes=extra, kv_bytes_per_token=one_layer_kv)
    if method == "mtp":
        spec = _head_spec(target, method, 2.0 * d * d, target.vocab_size)
        extra = (spec.params_total - 2.0 * target.vocab_size * d) * w_elem
        return Drafter(method=method, name=f"MTP module ({extra / w_elem / 1e9:.1f} B)", spec=spec,
                       extra_weight_bytes=extra, kv_bytes_per_token=one_layer_kv)
    if method == "draft":
        spec = _draft_model(target, draft_model)
        return Drafter(method=method, name=spec.name, spec=spec,
                       extra_weight_bytes=memory.weights_bytes(spec, weight_dtype),
                       kv_bytes_per_token=memory.kv_cache_bytes_per_token(spec, kv_dtype))
    raise InvalidInputError(f"speculative method must be one of {', '.join(METHODS[1:])}, got {method!r}")


def _draft_model(target: ModelSpec, draft_model: ModelSpec | str | None) -> ModelSpec:
    if isinstance(draft_model, ModelSpec):
        return draft_model
    if draft_model:
        return catalog.get_model(draft_model)
    same_vocab = [m for m in catalog.list_models()
                  if m.generates and m.vocab_size == target.vocab_size and m.params_total < 0.5 * target.params_total]
    if not same_vocab:
        raise InvalidInputError(
            f"no catalog model shares {target.name}'s vocabulary ({target.vocab_size:,} tokens) and is at most half "
            "its size; choose eagle3 or mtp, or name a draft model"
        )
    return min(same_vocab, key=lambda m: m.params_total)


# ---------------------------------------------------------------- engine scheduling


@dataclass(frozen=True)
class EngineOverlap:
    """How an engine schedules an iteration's host work (``data/speculative_engines.csv``).

    ``plain``/``speculative``: whether host time hides behind the GPU without/with speculation;
    ``eager_layer_overhead_s``: for an engine without CUDA graphs, the launch time per decoder layer
    that replaces the fixed step time of every forward (None for a serving engine).
    """

    engine: str
    plain: bool
    speculative: bool
    eager_layer_overhead_s: float | None
    source: str


@lru_cache(maxsize=1)
def _engine_rows() -> dict[tuple[str, str], tuple[float, str]]:
    path = Path(catalog.data_dir()) / SPEC_ENGINES_FILE
    with path.open(newline="", encoding="utf-8") as fh:
        return {(r["engine"], r["setting"]): (float(r["value"]), r["source"]) for r in csv.DictReader(fh)}


def engine_overlap(engine: str | None) -> EngineOverlap:
    """``data/speculative_engines.csv`` for ``engine`` (canonical name); no overlap where it has no row.

    SGLang's overlap scheduler runs the CPU work of iteration ``n+1`` during the GPU work of ``n``
    (SGLang v0.4 blog, 2024-12-04), but EAGLE speculation (spec v1) runs without it (SGLang docs:
    overlap only with the opt-in SpecV2). ``eagle`` is the EAGLE authors' eager PyTorch code.
    """
    e = performance.canonical_engine(engine)
    rows = _engine_rows()
    plain, src = rows.get((e, "overlap_plain"), (0.0, "no row: host time exposed"))
    spec, _ = rows.get((e, "overlap_speculative"), (0.0, ""))
    eager = rows.get((e, "eager_layer_overhead_s"))
    return EngineOverlap(engine=e, plain=plain > 0, speculative=spec > 0,
                         eager_layer_overhead_s=None if eager is None else eager[0], source=src)


def host_time_s(eff: performance.Efficiency, sequences: Any, tokens_per_sequence: Any, gpu_s: Any,
                overlapped: bool) -> Any:
    """Host time of one engine iteration that the GPU waits for (seconds).

    ``t_host = t_step + t_seq B n`` (:func:`estimator.performance.iteration_overhead_s` with the
    per-sequence term charged per token emitted: detokenizing, streaming and stop checks are per
    token, :data:`estimator.performance.SEQUENCE_OVERHEAD_S`), ``n = 1`` for plain decoding and
    ``tau`` with speculation. With an overlap scheduler only ``max(0, t_host - t_gpu)`` is exposed
    (NanoFlow, arXiv:2408.12757; SGLang v0.4 zero-overhead scheduler).
    """
    host = eff.step_overhead_s + eff.sequence_overhead_s * sequences * tokens_per_sequence
    return np.maximum(host - gpu_s, 0.0) if overlapped else host


# ---------------------------------------------------------------- step times


def _forward(f: Any, lay: Any, eff: performance.Efficiency, b: Any, ctx: Any, n: float, overhead_s: float) -> Any:
    """One forward of ``b`` sequences with ``n`` query tokens each over a context of ``ctx`` tokens.

    The decode step of :mod:`estimator.performance` generalized to ``n`` tokens per sequence (the
    same operator roofline, Pope et al. 2022 §2-3)::

        F_linear = B n (2 P_body + 2 V d),   F_attn = B n a min(c, W),   KV = B (min(c, W) + n) kv
        W_read   = dense + E_distinct(B n) x expert,                      A = B n (act + 4 V 2)

    ``n = 1`` is exactly the ordinary decode step; ``n = k + 1`` is the verification of ``k``
    drafted tokens, which reads the weights and the KV cache once for all of them.
    """
    _, mb = performance._micro_batches(lay, b)
    cached = performance._cap_window(ctx, f.window, lay.xp)
    tokens = mb * n
    lin = tokens * (f.body_flops_per_token + f.head_flops_per_token)
    attn = tokens * f.attn_flops_per_ctx_token * cached
    kv = mb * (cached + n) * f.kv_bytes_per_token
    other = tokens * (f.act_bytes_per_token + f.logits_bytes_per_token)
    return performance._group_step(f, lay, eff, lin, attn, tokens, kv, other, tokens, overhead_s,
                                   None if lay.one_stage else lay.pp)


@dataclass(frozen=True)
class StepTimes:
    """Per-iteration times (seconds) at each batch.

    ``plain_s`` is a decode step (GPU + exposed host time); ``verify_s`` the target's forward over the
    verified tokens plus the speculative iteration's exposed host time; ``draft_s`` one draft step
    (``draft_width`` tokens per sequence, with its fixed time); ``drafts_s`` all draft forwards of an
    iteration (the draft extend over the ``k + 1`` verified positions, then ``k - 1`` steps).
    """

    plain_s: Any
    verify_s: Any
    draft_s: Any
    verify_bound: tuple[str, ...]
    drafts_s: Any = None


@dataclass(frozen=True)
class _Iteration:
    """What one speculative iteration runs: ``k`` drafts, ``verify_tokens`` checked, ``tau`` kept."""

    spec_tokens: int
    verify_tokens: int
    accepted_tokens: float
    draft_width: int
    draft_overhead_s: float | None
    engine: str | None


def step_times_s(
    model: ModelSpec | str, hardware: HardwareSpec | str, dtype: DType | str, drafter: Drafter, batches: Any,
    context_tokens: float, verify_tokens: int, *, kv_dtype: DType | str | None = None, tp: int = 1, pp: int = 1,
    efficiency: performance.Efficiency | None = None, draft_width: int = 1,
    draft_overhead_s: float | None = DRAFT_STEP_OVERHEAD_S, spec_tokens: int | None = None,
    accepted_tokens: float = 1.0, engine: str | None = None,
) -> StepTimes:
    """Plain decode step, verification and draft forwards of one speculative iteration (seconds)::

        t_plain  = t_gpu(B, 1) + host(B, 1)
        t_verify = t_gpu(B, n_verify) + host(B, tau)                    (:func:`host_time_s`)
        t_drafts = [d_gpu(B, k+1) + t_d] + (k - 1) [d_gpu(B, w) + t_d]

    ``t_gpu`` is :func:`_forward` of the target, ``d_gpu`` of the drafter (on the target's
    tensor-parallel group, one stage) with ``w = draft_width`` tokens per sequence (1 for a chain,
    the nodes expanded per level of a tree, EAGLE-2 §4); ``n_verify`` is every drafted node
    (``k + 1`` for a chain, SGLang's ``speculative_num_draft_tokens`` for a tree). The first draft
    forward runs over the ``k + 1`` verified positions (SGLang ``forward_draft_extend_after_decode``,
    vLLM ``EagleProposer.propose``). Each draft forward pays ``t_d = draft_overhead_s``, by default
    the engine's per-forward fixed time (:data:`DRAFT_STEP_OVERHEAD_S`). ``spec_tokens`` defaults to
    ``verify_tokens - 1`` (a chain), ``accepted_tokens`` (``tau``) to 1.
    """
    m, h, d, kv, c = performance._prepare(model, hardware, dtype, kv_dtype, None)
    eff = efficiency or performance.Efficiency()
    ov = engine_overlap(engine)
    if ov.eager_layer_overhead_s is not None:  # eager PyTorch: a forward's fixed time is its layers' launches
        eff = eff.model_copy(update={"step_overhead_s": ov.eager_layer_overhead_s * m.n_layers})
        if draft_overhead_s is None:
            draft_overhead_s = ov.eager_layer_overhead_s * drafter.spec.n_layers
    it = _Iteration(spec_tokens if spec_tokens is not None else verify_tokens - 1, verify_tokens,
                    accepted_tokens, draft_width, draft_overhead_s, engine)
    b = np.asarray(batches, dtype=float)
    hw = performance._hardware_features(h, c)
    f = performance._model_features(m, d, kv)
    lay = performance._layout(f, hw, eff, b, float(tp), float(pp))
    plain = _forward(f, lay, eff, b, context_tokens, 1.0, 0.0)
    verify = _forward(f, lay, eff, b, context_tokens, float(it.verify_tokens), 0.0)
    plain_s = plain.total_s + host_time_s(eff, b, 1.0, plain.total_s, ov.plain)
    verify_s = verify.total_s + host_time_s(eff, b, it.accepted_tokens, verify.total_s, ov.speculative)
    step_s, drafts_s = _draft_times_s(drafter, d, kv, hw, eff, b, float(tp), context_tokens, it)
    codes = np.broadcast_to(verify.bound(), b.shape)
    return StepTimes(plain_s, verify_s, step_s, tuple(performance.BOUNDS[int(x)] for x in np.ravel(codes)),
                     drafts_s)


def _draft_times_s(drafter: Drafter, d: DType, kv: DType, hw: Any, eff: performance.Efficiency, b: Any, tp: float,
                   ctx: float, it: _Iteration) -> tuple[Any, Any]:
    """(one draft step, every draft forward of the iteration) in seconds (:func:`step_times_s`)."""
    overhead = eff.step_overhead_s if it.draft_overhead_s is None else it.draft_overhead_s
    fd = performance._model_features(drafter.spec, d, kv)
    lay_d = performance._layout(fd, hw, eff, b, tp, 1.0)
    step = _forward(fd, lay_d, eff, b, ctx, float(it.draft_width), overhead).total_s
    extend = _forward(fd, lay_d, eff, b, ctx, float(it.spec_tokens + 1), overhead).total_s
    return step, extend + (it.spec_tokens - 1) * step


# ---------------------------------------------------------------- with vs without


class SpeculativePoint(BaseModel):
    """With vs without speculation at one batch (decode phase; per replica)."""

    model_config = ConfigDict(frozen=True)

    batch: int = Field(gt=0)
    tpot_off_s: float = Field(gt=0)
    tpot_on_s: float = Field(gt=0, description="iteration time / acceptance length")
    tokens_per_s_off: float = Field(gt=0, description="B / TPOT")
    tokens_per_s_on: float = Field(gt=0)
    speedup: float = Field(gt=0, description="TPOT off / TPOT on")
    verify_s: float = Field(gt=0)
    draft_s: float = Field(ge=0, description="all k draft steps of one iteration")
    verify_bound: str
    fits_on: bool = Field(description="the batch's KV cache fits beside the drafter")
    cost_usd_per_million_off: float | None = None
    cost_usd_per_million_on: float | None = None


class SpeculativeComparison(BaseModel):
    """Speculative decoding vs plain decoding for one model, accelerator and layout."""

    model_config = ConfigDict(frozen=True)

    method: str
    model_id: str
    hardware_id: str
    tp: int
    pp: int
    drafter: str
    spec_tokens: int = Field(ge=1)
    verify_tokens: int = Field(ge=2)
    acceptance_length: float = Field(ge=1)
    acceptance_rate: float = Field(ge=0, le=1, description="alpha of Leviathan eq. 1 giving that length")
    acceptance_source: str
    context_tokens: float
    drafter_weight_bytes: float
    drafter_kv_bytes_per_token: float
    max_batch_off: int
    max_batch_on: int
    price_usd_per_hour: float | None
    points: tuple[SpeculativePoint, ...]
    break_even_batch: int | None = Field(description="smallest batch compared where speculation is slower")

    @property
    def best(self) -> SpeculativePoint:
        return max(self.points, key=lambda p: p.speedup)


@dataclass(frozen=True)
class _Setup:
    model: ModelSpec
    hardware: HardwareSpec
    dtype: DType
    kv_dtype: DType
    tp: int
    pp: int
    context_tokens: int


def _capacity(s: _Setup, drafter: Drafter) -> tuple[int, int]:
    """(largest batch without, with the drafter's weights and KV cache) that fits (memory.batch_memory)."""
    bm = memory.batch_memory(s.model, s.dtype, s.kv_dtype, s.context_tokens, hardware=s.hardware, tp=s.tp, pp=s.pp,
                             prefill_chunk_tokens=performance.PREFILL_CHUNK_TOKENS)
    on = replace(bm, weights_bytes=bm.weights_bytes + drafter.extra_weight_bytes,
                 kv_bytes_per_sequence=bm.kv_bytes_per_sequence + drafter.kv_bytes_per_token * s.context_tokens)
    return bm.max_batch(), on.max_batch()


def _per_million(price_usd_per_hour: float | None, tokens_per_s: float) -> float | None:
    """``$/1M tokens = price per hour / (3600 x tokens per second) x 10^6``."""
    return None if price_usd_per_hour is None else price_usd_per_hour / (3600.0 * tokens_per_s) * 1e6


def _grid(batches: Any, max_off: int) -> list[int]:
    top = max(max_off, 1)
    return sorted({int(b) for b in batches if 1 <= int(b) <= top} | {top})


def compare(
    model: ModelSpec | str, hardware: HardwareSpec | str, dtype: DType | str, *,
    method: str = "eagle3", spec_tokens: int = 3, acceptance_length: float | None = None, task: str | None = None,
    kv_dtype: DType | str | None = None, tp: int = 1, pp: int = 1, input_tokens: int = 512, output_tokens: int = 256,
    batches: Any = DEFAULT_BATCHES, price_usd_per_hour: float | None = None,
    efficiency: performance.Efficiency | None = None, draft_model: ModelSpec | str | None = None,
    engine: str | None = None, verify_tokens: int | None = None, draft_width: int = 1,
) -> SpeculativeComparison:
    """TPOT, throughput and cost with vs without speculation at each batch, and where it stops paying.

    Per batch ``B`` (decode at the mean context ``c = I + O/2``; :func:`step_times_s`, a chain of
    ``k`` drafts, host time scheduled as ``engine`` does, :func:`engine_overlap`)::

        TPOT_off = t_plain(B),   TPOT_on = (t_verify(B, k+1) + t_drafts(B)) / tau
        tokens/s = B / TPOT,     $/1M = price / (3600 tokens/s) 10^6

    ``tau`` is ``acceptance_length`` or the published mean for the method and model
    (:func:`published_acceptance_length`), capped at ``k + 1``. A tree verifies ``verify_tokens``
    nodes (SGLang ``speculative_num_draft_tokens``; default ``k + 1``, a chain) and expands
    ``draft_width`` nodes per draft step (``speculative_eagle_topk``). Batches run up to the largest
    that fits without speculation; ``fits_on`` says whether it still fits beside the drafter.
    """
    if method not in METHODS[1:]:
        raise InvalidInputError(f"speculative method must be one of {', '.join(METHODS[1:])}, got {method!r}")
    if not 1 <= spec_tokens <= 16:
        raise InvalidInputError(f"drafted tokens must be between 1 and 16, got {spec_tokens}")
    m, h, d, kv, _ = performance._prepare(model, hardware, dtype, kv_dtype, None)
    s = _Setup(m, h, d, kv, tp, pp, input_tokens + output_tokens)
    drafter = drafter_for(m, method, d, kv, draft_model)
    if acceptance_length is None:
        tau, source = published_acceptance_length(method, m.model_id, task, spec_tokens)
    else:
        tau, source = float(acceptance_length), "given"
    tau = min(max(tau, 1.0), spec_tokens + 1.0)
    max_off, max_on = _capacity(s, drafter)
    grid = _grid(batches, max_off)
    ctx = input_tokens + output_tokens * 0.5
    n_verify = spec_tokens + 1 if verify_tokens is None else verify_tokens
    if n_verify < spec_tokens + 1 or draft_width < 1:
        raise InvalidInputError(f"a draft of {spec_tokens} tokens verifies at least {spec_tokens + 1} tokens "
                                f"(got {n_verify}) with at least one node per step (got {draft_width})")
    st = step_times_s(m, h, d, drafter, grid, ctx, n_verify, kv_dtype=kv, tp=tp, pp=pp, efficiency=efficiency,
                      spec_tokens=spec_tokens, accepted_tokens=tau, engine=engine, draft_width=draft_width)
    points = tuple(_point(b, st, i, tau, max_on, price_usd_per_hour) for i, b in enumerate(grid))
    slower = [p.batch for p in points if p.speedup < 1.0]
    return SpeculativeComparison(
        method=method, model_id=m.model_id, hardware_id=h.hardware_id, tp=tp, pp=pp, drafter=drafter.name,
        spec_tokens=spec_tokens, verify_tokens=n_verify, acceptance_length=tau,
        acceptance_rate=acceptance_rate_for_length(tau, spec_tokens), acceptance_source=source,
        context_tokens=ctx, drafter_weight_bytes=drafter.extra_weight_bytes,
        drafter_kv_bytes_per_token=drafter.kv_bytes_per_token, max_batch_off=max_off, max_batch_on=max_on,
        price_usd_per_hour=price_usd_per_hour, points=points, break_even_batch=min(slower) if slower else None,
    )


def _point(b: int, st: StepTimes, i: int, tau: float, max_on: int, price: float | None) -> SpeculativePoint:
    plain, verify, draft = float(st.plain_s[i]), float(st.verify_s[i]), float(st.drafts_s[i])
    on = (verify + draft) / tau
    return SpeculativePoint(
        batch=b, tpot_off_s=plain, tpot_on_s=on, tokens_per_s_off=b / plain, tokens_per_s_on=b / on,
        speedup=plain / on, verify_s=verify, draft_s=draft, verify_bound=st.verify_bound[i], fits_on=b <= max_on,
        cost_usd_per_million_off=_per_million(price, b / plain), cost_usd_per_million_on=_per_million(price, b / on),
    )


# ---------------------------------------------------------------- published anchors


@dataclass(frozen=True)
class AnchorSetup:
    """How one published result of ``data/serving_anchors.csv`` is modelled (assumptions in its notes).

    ``engine`` sets how host time is scheduled (:func:`engine_overlap`); ``eagle`` is the EAGLE
    authors' PyTorch code (no overlap, no row in ``data/speculative_engines.csv``).
    """

    anchor_id: str
    model: str
    hardware: str
    dtype: str
    tp: int
    batch: int
    method: str
    spec_tokens: int
    verify_tokens: int
    acceptance_length: float
    draft_width: int = 1
    metric: str = "speedup"  # or "tokens_per_s_off"
    input_tokens: int = 128
    output_tokens: int = 512
    engine: str = ""


_ALPHA_FIG7 = 0.8
"""EAGLE-3 chain acceptance rate on MT-bench with LLaMA-Instruct 3.1 8B (arXiv:2503.01840 Fig. 7, read from the plot)."""

_TAU3 = expected_tokens_per_step(_ALPHA_FIG7, 3)
_TAU2 = expected_tokens_per_step(_ALPHA_FIG7, 2)

ANCHOR_SETUPS: tuple[AnchorSetup, ...] = (
    AnchorSetup("spec-eagle3-l31-8b-mtbench", "llama-3.1-8b", "h100-sxm", "bf16", 1, 1, "eagle3", 8, 60, 6.13, 10,
                engine="eagle"),
    AnchorSetup("spec-eagle3-l33-70b-mtbench", "llama-3.1-70b", "h100-sxm", "bf16", 2, 1, "eagle3", 8, 48, 5.63, 10,
                engine="eagle"),
    AnchorSetup("spec-mtp-dsv3-tps", "deepseek-v3", "h800", "fp8", 8, 128, "mtp", 1, 2, 1.875,
                input_tokens=1024, output_tokens=1024),
    AnchorSetup("spec-sglang-l31-8b-plain-bs1", "llama-3.1-8b", "h100-sxm", "bf16", 1, 1, "eagle3", 3, 4, 1.0,
                metric="tokens_per_s_off", engine="sglang"),
    AnchorSetup("spec-eagle3-sglang-b2", "llama-3.1-8b", "h100-sxm", "bf16", 1, 2, "eagle3", 3, 4, _TAU3,
                engine="sglang"),
    AnchorSetup("spec-eagle3-sglang-b64", "llama-3.1-8b", "h100-sxm", "bf16", 1, 64, "eagle3", 3, 4, _TAU3,
                engine="sglang"),
    AnchorSetup("spec-eagle3-vllm-b2", "llama-3.1-8b", "rtx-3090", "bf16", 1, 2, "eagle3", 2, 3, _TAU2,
                engine="vllm"),
    AnchorSetup("spec-eagle3-vllm-b56", "llama-3.1-8b", "rtx-3090", "bf16", 1, 56, "eagle3", 2, 3, _TAU2,
                engine="vllm"),
)
"""The modelled setup of every speculative anchor (hardware and lengths where the source is silent: assumed).
Chains (Tables 3 and 5: "did not use the tree structure") verify ``k + 1`` tokens; the batch-1 rows of
Table 1 verify the tree's 60 (8B) or 48 (70B) draft tokens with 10 nodes expanded per level (App. A)."""

ANCHOR_EFFICIENCY = performance.Efficiency(sequence_overhead_s=performance.SEQUENCE_OVERHEAD_S)
"""The efficiencies the anchors are predicted with: the fitted defaults plus the per-sequence host
time :data:`estimator.performance.SEQUENCE_OVERHEAD_S` (10 us, assumed there), which grows with the batch."""


def _anchor_hardware(hardware_id: str) -> HardwareSpec | str:
    """The catalog row, else :data:`RTX_3090` for ``rtx-3090`` (not yet in ``data/hardware.csv``)."""
    if hardware_id == RTX_3090.hardware_id and hardware_id not in {h.hardware_id for h in catalog.list_hardware()}:
        return RTX_3090
    return hardware_id


def anchor_step_times(a: AnchorSetup, draft_overhead_s: float | None = DRAFT_STEP_OVERHEAD_S,
                      engine: str | None = None) -> StepTimes:
    """:func:`step_times_s` of one :class:`AnchorSetup` at its batch (``engine`` overrides the setup's)."""
    m = catalog.get_model(a.model)
    drafter = drafter_for(m, a.method, a.dtype, performance.default_kv_dtype(a.dtype))
    return step_times_s(m, _anchor_hardware(a.hardware), a.dtype, drafter, [a.batch],
                        a.input_tokens + a.output_tokens * 0.5, a.verify_tokens, tp=a.tp, draft_width=a.draft_width,
                        draft_overhead_s=draft_overhead_s, spec_tokens=a.spec_tokens,
                        accepted_tokens=a.acceptance_length, engine=a.engine if engine is None else engine,
                        efficiency=ANCHOR_EFFICIENCY)


def predict_anchor(a: AnchorSetup, draft_overhead_s: float | None = DRAFT_STEP_OVERHEAD_S,
                   engine: str | None = None) -> float:
    """The model's value of ``a.metric`` for one :class:`AnchorSetup` (:func:`step_times_s`)::

        speedup = tau t_plain / (t_verify + t_drafts)

    ``draft_overhead_s`` and ``engine`` override the setup's (for the bench's sensitivity lines).
    """
    st = anchor_step_times(a, draft_overhead_s, engine)
    plain = float(st.plain_s[0])
    if a.metric == "tokens_per_s_off":
        return a.batch / plain
    return a.acceptance_length * plain / (float(st.verify_s[0]) + float(st.drafts_s[0]))


def anchor_checks() -> tuple[AnchorCheck, ...]:
    """Every speculative anchor of ``data/serving_anchors.csv`` with the model's prediction."""
    path = Path(catalog.data_dir()) / "serving_anchors.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = {r["anchor_id"]: r for r in csv.DictReader(fh) if r["technique"] == "speculative"}
    out = []
    for a in ANCHOR_SETUPS:
        r = rows.get(a.anchor_id)
        if r is None:
            raise InvalidInputError(f"anchor {a.anchor_id} is missing from data/serving_anchors.csv")
        out.append(AnchorCheck(anchor_id=a.anchor_id, metric=r["metric"], published=float(r["published_value"]),
                               predicted=predict_anchor(a), source=r["source"]))
    return tuple(out)


# ---------------------------------------------------------------- the capacity plan


def for_plan(plan: Any) -> SpeculativeComparison:
    """With vs without speculation for a capacity plan's model, accelerator, layout and token mix.

    ``plan`` is an :class:`estimator.capacity.CapacityPlan` (typed loosely: capacity sits above
    this module). The method is the scenario's ``serving.speculative``, or EAGLE-3 as the what-if
    when it is off; host time is scheduled as the scenario's engine does (:func:`engine_overlap`); the price is the plan's mean cost per replica-hour
    (``cost per hour / mean replicas``), so the cost per 1M tokens is that of decode at each batch.
    """
    s = plan.scenario.serving
    method = s.speculative if s.speculative != "off" else "eagle3"
    price = plan.cost_usd_per_hour / plan.mean_replicas if plan.mean_replicas > 0 else None
    return compare(
        plan.model_id, plan.hardware_id, plan.weight_dtype, kv_dtype=plan.kv_dtype, method=method,
        spec_tokens=s.spec_tokens, acceptance_length=s.acceptance_length, tp=plan.tp, pp=plan.pp,
        input_tokens=max(round(plan.input_tokens_mean), 1), output_tokens=max(round(plan.output_tokens_mean), 1),
        price_usd_per_hour=price, efficiency=performance.efficiency_for_scenario(plan.scenario),
        engine=str(plan.scenario.engine.name),
    )
