"""Entry points of the Model & memory and Latency & throughput pages.

Each takes a :class:`~estimator.scenario.Scenario` and returns one frozen, typed result that the
page, its CSV/JSON report, Save and the CLI all render (see :mod:`estimator.entrypoints`). The
formulas live in :mod:`estimator.memory` and :mod:`estimator.performance`; this module only picks
the inputs the scenario names and gathers the results.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from estimator import catalog, memory, performance
from estimator.memory import FitResult, InferenceMemory
from estimator.performance import Efficiency, PerformanceEstimate, ThroughputEstimate
from estimator.scenario import Scenario
from estimator.specs import HardwareSpec, ModelSpec

__all__ = ["MemoryAnalysis", "PerformanceAnalysis", "memory_analysis", "performance_analysis"]


class MemoryAnalysis(BaseModel):
    """What the Model & memory page shows for one scenario."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    scenario: Scenario
    model: ModelSpec
    hardware: HardwareSpec
    tp: int
    memory: InferenceMemory
    fit: FitResult
    max_batch: int
    max_context_tokens: int
    kv_cache_per_token_bytes: float


def memory_analysis(scenario: Scenario) -> MemoryAnalysis:
    """Memory of ``scenario``'s model on its accelerator: the fit, max batch and max context.

    Tensor parallelism is the scenario's, or (``tp = 0``) the smallest that fits
    (:func:`estimator.memory.min_accelerators`).
    """
    model = catalog.get_model(scenario.model.model_id)
    hw = catalog.get_hardware(scenario.deploy.hardware_id)
    a = scenario.assumptions
    ovh = a.runtime_overhead_gb * 1e9
    ctx, batch = scenario.memory.context_tokens, scenario.memory.batch
    wd, kd = scenario.model.weight_dtype, scenario.model.kv_dtype
    memory.require_runnable(hw, wd)
    fit = memory.min_accelerators(model, hw, wd, kd, ctx, batch, memory_utilization=a.memory_utilization,
                                  runtime_overhead_bytes=ovh)
    tp = scenario.deploy.tp or (fit.tp if fit.fits else 1)
    util = a.memory_utilization
    mem = memory.inference_memory(model, wd, kd, ctx, batch, hardware=hw, tp=tp, memory_utilization=util,
                                  runtime_overhead_bytes=ovh)
    return MemoryAnalysis(
        scenario=scenario, model=model, hardware=hw, tp=tp, memory=mem, fit=fit,
        max_batch=memory.max_batch(model, hw, wd, kd, ctx, tp=tp, memory_utilization=util,
                                   runtime_overhead_bytes=ovh),
        max_context_tokens=memory.max_context(model, hw, wd, kd, batch, tp=tp, memory_utilization=util,
                                              runtime_overhead_bytes=ovh),
        kv_cache_per_token_bytes=float(memory.kv_cache_bytes_per_token(model, kd)),
    )


class PerformanceAnalysis(BaseModel):
    """What the Latency & throughput page shows for one scenario."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    scenario: Scenario
    model: ModelSpec
    hardware: HardwareSpec
    tp: int
    pp: int
    batch: int
    efficiency: Efficiency
    estimate: PerformanceEstimate
    unlimited: ThroughputEstimate
    best: ThroughputEstimate


def performance_analysis(scenario: Scenario) -> PerformanceAnalysis:
    """Latency and throughput of ``scenario``: one static batch, the throughput-optimal continuous
    batch, and the best continuous batch within the latency limits."""
    m, d, p = scenario.model, scenario.deploy, scenario.perf
    model = catalog.get_model(m.model_id)
    hw = catalog.get_hardware(d.hardware_id)
    eff = performance.efficiency_for_scenario(scenario)
    in_t, out_t = scenario.tokens.input_mean, scenario.tokens.output_mean
    batch, pp = scenario.memory.batch, scenario.train.pp
    tp = d.tp or performance.smallest_tp(model, hw, m.weight_dtype, m.kv_dtype, in_t + out_t, batch)
    wd, kd = m.weight_dtype, m.kv_dtype
    est = performance.estimate(model, hw, wd, batch, in_t, out_t, tp, pp, kv_dtype=kd, efficiency=eff)
    unlimited = performance.max_throughput(model, hw, wd, in_t, out_t, tp, pp, kv_dtype=kd, efficiency=eff)
    best = performance.max_throughput(model, hw, wd, in_t, out_t, tp, pp, kv_dtype=kd, efficiency=eff,
                                      ttft_limit_s=scenario.slo.ttft_p95_s,
                                      tpot_limit_s=p.tpot_limit_ms / 1e3 if p.tpot_limit_ms > 0 else None)
    return PerformanceAnalysis(scenario=scenario, model=model, hardware=hw, tp=tp, pp=pp, batch=batch,
                               efficiency=eff, estimate=est, unlimited=unlimited, best=best)
