"""Speculative decoding and multi-token prediction: with vs without, across batch sizes.

A drafter proposes ``k`` tokens per sequence; the target checks them all in one forward pass and
keeps the longest prefix it agrees with, plus one token of its own (Leviathan, Kalman & Matias
2023, "Fast Inference from Transformers via Speculative Decoding", arXiv:2211.17192; Chen et al.
2023, arXiv:2302.01318). One speculative iteration at batch ``B`` and context ``c`` costs::

    t_spec(B) = t_verify(B, k + 1) + k t_draft(B)          (seconds)
    t_plain(B) = t_verify(B, 1)                             (the ordinary decode step)

where ``t_verify(B, n)`` is the target's forward over ``n`` query tokens per sequence on the
roofline of :mod:`estimator.performance` (weights read once, the KV cache read once, FLOPs x n),
and ``t_draft`` is one forward of the drafter at the same batch. It yields ``tau`` tokens per
sequence on average (the mean acceptance length, published per task in
``data/speculative_acceptance.csv`` or given), so::

    TPOT_spec = t_spec / tau,   speedup = tau t_plain / t_spec,   throughput = B / TPOT

At small batch decode is memory-bound: the extra ``k`` query tokens ride on the same weight read,
verification is nearly free and the speedup approaches ``tau / (1 + k t_draft / t_plain)``. At
large batch the linear layers become compute-bound, ``t_verify(B, k+1)`` grows like ``(k+1)
t_plain``, and speculation stops paying (EAGLE-3 paper §4.3).

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
    "anchor_checks",
    "for_plan",
    "StepTimes",
]

METHODS: tuple[str, ...] = ("off", "eagle3", "mtp", "draft")
"""Speculation methods: none, an EAGLE-3 head, a multi-token-prediction module, a separate draft model."""

EAGLE3_DRAFT_VOCAB: int = 32_000
"""Vocabulary of the EAGLE-3 draft head's LM head (``draft_vocab_size`` 32000 in the official
``yuhuili/EAGLE3-LLaMA3.1-Instruct-8B`` config; Li et al. 2025 use a reduced draft vocabulary)."""

DRAFT_STEP_OVERHEAD_S: float = 0.0
"""Fixed time per draft forward beyond its kernels (seconds). Assumed 0: SGLang and vLLM run the
``k`` draft steps of an iteration back to back inside CUDA graphs, without the scheduling,
sampling and detokenization that :data:`estimator.performance.STEP_OVERHEAD_S` charges once per
engine iteration (the verification step pays that). Checked against the anchors in
``data/serving_anchors.csv`` (``bench/bench_speculative.py``)."""

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
    """Per-iteration times (seconds) at each batch: plain decode, verification, one draft step."""

    plain_s: Any
    verify_s: Any
    draft_s: Any
    verify_bound: tuple[str, ...]


def step_times_s(
    model: ModelSpec | str, hardware: HardwareSpec | str, dtype: DType | str, drafter: Drafter, batches: Any,
    context_tokens: float, verify_tokens: int, *, kv_dtype: DType | str | None = None, tp: int = 1, pp: int = 1,
    efficiency: performance.Efficiency | None = None, draft_width: int = 1,
    draft_overhead_s: float = DRAFT_STEP_OVERHEAD_S,
) -> StepTimes:
    """:func:`_forward` of the target with 1 and ``verify_tokens`` query tokens per sequence, and of
    the drafter with ``draft_width`` (1 for a chain, the nodes expanded per level for a tree).

    The drafter runs on the target's tensor-parallel group (one stage); the verification pays the
    engine's per-iteration overhead, each draft step :data:`DRAFT_STEP_OVERHEAD_S`.
    """
    m, h, d, kv, c = performance._prepare(model, hardware, dtype, kv_dtype, None)
    eff = efficiency or performance.Efficiency()
    b = np.asarray(batches, dtype=float)
    hw = performance._hardware_features(h, c)
    f = performance._model_features(m, d, kv)
    lay = performance._layout(f, hw, eff, b, float(tp), float(pp))
    plain = _forward(f, lay, eff, b, context_tokens, 1.0, eff.step_overhead_s)
    verify = _forward(f, lay, eff, b, context_tokens, float(verify_tokens), eff.step_overhead_s)
    fd = performance._model_features(drafter.spec, d, kv)
    lay_d = performance._layout(fd, hw, eff, b, float(tp), 1.0)
    draft = _forward(fd, lay_d, eff, b, context_tokens, float(draft_width), draft_overhead_s)
    codes = np.broadcast_to(verify.bound(), b.shape)
    return StepTimes(plain.total_s, verify.total_s, draft.total_s,
                     tuple(performance.BOUNDS[int(x)] for x in np.ravel(codes)))


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
) -> SpeculativeComparison:
    """TPOT, throughput and cost with vs without speculation at each batch, and where it stops paying.

    Per batch ``B`` (decode at the mean context ``c = I + O/2``; :func:`step_times_s`)::

        TPOT_off = t_plain(B),   TPOT_on = (t_verify(B, k+1) + k t_draft(B)) / tau
        tokens/s = B / TPOT,     $/1M = price / (3600 tokens/s) 10^6

    ``tau`` is ``acceptance_length`` or the published mean for the method and model
    (:func:`published_acceptance_length`), capped at ``k + 1``. Batches run up to the largest
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
    st = step_times_s(m, h, d, drafter, grid, ctx, spec_tokens + 1, kv_dtype=kv, tp=tp, pp=pp, efficiency=efficiency)
    points = tuple(_point(b, st, i, spec_tokens, tau, max_on, price_usd_per_hour) for i, b in enumerate(grid))
    slower = [p.batch for p in points if p.speedup < 1.0]
    return SpeculativeComparison(
        method=method, model_id=m.model_id, hardware_id=h.hardware_id, tp=tp, pp=pp, drafter=drafter.name,
        spec_tokens=spec_tokens, verify_tokens=spec_tokens + 1, acceptance_length=tau,
        acceptance_rate=acceptance_rate_for_length(tau, spec_tokens), acceptance_source=source,
        context_tokens=ctx, drafter_weight_bytes=drafter.extra_weight_bytes,
        drafter_kv_bytes_per_token=drafter.kv_bytes_per_token, max_batch_off=max_off, max_batch_on=max_on,
        price_usd_per_hour=price_usd_per_hour, points=points, break_even_batch=min(slower) if slower else None,
    )


def _point(b: int, st: StepTimes, i: int, k: int, tau: float, max_on: int, price: float | None) -> SpeculativePoint:
    plain, verify, draft = float(st.plain_s[i]), float(st.verify_s[i]), k * float(st.draft_s[i])
    on = (verify + draft) / tau
    return SpeculativePoint(
        batch=b, tpot_off_s=plain, tpot_on_s=on, tokens_per_s_off=b / plain, tokens_per_s_on=b / on,
        speedup=plain / on, verify_s=verify, draft_s=draft, verify_bound=st.verify_bound[i], fits_on=b <= max_on,
        cost_usd_per_million_off=_per_million(price, b / plain), cost_usd_per_million_on=_per_million(price, b / on),
    )


# ---------------------------------------------------------------- published anchors


@dataclass(frozen=True)
class AnchorSetup:
    """How one published result of ``data/serving_anchors.csv`` is modelled (assumptions in its notes)."""

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


_ALPHA_FIG7 = 0.8
"""EAGLE-3 chain acceptance rate on MT-bench with LLaMA-Instruct 3.1 8B (arXiv:2503.01840 Fig. 7, read from the plot)."""

ANCHOR_SETUPS: tuple[AnchorSetup, ...] = (
    AnchorSetup("spec-eagle3-l31-8b-mtbench", "llama-3.1-8b", "h100-sxm", "bf16", 1, 1, "eagle3", 8, 60, 6.13, 10),
    AnchorSetup("spec-eagle3-l33-70b-mtbench", "llama-3.1-70b", "h100-sxm", "bf16", 2, 1, "eagle3", 8, 48, 5.63, 10),
    AnchorSetup("spec-mtp-dsv3-tps", "deepseek-v3", "h800", "fp8", 8, 128, "mtp", 1, 2, 1.875,
                input_tokens=1024, output_tokens=1024),
    AnchorSetup("spec-sglang-l31-8b-plain-bs1", "llama-3.1-8b", "h100-sxm", "bf16", 1, 1, "eagle3", 3, 4, 1.0,
                metric="tokens_per_s_off"),
    AnchorSetup("spec-eagle3-sglang-b2", "llama-3.1-8b", "h100-sxm", "bf16", 1, 2, "eagle3", 3, 4,
                expected_tokens_per_step(_ALPHA_FIG7, 3)),
    AnchorSetup("spec-eagle3-sglang-b64", "llama-3.1-8b", "h100-sxm", "bf16", 1, 64, "eagle3", 3, 4,
                expected_tokens_per_step(_ALPHA_FIG7, 3)),
    AnchorSetup("spec-eagle3-vllm-b2", "llama-3.1-8b", "a100-80gb-sxm", "bf16", 1, 2, "eagle3", 2, 3,
                expected_tokens_per_step(_ALPHA_FIG7, 2)),
    AnchorSetup("spec-eagle3-vllm-b56", "llama-3.1-8b", "a100-80gb-sxm", "bf16", 1, 56, "eagle3", 2, 3,
                expected_tokens_per_step(_ALPHA_FIG7, 2)),
)
"""The modelled setup of every speculative anchor (hardware and lengths where the source is silent: assumed)."""




def predict_anchor(a: AnchorSetup, draft_overhead_s: float = DRAFT_STEP_OVERHEAD_S) -> float:
    """The model's value of ``a.metric`` for one :class:`AnchorSetup` (:func:`step_times_s`)."""
    m = catalog.get_model(a.model)
    drafter = drafter_for(m, a.method, a.dtype, performance.default_kv_dtype(a.dtype))
    st = step_times_s(m, a.hardware, a.dtype, drafter, [a.batch], a.input_tokens + a.output_tokens * 0.5,
                      a.verify_tokens, tp=a.tp, draft_width=a.draft_width, draft_overhead_s=draft_overhead_s)
    plain = float(st.plain_s[0])
    if a.metric == "tokens_per_s_off":
        return a.batch / plain
    return a.acceptance_length * plain / (float(st.verify_s[0]) + a.spec_tokens * float(st.draft_s[0]))


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
    when it is off; the price is the plan's mean cost per replica-hour
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
    )
