"""Benchmark: the Compare variants pipeline (target <= 300 ms) and the whole-catalog sweep (target < 1 s).

1. The page's one computation, ``explore_for_scenario(Scenario())`` (sweep of the default 14 models
   and their what-ifs on 5 accelerators x 3 formats x TP 1/2/4/8 x batch 1-256; scores; best
   configurations; Pareto frontier; and the tabs: compression table, DistilBERT vs BERT, elastic
   sub-networks, long-context sweep, reference tables), timed three ways:

   - cold: every computation cache cleared (``variants``' lru caches of the sweep, the proxy fit,
     the long-context and encoder sweeps, and the entry-point cache), as for the first visitor of
     a scenario; the catalog and CSV tables stay loaded (they load once per server process).
     **The 300 ms target applies to this figure.**
   - widget change: the entry-point cache cleared but the sweeps cached, as after changing the
     benchmark or the x-axis (a new scenario whose sweep is unchanged).
   - cached rerun: ``entrypoints.compute`` of an unchanged scenario (a dictionary lookup).

2. The whole-catalog sweep: every catalog model x every accelerator x every weight format x tensor
   parallel 1/2/4/8 x batch 1/4/16/64/256, at 1,000 input and 250 output tokens; then the
   per-variant best configuration, the MMLU accuracy axis and the Pareto frontier.

Prints medians and best-of-N; run with

    .venv/bin/python bench/bench_variants.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from estimator import catalog, entrypoints
from estimator import variants as V
from estimator.scenario import Scenario
from estimator.units import DType

TARGET_PIPELINE_S = 0.300
TARGET_SWEEP_S = 1.0


def clear_variant_caches() -> None:
    """Forget every computation ``estimator.variants`` caches (not the CSV tables)."""
    for fn in (V._sweep_cached, V._fit_proxy_cached, V._long_context_cached, V._long_context_section_cached,
               V._encoder_best_cached, V._encoder_table_cached):
        fn.cache_clear()
    entrypoints.cache_clear()


def timed(fn: Callable[[], object], repeat: int, before: Callable[[], None] | None = None) -> list[float]:
    out = []
    for _ in range(max(repeat, 1)):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def fmt(ts: list[float]) -> str:
    return f"median {statistics.median(ts) * 1e3:,.1f} ms, best {min(ts) * 1e3:,.1f} ms"


def bench_pipeline(repeat: int) -> None:
    scenario = Scenario()
    mmlu_then = [scenario, scenario.replace(variants={**scenario.variants.model_dump(), "benchmark": "HellaSwag"})]
    ex = V.explore_for_scenario(scenario)  # loads the catalog and the CSV tables once
    cold = timed(lambda: V.explore_for_scenario(scenario), repeat, clear_variant_caches)
    parts: dict[str, list[float]] = {}
    for _ in range(max(repeat, 1)):
        clear_variant_caches()
        for name, seconds in _stages(scenario).items():
            parts.setdefault(name, []).append(seconds)
    state = {"i": 0}

    def widget_change() -> None:
        state["i"] += 1
        entrypoints.compute("variants", mmlu_then[state["i"] % 2])

    clear_variant_caches()
    entrypoints.compute("variants", mmlu_then[0])
    entrypoints.compute("variants", mmlu_then[1])
    warm = timed(widget_change, repeat, entrypoints.cache_clear)
    cached = timed(lambda: entrypoints.compute("variants", scenario), repeat)
    print(f"variants pipeline, default scenario: {len(ex.result.frame):,} configurations, {len(ex.points)} chart "
          f"points, {int(ex.scored['on_frontier'].sum())} on the frontier")
    print(f"  cold (first visitor: sweep + scores + frontier + tabs): {fmt(cold)}")
    for name, ts in parts.items():
        print(f"    {name:<44} {fmt(ts)}")
    print(f"  widget change (benchmark MMLU <-> HellaSwag, sweeps cached): {fmt(warm)}")
    print(f"  cached rerun (entrypoints.compute, unchanged scenario): {fmt(cached)}")
    print(f"  cold / widget change: {statistics.median(cold) / statistics.median(warm):.1f}x")
    verdict = "met" if statistics.median(cold) <= TARGET_PIPELINE_S else "MISSED"
    print(f"target: cold pipeline <= {TARGET_PIPELINE_S * 1e3:.0f} ms -> {verdict}")


def bench_output_change(repeat: int) -> None:
    """The page's computation after the user changes "Output tokens" (the main sweep re-runs; the
    encoder, long-context and proxy caches do not depend on it and are kept)."""
    base = Scenario()
    V.explore_for_scenario(base)
    lengths = iter(range(300, 300 + 64 * (3 * max(repeat, 1) + 2), 64))

    def change() -> None:
        o = next(lengths)
        V.explore_for_scenario(base.replace(tokens={**base.tokens.model_dump(), "output_mean": o,
                                                    "output_p95": 4 * o}))

    ts = timed(change, 3 * max(repeat, 1))
    print(f"  output tokens changed (explore_for_scenario, new sweep): {fmt(ts)}")


def _stages(scenario: Scenario) -> dict[str, float]:
    """One cold run of the pipeline, stage by stage (same calls as ``explore_for_scenario``)."""
    v = scenario.variants
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    variants, _notes, spec, result = V.sweep_for_scenario(scenario)
    t["sweep (build variants + roofline grid)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = V.score_table(variants, spec.dtypes, v.benchmark, proxy=v.proxy, tokens_per_param=v.tokens_per_param)
    t["scores (published, proxy, retention)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    best = V.best_configs(result.frame, v.x_axis, max_ttft_s=scenario.slo.ttft_p95_s)
    points, _scored, _unscored = V._chart_points(best, scores, v.x_axis)
    t["best configurations + frontier"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    V.compression_table(points, v.x_axis)
    V.encoder_comparison(spec)
    V.elastic_section(scenario, points, spec)
    t["tabs: compression, encoders, elastic"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    V.long_context_section(scenario)
    t["tab: long-context sweep"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    V.reference_tables(v.benchmark, variants)
    t["reference tables"] = time.perf_counter() - t0
    return t


def bench_catalog(repeat: int) -> None:
    models = catalog.list_models()
    hardware = catalog.list_hardware()
    spec = V.SweepSpec(hardware_ids=tuple(h.hardware_id for h in hardware), dtypes=tuple(DType),
                       tps=(1, 2, 4, 8), batches=(1, 4, 16, 64, 256), input_tokens=1000, output_tokens=250)
    variants = [V.base_variant(m) for m in models]
    V.sweep(variants, spec)  # warm caches (catalog, features, prices)
    sweep_s, total_s = [], []
    rows = points = front = 0
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        res = V.sweep(variants, spec)
        t1 = time.perf_counter()
        best = V.best_configs(res.frame, "cost_usd_per_1m_tokens")
        scored = V.attach_scores(best, V.score_table(variants, spec.dtypes, "MMLU"))
        fr = V.frontier(scored)
        t2 = time.perf_counter()
        sweep_s.append(t1 - t0)
        total_s.append(t2 - t0)
        rows, points, front = len(res.frame), len(fr), int(fr["on_frontier"].sum())
    print(f"\nwhole catalog: {len(models)} models x {len(hardware)} accelerators x {len(spec.dtypes)} formats x "
          f"TP {spec.tps} x batch {spec.batches}")
    print(f"  configurations evaluated: {rows:,}")
    print(f"  sweep time: {fmt(sweep_s)} ({rows / statistics.median(sweep_s):,.0f} configurations/s)")
    print(f"  sweep + best configs + MMLU scores + frontier: {fmt(total_s)}")
    print(f"  chart points: {points:,}; on the frontier: {front}")
    verdict = "met" if statistics.median(sweep_s) < TARGET_SWEEP_S else "MISSED"
    print(f"target: whole-catalog sweep under {TARGET_SWEEP_S:.0f} s -> {verdict}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    bench_pipeline(args.repeat)
    bench_output_change(args.repeat)
    bench_catalog(args.repeat)


if __name__ == "__main__":
    main()
