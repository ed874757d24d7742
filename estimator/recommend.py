"""Recommend: the cheapest way to serve a scenario's traffic, searched over the whole catalog.

:func:`recommend` answers "which accelerator, cloud, region, weight format and tensor-parallel
degree serve this traffic within the latency goals at the lowest monthly cost?" in one call.

Search space: accelerator x instance (cloud) x region x weight format x TP x pricing model, within
the scenario's ``recommend`` constraints (:class:`estimator.scenario.RecommendInputs`).
Two stages keep the whole catalog within about 2 s:

1. **Screen** (vectorized, every option): per layout (accelerator, weight format, TP) the memory fit
   (:func:`estimator.memory.batch_memory`, the engine's budget), the continuous-batching iteration
   time over a grid of batches (:func:`estimator.performance.steady_state_arrays`) and from it the
   largest per-replica load meeting the p95 goals; per instance and pricing model the hourly fleet
   of the representative week, its cost and, per region, its carbon.
2. **Plan exactly** (:func:`estimator.capacity.plan`, the queueing model) the ``top`` cheapest
   screened options plus the cheapest one of every accelerator and cloud not among them (at most
   :data:`MAX_PLANNED`). Their rows carry the plan's own numbers, so re-planning
   :meth:`Recommendation.scenario_for` gives the same cost.

Extension point: disaggregated prefill/decode and speculative decoding (``estimator.disagg``,
``estimator.speculative``, issue 14) add *variants* of the cheapest shortlisted options. A module
registers ``VARIANT_PLANNERS[name] = fn`` where ``fn(scenario)`` receives the colocated option's exact
scenario (:meth:`Recommendation.scenario_for`) and returns a :class:`VariantResult` (its own exact
plan: cost, p95s, carbon, and the scenario sections that turn the technique on) or ``None`` when it
does not apply. The variant row names its technique in ``technique`` and carries those sections, so
:meth:`Recommendation.scenario_for` reproduces it too.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, ValidationError

from estimator import capacity, carbon, catalog, engines, memory, performance, traffic
from estimator.errors import EstimatorError, InvalidInputError
from estimator.scenario import Deployment, InferenceMode, Pricing, RecommendInputs, Scenario
from estimator.specs import HardwareSpec, Instance, ModelSpec, Region
from estimator.units import BLOCK_SCALED_FP4, HOURS_PER_MONTH, DType

__all__ = [
    "Constraints",
    "InfeasibleGroup",
    "MAX_PLANNED",
    "Option",
    "Recommendation",
    "REASONS",
    "ROW_FIELDS",
    "QUANTIZED_PLATFORMS",
    "VARIANT_PLANNERS",
    "VariantResult",
    "group_infeasible",
    "option_rows",
    "pareto_cost_carbon",
    "pareto_cost_ttft",
    "pareto_front",
    "recommend",
]

Constraints = RecommendInputs
"""The recommendation's constraints: the scenario's ``recommend`` section."""

FloatArray = npt.NDArray[np.float64]

VARIANT_TOP: int = 3
"""The cheapest feasible exact plans that the registered variant planners try their techniques on."""

MAX_PLANNED: int = 20
"""At most this many options are planned exactly (``top`` cheapest, then the cheapest per accelerator and cloud)."""

BATCH_GRID_POINTS: int = 40
"""Batches screened per layout: 1, the largest that fits, and a geometric grid between."""

MONTH_OVER_WEEK: float = HOURS_PER_MONTH / 168.0
"""730 h / 168 h: months per representative week (as in :mod:`estimator.capacity`)."""

ENGINE_VENDORS: dict[engines.Engine, frozenset[str]] = {engines.Engine.TRTLLM: frozenset({"nvidia"})}
"""Accelerator vendors an engine runs on, where it is restricted. TensorRT-LLM builds "NVIDIA TensorRT
engines ... to perform inference efficiently on NVIDIA GPUs" (NVIDIA TensorRT-LLM documentation,
docs.nvidia.com/TensorRT-LLM, landing page). vLLM and SGLang also run on other back ends (AMD, TPU,
Neuron), which this catalog does not split by engine, so they are not restricted here."""

QUANTIZED_PLATFORMS: dict[DType, frozenset[str]] = {
    DType.INT4: frozenset({"nvidia-gpu", "intel-gpu", "intel-cpu"}),
    DType.FP8: frozenset({"nvidia-gpu", "amd-gpu", "aws-asic", "intel-asic"}),
}
"""Platforms (``vendor-kind`` of the hardware catalog) whose serving kernels run a quantized weight format.

From vLLM's "Supported Hardware" table of quantization kernels (docs.vllm.ai, features/quantization/
supported_hardware, v0.9.2; Intel Gaudi and Arm CPU columns from the v0.11.2 and latest tables):
int4 weight-only (AWQ, GPTQ rows) runs on NVIDIA GPUs (GPTQ from Volta, AWQ from Turing), Intel GPUs and
x86 CPUs, not on AMD GPUs, AWS Neuron (Inferentia, Trainium), Google TPU, Intel Gaudi or Arm CPUs;
FP8 W8A8 runs on Ada/Hopper (and newer) NVIDIA GPUs, AMD GPUs, AWS Neuron and Gaudi (INC W8A8).
The accelerator must also compute in FP8 (:func:`estimator.memory.require_runnable`). Applied to every
engine: TensorRT-LLM is NVIDIA-only and SGLang's back ends are a subset of vLLM's (an assumption).
Formats not listed (bf16, nvfp4/mxfp4 on FP4 tensor cores) are not restricted beyond the hardware."""

# infeasibility reasons (the groups of :attr:`Recommendation.infeasible`)
R_EXCLUDED = "excluded by the constraints"
R_ENGINE = "the engine does not run on this accelerator"
R_NO_INSTANCE = "no instance in the allowed clouds"
R_NO_REGION = "no allowed region (regions, residency, or no grid data in data/regions.csv)"
R_FORMAT = "cannot run the weight format"
R_MEMORY = "does not fit in memory"
R_NO_PRICE = "no price for the allowed pricing models"
R_TTFT = "misses the TTFT goal"
R_E2E = "misses the end-to-end goal"
R_REPLICAS = "needs more than the maximum replicas"
R_PLAN = "the exact plan does not meet the goals"
REASONS: tuple[str, ...] = (R_EXCLUDED, R_ENGINE, R_NO_INSTANCE, R_NO_REGION, R_FORMAT, R_MEMORY, R_NO_PRICE,
                            R_TTFT, R_E2E, R_REPLICAS, R_PLAN)
"""Every reason an option is infeasible, in the order the search meets them."""


class Option(BaseModel):
    """One option of the search: where and how to serve, and what it costs (USD, seconds, tonnes CO2e).

    ``exact`` rows come from :func:`estimator.capacity.plan`; the others are screening estimates.
    ``usd_per_million_input_tokens`` and ``usd_per_million_output_tokens`` split the monthly cost
    between prompt and generated tokens by the share of replica time each phase takes
    (:func:`_prefill_share`); together they pay the whole bill.
    """

    model_config = ConfigDict(frozen=True)

    hardware_id: str
    hardware_name: str = ""
    provider: str = ""
    region: str = ""
    country: str = ""
    instance_id: str = ""
    instance_type: str = ""
    pricing: str = ""
    weight_dtype: str = ""
    kv_dtype: str = ""
    tp: int = 0
    technique: str = "colocated"
    replicas: int | None = None
    mean_replicas: float | None = None
    monthly_cost_usd: float | None = None
    ttft_p95_s: float | None = None
    e2e_p95_s: float | None = None
    co2e_t_per_month: float | None = None
    usd_per_million_input_tokens: float | None = None
    usd_per_million_output_tokens: float | None = None
    feasible: bool = False
    reason: str = ""
    detail: str = ""
    exact: bool = False
    screened_monthly_cost_usd: float | None = None
    """The screening estimate of an exact row's monthly cost (how far the screen was off)."""
    other_regions: tuple[str, ...] = ()
    sections: tuple[tuple[str, str], ...] = ()
    """Scenario sections (name, JSON) a variant technique sets on top of the colocated scenario."""


class InfeasibleGroup(BaseModel):
    """Infeasible options sharing a reason: how many, and a few of them."""

    model_config = ConfigDict(frozen=True)

    reason: str
    count: int
    examples: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.reason} ({self.count} option{'s' if self.count != 1 else ''})"


class Recommendation(BaseModel):
    """What :func:`recommend` found: exact plans ranked by monthly cost, screened estimates, and why others fail."""

    model_config = ConfigDict(frozen=True)

    scenario: Scenario
    constraints: RecommendInputs
    options: tuple[Option, ...]
    screened: tuple[Option, ...]
    rejected: tuple[Option, ...]
    infeasible: tuple[InfeasibleGroup, ...]
    layouts_screened: int
    options_screened: int
    options_planned: int
    elapsed_s: float
    notes: tuple[str, ...] = ()

    @property
    def feasible(self) -> tuple[Option, ...]:
        return tuple(o for o in self.options if o.feasible)

    @property
    def best(self) -> Option | None:
        """The cheapest exactly planned option that meets the goals, or ``None``."""
        ok = self.feasible
        return ok[0] if ok else None

    def scenario_for(self, option: Option) -> Scenario:
        """The scenario that plans ``option`` (:func:`estimator.capacity.plan` gives its exact numbers)."""
        return _option_scenario(self.scenario, option)

    def all_rows(self) -> tuple[Option, ...]:
        """Exact plans, then screened estimates not planned, then infeasible options (the CLI's rows)."""
        return self.options + self.screened + self.rejected


@dataclass(frozen=True)
class VariantResult:
    """A technique's exact plan of one option (USD a month, seconds, tonnes CO2e a month)."""

    sections: dict[str, BaseModel]
    """Scenario sections that turn the technique on, e.g. ``{"serving": Serving(disaggregated=True)}``."""
    monthly_cost_usd: float
    ttft_p95_s: float
    e2e_p95_s: float
    co2e_t_per_month: float | None
    replicas: int
    feasible: bool
    detail: str = ""


VariantPlanner = Callable[[Scenario], "VariantResult | None"]
VARIANT_PLANNERS: dict[str, VariantPlanner] = {}
"""Technique name -> its planner (disaggregated, speculative ...), registered by the modules that model them."""


# ----------------------------------------------------------------------------- search context


@dataclass(frozen=True)
class _Context:
    """The scenario resolved once for the whole search (SI units, requests/s)."""

    s: Scenario
    c: RecommendInputs
    model: ModelSpec
    pricings: tuple[Pricing, ...]
    regions: dict[str, tuple[Region, ...]]  # provider -> allowed regions with grid data
    peak: FloatArray  # fleet peak arrivals per hour (after the response cache)
    mean: FloatArray
    input_mean: float
    input_p95: float
    output_mean: float
    output_p95: float
    screen_key: str  # digest of the scenario without its traffic and the token figures the screen uses


SCREEN_CACHE_SIZE: int = 2048
"""Screened (accelerator, weight format) layouts kept between searches (a search over the catalog screens about
150, so about 12 scenarios): they depend on the scenario without its traffic, so typing another volume
re-screens only the fleets."""

_screen_cache: OrderedDict[tuple[str, str, str, int], tuple[_Layout | Option, ...]] = OrderedDict()
_screen_lock = threading.Lock()


def clear_caches() -> None:
    """Forget the layouts screened by earlier searches (benchmarks of the cold path, tests, data edits)."""
    with _screen_lock:
        _screen_cache.clear()


def _allowed_regions(c: RecommendInputs) -> dict[str, tuple[Region, ...]]:
    """Catalog regions (with grid data) allowed by clouds, regions and residency, per provider."""
    out: dict[str, list[Region]] = {}
    for r in catalog.list_regions():
        if (c.clouds and r.provider not in c.clouds) or r.provider in c.exclude_clouds:
            continue
        if c.regions and r.region not in c.regions and r.region_id not in c.regions:
            continue
        if c.countries and r.country.upper() not in c.countries:
            continue
        out.setdefault(r.provider, []).append(r)
    return {k: tuple(v) for k, v in out.items()}


def _context(s: Scenario, c: RecommendInputs) -> _Context:
    model = catalog.get_model(s.model.model_id)
    if not model.generates:
        raise InvalidInputError(f"{model.name} is an encoder-only model: it generates no tokens, so there is no "
                                "serving plan to recommend. Choose a decoder model.")
    t = s.tokens
    if t.input_mean + t.output_mean >= model.max_context:
        raise InvalidInputError(f"mean prompt ({t.input_mean:,}) plus mean output ({t.output_mean:,}) tokens exceed "
                                f"{model.name}'s context window of {model.max_context:,} tokens")
    load = traffic.weekly_load(s.traffic)
    keep = 1.0 - s.traffic.response_cache_hit_rate
    prefix = 1.0 - s.traffic.prefix_cache_hit_rate
    return _Context(
        s=s, c=c, model=model,
        pricings=tuple(Pricing(p) for p in c.pricing) or (s.deploy.pricing,), regions=_allowed_regions(c),
        peak=load.peak * keep, mean=load.mean * keep,
        input_mean=max(1.0, t.input_mean * prefix), input_p95=max(1.0, min(t.input_p95, model.max_context) * prefix),
        output_mean=float(t.output_mean), output_p95=float(min(t.output_p95, model.max_context)),
        screen_key=_screen_key(s, model),
    )


def _screen_key(s: Scenario, model: ModelSpec) -> str:
    """What a layout's screen reads besides the accelerator: the scenario except ``traffic`` (whose prefix-cache
    hit rate is in the token figures), the model, and the token figures (the same expressions as ``_Context``)."""
    t, prefix = s.tokens, 1.0 - s.traffic.prefix_cache_hit_rate
    figures = (max(1.0, t.input_mean * prefix), max(1.0, min(t.input_p95, model.max_context) * prefix),
               float(t.output_mean), float(min(t.output_p95, model.max_context)))
    text = f"{s.model_dump_json(exclude={'traffic'})}|{model.model_dump_json()}|{figures!r}"
    return hashlib.sha256(text.encode()).hexdigest()  # thousands of cache keys: a digest, not kilobytes each


# ----------------------------------------------------------------------------- stage 1: layouts


@dataclass(frozen=True)
class _Layout:
    """One screened replica layout: its SLO load ``lam`` and saturation ``sat`` (requests/s per replica)."""

    hw: HardwareSpec
    weight: DType
    tp: int
    lam: float
    sat: float
    ttft_s: float  # p95 TTFT estimate at the plan load
    e2e_s: float
    prefill_share: float
    idle_w: float  # an idle accelerator's draw with its host share (W)
    embodied_kg_per_h: float  # embodied kg CO2e per accelerator-hour


def _reject(hw: HardwareSpec, reason: str, detail: str = "", **fields: object) -> Option:
    row: dict[str, object] = {"hardware_id": hw.hardware_id, "hardware_name": hw.name, **fields}
    return Option.model_validate({**row, "feasible": False, "reason": reason, "detail": detail or reason})


def _hardware_instances(ctx: _Context, hw: HardwareSpec) -> tuple[list[Instance], Option | None]:
    """Instances with ``hw`` in allowed clouds that run in an allowed region; else why none."""
    c = ctx.c
    if (c.accelerators and hw.hardware_id not in c.accelerators) or hw.hardware_id in c.exclude_accelerators:
        return [], _reject(hw, R_EXCLUDED, f"{hw.name} is not among the allowed accelerators")
    vendors = ENGINE_VENDORS.get(ctx.s.engine.name)
    if vendors is not None and hw.vendor not in vendors:
        return [], _reject(hw, R_ENGINE, f"{engines.LABELS[ctx.s.engine.name]} does not run on {hw.name}")
    insts = [i for i in catalog.list_instances(hardware_id=hw.hardware_id)
             if not (c.clouds and i.provider not in c.clouds) and i.provider not in c.exclude_clouds]
    if not insts:
        return [], _reject(hw, R_NO_INSTANCE, f"no instance with {hw.name} in the allowed clouds")
    placed = [i for i in insts if _instance_regions(ctx, i)]
    if not placed:
        clouds = ", ".join(sorted({i.provider for i in insts}))
        return [], _reject(hw, R_NO_REGION, f"{hw.name} ({clouds}): no allowed region with grid data")
    return placed, None


def _instance_regions(ctx: _Context, inst: Instance) -> tuple[Region, ...]:
    """Allowed regions where ``inst`` runs (its price region when the catalog lists none)."""
    names = set(inst.regions or (inst.price_region,))
    return tuple(r for r in ctx.regions.get(inst.provider, ()) if r.region in names)


def _weight_formats(ctx: _Context, hw: HardwareSpec) -> tuple[list[DType], list[Option]]:
    """The constraint's weight formats that ``hw`` runs (nvfp4/mxfp4 only on FP4 tensor cores)."""
    ok: list[DType] = []
    bad: list[Option] = []
    for name in ctx.c.weight_formats:
        d = DType(name)
        try:
            memory.require_runnable(hw, d)
            if d in BLOCK_SCALED_FP4 and not hw.supports(DType.FP4):
                raise InvalidInputError(f"{hw.name} has no FP4 tensor cores for {d.value}")
            platforms = QUANTIZED_PLATFORMS.get(d)
            if platforms is not None and f"{hw.vendor}-{hw.kind.value}" not in platforms:
                raise InvalidInputError(f"no {d.value} serving kernels for {hw.name} in vLLM's quantization "
                                        "hardware table")
            performance.default_compute_dtype(hw, d)
        except InvalidInputError as exc:
            bad.append(_reject(hw, R_FORMAT, str(exc), weight_dtype=d.value))
            continue
        ok.append(d)
    return ok, bad


def _fitting_tps(ctx: _Context, hw: HardwareSpec, d: DType, top_tp: int) -> list[tuple[int, int]]:
    """``(tp, max batch)`` of the power-of-two TPs (heads divisible, at most ``top_tp``) that fit; the 3 smallest."""
    s, model = ctx.s, ctx.model
    out: list[tuple[int, int]] = []
    t = 1
    while t <= top_tp and len(out) < 3:
        if model.n_heads % t == 0:
            es = engines.for_scenario(s, hw, t)
            ctx_tokens = math.ceil(engines.resident_tokens(ctx.input_mean, ctx.output_mean, es.kv_block_tokens))
            ovh = s.assumptions.runtime_overhead_gb * 1e9
            u = engines.memory_utilization(es, model, hw, d, s.model.kv_dtype, tp=t, runtime_overhead_bytes=ovh)
            bm = memory.batch_memory(model, d, s.model.kv_dtype, min(ctx_tokens, model.max_context), hardware=hw,
                                     tp=t, prefill_chunk_tokens=es.prefill_chunk_tokens, memory_utilization=u,
                                     runtime_overhead_bytes=ovh)
            b = bm.max_batch(cap=es.max_seqs)
            if b >= 1:
                out.append((t, b))
        t *= 2
    return out


def _static_terms(ctx: _Context, hw: HardwareSpec, d: DType, tp: int, b: FloatArray) -> tuple[float, FloatArray]:
    """The p95 prompt's prefill time at batch 1 (s), and the prefill share of replica time at each batch of ``b``.

    Notes
    -----
    Both from one :func:`estimator.performance.estimate_arrays` call (static batching). The share
    ``s_pre(B) = T_pre / (T_pre + T_dec) = TTFT(B) / E2E(B)`` at the mean lengths: with ``B``
    requests batched, each takes ``TTFT(B) / B`` of replica time in prefill and
    ``(E2E(B) - TTFT(B)) / B`` in decode. Prefill and decode are the two phases of LLM inference
    with different bottlenecks (Pope et al. 2022, "Efficiently Scaling Transformer Inference",
    sec. 2; Patel et al. 2024, "Splitwise", sec. 3), which is why API price sheets price input and
    output tokens apart; the split is this planner's allocation of one bill, not a published price.
    """
    n = len(b)
    r = performance.estimate_arrays(
        ctx.model, hw, d, np.r_[1.0, b], np.r_[float(round(ctx.input_p95)), np.full(n, float(round(ctx.input_mean)))],
        np.r_[2.0, np.full(n, float(max(2, round(ctx.output_mean))))], tp, kv_dtype=ctx.s.model.kv_dtype,
        efficiency=performance.efficiency_for_scenario(ctx.s, hw), check_memory=False, outputs=("ttft_s", "e2e_s"))
    ttft, e2e = np.asarray(r["ttft_s"], dtype=float), np.asarray(r["e2e_s"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(e2e[1:] > 0, np.clip(ttft[1:] / e2e[1:], 0.0, 1.0), 0.5)
    return float(ttft[0]), share


def _p95_latencies(ctx: _Context, prefill_p95_s: float, t_iter: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Screening p95 TTFT and end-to-end latency (s) at each batch of the grid.

    ``TTFT_95(B) = T_pre(I_95) + 1.5 t_iter(B)`` (the p95 prompt's own prefill, from
    :func:`estimator.performance.estimate_arrays` at batch 1, after waiting on average half an
    iteration and sharing one with the running batch) and ``E2E_95(B) = TTFT_95(B) + (O_95 - 1)
    t_iter(B)``, with ``t_iter`` the continuous-batching iteration time (Orca iteration-level
    scheduling, Yu et al. OSDI 2022; chunked prefill, Agrawal et al. 2024, "Sarathi-Serve": a new
    prompt joins the running batch at the next iteration). Queueing is left to the exact plan
    (:func:`estimator.capacity.plan`, M/G/1-type waits); the screen only ranks options and drops
    those that miss the goals even at batch 1. On issue 15's question the exact plans' monthly
    costs are a median 1.05 x the screen's (``screened_monthly_cost_usd``).
    """
    ttft = prefill_p95_s + 1.5 * t_iter
    return ttft, ttft + (ctx.output_p95 - 1.0) * t_iter


def _screen_layout(ctx: _Context, hw: HardwareSpec, d: DType, tp: int, max_batch: int) -> _Layout | Option:
    """Per-replica load meeting the p95 goals, ``lambda = min(max_B{rps(B) : goals met}, u_target sat)``.

    ``rps(B) = B / (t_iter(B) O_mean)`` under continuous batching
    (:func:`estimator.performance.steady_state_arrays`); ``sat`` is ``rps`` at the largest batch
    that fits (``min(engine max sequences, memory)``), and ``u_target`` the autoscaling target.
    """
    s = ctx.s
    es = engines.for_scenario(s, hw, tp)
    top = max(1, min(max_batch, es.max_seqs))
    b = np.unique(np.round(np.geomspace(1.0, float(top), BATCH_GRID_POINTS)))
    r = performance.steady_state_arrays(ctx.model, hw, d, b, ctx.input_mean, max(1.0, ctx.output_mean), tp,
                                        kv_dtype=s.model.kv_dtype, efficiency=performance.efficiency_for_scenario(s, hw),
                                        prefill_chunk_tokens=es.prefill_chunk_tokens)
    t_iter = np.asarray(r["tpot_s"], dtype=float)
    rps = np.asarray(r["requests_per_s"], dtype=float)
    prefill_p95_s, share = _static_terms(ctx, hw, d, tp, b)
    ttft, e2e = _p95_latencies(ctx, prefill_p95_s, t_iter)
    ok = (ttft <= s.slo.ttft_p95_s) & (e2e <= s.slo.e2e_p95_s)
    fields = {"weight_dtype": d.value, "kv_dtype": s.model.kv_dtype.value, "tp": tp}
    if not ok[0]:
        if ttft[0] > s.slo.ttft_p95_s:
            return _reject(hw, R_TTFT, f"{hw.name} {d.value} TP {tp}: p95 TTFT about {ttft[0]:.2f} s at batch 1 "
                           f"(goal {s.slo.ttft_p95_s:g} s)", **fields)
        return _reject(hw, R_E2E, f"{hw.name} {d.value} TP {tp}: p95 end-to-end about {e2e[0]:.1f} s at batch 1 "
                       f"(goal {s.slo.e2e_p95_s:g} s)", **fields)
    sat = float(rps[-1])
    lam = min(float(np.max(rps[ok])), s.autoscaling.target_utilization * sat)
    k = int(np.searchsorted(rps, lam, side="right")) - 1
    k = min(max(k, 0), len(b) - 1)
    m_emb, _ = carbon.embodied_kgco2e_per_accelerator(hw)
    return _Layout(hw=hw, weight=d, tp=tp, lam=lam, sat=sat, ttft_s=float(ttft[k]), e2e_s=float(e2e[k]),
                   prefill_share=float(share[k]),
                   idle_w=float(carbon.power_per_accelerator_w(hw.tdp_w, hw.idle_w, 0.0, _host_fraction(s))),
                   embodied_kg_per_h=float(carbon.embodied_co2e_kg(1.0, m_emb)))


def _host_fraction(s: Scenario) -> float:
    """The host's share of an accelerator's TDP (``carbon.HOST_OVERHEAD_FRACTION`` unless the scenario sets it)."""
    a = s.assumptions
    return carbon.HOST_OVERHEAD_FRACTION if a.host_overhead_fraction is None else a.host_overhead_fraction


def _screen_hardware(ctx: _Context, hw: HardwareSpec) -> tuple[list[tuple[_Layout, list[Instance]]], list[Option]]:
    """The layouts of one accelerator that meet the goals (with the instances that can hold them), and rejections."""
    insts, why = _hardware_instances(ctx, hw)
    if why is not None:
        return [], [why]
    formats, rejected = _weight_formats(ctx, hw)
    limit = ctx.c.max_accelerators or 64
    top_tp = min(hw.max_per_node, limit, max(i.accelerator_count for i in insts))
    out: list[tuple[_Layout, list[Instance]]] = []
    for d in formats:
        for lay in _format_layouts(ctx, hw, d, top_tp):
            if isinstance(lay, Option):
                rejected.append(lay)
            else:
                out.append((lay, [i for i in insts if i.accelerator_count >= lay.tp]))
    return out, rejected


def _format_layouts(ctx: _Context, hw: HardwareSpec, d: DType, top_tp: int) -> tuple[_Layout | Option, ...]:
    """The screened layouts of ``hw`` in weight format ``d`` (TP up to ``top_tp``), or why none fits; cached
    (:data:`SCREEN_CACHE_SIZE`): they depend on the scenario without its traffic (:func:`_screen_key`)."""
    key = (ctx.screen_key, hw.model_dump_json(), d.value, top_tp)
    with _screen_lock:
        hit = _screen_cache.get(key)
        if hit is not None:
            _screen_cache.move_to_end(key)
            return hit
    out: list[_Layout | Option] = []
    try:
        fits = _fitting_tps(ctx, hw, d, top_tp)
    except InvalidInputError as exc:
        fits = None
        out.append(_reject(hw, R_MEMORY, str(exc), weight_dtype=d.value))
    if fits is not None and not fits:
        out.append(_reject(hw, R_MEMORY, f"{ctx.model.name} in {d.value} does not fit on up to {top_tp} x "
                           f"{hw.name}", weight_dtype=d.value))
    out += [_screen_layout(ctx, hw, d, tp, max_batch) for tp, max_batch in fits or ()]
    with _screen_lock:
        _screen_cache[key] = tuple(out)
        while len(_screen_cache) > SCREEN_CACHE_SIZE:
            _screen_cache.popitem(last=False)
    return tuple(out)


# ----------------------------------------------------------------------------- stage 1: options


@dataclass(frozen=True)
class _Fleet:
    """Screened hourly fleet of one layout (168 hours): replicas, and its weekly energy terms."""

    replicas: FloatArray
    busy_h: FloatArray  # busy accelerator-hours per hour
    busy_wh: float  # busy accelerators' Wh a week before PUE: sum_h P(u_h) x busy_h
    idle_w: float  # an idle accelerator's draw with its host share (W)
    embodied_kg_per_h: float  # embodied kg CO2e per accelerator-hour


def _layout_fleet(ctx: _Context, lay: _Layout) -> _Fleet | None:
    """``n_h = clip(ceil(peak_h / lambda), min, max)`` (the exact plan's rule, bursts at their peak); None when
    the maximum replicas cannot carry the busiest hour."""
    auto = ctx.s.autoscaling
    need = np.ceil(ctx.peak / max(lay.lam, 1e-12) - 1e-9)
    if float(np.max(need)) > auto.max_replicas:
        return None
    lo = 0 if auto.scale_to_zero else max(auto.min_replicas, 1)
    n = np.clip(need, lo, auto.max_replicas)
    if auto.scale_to_zero:
        n = np.where(ctx.peak <= 0, 0.0, np.maximum(n, 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(n > 0, np.minimum(ctx.mean / (n * lay.sat), 1.0), 0.0)
    hw = lay.hw
    busy_h = n * lay.tp
    p_busy = carbon.power_per_accelerator_trusted_w(hw.tdp_w, hw.idle_w, u, _host_fraction(ctx.s))  # u in [0, 1]
    return _Fleet(replicas=n, busy_h=busy_h, busy_wh=float(np.sum(p_busy * busy_h)), idle_w=lay.idle_w,
                  embodied_kg_per_h=lay.embodied_kg_per_h)


def _weekly_usd(inst_h: FloatArray, inst: Instance, p: Pricing) -> float | None:
    """Weekly USD of hourly instance counts: committed pricing commits the always-on floor ``F``:
    ``F x 168 x price + sum_h (n_h - F)+ x on-demand``; others ``sum_h n_h x price`` (as the exact plan)."""
    price = getattr(inst, {Pricing.ON_DEMAND: "price_on_demand_usd_per_h", Pricing.SPOT: "price_spot_usd_per_h",
                           Pricing.COMMITTED_1Y: "price_1y_usd_per_h", Pricing.COMMITTED_3Y: "price_3y_usd_per_h"}[p])
    if price is None:
        return None
    if p in (Pricing.COMMITTED_1Y, Pricing.COMMITTED_3Y):
        floor = math.floor(float(np.min(inst_h)) + 1e-9)
        return floor * 168.0 * price + float(np.sum(np.maximum(inst_h - floor, 0.0))) * inst.price_on_demand_usd_per_h
    return float(np.sum(inst_h)) * price


def _weekly_kg(ctx: _Context, fl: _Fleet, inst_h: FloatArray, inst: Instance, regions: Sequence[Region]) -> list[float]:
    """Weekly kg CO2e in each region: ``E = (sum_h P(u_h) busy_h + P_idle idle_h) / 1000 x PUE`` (kWh; busy
    accelerators at ``P(u)``, the rest of the instances' idle, both with their host share), ``E x grid / 1000``,
    plus the embodied share of all accelerator-hours (:mod:`estimator.carbon`; as the exact plan)."""
    a = ctx.s.assumptions
    all_h = np.maximum(inst_h * inst.accelerator_count, fl.busy_h)
    wh = fl.busy_wh + fl.idle_w * float(np.sum(all_h - fl.busy_h))
    embodied = fl.embodied_kg_per_h * float(np.sum(all_h))
    out = []
    for reg in regions:
        pue = a.pue if a.pue is not None else reg.pue
        grid = a.grid_gco2e_per_kwh if a.grid_gco2e_per_kwh is not None else reg.grid_gco2e_per_kwh
        out.append(wh / 1000.0 * pue * grid / 1000.0 + embodied)
    return out


@dataclass(frozen=True)
class _Tokens:
    """Monthly fleet requests and tokens (prompt tokens as sent, before any prefix cache)."""

    requests: float
    input_tokens: float
    output_tokens: float


def _token_costs(monthly_usd: float, share_in: float, tok: _Tokens) -> tuple[float | None, float | None]:
    """``$ / 1M input = C s_pre / (N_in / 1e6)``, ``$ / 1M output = C (1 - s_pre) / (N_out / 1e6)`` (USD)."""
    per_in = monthly_usd * share_in / (tok.input_tokens / 1e6) if tok.input_tokens > 0 else None
    per_out = monthly_usd * (1.0 - share_in) / (tok.output_tokens / 1e6) if tok.output_tokens > 0 else None
    return per_in, per_out


def _screen_options(ctx: _Context, lay: _Layout, insts: list[Instance],
                    tok: _Tokens) -> tuple[list[Option], list[Option], int]:
    """Every (instance, pricing model) of a layout at its lowest-carbon allowed region; rejections; and the
    number of (instance, pricing, region) combinations screened."""
    base = {"hardware_id": lay.hw.hardware_id, "hardware_name": lay.hw.name, "weight_dtype": lay.weight.value,
            "kv_dtype": ctx.s.model.kv_dtype.value, "tp": lay.tp}
    fl = _layout_fleet(ctx, lay)
    if fl is None:
        peak = float(np.max(ctx.peak))
        return [], [_reject(lay.hw, R_REPLICAS, f"{lay.hw.name} {lay.weight.value} TP {lay.tp}: the busiest hour "
                            f"needs {math.ceil(peak / lay.lam):,} replicas (max {ctx.s.autoscaling.max_replicas:,})",
                            **base)], 0
    out: list[Option] = []
    rejected: list[Option] = []
    combos = 0
    for inst in insts:
        regions = _instance_regions(ctx, inst)
        inst_h = np.ceil(fl.replicas / (inst.accelerator_count // lay.tp) - 1e-9)
        kg = dict(zip((r.region for r in regions), _weekly_kg(ctx, fl, inst_h, inst, regions), strict=True))
        best = min(regions, key=lambda r: (kg[r.region], r.region != ctx.s.deploy.region, r.region))
        for p in ctx.pricings:
            row = dict(base, provider=inst.provider, instance_id=inst.instance_id, instance_type=inst.instance_type,
                       pricing=p.value, region=best.region, country=best.country)
            wk = _weekly_usd(inst_h, inst, p)
            if wk is None:
                rejected.append(_reject(lay.hw, R_NO_PRICE, f"{inst.instance_id} has no {p.value} price", **row))
                continue
            combos += len(regions)
            monthly = wk * MONTH_OVER_WEEK
            per_in, per_out = _token_costs(monthly, lay.prefill_share, tok)
            out.append(Option(**row, replicas=int(np.max(fl.replicas)),  # type: ignore[arg-type]
                              mean_replicas=float(np.mean(fl.replicas)), monthly_cost_usd=monthly,
                              ttft_p95_s=lay.ttft_s, e2e_p95_s=lay.e2e_s,
                              co2e_t_per_month=kg[best.region] * MONTH_OVER_WEEK / 1000.0,
                              usd_per_million_input_tokens=per_in, usd_per_million_output_tokens=per_out,
                              feasible=True, reason="screening estimate (not planned exactly)", detail="",
                              other_regions=tuple(r.region for r in regions if r is not best)))
    return out, rejected, combos


# ----------------------------------------------------------------------------- stage 2: exact plans


def _key(o: Option) -> tuple[str, str, int, str, str, str]:
    return (o.hardware_id, o.weight_dtype, o.tp, o.instance_id, o.pricing, o.technique)


def _shortlist(screened: Sequence[Option], top: int) -> list[Option]:
    """The ``top`` cheapest screened options, then the cheapest of each accelerator and each cloud not yet in,
    at most :data:`MAX_PLANNED` (cheapest first)."""
    ranked = sorted(screened, key=lambda o: (o.monthly_cost_usd or math.inf, o.co2e_t_per_month or 0.0, _key(o)))
    chosen = ranked[:top]
    seen_hw = {o.hardware_id for o in chosen}
    seen_cloud = {o.provider for o in chosen}
    for o in ranked[top:]:
        if len(chosen) >= max(MAX_PLANNED, top):
            break
        if o.hardware_id not in seen_hw or o.provider not in seen_cloud:
            chosen.append(o)
            seen_hw.add(o.hardware_id)
            seen_cloud.add(o.provider)
    return chosen


def _option_scenario(base: Scenario, o: Option) -> Scenario:
    """``base`` deployed as ``o``: accelerator, TP, cloud, instance, region, pricing and formats (real-time
    when the scenario's mode is auto: the search sizes always-on fleets)."""
    mode = InferenceMode.REALTIME if base.deploy.mode == InferenceMode.AUTO else base.deploy.mode
    model = base.model.model_copy(update={"weight_dtype": DType(o.weight_dtype), "kv_dtype": DType(o.kv_dtype)})
    deploy = Deployment(hardware_id=o.hardware_id, tp=o.tp, provider=o.provider, instance_id=o.instance_id,
                        region=o.region, pricing=Pricing(o.pricing), mode=mode)
    if not o.sections:  # both sections validated already (Scenario has no cross-section validator): no re-validation
        return base.model_copy(update={"model": model, "deploy": deploy})
    sections = {k: json.loads(v) for k, v in o.sections}
    return base.replace(model=model, deploy=deploy, **sections)


def _exact(base: Scenario, o: Option, share_in: float) -> Option:
    """``o`` with the numbers of :func:`estimator.capacity.plan` (infeasible, with the plan's reasons, when the
    chosen mode misses its limits or goals)."""
    try:
        p = capacity.plan_summary(_option_scenario(base, o))
    except EstimatorError as exc:
        return o.model_copy(update={"feasible": False, "reason": R_PLAN, "detail": str(exc), "exact": True,
                                    "monthly_cost_usd": None, "usd_per_million_input_tokens": None,
                                    "usd_per_million_output_tokens": None})
    check = p.mode_check
    month_requests = p.fleet_requests_per_day * 7.0 * MONTH_OVER_WEEK
    tok = _Tokens(requests=month_requests, input_tokens=month_requests * p.input_tokens_mean,
                  output_tokens=month_requests * p.output_tokens_mean)
    per_in, per_out = _token_costs(p.monthly_cost_usd, share_in, tok)
    return o.model_copy(update={
        "screened_monthly_cost_usd": o.monthly_cost_usd, "replicas": p.peak_replicas,
        "mean_replicas": p.mean_replicas, "monthly_cost_usd": p.monthly_cost_usd,
        "ttft_p95_s": p.ttft_p95_s, "e2e_p95_s": p.e2e_p95_s, "co2e_t_per_month": p.co2e_t_per_month,
        "usd_per_million_input_tokens": per_in, "usd_per_million_output_tokens": per_out,
        "feasible": check.ok, "reason": "" if check.ok else R_PLAN, "detail": "; ".join(check.reasons),
        "exact": True,
    })


def _variants(base: Scenario, o: Option) -> list[Option]:
    """Rows of the registered techniques (:data:`VARIANT_PLANNERS`) for the exactly planned option ``o``."""
    out: list[Option] = []
    for name, planner in VARIANT_PLANNERS.items():
        try:
            res = planner(_option_scenario(base, o))
        except EstimatorError as exc:
            out.append(o.model_copy(update={"technique": name, "feasible": False, "reason": R_PLAN, "detail": str(exc),
                                            "exact": True, "monthly_cost_usd": None}))
            continue
        if res is None:
            continue
        out.append(o.model_copy(update={
            "technique": name, "feasible": res.feasible, "reason": "" if res.feasible else R_PLAN,
            "detail": res.detail, "exact": True, "monthly_cost_usd": res.monthly_cost_usd,
            "ttft_p95_s": res.ttft_p95_s, "e2e_p95_s": res.e2e_p95_s, "co2e_t_per_month": res.co2e_t_per_month,
            "replicas": res.replicas, "mean_replicas": None, "usd_per_million_input_tokens": None,
            "usd_per_million_output_tokens": None,
            "sections": tuple((k, v.model_dump_json()) for k, v in sorted(res.sections.items()))}))
    return out


def group_infeasible(rows: Iterable[Option], examples: int = 3) -> tuple[InfeasibleGroup, ...]:
    """Infeasible rows grouped by reason, largest group first: ``"does not fit in memory (12 options)"``."""
    by: dict[str, list[Option]] = {}
    for o in rows:
        if not o.feasible:
            by.setdefault(o.reason, []).append(o)
    groups = [InfeasibleGroup(reason=r, count=len(v), examples=tuple(dict.fromkeys(x.detail for x in v))[:examples])
              for r, v in by.items()]
    return tuple(sorted(groups, key=lambda g: (-g.count, REASONS.index(g.reason) if g.reason in REASONS else 99)))


# ----------------------------------------------------------------------------- entry point


@dataclass(frozen=True)
class _Screen:
    options: list[Option]
    rejected: list[Option]
    shares: dict[tuple[str, str, int], float]
    layouts: int
    combos: int


def _screen(ctx: _Context) -> _Screen:
    """Stage 1 over the whole catalog."""
    t = ctx.s.tokens
    req = float(np.sum(ctx.mean)) * 3600.0 * MONTH_OVER_WEEK
    tok = _Tokens(requests=req, input_tokens=req * t.input_mean, output_tokens=req * t.output_mean)
    options: list[Option] = []
    rejected: list[Option] = []
    shares: dict[tuple[str, str, int], float] = {}
    layouts = combos = 0
    for hw in catalog.list_hardware():
        lays, bad = _screen_hardware(ctx, hw)
        rejected += bad
        layouts += len(lays) + sum(1 for b in bad if b.tp)
        for lay, insts in lays:
            shares[(hw.hardware_id, lay.weight.value, lay.tp)] = lay.prefill_share
            ok, no, n = _screen_options(ctx, lay, insts, tok)
            options += ok
            rejected += no
            combos += n
    return _Screen(options=options, rejected=rejected, shares=shares, layouts=layouts, combos=combos)


def recommend(scenario: Scenario, constraints: RecommendInputs | Mapping[str, object] | None = None) -> Recommendation:
    """The cheapest plans serving ``scenario``'s traffic within its p95 goals, over the whole catalog.

    Notes
    -----
    Stage 1 screens every accelerator x weight format x TP (:func:`_screen_layout`), then every
    instance x pricing model x allowed region of each layout (:func:`_screen_options`); stage 2
    plans the shortlist (:func:`_shortlist`) with :func:`estimator.capacity.plan` and ranks those
    plans by monthly cost (ties: lower carbon); the registered variant planners
    (:data:`VARIANT_PLANNERS`) add rows for the :data:`VARIANT_TOP` cheapest feasible plans.
    ``constraints`` (a :class:`~estimator.scenario.RecommendInputs` or its fields as a mapping)
    default to ``scenario.recommend``.
    Raises :class:`~estimator.errors.InvalidInputError` for a scenario no option could serve at
    all (an encoder model, token lengths beyond the context window); options that fail are rows
    with a reason, grouped in :attr:`Recommendation.infeasible`.
    """
    t0 = time.perf_counter()
    c = _constraints(scenario, constraints)
    ctx = _context(scenario, c)
    sc = _screen(ctx)
    short = _shortlist(sc.options, c.top)
    planned = sorted((_exact(scenario, o, sc.shares[(o.hardware_id, o.weight_dtype, o.tp)]) for o in short),
                     key=_rank_key)
    for o in [x for x in planned if x.feasible][:VARIANT_TOP]:
        planned += _variants(scenario, o)
    planned.sort(key=_rank_key)
    keys = {_key(o) for o in planned}
    rest = sorted((o for o in sc.options if _key(o) not in keys),
                  key=lambda o: (o.monthly_cost_usd or math.inf, _key(o)))
    rejected = tuple(sc.rejected) + tuple(o for o in planned if not o.feasible)
    notes = _notes(ctx, planned, sc)
    return Recommendation(
        scenario=scenario, constraints=c, options=tuple(planned), screened=tuple(rest),
        rejected=tuple(sc.rejected), infeasible=group_infeasible(rejected), layouts_screened=sc.layouts,
        options_screened=sc.combos + len(sc.rejected), options_planned=len(planned),
        elapsed_s=time.perf_counter() - t0, notes=tuple(notes))


def _rank_key(o: Option) -> tuple[bool, float, float, tuple[str, str, int, str, str, str]]:
    """Feasible first, then by monthly cost, carbon, and a stable key."""
    return (not o.feasible, o.monthly_cost_usd if o.monthly_cost_usd is not None else math.inf,
            o.co2e_t_per_month or 0.0, _key(o))


def _constraints(scenario: Scenario, constraints: RecommendInputs | Mapping[str, object] | None) -> RecommendInputs:
    if constraints is None:
        return scenario.recommend
    if isinstance(constraints, RecommendInputs):
        return constraints
    try:
        return RecommendInputs.model_validate(dict(constraints))
    except (ValidationError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"recommendation constraints: {exc}") from None


def _notes(ctx: _Context, planned: list[Option], sc: _Screen) -> list[str]:
    out = [f"Screened {sc.layouts:,} layouts (accelerator x weight format x TP) and {sc.combos:,} instance x "
           f"pricing x region combinations; planned the {len(planned)} cheapest exactly with the queueing model."]
    if any(o.weight_dtype != ctx.s.model.weight_dtype.value for o in planned if o.feasible):
        out.append("Quantized weight formats (fp8, int4, nvfp4, mxfp4) can change answer quality; restrict "
                   "weight_formats to the formats you have validated.")
    if not ctx.regions:
        out.append("No region with grid data passes the cloud, region and residency constraints.")
    return out


# ----------------------------------------------------------------------------- Pareto frontiers


def pareto_front(rows: Iterable[Option], x: Callable[[Option], float | None],
                 y: Callable[[Option], float | None]) -> tuple[Option, ...]:
    """Feasible rows that no other row beats on both ``x`` and ``y`` (lower is better), by ascending ``x``.

    A row is on the frontier when no row has ``x' <= x`` and ``y' <= y`` with one strict; rows
    without both values are left out.
    """
    pts = [(x(o), y(o), o) for o in rows if o.feasible]
    pts2 = sorted(((a, b, o) for a, b, o in pts if a is not None and b is not None and math.isfinite(a)
                   and math.isfinite(b)), key=lambda t: (t[0], t[1]))
    front: list[Option] = []
    best_y = math.inf
    for _, b, o in pts2:
        if b < best_y:
            front.append(o)
            best_y = b
    return tuple(front)


def pareto_cost_ttft(rows: Iterable[Option]) -> tuple[Option, ...]:
    """Frontier of monthly cost (USD) against p95 TTFT (s)."""
    return pareto_front(rows, lambda o: o.monthly_cost_usd, lambda o: o.ttft_p95_s)


def pareto_cost_carbon(rows: Iterable[Option]) -> tuple[Option, ...]:
    """Frontier of monthly cost (USD) against emissions (t CO2e per month)."""
    return pareto_front(rows, lambda o: o.monthly_cost_usd, lambda o: o.co2e_t_per_month)



# ----------------------------------------------------------------------------- rows for export

ROW_FIELDS: tuple[str, ...] = (
    "rank", "hardware_id", "provider", "region", "country", "instance_id", "instance_type", "pricing",
    "weight_dtype", "kv_dtype", "tp", "technique", "replicas", "monthly_cost_usd", "ttft_p95_s", "e2e_p95_s",
    "co2e_t_per_month", "usd_per_million_input_tokens", "usd_per_million_output_tokens", "feasible", "exact",
    "reason", "detail",
)
"""Columns of the CLI's CSV and keys of its JSON rows (units in the names; costs per 1M tokens labelled
input or output)."""


def option_rows(rec: Recommendation) -> list[dict[str, object]]:
    """One flat dictionary per row of :meth:`Recommendation.all_rows` (``rank`` 1.. for feasible exact plans,
    else ``None``); non-finite numbers become ``None``."""
    out: list[dict[str, object]] = []
    rank = 0
    for o in rec.all_rows():
        d = o.model_dump()
        if o.feasible and o.exact:
            rank += 1
            d["rank"] = rank
        else:
            d["rank"] = None
        out.append({k: (None if isinstance(d[k], float) and not math.isfinite(d[k]) else d[k]) for k in ROW_FIELDS})
    return out


class _CallableModule(types.ModuleType):
    """This module, callable: the package exports ``estimator.recommend(scenario)`` under the module's own
    name, and once the module is imported the package attribute is the module, so calling it calls
    :func:`recommend` (``estimator.recommend.recommend`` and ``from estimator.recommend import ...`` still work)."""

    def __call__(self, scenario: Scenario,
                 constraints: RecommendInputs | Mapping[str, object] | None = None) -> Recommendation:
        return recommend(scenario, constraints)


sys.modules[__name__].__class__ = _CallableModule
