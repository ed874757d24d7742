"""Entry points of the Model & memory, Latency & throughput and Training budget pages.

Each takes a :class:`~estimator.scenario.Scenario` and returns one frozen, typed result that the
page, its CSV/JSON report, Save and the CLI all render (see :mod:`estimator.entrypoints`). The
result holds EVERYTHING its page draws, the charts' sweeps included, so the page computes nothing
itself. The formulas live in :mod:`estimator.memory` and :mod:`estimator.performance`; this module
only picks the inputs the scenario names and gathers the results.

Numbers are SI (bytes, seconds, FLOP/s); the sweeps are tuples of floats, finite or ``None``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from estimator import catalog, engines, memory, performance, scaling, training, uncertainty
from estimator.errors import EstimatorError, StoreError
from estimator.memory import FitResult, InferenceMemory, TrainingMemory
from estimator.performance import Efficiency, PerformanceEstimate, ThroughputEstimate
from estimator.scenario import Scenario
from estimator.specs import HardwareSpec, ModelSpec
from estimator.training import TrainingPlan
from estimator.uncertainty import PerformanceRanges

__all__ = [
    "BatchSweep",
    "Calibration",
    "CalibrationPoint",
    "ContextLine",
    "HardwareComparison",
    "LatencyContextSweep",
    "LayoutMemory",
    "MemoryAnalysis",
    "MemoryContextSweep",
    "Microbenchmark",
    "PerformanceAnalysis",
    "Roofline",
    "TrainingAnalysis",
    "TrainingMemoryAnalysis",
    "memory_analysis",
    "performance_analysis",
    "serving_tp",
    "training_analysis",
]

MEMORY_CONTEXT_GRID_TOKENS: tuple[int, ...] = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144)
"""Context lengths of the memory page's "weights + KV cache vs context" chart (plus the model's maximum)."""
LAYOUT_TPS: tuple[int, ...] = (1, 2, 4, 8, 16)
"""Tensor-parallel degrees of the memory page's breakdown chart (those dividing the heads, up to two nodes)."""
BATCH_SWEEP_POINTS: int = 60
CONTEXT_SWEEP_POINTS: int = 14
ROOFLINE_INTENSITY_RANGE: tuple[float, float, int] = (0.1, 1e5, 200)
"""Arithmetic intensities (FLOP/byte) of the roofline curve: from, to, points (log-spaced)."""
NO_COMPARISON = "none"
"""``perf.compare_hardware_id`` that means: no second accelerator."""


def _finite(x: float | None) -> float | None:
    """``x`` as a float, or None when missing or not finite (so a report's JSON stays valid)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _floats(values: Iterable[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


# ====================================================================== memory


@dataclass(frozen=True)
class LayoutMemory:
    """Serving memory per device at one tensor-parallel degree (bytes)."""

    tp: int
    weights_bytes: float
    kv_cache_bytes: float
    activation_bytes: float
    runtime_overhead_bytes: float


@dataclass(frozen=True)
class ContextLine:
    """Weights + KV cache + runtime overhead per device (bytes) along the context grid, for one batch."""

    batch: int
    per_device_bytes: tuple[float, ...]


@dataclass(frozen=True)
class MemoryContextSweep:
    """The "weights + KV cache per device vs context" chart: one line per batch, and the budget."""

    tp: int
    context_tokens: tuple[int, ...]
    lines: tuple[ContextLine, ...]
    budget_bytes: float


@dataclass(frozen=True)
class TrainingMemoryAnalysis:
    """Training memory per device at every ZeRO stage, and the fewest devices that train the model."""

    zero_stage: int
    dp: int
    tp: int
    device_memory_bytes: float
    stages: tuple[TrainingMemory, ...]
    """ZeRO-0 .. ZeRO-3, in order."""
    fit: FitResult
    """Fewest devices at the chosen stage (ZeRO-1 when ZeRO-0 is chosen: replicas alone never fit more)."""

    @property
    def chosen(self) -> TrainingMemory:
        return self.stages[self.zero_stage]

    @property
    def fits_device(self) -> bool:
        return self.chosen.total_bytes <= self.device_memory_bytes


class MemoryAnalysis(BaseModel):
    """What the Model & memory page shows for one scenario."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    scenario: Scenario
    model: ModelSpec
    hardware: HardwareSpec
    tp: int
    tp_auto: bool
    memory: InferenceMemory
    fit: FitResult
    max_batch: int
    max_context_tokens: int
    kv_cache_per_token_bytes: float
    budget_bytes: float
    """Device memory x memory utilization cap."""
    layouts: tuple[LayoutMemory, ...]
    context_sweep: MemoryContextSweep
    training: TrainingMemoryAnalysis | None
    training_error: str | None = None
    """Why the training section could not be computed (the serving part still stands)."""


def engine_utilization(scenario: Scenario, spec: ModelSpec, hw: HardwareSpec, tp: int) -> float:
    """The scenario's serving-engine memory budget as a share of device memory (``engines.memory_utilization``)."""
    es = engines.for_scenario(scenario, hw, tp)
    return engines.memory_utilization(es, spec, hw, scenario.model.weight_dtype, scenario.model.kv_dtype, tp=tp,
                                      runtime_overhead_bytes=scenario.assumptions.runtime_overhead_gb * 1e9)


def memory_analysis(scenario: Scenario, model: ModelSpec | None = None) -> MemoryAnalysis:
    """Memory of ``scenario``'s model on its accelerator: the fit, max batch and max context, the
    per-layout breakdown, the context sweep and the training memory.

    ``model`` replaces the catalog model (an imported ``config.json``). Tensor parallelism is the
    scenario's, or (``tp = 0``) the smallest that fits (:func:`estimator.memory.min_accelerators`),
    else 1 so the page can show the shortfall.
    """
    spec = model if model is not None else catalog.get_model(scenario.model.model_id)
    hw = catalog.get_hardware(scenario.deploy.hardware_id)
    a = scenario.assumptions
    ctx, batch = scenario.memory.context_tokens, scenario.memory.batch
    wd, kd = scenario.model.weight_dtype, scenario.model.kv_dtype
    memory.require_runnable(hw, wd)
    kw: dict[str, Any] = {"memory_utilization": engine_utilization(scenario, spec, hw, scenario.deploy.tp or 1),
                          "runtime_overhead_bytes": a.runtime_overhead_gb * 1e9}
    fit = memory.min_accelerators(spec, hw, wd, kd, ctx, batch, **kw)
    tp = scenario.deploy.tp or (fit.tp if fit.fits else 1)
    kw["memory_utilization"] = engine_utilization(scenario, spec, hw, tp)
    mem = memory.inference_memory(spec, wd, kd, ctx, batch, hardware=hw, tp=tp, **kw)
    best_batch = memory.max_batch(spec, hw, wd, kd, ctx, tp=tp, **kw)
    training, training_error = _training_or_error(scenario, spec, hw, tp)
    return MemoryAnalysis(
        scenario=scenario, model=spec, hardware=hw, tp=tp, tp_auto=scenario.deploy.tp == 0, memory=mem, fit=fit,
        max_batch=best_batch,
        max_context_tokens=memory.max_context(spec, hw, wd, kd, batch, tp=tp, **kw),
        kv_cache_per_token_bytes=float(memory.kv_cache_bytes_per_token(spec, kd)),
        budget_bytes=hw.memory_bytes * kw["memory_utilization"],
        layouts=_layouts(scenario, spec, hw),
        context_sweep=_memory_context_sweep(scenario, spec, mem, best_batch),
        training=training, training_error=training_error,
    )


def _layouts(scenario: Scenario, spec: ModelSpec, hw: HardwareSpec) -> tuple[LayoutMemory, ...]:
    """Per-device memory at each degree of :data:`LAYOUT_TPS` that divides the heads (up to two nodes)."""
    a, s = scenario.assumptions, scenario.memory
    out = []
    for t in LAYOUT_TPS:
        if spec.n_heads % t or t > hw.max_per_node * 2:
            continue
        try:
            m = memory.inference_memory(
                spec, scenario.model.weight_dtype, scenario.model.kv_dtype, s.context_tokens, s.batch, hardware=hw,
                tp=t, memory_utilization=engine_utilization(scenario, spec, hw, t),
                runtime_overhead_bytes=a.runtime_overhead_gb * 1e9)
        except EstimatorError:
            continue
        out.append(LayoutMemory(tp=t, weights_bytes=m.per_device_weights_bytes,
                                kv_cache_bytes=m.per_device_kv_cache_bytes,
                                activation_bytes=m.per_device_activation_bytes,
                                runtime_overhead_bytes=m.runtime_overhead_bytes))
    return tuple(out)


def _memory_context_sweep(
    scenario: Scenario, spec: ModelSpec, mem: InferenceMemory, best_batch: int
) -> MemoryContextSweep:
    """Weights + KV cache + runtime overhead per device along :data:`MEMORY_CONTEXT_GRID_TOKENS`.

    ``M(c, B) = W / t + KV(c, B) * s + O`` with ``s = KV_dev / KV_total`` at the chosen layout (the
    share of KV heads a device holds), for batches 1, the scenario's and the largest that fits.
    """
    grid = [c for c in MEMORY_CONTEXT_GRID_TOKENS if c <= spec.max_context]
    if spec.max_context not in grid:
        grid.append(spec.max_context)
    share = mem.per_device_kv_cache_bytes / mem.kv_cache_bytes if mem.kv_cache_bytes else 1.0
    overhead = scenario.assumptions.runtime_overhead_gb * 1e9
    kd = scenario.model.kv_dtype
    lines = []
    for b in sorted({1, scenario.memory.batch, max(best_batch, 1)}):
        per_dev = [mem.per_device_weights_bytes + float(memory.kv_cache_bytes(spec, c, kd, b)) * share + overhead
                   for c in grid]
        lines.append(ContextLine(batch=b, per_device_bytes=_floats(per_dev)))
    return MemoryContextSweep(tp=mem.tp, context_tokens=tuple(grid), lines=tuple(lines),
                              budget_bytes=mem.device_budget_bytes or 0.0)


def _training_or_error(
    scenario: Scenario, spec: ModelSpec, hw: HardwareSpec, tp: int
) -> tuple[TrainingMemoryAnalysis | None, str | None]:
    try:
        return _training_memory(scenario, spec, hw, tp), None
    except EstimatorError as exc:
        return None, str(exc)


def _training_memory(scenario: Scenario, spec: ModelSpec, hw: HardwareSpec, tp: int) -> TrainingMemoryAnalysis:
    """Training memory per device at ZeRO 0-3 (Rajbhandari et al. 2020; :func:`memory.training_memory`)
    over the scenario's data-parallel ranks and the serving layout's tensor parallelism."""
    s, overhead = scenario.memory, scenario.assumptions.runtime_overhead_gb * 1e9
    common: dict[str, Any] = {"seq_len": s.seq_len, "micro_batch": s.micro_batch, "optimizer": s.optimizer,
                              "recompute": s.recompute, "runtime_overhead_bytes": overhead}
    stages = tuple(memory.training_memory(spec, dp=s.dp, tp=tp, zero_stage=z, **common) for z in (0, 1, 2, 3))
    fit = memory.min_accelerators_training(spec, hw, zero_stage=max(s.zero_stage, 1), **common)
    return TrainingMemoryAnalysis(zero_stage=s.zero_stage, dp=s.dp, tp=tp, device_memory_bytes=hw.memory_bytes,
                                  stages=stages, fit=fit)


# ====================================================================== performance


@dataclass(frozen=True)
class RooflinePoint:
    """Where a phase sits on the roofline: its arithmetic intensity and attainable FLOP/s (None if undefined)."""

    phase: str
    intensity_flops_per_byte: float | None
    attainable_flops_per_s: float | None


@dataclass(frozen=True)
class Roofline:
    """The roofline of one device (Williams et al. 2009): ``min(P, I * beta)``, datasheet and attainable.

    Attainable: ``P e_c (x e_lp in 8 bits)`` and ``beta e_m`` with the scenario's efficiencies.
    """

    hardware_name: str
    compute_dtype: str
    peak_flops_per_s: float
    bandwidth_bytes_per_s: float
    attainable_peak_flops_per_s: float
    attainable_bandwidth_bytes_per_s: float
    intensity_flops_per_byte: tuple[float, ...]
    datasheet_flops_per_s: tuple[float, ...]
    attainable_flops_per_s: tuple[float, ...]
    points: tuple[RooflinePoint, ...]

    @property
    def ridge_flops_per_byte(self) -> float:
        """Intensity where the datasheet's compute and bandwidth ceilings meet, ``P / beta``."""
        return self.peak_flops_per_s / self.bandwidth_bytes_per_s


@dataclass(frozen=True)
class BatchSweep:
    """Continuous batching at steady state vs sequences in flight (:func:`performance.steady_state_arrays`)."""

    batch: tuple[float, ...]
    output_tokens_per_s: tuple[float, ...]
    tpot_s: tuple[float, ...]
    ttft_s: tuple[float, ...]
    tpot_limit_s: float | None
    best_batch: int | None
    """The best batch within the latency limits (None when no batch meets them)."""


@dataclass(frozen=True)
class LatencyContextSweep:
    """TTFT and TPOT of the scenario's static batch vs prompt length (:func:`performance.estimate_arrays`);
    ``fits`` is False where the batch's KV cache no longer fits."""

    batch: int
    input_tokens: tuple[float, ...]
    ttft_s: tuple[float, ...]
    tpot_s: tuple[float, ...]
    fits: tuple[bool, ...]

    @property
    def first_unfit_tokens(self) -> float | None:
        return next((x for x, ok in zip(self.input_tokens, self.fits, strict=True) if not ok), None)


@dataclass(frozen=True)
class HardwareComparison:
    """One accelerator of the side-by-side table; the figures are None and ``note`` says why when it fails."""

    label: str
    hardware_id: str
    hardware_name: str
    tp: int | None = None
    devices: int | None = None
    ttft_s: float | None = None
    tpot_s: float | None = None
    e2e_s: float | None = None
    output_tokens_per_s: float | None = None
    max_output_tokens_per_s: float | None = None
    max_output_tokens_per_s_per_device: float | None = None
    best_batch: int | None = None
    prefill_bound: str = ""
    decode_bound: str = ""
    note: str = ""


@dataclass(frozen=True)
class CalibrationPoint:
    """One published measurement beside the model's prediction (``error`` = predicted / measured - 1)."""

    measurement_id: str
    metric: str
    value: float
    predicted: float
    error: float
    model_over_measured: float
    model_id: str
    hardware_id: str
    dtype: str
    tp: int
    scenario: str
    batch: float | None
    input_tokens: int
    output_tokens: int
    framework: str
    source: str
    url: str
    as_of: dt.date | None
    assumed: bool
    excluded: bool
    excluded_reason: str
    notes: str


@dataclass(frozen=True)
class Calibration:
    """The model against every published measurement, at the scenario's efficiencies."""

    points: tuple[CalibrationPoint, ...]
    scored_points: int
    excluded_points: int
    median_abs_error: float
    worst_abs_error: float
    worst_ratio: float
    within_2x: float
    as_of: dt.date | None


@dataclass(frozen=True)
class Microbenchmark:
    """A raw ceiling we measured, and its share of the datasheet's (None where no datasheet ceiling)."""

    benchmark_id: str
    hardware_id: str
    metric: str
    value: float
    unit: str
    share_of_datasheet: float | None
    notes: str
    source: str
    as_of: dt.date | None


class PerformanceAnalysis(BaseModel):
    """What the Latency & throughput page shows for one scenario."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    scenario: Scenario
    model: ModelSpec
    hardware: HardwareSpec
    tp: int
    tp_auto: bool
    pp: int
    batch: int
    efficiency: Efficiency
    estimate: PerformanceEstimate
    unlimited: ThroughputEstimate
    """The throughput-optimal continuous batch (no latency limits)."""
    best: ThroughputEstimate | None
    """The best continuous batch within the TTFT/TPOT limits; None when no batch meets them."""
    best_message: str | None = None
    """Why ``best`` is None."""
    ttft_limit_s: float
    tpot_limit_s: float | None
    roofline: Roofline
    batch_sweep: BatchSweep
    context_sweep: LatencyContextSweep | None
    context_sweep_note: str = ""
    comparison: tuple[HardwareComparison, ...]
    calibration: Calibration
    microbenchmarks: tuple[Microbenchmark, ...]
    ranges: PerformanceRanges | None = None
    """Nominal 80% ranges of TTFT, TPOT, end-to-end and throughput from the leave-one-source-out errors
    of the scenario's engine x vendor class (:func:`estimator.uncertainty.performance_ranges`); None
    where the residuals file is missing."""


def serving_tp(scenario: Scenario, model: ModelSpec, hardware: HardwareSpec) -> int:
    """THE tensor-parallel rule of the Latency & throughput page, its report and its comparison table:
    the scenario's degree, or (``tp = 0``, "auto") :func:`performance.smallest_tp` for the static batch
    of ``input + output`` tokens (the largest degree within a node when nothing fits)."""
    if scenario.deploy.tp:
        return scenario.deploy.tp
    m, t = scenario.model, scenario.tokens
    return performance.smallest_tp(model, hardware, m.weight_dtype, m.kv_dtype, t.input_mean + t.output_mean,
                                   scenario.memory.batch)


def performance_analysis(scenario: Scenario) -> PerformanceAnalysis:
    """Latency and throughput of ``scenario``: one static batch, the throughput-optimal continuous
    batch, the best continuous batch within the latency limits, the page's sweeps, a second
    accelerator side by side, and the calibration against published measurements."""
    m, p = scenario.model, scenario.perf
    model = catalog.get_model(m.model_id)
    hw = catalog.get_hardware(scenario.deploy.hardware_id)
    eff = performance.efficiency_for_scenario(scenario, hw)
    in_t, out_t = scenario.tokens.input_mean, scenario.tokens.output_mean
    batch, pp = scenario.memory.batch, scenario.train.pp
    tp = serving_tp(scenario, model, hw)
    kw: dict[str, Any] = {"kv_dtype": m.kv_dtype, "efficiency": eff}
    est = performance.estimate(model, hw, m.weight_dtype, batch, in_t, out_t, tp, pp, **kw)
    es = engines.for_scenario(scenario, hw, tp)  # the engine's scheduler cap and prefill chunk bound the batch
    kw.update(batch_cap=es.max_seqs, prefill_chunk_tokens=es.prefill_chunk_tokens)
    unlimited = performance.max_throughput(model, hw, m.weight_dtype, in_t, out_t, tp, pp, **kw)
    ttft_limit, tpot_limit = scenario.slo.ttft_p95_s, (p.tpot_limit_ms / 1e3 if p.tpot_limit_ms > 0 else None)
    try:
        best: ThroughputEstimate | None = performance.max_throughput(
            model, hw, m.weight_dtype, in_t, out_t, tp, pp, ttft_limit_s=ttft_limit, tpot_limit_s=tpot_limit, **kw)
        best_message = None
    except EstimatorError as exc:
        best, best_message = None, str(exc)
    ctx_sweep, ctx_note = _latency_context_sweep(scenario, model, hw, tp, eff)
    return PerformanceAnalysis(
        scenario=scenario, model=model, hardware=hw, tp=tp, tp_auto=scenario.deploy.tp == 0, pp=pp, batch=batch,
        efficiency=eff, estimate=est, unlimited=unlimited, best=best, best_message=best_message,
        ttft_limit_s=ttft_limit, tpot_limit_s=tpot_limit,
        roofline=_roofline(hw, est, eff),
        batch_sweep=_batch_sweep(scenario, model, hw, tp, eff, unlimited, best, tpot_limit),
        context_sweep=ctx_sweep, context_sweep_note=ctx_note,
        comparison=_comparison(scenario, model, hw, est, unlimited, eff),
        calibration=_calibration(None if eff == performance.efficiency_for(
            scenario.engine.name, performance.calibration_family(hw)) else eff),
        microbenchmarks=_microbenchmarks(),
        ranges=_ranges(scenario, hw, est, unlimited, best),
    )


def _ranges(scenario: Scenario, hw: HardwareSpec, est: PerformanceEstimate, unlimited: ThroughputEstimate,
            best: ThroughputEstimate | None) -> PerformanceRanges | None:
    """The page's ranges (:func:`estimator.uncertainty.performance_ranges`); None without residuals."""
    try:
        return uncertainty.performance_ranges(
            str(scenario.engine.name), hw.vendor, ttft_s=est.ttft_s, tpot_s=est.tpot_s, e2e_s=est.e2e_s,
            output_tokens_per_s=est.output_tokens_per_s, max_output_tokens_per_s=unlimited.output_tokens_per_s,
            best_output_tokens_per_s=best.output_tokens_per_s if best is not None else None)
    except StoreError:
        return None


def _roofline(hw: HardwareSpec, est: PerformanceEstimate, eff: Efficiency) -> Roofline:
    """Datasheet and attainable rooflines ``min(P, I beta)`` over :data:`ROOFLINE_INTENSITY_RANGE`, and
    the prefill and decode points at ``min(P e, I beta e_m)`` (Williams et al. 2009)."""
    peak = hw.peak_flops_per_s(est.compute_dtype)
    low = est.compute_dtype in performance.LOW_PRECISION_COMPUTE_DTYPES
    peak_eff = peak * eff.compute * (eff.low_precision_compute if low else 1.0)
    bw = hw.memory_bandwidth_bytes_per_s
    bw_eff = bw * eff.memory
    lo, hi, n = ROOFLINE_INTENSITY_RANGE
    ai = np.geomspace(lo, hi, n)
    points = []
    for phase, x in (("prefill", est.prefill_intensity_flops_per_byte),
                     ("decode", est.decode_intensity_flops_per_byte)):
        xf = _finite(x)
        points.append(RooflinePoint(phase=phase, intensity_flops_per_byte=xf,
                                    attainable_flops_per_s=None if xf is None else min(peak_eff, xf * bw_eff)))
    return Roofline(
        hardware_name=hw.name, compute_dtype=est.compute_dtype.value, peak_flops_per_s=peak,
        bandwidth_bytes_per_s=bw, attainable_peak_flops_per_s=peak_eff, attainable_bandwidth_bytes_per_s=bw_eff,
        intensity_flops_per_byte=_floats(ai), datasheet_flops_per_s=_floats(np.minimum(peak, ai * bw)),
        attainable_flops_per_s=_floats(np.minimum(peak_eff, ai * bw_eff)), points=tuple(points),
    )


def _batch_sweep(
    scenario: Scenario, model: ModelSpec, hw: HardwareSpec, tp: int, eff: Efficiency,
    unlimited: ThroughputEstimate, best: ThroughputEstimate | None, tpot_limit_s: float | None,
) -> BatchSweep:
    """Steady-state throughput, TPOT and TTFT at :data:`BATCH_SWEEP_POINTS` log-spaced batches from 1 to
    the largest that fits (within the batch cap)."""
    m, t = scenario.model, scenario.tokens
    top = max(1, min(unlimited.max_batch_memory, unlimited.batch_cap))
    bs = np.unique(np.round(np.geomspace(1, top, BATCH_SWEEP_POINTS))).astype(float)
    ss = performance.steady_state_arrays(model, hw, m.weight_dtype, bs, t.input_mean, t.output_mean, tp,
                                         scenario.train.pp, kv_dtype=m.kv_dtype, efficiency=eff)
    return BatchSweep(batch=_floats(bs), output_tokens_per_s=_floats(ss["output_tokens_per_s"]),
                      tpot_s=_floats(ss["tpot_s"]), ttft_s=_floats(ss["ttft_s"]), tpot_limit_s=tpot_limit_s,
                      best_batch=best.batch if best is not None else None)


def _latency_context_sweep(
    scenario: Scenario, model: ModelSpec, hw: HardwareSpec, tp: int, eff: Efficiency
) -> tuple[LatencyContextSweep | None, str]:
    """TTFT and TPOT at :data:`CONTEXT_SWEEP_POINTS` log-spaced prompt lengths from 1,024 (or less) to
    the model's window minus the output; None and a note when the window leaves no room."""
    m, out_t, batch = scenario.model, scenario.tokens.output_mean, scenario.memory.batch
    max_in = model.max_context - out_t
    if max_in < 1:
        return None, (f"{model.name}'s context window ({model.max_context:,}) leaves no room for "
                      f"{out_t:,} output tokens.")
    ctx = np.unique(np.round(np.geomspace(min(1024, max_in), max_in, CONTEXT_SWEEP_POINTS))).astype(float)
    arr = performance.estimate_arrays(model, hw, m.weight_dtype, batch, ctx, out_t, tp, scenario.train.pp,
                                      kv_dtype=m.kv_dtype, efficiency=eff)
    return LatencyContextSweep(batch=batch, input_tokens=_floats(ctx), ttft_s=_floats(arr["ttft_s"]),
                               tpot_s=_floats(arr["tpot_s"]),
                               fits=tuple(bool(x) for x in np.asarray(arr["fits"]))), ""


def _comparison(
    scenario: Scenario, model: ModelSpec, hw: HardwareSpec, est: PerformanceEstimate,
    unlimited: ThroughputEstimate, eff: Efficiency,
) -> tuple[HardwareComparison, ...]:
    """The scenario's accelerator (A) and ``perf.compare_hardware_id`` (B, unless ``none``), each at
    :func:`serving_tp`."""
    rows = [_comparison_row("A", hw, est, unlimited)]
    other = scenario.perf.compare_hardware_id
    if other == NO_COMPARISON:
        return tuple(rows)
    try:
        hw_b = catalog.get_hardware(other)
    except EstimatorError as exc:
        return (*rows, HardwareComparison(label="B", hardware_id=other, hardware_name=other, note=str(exc)))
    m, t, pp = scenario.model, scenario.tokens, scenario.train.pp
    # B runs with the engine's factors on B's calibration family (A's factors where the families agree)
    same = performance.calibration_family(hw_b) == performance.calibration_family(hw)
    eff_b = eff if same else performance.efficiency_for_scenario(scenario, hw_b)
    kw: dict[str, Any] = {"kv_dtype": m.kv_dtype, "efficiency": eff_b}
    try:
        tp_b = serving_tp(scenario, model, hw_b)
        est_b = performance.estimate(model, hw_b, m.weight_dtype, scenario.memory.batch, t.input_mean,
                                     t.output_mean, tp_b, pp, **kw)
        es_b = engines.for_scenario(scenario, hw_b, tp_b)
        best_b = performance.max_throughput(model, hw_b, m.weight_dtype, t.input_mean, t.output_mean, tp_b, pp, **kw,
                                            batch_cap=es_b.max_seqs, prefill_chunk_tokens=es_b.prefill_chunk_tokens)
    except EstimatorError as exc:
        rows.append(HardwareComparison(label="B", hardware_id=hw_b.hardware_id, hardware_name=hw_b.name,
                                       note=str(exc)))
        return tuple(rows)
    rows.append(_comparison_row("B", hw_b, est_b, best_b))
    return tuple(rows)


def _comparison_row(label: str, hw: HardwareSpec, e: PerformanceEstimate, r: ThroughputEstimate) -> HardwareComparison:
    return HardwareComparison(
        label=label, hardware_id=hw.hardware_id, hardware_name=hw.name, tp=e.tp, devices=e.tp * e.pp,
        ttft_s=e.ttft_s, tpot_s=e.tpot_s, e2e_s=e.e2e_s, output_tokens_per_s=e.output_tokens_per_s,
        max_output_tokens_per_s=r.output_tokens_per_s,
        max_output_tokens_per_s_per_device=r.output_tokens_per_s_per_device, best_batch=r.batch,
        prefill_bound=e.prefill_bound, decode_bound=e.decode_bound,
    )


def _date(value: Any) -> dt.date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


@functools.lru_cache(maxsize=16)
def _calibration(eff: Efficiency | None) -> Calibration:
    """:func:`performance.calibration_table` and :func:`performance.calibration_summary` at ``eff``, or, for
    ``None`` (no override in the scenario), each measurement at its own engine x calibration-family factors.

    Memoized per efficiency (most of this page's compute, and it depends on nothing else); the result
    is immutable, so sharing it between scenarios is safe.
    """
    table = performance.calibration_table(eff, by_engine=eff is None)
    summary = performance.calibration_summary(table)
    points = tuple(
        CalibrationPoint(
            measurement_id=str(r.measurement_id), metric=str(r.metric), value=float(r.value),
            predicted=float(r.predicted), error=float(r.error),
            model_over_measured=float(r.predicted) / float(r.value),
            model_id=str(r.model_id), hardware_id=str(r.hardware_id), dtype=str(r.dtype), tp=int(r.tp),
            scenario=str(r.scenario), batch=_finite(r.batch), input_tokens=int(r.input_tokens),
            output_tokens=int(r.output_tokens), framework=_text(r.framework), source=_text(r.source),
            url=_text(r.url), as_of=_date(r.as_of), assumed=bool(r.assumed), excluded=bool(r.excluded),
            excluded_reason=_text(r.excluded_reason), notes=_text(r.notes),
        )
        for r in table.itertuples(index=False)
    )
    return Calibration(
        points=points, scored_points=int(summary["points"]), excluded_points=int(summary["excluded_points"]),
        median_abs_error=summary["median_abs_error"], worst_abs_error=summary["worst_abs_error"],
        worst_ratio=summary["worst_ratio"], within_2x=summary["within_2x"],
        as_of=_date(table["as_of"].max()) if len(table) else None,
    )


_DATASHEET_CEILING = {
    "copy_bytes_per_s": lambda h: h.memory_bandwidth_bytes_per_s,
    "gemv_bf16_bytes_per_s": lambda h: h.memory_bandwidth_bytes_per_s,
    "gemm_bf16_flops_per_s": lambda h: h.peak_flops_per_s("bf16"),
}
"""Microbenchmark metric -> the datasheet ceiling it is measured against."""


def _microbenchmarks() -> tuple[Microbenchmark, ...]:
    """The raw ceilings of ``data/microbenchmarks`` beside their share of the datasheet's."""
    out = []
    for r in catalog.table_frame("microbenchmarks").itertuples(index=False):
        ceiling_of = _DATASHEET_CEILING.get(str(r.metric))
        try:
            ceiling = ceiling_of(catalog.get_hardware(str(r.hardware_id))) if ceiling_of else None
        except EstimatorError:
            ceiling = None
        out.append(Microbenchmark(
            benchmark_id=str(r.benchmark_id), hardware_id=str(r.hardware_id), metric=str(r.metric),
            value=float(r.value), unit=str(r.unit), share_of_datasheet=float(r.value) / ceiling if ceiling else None,
            notes=_text(r.notes), source=_text(r.source), as_of=_date(r.as_of),
        ))
    return tuple(out)


# ------------------------------------------------------------------ training budget page


class TrainingAnalysis(BaseModel):
    """What the Training budget page shows for one scenario: the plan, how far the scaling-law
    fits disagree at its compute, and the same run on every priced instance."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    scenario: Scenario
    plan: TrainingPlan
    disagreement: dict[str, Any]
    """:func:`estimator.scaling.fits_disagreement` at the plan's FLOPs."""
    instances: pd.DataFrame
    """:func:`estimator.training.compare_instances`: runs that can span nodes first, by cost."""
    instances_error: str = ""
    """Why the instance comparison is empty, when it failed."""


def training_analysis(scenario: Scenario) -> TrainingAnalysis:
    """The Training budget page's entry point: :func:`estimator.training.plan_for_scenario`, the
    Chinchilla fits' disagreement at its compute, and the run on every priced catalog instance
    (same model, tokens, MFU and layout; :func:`estimator.training.compare_instances`)."""
    plan = training.plan_for_scenario(scenario)
    error = ""
    try:
        inputs = training.TrainingInputs.build(
            **({"model_id": plan.model_id} if plan.model_id else {"params": plan.params}),
            tokens=plan.tokens, **{**training.scenario_kwargs(scenario), "mfu": plan.mfu})
        instances = training.compare_instances(plan, inputs)
    except EstimatorError as exc:
        instances, error = pd.DataFrame(), str(exc)
    return TrainingAnalysis(scenario=scenario, plan=plan, disagreement=scaling.fits_disagreement(plan.flops),
                            instances=instances, instances_error=error)
