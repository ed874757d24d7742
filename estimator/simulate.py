"""One serving replica under continuous batching: its iteration-time model and a discrete-event
simulation of Poisson arrivals, used to validate the analytic queueing model in
``estimator.capacity``.

The replica follows iteration-level scheduling (Orca, Yu et al. OSDI 2022; vLLM, Kwon et al.
2023 arXiv:2309.06180 §4) with chunked prefill (Sarathi-Serve, Agrawal et al. 2024
arXiv:2403.02310; the default scheduler of vLLM's V1 engine):

- every iteration decodes one token for each running sequence and spends what is left of a token
  budget (``token_budget``, vLLM's ``max_num_batched_tokens``) on prompt chunks of waiting requests,
  first come first served;
- a request takes a slot (KV-cache space) when its prefill starts; at most ``max_batch`` slots
  (vLLM's ``max_num_seqs``, capped by the KV-cache memory);
- its first token appears at the end of the iteration that finishes its prompt; each later
  iteration adds one token; it leaves after its last token.

The time of one iteration processing ``N`` tokens (decode tokens plus prompt tokens) that
attend to ``A`` (query, key) pairs and read or write ``K`` cached tokens is the roofline of
``estimator.performance``, linearized::

    T = t_o + c_N N + max(f_N N + f_A A,  w(N) + k K)

with ``t_o`` the step overhead and the fixed part of the all-reduces, ``c_N`` the all-reduce
time per token, ``f_N``/``f_A`` the compute time per token and per attention pair, ``w(N)``
the time to stream the weights (for a mixture of experts it grows with the tokens routed) and
``k`` the time per cached token of KV cache. :func:`replica_model` fits these coefficients to
``performance.estimate_arrays`` (exact for dense models, whose phase times are affine).

Units: seconds, tokens, requests per second.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from estimator import memory, performance
from estimator.errors import DoesNotFitError, InvalidInputError
from estimator.specs import HardwareSpec, ModelSpec
from estimator.traffic import TokenDistribution
from estimator.units import DType

__all__ = [
    "MAX_NUM_SEQS",
    "ReplicaModel",
    "SimulationResult",
    "replica_model",
    "simulate",
]

FloatArray = npt.NDArray[np.float64]

MAX_NUM_SEQS: int = 256
"""Default cap on concurrent sequences per replica: vLLM's ``max_num_seqs`` default (256, vLLM
engine arguments docs). The KV-cache memory can lower it (``memory.max_batch``)."""


class ReplicaModel(BaseModel):
    """Iteration-time model of one replica (``tp x pp`` accelerators), seconds.

    ``T(N, A, K) = G(N) + max(attn_s_per_pair A, kv_s_per_token K)`` where ``G(N)`` (tabulated,
    interpolated) is everything that depends only on the ``N`` tokens of the iteration: the
    step overhead, all-reduces, activation traffic and the linear layers at the roofline
    ``max(FLOPs/peak, weights/bandwidth)``; ``A`` counts (query, key) attention pairs and ``K``
    cached tokens read or written. See the module notes.
    """

    model_config = ConfigDict(frozen=True)

    token_grid: tuple[float, ...] = Field(min_length=2, description="tokens per iteration, increasing")
    token_part_s: tuple[float, ...] = Field(min_length=2, description="G(N) at those tokens")
    attn_s_per_pair: float = Field(ge=0, description="attention compute time per (query, key) pair")
    kv_s_per_token: float = Field(ge=0, description="KV-cache time per cached token read or written")
    request_overhead_s: float = Field(default=0.0, ge=0, description="admission/HTTP time added to TTFT")
    max_batch: int = Field(ge=1, description="slots: concurrent sequences")
    token_budget: int = Field(default=performance.PREFILL_CHUNK_TOKENS, ge=1)
    window: float = Field(default=math.inf, gt=0, description="sliding-window length (inf: none)")
    tp: int = Field(default=1, ge=1)
    pp: int = Field(default=1, ge=1)
    prefill_token_weight: float = Field(
        default=1.0, gt=0, le=1, description="a prompt token's share of a decode token's linear-layer work "
        "(prompts skip the LM head except for their last token)")
    fit_max_rel_error: float = Field(default=0.0, ge=0, description="vs performance.estimate_arrays")
    description: str = ""

    def token_time_s(self, tokens: npt.ArrayLike) -> Any:
        """``G(N)``: the part of an iteration's time that depends only on its token count."""
        n = np.asarray(tokens, dtype=float)
        grid = np.asarray(self.token_grid)
        vals = np.asarray(self.token_part_s)
        slope = (vals[-1] - vals[-2]) / (grid[-1] - grid[-2])
        inside = np.interp(n, grid, vals)
        return np.where(n > grid[-1], vals[-1] + slope * (n - grid[-1]), inside)

    def iteration_s(self, tokens: npt.ArrayLike, pairs: npt.ArrayLike, kv_tokens: npt.ArrayLike) -> Any:
        """Time of one iteration (vectorized); see the class notes."""
        attn = np.maximum(self.attn_s_per_pair * np.asarray(pairs, dtype=float),
                          self.kv_s_per_token * np.asarray(kv_tokens, dtype=float))
        return self.token_time_s(tokens) + attn

    def prefill_alone_s(self, tokens: npt.ArrayLike) -> Any:
        """Time to first token of one prompt on an idle replica (chunks of the token budget)."""
        n = np.asarray(tokens, dtype=float)
        chunks = np.maximum(np.ceil(n / self.token_budget), 1.0)
        c = n / chunks
        # chunk j of c tokens attends to j c + (c + 1)/2 keys per query on average
        pairs = c * (c * (chunks - 1.0) / 2.0 + (c + 1.0) / 2.0)
        return self.request_overhead_s + chunks * self.iteration_s(c * self.prefill_token_weight, pairs, c)


def _probe(model: ModelSpec, hardware: HardwareSpec, dtype: DType | str, batch: Any, inp: Any, out: Any,
           tp: int, pp: int, efficiency: performance.Efficiency, kv_dtype: DType | str) -> dict[str, Any]:
    b, i, o = np.broadcast_arrays(np.asarray(batch, dtype=float), np.asarray(inp, dtype=float),
                                  np.asarray(out, dtype=float))
    return performance.estimate_arrays(model, hardware, dtype, b, i, o, tp, pp, kv_dtype=kv_dtype,
                                       efficiency=efficiency, check_memory=False, outputs=("tpot_s", "ttft_s"))


@dataclass(frozen=True, slots=True)
class _Prober:
    """``performance.estimate_arrays`` for one model, accelerator, dtype and layout: the only
    source :func:`replica_model` fits to. Requests generate one output token.

    The (batch, input) points of a fit are evaluated together by :meth:`prefetch` (one call of
    ``estimate_arrays`` instead of one per step; it is elementwise, so each point's times are the
    same doubles) and kept in ``table``; a point not prefetched is evaluated when asked for."""

    model: ModelSpec
    hardware: HardwareSpec
    dtype: DType | str
    tp: int
    pp: int
    efficiency: performance.Efficiency
    kv_dtype: DType | str
    table: dict[tuple[float, float], tuple[float, float]] = field(default_factory=dict)

    def prefetch(self, batch: Any, input_tokens: Any) -> None:
        """Evaluate the points (``batch``, ``input_tokens``) at once and keep their (TPOT, TTFT) in ``table``."""
        b, i = (a.ravel().tolist() for a in np.broadcast_arrays(np.asarray(batch, dtype=float),
                                                                   np.asarray(input_tokens, dtype=float)))
        out = _probe(self.model, self.hardware, self.dtype, b, i, 1.0, self.tp, self.pp, self.efficiency,
                     self.kv_dtype)
        self.table.update(zip(zip(b, i, strict=True), zip(np.asarray(out["tpot_s"], dtype=float).tolist(),
                                                          np.asarray(out["ttft_s"], dtype=float).tolist(),
                                                          strict=True), strict=True))

    def _times(self, batch: Any, input_tokens: Any, which: int) -> FloatArray:
        b, i = np.broadcast_arrays(np.asarray(batch, dtype=float), np.asarray(input_tokens, dtype=float))
        keys = list(zip(b.ravel().tolist(), i.ravel().tolist(), strict=True))
        missing = [k for k in keys if k not in self.table]
        if missing:
            self.prefetch([k[0] for k in missing], [k[1] for k in missing])
        return np.array([self.table[k][which] for k in keys], dtype=float).reshape(b.shape)

    def tpot_s(self, batch: Any, input_tokens: Any) -> FloatArray:
        """Decode step time of ``batch`` sequences after ``input_tokens`` (context + 0.5)."""
        return self._times(batch, input_tokens, 0)

    def ttft_s(self, batch: Any, input_tokens: Any) -> FloatArray:
        """Time to first token of ``batch`` prompts of ``input_tokens``."""
        return self._times(batch, input_tokens, 1)


@dataclass(frozen=True, slots=True)
class _AttentionFit:
    """Step 2 of :func:`replica_model`: the context-dependent part of an iteration, seconds."""

    attn_s_per_pair: float  # f_A: attention compute per (query, key) pair
    kv_s_per_token: float  # k: KV-cache traffic per cached token (0 where attention is compute-bound)
    decode_context: float  # performance's decode context of the short-context probes, c1 + 0.5
    prefill_probe_tokens: float  # n: the longest of the three probe prompts


def _replica_slots(
    model: ModelSpec, hardware: HardwareSpec, dtype: DType | str, kv: DType | str, context_tokens: int, *,
    tp: int, pp: int, memory_utilization: float, runtime_overhead_bytes: float,
) -> int:
    """Step 1: concurrent sequences of ``context_tokens`` the KV cache holds (``memory.max_batch``);
    ``DoesNotFitError`` naming the smallest layout that fits when not one does."""
    ctx = max(1, int(context_tokens))
    slots = memory.max_batch(model, hardware, dtype, kv, ctx, tp=tp, pp=pp,
                             memory_utilization=memory_utilization, runtime_overhead_bytes=runtime_overhead_bytes)
    if slots < 1:
        fit = memory.min_accelerators(model, hardware, dtype, kv, ctx, 1, memory_utilization=memory_utilization,
                                      runtime_overhead_bytes=runtime_overhead_bytes)
        raise DoesNotFitError(
            f"{model.name} ({DType(dtype).value}) does not fit on {tp * pp} x {hardware.name} with a "
            f"{int(context_tokens):,}-token context; the smallest layout: {fit.message}"
        )
    return int(slots)


def _attention_points(max_ctx: float, window: float) -> tuple[FloatArray, FloatArray]:
    """Step 2's probes: the decode contexts (1 and up to 1024 tokens) and the prompts ``n/4, n/2, n``."""
    c2 = float(min(1024.0, max(2.0, max_ctx - 2.0), window / 2.0 if math.isfinite(window) else 1024.0))
    n3 = float(min(performance.PREFILL_CHUNK_TOKENS, max(8.0, max_ctx - 2.0)))
    return np.array([1.0, c2]), np.array([n3 / 4.0, n3 / 2.0, n3])


def _fit_attention(probe: _Prober, max_ctx: float, window: float) -> _AttentionFit:
    """Step 2: ``f_A`` and ``k`` from batch-1 probes.

    The decode slope over the context (contexts 1 and up to 1024, within any sliding window) is
    ``max(f_A, k)``; three prompts ``n/4, n/2, n`` solve ``ttft = a + b n + f_A n (n + 1)/2`` for
    the quadratic (causal attention) term. Where ``f_A`` is below the decode slope, decode
    attention is memory-bound and ``k`` is that slope; a window shorter than ``n`` hides ``f_A``.
    """
    contexts, ns = _attention_points(max_ctx, window)
    tp_dec = probe.tpot_s(1.0, contexts)
    ctx = contexts + 0.5  # performance's decode context: input + output / 2
    slope = max(0.0, float(tp_dec[1] - tp_dec[0]) / float(ctx[1] - ctx[0]))
    n3 = float(ns[-1])
    y = probe.ttft_s(1.0, ns)
    design = np.stack([np.ones(3), ns, ns * (ns + 1.0) / 2.0], axis=1)
    try:
        attn = max(0.0, float(np.linalg.solve(design, y)[2]))
    except np.linalg.LinAlgError:
        attn = 0.0
    if math.isfinite(window):
        attn = 0.0 if n3 > window else attn
    kv_s = slope if slope > attn * 1.01 else 0.0
    attn = min(attn, slope) if kv_s == 0.0 else attn
    return _AttentionFit(attn_s_per_pair=attn, kv_s_per_token=kv_s, decode_context=float(ctx[0]),
                         prefill_probe_tokens=n3)


def _token_table(
    probe: _Prober, att: _AttentionFit, window: float, tokens_max: float
) -> tuple[FloatArray, FloatArray]:
    """Step 3: ``G(N)`` on 28 geometric token counts 1 .. ``tokens_max``: batch-N decode steps at
    context 1 less their attention term, made non-decreasing (and positive)."""
    grid = _token_points(tokens_max)
    step_s = probe.tpot_s(grid, 1.0)
    cached = min(att.decode_context, window)
    token_part = step_s - np.maximum(att.attn_s_per_pair * grid * cached,
                                     att.kv_s_per_token * grid * (cached + 1.0))
    return grid, np.maximum.accumulate(np.maximum(token_part, 1e-9))


def _token_points(tokens_max: float) -> FloatArray:
    """Step 3's token counts: 28 geometric ones from 1 to ``tokens_max``, rounded, distinct."""
    return np.unique(np.round(np.geomspace(1.0, tokens_max, 28)))


def _prefill_token_weight(model: ModelSpec) -> float:
    """A prompt token's share of a decode token's linear-layer work: ``body / (body + head)``,
    ``head = V d`` (the LM head runs only for a prompt's last token), ``body = N_active -``
    embeddings."""
    emb = float(model.vocab_size * model.d_model * (1 if model.tied_embeddings else 2))
    body = max(float(model.params_active) - emb, 1.0)
    head = float(model.vocab_size * model.d_model)
    return body / (body + head)


def _check_points(max_batch: int, max_ctx: float, n3: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Step 5's probes: decode batches and contexts (every pair, flattened) and lone prompts."""
    bs = np.array([1.0, 8.0, 64.0, float(max_batch)])
    cs = np.array([1.0, min(500.0, max_ctx / 4), min(2000.0, max_ctx / 2)])
    bb, cc = np.meshgrid(bs, cs)
    return bb.ravel(), cc.ravel(), np.array([64.0, min(1000.0, max_ctx / 2), n3])


def _fit_max_rel_error(rm: ReplicaModel, probe: _Prober, max_ctx: float, n3: float) -> float:
    """Step 5: worst ``|model / estimate_arrays - 1|`` over decode steps (batches 1, 8, 64, slots
    x contexts 1, <= 500, <= 2000) and lone prompts (64, <= 1000, ``n3`` tokens)."""
    bb, cc, pn = _check_points(rm.max_batch, max_ctx, n3)
    cx = np.minimum(cc + 0.5, rm.window)
    pred_dec = rm.iteration_s(bb, bb * cx, bb * (cx + 1.0))
    err_dec = np.abs(pred_dec / probe.tpot_s(bb, cc) - 1.0)
    err_pre = np.abs(rm.prefill_alone_s(pn) / probe.ttft_s(1.0, pn) - 1.0)
    return float(max(err_dec.max(), err_pre.max()))


def _prefetch_fit(probe: _Prober, max_ctx: float, window: float, tokens_max: float, max_batch: int) -> None:
    """Every probe of steps 2, 3 and 5 of :func:`replica_model` in one call (:meth:`_Prober.prefetch`)."""
    contexts, ns = _attention_points(max_ctx, window)
    tokens = _token_points(tokens_max)
    bb, cc, pn = _check_points(max_batch, max_ctx, float(ns[-1]))
    ones = np.ones(contexts.size + ns.size)
    probe.prefetch(np.concatenate([ones, tokens, bb, np.ones(pn.size)]),
                   np.concatenate([contexts, ns, np.ones(tokens.size), cc, pn]))


def replica_model(
    model: ModelSpec,
    hardware: HardwareSpec,
    dtype: DType | str,
    *,
    tp: int,
    pp: int = 1,
    kv_dtype: DType | str | None = None,
    context_tokens: int,
    efficiency: performance.Efficiency | None = None,
    max_num_seqs: int = MAX_NUM_SEQS,
    memory_utilization: float = memory.MEMORY_UTILIZATION,
    runtime_overhead_bytes: float = memory.RUNTIME_OVERHEAD_BYTES,
    token_budget: int = performance.PREFILL_CHUNK_TOKENS,
) -> ReplicaModel:
    """Fit the iteration-time model of one replica to ``performance.estimate_arrays``.

    ``token_budget`` is the engine's tokens per iteration (vLLM ``max_num_batched_tokens``, SGLang
    ``chunked_prefill_size``, TensorRT-LLM ``max_num_tokens``).

    Notes
    -----
    Only the public totals (``tpot_s``, ``ttft_s``) are used. A decode step of ``b`` sequences
    at context ``c`` is ``G(b) + max(f_A b c, k b (c + 1))``:

    - the slope of batch-1 steps over the context gives ``max(f_A, k)``;
    - three prompt lengths ``n/4, n/2, n`` give the quadratic (causal attention) term of the
      prefill, ``f_A n (n + 1)/2``; where ``f_A`` is below the decode slope, attention is
      memory-bound in decode and ``k`` is that slope;
    - ``G(N)`` is tabulated from steps at a short context over ``N`` = 1 .. budget + slots.

    The fit is checked against ``estimate_arrays`` on a grid of batches, contexts and prompts;
    ``fit_max_rel_error`` records the worst relative error (the plan reports it). Slots:
    ``min(max_num_seqs, memory.max_batch(context_tokens))`` (vLLM's KV-cache admission).

    Steps: slots (:func:`_replica_slots`) -> attention terms (:func:`_fit_attention`) -> ``G(N)``
    (:func:`_token_table`) -> the model -> its check (:func:`_fit_max_rel_error`).

    Raises ``DoesNotFitError`` when not one sequence of ``context_tokens`` fits.
    """
    eff = efficiency or performance.Efficiency()
    kv = kv_dtype if kv_dtype is not None else performance.default_kv_dtype(dtype)
    # A hybrid model (some layers windowed, the rest global) is fitted with full attention: its long
    # contexts then cost what the global layers make them cost (conservative; fit_max_rel_error reports it).
    hybrid = 0 < model.n_sliding_layers < model.n_layers
    window = float(model.sliding_window) if model.sliding_window > 0 and not hybrid else math.inf
    max_ctx = float(model.max_context)
    slots = _replica_slots(model, hardware, dtype, kv, context_tokens, tp=tp, pp=pp,
                           memory_utilization=memory_utilization, runtime_overhead_bytes=runtime_overhead_bytes)
    probe = _Prober(model=model, hardware=hardware, dtype=dtype, tp=tp, pp=pp, efficiency=eff, kv_dtype=kv)
    budget = int(token_budget)
    _prefetch_fit(probe, max_ctx, window, budget + max(max_num_seqs, slots), min(max_num_seqs, slots))
    att = _fit_attention(probe, max_ctx, window)
    grid, token_part = _token_table(probe, att, window, budget + max(max_num_seqs, slots))
    rm = ReplicaModel(
        prefill_token_weight=_prefill_token_weight(model),
        token_grid=tuple(float(x) for x in grid),
        token_part_s=tuple(float(x) for x in token_part),
        attn_s_per_pair=att.attn_s_per_pair,
        kv_s_per_token=att.kv_s_per_token,
        request_overhead_s=max(0.0, eff.prefill_overhead_s - eff.step_overhead_s),
        max_batch=int(min(max_num_seqs, slots)),
        token_budget=budget,
        window=window,
        tp=tp,
        pp=pp,
        description=f"{model.name} on {tp * pp} x {hardware.name} ({DType(dtype).value})",
    )
    err = _fit_max_rel_error(rm, probe, max_ctx, att.prefill_probe_tokens)
    return rm.model_copy(update={"fit_max_rel_error": err})


class SimulationResult(BaseModel):
    """Latency percentiles and occupancy measured by :func:`simulate` (seconds, requests/s)."""

    model_config = ConfigDict(frozen=True)

    arrival_rps: float
    requests_measured: int
    stable: bool = Field(description="False when the queue grew without bound (load above capacity)")
    ttft_p50_s: float
    ttft_p95_s: float
    e2e_p50_s: float
    e2e_p95_s: float
    tpot_mean_s: float
    mean_decode_batch: float
    mean_iteration_s: float
    busy_fraction: float
    throughput_rps: float
    output_tokens_per_s: float


@dataclass(frozen=True, slots=True)
class _Requests:
    """Step 1 of :func:`simulate`: the drawn requests, one entry each (seconds, tokens)."""

    arrival_s: FloatArray = field(repr=False)
    context_tokens: FloatArray = field(repr=False)  # prompt length: keys the prompt's tokens attend to
    prefill_tokens: FloatArray = field(repr=False)  # prompt tokens computed (the cached prefix skipped)
    output_tokens: FloatArray = field(repr=False)

    @property
    def count(self) -> int:
        return int(self.arrival_s.size)


@dataclass(frozen=True, slots=True)
class _Trace:
    """Step 2 of :func:`simulate`: when each request got its first and last token (NaN: never),
    and how the replica spent the run."""

    first_s: FloatArray = field(repr=False)
    finish_s: FloatArray = field(repr=False)
    end_s: float  # simulated clock when the run stopped
    completed: int
    queue_overflowed: bool  # the waiting queue passed max_queue: the run was cut short
    busy_s: float
    decode_batch_s: float  # integral of the decode batch size over time, sequence-seconds
    iterations: int


def _draw_requests(
    arrival_rps: float, input_tokens: TokenDistribution, output_tokens: TokenDistribution,
    prefix_cache_hit_rate: float, n: int, seed: int,
) -> _Requests:
    """Poisson arrivals (exponential gaps of mean ``1 / arrival_rps``) and independent prompt and
    completion lengths; a prefix-cache hit rate ``h`` leaves ``max(rint(n_ctx (1 - h)), 1)``
    prompt tokens to compute."""
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1.0 / arrival_rps, size=n))
    n_ctx = input_tokens.sample(rng, n).astype(float)
    n_pref = np.maximum(np.rint(n_ctx * (1.0 - prefix_cache_hit_rate)), 1.0)
    n_out = output_tokens.sample(rng, n).astype(float)
    return _Requests(arrival_s=arrival, context_tokens=n_ctx, prefill_tokens=n_pref, output_tokens=n_out)


class _Replay:
    """The event loop of :func:`simulate` (mutable state of one run; see the module notes).

    Slots are taken first come first served; each iteration either mixes decode tokens with
    prompt chunks (:meth:`_mixed_iteration`) or, with no prompt pending, advances a run of pure
    decode iterations up to the next completion or arrival in one step (:meth:`_decode_run`).
    """

    def __init__(self, replica: ReplicaModel, req: _Requests, max_queue: int) -> None:
        n = req.count
        self.replica, self.req, self.max_queue = replica, req, max_queue
        self.prefilled = np.zeros(n)
        self.generated = np.zeros(n)
        self.first = np.full(n, np.nan)
        self.finish = np.full(n, np.nan)
        self.waiting: deque[int] = deque()
        self.prefilling: list[int] = []
        self.dec = np.zeros(0, dtype=np.int64)
        self.t = 0.0
        self.nxt = 0
        self.done = 0
        self.busy_s = 0.0
        self.batch_time = 0.0
        self.iterations = 0

    def run(self) -> _Trace:
        n, arrival = self.req.count, self.req.arrival_s
        overflowed = False
        while self.done < n:
            while self.nxt < n and arrival[self.nxt] <= self.t:
                self.waiting.append(self.nxt)
                self.nxt += 1
            if len(self.waiting) > self.max_queue:
                overflowed = True
                break
            while self.waiting and self.dec.size + len(self.prefilling) < self.replica.max_batch:
                self.prefilling.append(self.waiting.popleft())
            if self.dec.size == 0 and not self.prefilling:
                if self.nxt >= n:
                    break  # nothing left (cannot happen while done < n)
                self.t = float(arrival[self.nxt])
            elif self.prefilling:
                self._mixed_iteration()
            else:
                self._decode_run()
        return _Trace(first_s=self.first, finish_s=self.finish, end_s=self.t, completed=self.done,
                      queue_overflowed=overflowed, busy_s=self.busy_s, decode_batch_s=self.batch_time,
                      iterations=self.iterations)

    def _advance(self, elapsed: float, batch: int, steps: int) -> None:
        self.t += elapsed
        self.busy_s += elapsed
        self.batch_time += batch * elapsed
        self.iterations += steps

    def _finish_decoders(self) -> None:
        """Retire the decoding sequences that produced their last token (at the current time)."""
        ids = self.dec
        out = self.generated[ids] >= self.req.output_tokens[ids]
        if out.any():
            fin = ids[out]
            self.finish[fin] = self.t
            self.done += int(fin.size)
            self.dec = ids[~out]

    def _cached_tokens(self) -> tuple[FloatArray, FloatArray]:
        """(context, cached tokens) of each decoding sequence; the cache holds at most a window."""
        ctx = self.req.context_tokens[self.dec] + self.generated[self.dec] if self.dec.size else np.zeros(0)
        return ctx, np.minimum(ctx, self.replica.window)

    def _mixed_iteration(self) -> None:
        """One iteration: a token for each decoder, and prompt chunks from what is left of the
        token budget, first come first served (Sarathi-Serve chunked prefill)."""
        req, window, b = self.req, self.replica.window, self.dec.size
        _, cached = self._cached_tokens()
        room = max(self.replica.token_budget - b, 1)
        takes: list[tuple[int, float]] = []
        for rid in self.prefilling:
            if room <= 0:
                break
            take = min(req.prefill_tokens[rid] - self.prefilled[rid], room)
            takes.append((rid, take))
            room -= take
        ptok = sum(x for _, x in takes)
        # a chunk of x new tokens after p computed ones (and the cached prefix) attends to
        # min(prefix + p, window) + x / 2 keys per query on average
        pairs = float(cached.sum()) + sum(
            x * (min(req.context_tokens[r] - req.prefill_tokens[r] + self.prefilled[r], window) + x / 2.0)
            for r, x in takes)
        kvt = float((cached + 1.0).sum()) + ptok
        dt = float(self.replica.iteration_s(b + ptok * self.replica.prefill_token_weight, pairs, kvt))
        self._advance(dt, b, 1)
        if b:
            self.generated[self.dec] += 1.0
            self._finish_decoders()
        self._finish_chunks(takes)

    def _finish_chunks(self, takes: list[tuple[int, float]]) -> None:
        """Credit the prompt chunks just computed; a finished prompt emits its first token and
        starts decoding (or leaves, when one output token was asked for)."""
        new_dec = []
        for rid, x in takes:
            self.prefilled[rid] += x
            if self.prefilled[rid] >= self.req.prefill_tokens[rid]:
                self.first[rid] = self.t
                self.generated[rid] = 1.0
                self.prefilling.remove(rid)
                if self.req.output_tokens[rid] <= 1:
                    self.finish[rid] = self.t
                    self.done += 1
                else:
                    new_dec.append(rid)
        if new_dec:
            self.dec = np.concatenate([self.dec, np.asarray(new_dec, dtype=np.int64)])

    def _decode_run(self) -> None:
        """Pure decode iterations up to the next completion, or through the iteration in which the
        next request arrives; their times ``T(b, A_j, K_j)`` form a known sequence."""
        b, window = self.dec.size, self.replica.window
        ctx_dec, cached = self._cached_tokens()
        kmax = int((self.req.output_tokens[self.dec] - self.generated[self.dec]).min())
        j = np.arange(kmax, dtype=float)
        if math.isinf(window):
            pair_j = cached.sum() + j * b
            kv_j = (cached + 1.0).sum() + j * b
        else:
            grown = np.minimum(ctx_dec[None, :] + j[:, None], window)
            pair_j = grown.sum(axis=1)
            kv_j = (grown + 1.0).sum(axis=1)
        cum = np.cumsum(self.replica.iteration_s(np.full(kmax, float(b)), pair_j, kv_j))
        steps = kmax
        if self.nxt < self.req.count:
            k_arr = int(np.searchsorted(cum, self.req.arrival_s[self.nxt] - self.t, side="left"))
            steps = min(kmax, k_arr + 1)
        self._advance(float(cum[steps - 1]), b, steps)
        self.generated[self.dec] += steps
        self._finish_decoders()


def _unmeasured(arrival_rps: float, measured: int) -> SimulationResult:
    """The result of a run too short (or too overloaded) to measure: NaN figures, not stable."""
    nan = float("nan")
    return SimulationResult(
        arrival_rps=arrival_rps, requests_measured=measured, stable=False, ttft_p50_s=nan, ttft_p95_s=nan,
        e2e_p50_s=nan, e2e_p95_s=nan, tpot_mean_s=nan, mean_decode_batch=nan, mean_iteration_s=nan,
        busy_fraction=nan, throughput_rps=nan, output_tokens_per_s=nan,
    )


def _summarize(
    replica: ReplicaModel, arrival_rps: float, req: _Requests, trace: _Trace, warmup_fraction: float
) -> SimulationResult:
    """Percentiles over the requests that arrived between ``warmup_fraction`` and
    ``1 - warmup_fraction`` of the run and completed; means over the simulated horizon.

    ``TTFT = first - arrival + overhead``, ``E2E = finish - arrival + overhead``,
    ``TPOT = (finish - first) / (n_out - 1)``. Stable: no queue overflow, and at least 90 % of the
    arrival rate completed while requests still arrived.
    """
    n = req.count
    lo, hi = int(warmup_fraction * n), int((1.0 - warmup_fraction) * n)
    sel = np.arange(lo, max(hi, lo + 1))
    first, finish, arrival, n_out = trace.first_s, trace.finish_s, req.arrival_s, req.output_tokens
    sel = sel[np.isfinite(finish[sel])]
    if sel.size < 10:
        return _unmeasured(arrival_rps, int(sel.size))
    # a replica that keeps up completes (almost) as many requests as arrive while they arrive
    last = float(arrival[-1])
    kept_up = float(np.sum(finish <= last)) / max(last, 1e-12) >= 0.9 * arrival_rps * (1.0 - warmup_fraction)
    ttft = first[sel] - arrival[sel] + replica.request_overhead_s
    e2e = finish[sel] - arrival[sel] + replica.request_overhead_s
    multi = n_out[sel] > 1
    tpot = (finish[sel][multi] - first[sel][multi]) / (n_out[sel][multi] - 1.0)
    horizon = trace.end_s if trace.end_s > 0 else 1.0
    return SimulationResult(
        arrival_rps=float(arrival_rps),
        requests_measured=int(sel.size),
        stable=not trace.queue_overflowed and kept_up,
        ttft_p50_s=float(np.percentile(ttft, 50)),
        ttft_p95_s=float(np.percentile(ttft, 95)),
        e2e_p50_s=float(np.percentile(e2e, 50)),
        e2e_p95_s=float(np.percentile(e2e, 95)),
        tpot_mean_s=float(tpot.mean()) if tpot.size else float("nan"),
        mean_decode_batch=trace.decode_batch_s / horizon,
        mean_iteration_s=trace.busy_s / max(trace.iterations, 1),
        busy_fraction=trace.busy_s / horizon,
        throughput_rps=float(trace.completed / horizon),
        output_tokens_per_s=float(n_out[np.isfinite(finish)].sum() / horizon),
    )


def simulate(
    replica: ReplicaModel,
    arrival_rps: float,
    input_tokens: TokenDistribution,
    output_tokens: TokenDistribution,
    *,
    prefix_cache_hit_rate: float = 0.0,
    n_requests: int = 20_000,
    seed: int = 0,
    warmup_fraction: float = 0.1,
    max_queue: int | None = None,
) -> SimulationResult:
    """Discrete-event simulation of Poisson arrivals on one continuous-batching replica.

    Prompt and completion lengths are drawn independently from their distributions; a prefix-cache
    hit rate ``h`` removes that share of each prompt from the prefill work (the cached prefix's
    keys are still attended to). Iterations follow the scheduler of the module notes; runs of pure
    decode iterations between two events are advanced in one step (their times form a known
    sequence), so 20,000 requests take about a second.

    Percentiles are over requests arriving between ``warmup_fraction`` and ``1 - warmup_fraction``
    of the run (steady state). When the waiting queue exceeds ``max_queue`` (default
    ``50 x max_batch``) the load is above capacity: the run stops and ``stable`` is False; it is also
    False when fewer than 90 % of the arrivals complete while requests still arrive.

    Steps: draw the requests (:func:`_draw_requests`) -> replay them on the replica
    (:class:`_Replay`) -> summarize the steady state (:func:`_summarize`).
    """
    if not (math.isfinite(arrival_rps) and arrival_rps > 0):
        raise InvalidInputError(f"arrival rate must be a positive number of requests/s, got {arrival_rps}")
    if not 0 <= prefix_cache_hit_rate < 1:
        raise InvalidInputError(f"prefix-cache hit rate must be in [0, 1), got {prefix_cache_hit_rate}")
    if n_requests < 100:
        raise InvalidInputError(f"simulate at least 100 requests, got {n_requests}")
    req = _draw_requests(arrival_rps, input_tokens, output_tokens, prefix_cache_hit_rate, int(n_requests), seed)
    qmax = max_queue if max_queue is not None else 50 * replica.max_batch
    trace = _Replay(replica, req, qmax).run()
    return _summarize(replica, arrival_rps, req, trace, warmup_fraction)
