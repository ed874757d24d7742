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
``estimator.speculative``, issue 14) add *variants* of a screened option. :data:`VARIANT_BUILDERS`
holds functions ``(scenario, option) -> list[Scenario]`` whose scenarios are planned exactly beside
the colocated one; each variant row names its technique in ``technique``.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

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
    "VARIANT_BUILDERS",
    "pareto_cost_carbon",
    "pareto_cost_ttft",
    "pareto_front",
    "recommend",
]

Constraints = RecommendInputs
"""The recommendation's constraints: the scenario's ``recommend`` section."""

FloatArray = npt.NDArray[np.float64]

MAX_PLANNED: int = 20
"""At most this many options are planned exactly (``top`` cheapest, then the cheapest per accelerator and cloud)."""

BATCH_GRID_POINTS: int = 40
"""Batches screened per layout: 1, the largest that fits, and a geometric grid between."""

MONTH_OVER_WEEK: float = HOURS_PER_MONTH / 168.0
"""730 h / 168 h: months per representative week (as in :mod:`estimator.capacity`)."""

ENGINE_VENDORS: dict[engines.Engine, frozenset[str]] = {engines.Engine.TRTLLM: frozenset({"nvidia"})}
"""Accelerator vendors an engine runs on, where it is restricted: TensorRT-LLM builds CUDA engines for
NVIDIA GPUs only (NVIDIA TensorRT-LLM documentation, "Overview": "TensorRT-LLM ... on NVIDIA GPUs").
vLLM and SGLang also run on AMD, TPU and other back ends, so they are not restricted here."""

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
    other_regions: tuple[str, ...] = ()


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


VariantBuilder = Callable[[Scenario, Option], list[Scenario]]
VARIANT_BUILDERS: dict[str, VariantBuilder] = {}
"""Technique name -> scenarios of that technique for a screened option (disaggregated, speculative ...).

Registered by the modules that model them; each scenario is planned exactly like the colocated one."""


# ----------------------------------------------------------------------------- search context


@dataclass(frozen=True)
class _Context:
    """The scenario resolved once for the whole search (SI units, requests/s)."""

    s: Scenario
    c: RecommendInputs
    model: ModelSpec
    efficiency: performance.Efficiency
    pricings: tuple[Pricing, ...]
    regions: dict[str, tuple[Region, ...]]  # provider -> allowed regions with grid data
    peak: FloatArray  # fleet peak arrivals per hour (after the response cache)
    mean: FloatArray
    input_mean: float
    input_p95: float
    output_mean: float
    output_p95: float
    mode: InferenceMode


def _allowed_regions(c: RecommendInputs) -> dict[str, tuple[Region, ...]]:
    """Catalog regions (with grid data) allowed by clouds, regions and residency, per provider."""
    out: dict[str, list[Region]] = {}
    for r in catalog.list_regions():
        if c.clouds and r.provider not in c.clouds or r.provider in c.exclude_clouds:
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
    kw: dict[str, float] = {}
    if s.assumptions.compute_efficiency is not None:
        kw["compute"] = s.assumptions.compute_efficiency
    if s.assumptions.memory_efficiency is not None:
        kw["memory"] = s.assumptions.memory_efficiency
    return _Context(
        s=s, c=c, model=model, efficiency=performance.Efficiency(**kw),
        pricings=tuple(Pricing(p) for p in c.pricing) or (s.deploy.pricing,), regions=_allowed_regions(c),
        peak=load.peak * keep, mean=load.mean * keep,
        input_mean=max(1.0, t.input_mean * prefix), input_p95=max(1.0, min(t.input_p95, model.max_context) * prefix),
        output_mean=float(t.output_mean), output_p95=float(min(t.output_p95, model.max_context)),
        mode=InferenceMode.REALTIME if s.deploy.mode == InferenceMode.AUTO else s.deploy.mode,
    )


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


def _reject(hw: HardwareSpec, reason: str, detail: str = "", **fields: object) -> Option:
    return Option(hardware_id=hw.hardware_id, hardware_name=hw.name, feasible=False, reason=reason,
                  detail=detail or reason, **fields)  # type: ignore[arg-type]


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


def _prefill_share(ctx: _Context, hw: HardwareSpec, d: DType, tp: int, batch: int) -> float:
    """Share of a replica's busy time spent on prefill, ``T_pre / (T_pre + T_dec)`` (dimensionless).

    Notes
    -----
    With static batching at the plan's batch ``B`` and the mean lengths, a request's prefill takes
    ``TTFT(B) / B`` and its decode ``(E2E(B) - TTFT(B)) / B`` of replica time
    (:func:`estimator.performance.estimate_arrays`), so the share is ``TTFT / E2E``. Prefill and
    decode are the two phases of LLM inference with different bottlenecks (Pope et al. 2022,
    "Efficiently Scaling Transformer Inference", sec. 2; Patel et al. 2024, "Splitwise", sec. 3),
    which is why API price sheets price input and output tokens apart. The split is this
    planner's allocation of one bill, not a published price.
    """
    r = performance.estimate_arrays(ctx.model, hw, d, batch, round(ctx.input_mean), max(2, round(ctx.output_mean)),
                                    tp, kv_dtype=ctx.s.model.kv_dtype, efficiency=ctx.efficiency,
                                    check_memory=False, outputs=("ttft_s", "e2e_s"))
    ttft, e2e = float(np.asarray(r["ttft_s"])), float(np.asarray(r["e2e_s"]))
    return min(max(ttft / e2e, 0.0), 1.0) if e2e > 0 else 0.5
