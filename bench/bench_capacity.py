"""Benchmark of the capacity planner: run ``python bench/bench_capacity.py [--runs N]``.

Prints the wall time of ``capacity.plan(Scenario())`` (the landing page's default question: Llama-3.1-70B,
2M requests/day diurnal 3:1, p95 TTFT 1 s, us-east-1; two tensor-parallel layouts are compared), median and
best of ``--runs`` (default 15) after a warm-up run that loads the catalog:

* **cold**: the layout cache is emptied before each run (``capacity.clear_caches()``), so every run fits the
  replica models and runs the queueing model; this is the figure checked against the 50 ms target;
* **warm**: the layout cache is kept, as when a page re-plans the same model and hardware with other
  traffic, SLO, pricing or region.

Then the queueing model over 168 loads, and one discrete-event simulation of 20,000 requests. The machine's
CPUs may be shared: the median is the figure to compare, the best shows the noise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from estimator import capacity, catalog
from estimator.capacity import Workload, queue_metrics, saturation_rps
from estimator.scenario import Scenario
from estimator.simulate import replica_model, simulate
from estimator.traffic import TokenDistribution

TARGET_S = 0.050
"""``plan(Scenario())`` should take at most 50 ms without the layout cache (GitHub issue #10)."""


def _time(fn: Callable[[], object], repeat: int, before: Callable[[], None] | None = None) -> tuple[float, float]:
    """Median and best wall time (s) of ``repeat`` calls."""
    return _time_both(fn, repeat, before)[:2]


def _time_both(fn: Callable[[], object], repeat: int,
               before: Callable[[], None] | None = None) -> tuple[float, float, float]:
    """Median and best wall time, and median CPU time of this process (s): on a shared machine the CPU time
    is the steadier figure (other processes' load stretches the wall time, not the CPU time)."""
    wall, cpu = [], []
    for _ in range(repeat):
        if before is not None:
            before()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15, help="timed runs per figure (at least 10)")
    runs = max(10, ap.parse_args().runs)
    s = Scenario()
    capacity.plan(s)  # warm-up: loads the catalog
    cold, cold_best, cold_cpu = _time_both(lambda: capacity.plan(s), runs, before=capacity.clear_caches)
    capacity.plan(s)
    warm, warm_best, warm_cpu = _time_both(lambda: capacity.plan(s), runs)
    p = capacity.plan(s)
    print(f"capacity.plan(Scenario()), {runs} runs: cold (layout cache emptied) median {cold * 1e3:,.1f} ms, best "
          f"{cold_best * 1e3:,.1f} ms, CPU {cold_cpu * 1e3:,.1f} ms; warm (layout cache kept) median "
          f"{warm * 1e3:,.1f} ms, best {warm_best * 1e3:,.1f} ms, CPU {warm_cpu * 1e3:,.1f} ms; "
          f"cold / warm = {cold / warm:,.1f}x")
    verdict = "MET" if cold <= TARGET_S else "NOT MET"
    print(f"target: cold median <= {TARGET_S * 1e3:.0f} ms: {verdict} ({cold / TARGET_S:,.2f} x the target, CPU "
          f"{cold_cpu / TARGET_S:,.2f} x; warm {warm / TARGET_S:,.2f} x)")
    print(f"  -> {p.mode.value}: ${p.monthly_cost_usd:,.0f}/month, ${p.cost_usd_per_million_output_tokens:,.2f} per 1M "
          f"output tokens, replicas peak {p.peak_replicas} / mean {p.mean_replicas:.2f}, p95 TTFT {p.ttft_p95_s:.2f} s, "
          f"p95 e2e {p.e2e_p95_s:.1f} s, {p.co2e_t_per_month:.2f} tCO2e/month")
    din, dout = TokenDistribution.from_mean_p95(1000, 3000), TokenDistribution.from_mean_p95(250, 800)
    r = replica_model(catalog.get_model("llama-3.1-70b"), catalog.get_hardware("h100-sxm"), "bf16", tp=4,
                      context_tokens=1250)
    w = Workload(prompt=din, output=dout)
    med, _ = _time(lambda: saturation_rps(r, w), 5)
    sat = saturation_rps(r, w)
    print(f"saturation_rps (bisection): median {med * 1e3:,.1f} ms -> {sat:,.3f} requests/s")
    loads = np.linspace(0.01, 0.9, 168) * sat
    med, _ = _time(lambda: queue_metrics(r, loads, w, saturation=sat), 5)
    print(f"queue_metrics over 168 loads (saturation given): median {med * 1e3:,.0f} ms")
    med, _ = _time(lambda: simulate(r, 0.5 * sat, din, dout, n_requests=20_000), 3)
    print(f"simulate 20,000 requests at 50% load: median {med:,.2f} s")


if __name__ == "__main__":
    main()
