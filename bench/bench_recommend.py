"""Benchmark of the recommendation: run ``python bench/bench_recommend.py [--runs N]``.

Times ``estimator.recommend`` on issue 15's question, "Llama-3.1-8B at 10M requests/day: which GPU and
cloud is cheapest?", and on the landing page's default scenario (Llama-3.1-70B), over the whole catalog
(every accelerator, instance, region, weight format and TP):

* **cold**: the first call in this process after the catalog is loaded, then again after emptying the
  capacity planner's layout cache (``capacity.clear_caches()``) before each of ``--runs`` runs;
* **warm**: the layout cache kept (a page re-asking with other prices, regions or constraints).

Prints wall and CPU time (median and best), the ratios of the median wall and CPU times to the 2 s
target of GitHub issue 15, and how many options were screened and planned exactly. The machine's CPUs
are shared: the load average is printed, and CPU time is the figure that other processes do not stretch
(as in bench_capacity.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from estimator import capacity, catalog  # noqa: E402
from estimator import recommend as rec_mod  # noqa: E402
from estimator.scenario import ModelChoice, Scenario, Traffic  # noqa: E402

TARGET_S = 2.0
"""The whole catalog in at most 2 s on this machine (GitHub issue 15)."""

SCENARIOS: dict[str, Scenario] = {
    "issue 15's question (Llama-3.1-8B, 10M requests/day)":
        Scenario(model=ModelChoice(model_id="llama-3.1-8b"), traffic=Traffic(requests_per_day=10_000_000)),
    "the landing page's default (Llama-3.1-70B, 2M requests/day)": Scenario(),
}


def _timed(scenario: Scenario, cold: bool) -> tuple[float, float, rec_mod.Recommendation]:
    if cold:
        capacity.clear_caches()
        rec_mod.clear_caches()
    t0, c0 = time.perf_counter(), time.process_time()
    r = rec_mod.recommend(scenario)
    return time.perf_counter() - t0, time.process_time() - c0, r


def _line(name: str, wall: list[float], cpu: list[float]) -> str:
    med, cpu_med = statistics.median(wall), statistics.median(cpu)
    return (f"{name:<6} wall median {med:6.3f} s, best {min(wall):6.3f} s; CPU median {cpu_med:6.3f} s, best "
            f"{min(cpu):6.3f} s  -> wall {med / TARGET_S:.2f} x, CPU {cpu_med / TARGET_S:.2f} x "
            f"the {TARGET_S:g} s target")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    catalog.list_hardware()  # load data/ once (not part of a recommendation)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for i, (name, scenario) in enumerate(SCENARIOS.items()):
        print(f"\n{name}")
        r = _run(scenario, args.runs, first=i == 0)
        _summary(r)


def _run(scenario: Scenario, runs: int, first: bool) -> rec_mod.Recommendation:
    if first:
        first_wall, first_cpu, r = _timed(scenario, cold=True)
        print(f"first call in this process: wall {first_wall:.3f} s, CPU {first_cpu:.3f} s "
              f"-> {first_wall / TARGET_S:.2f} x the {TARGET_S:g} s target")
    for cold in (True, False):
        wall, cpu = [], []
        for _ in range(runs):
            w, c, r = _timed(scenario, cold)
            wall.append(w)
            cpu.append(c)
        print(_line("cold" if cold else "warm", wall, cpu))
    return r


def _summary(r: rec_mod.Recommendation) -> None:
    print(f"layouts screened (accelerator x weight format x TP): {r.layouts_screened:,}")
    print(f"options screened (layout x instance x pricing x region, plus rejected): {r.options_screened:,}")
    print(f"options planned exactly with capacity.plan: {r.options_planned}")
    best = r.best
    if best is not None:
        print(f"answer: {best.hardware_name} x{best.tp} {best.weight_dtype} on {best.provider} {best.instance_type} "
              f"({best.region}), {best.replicas} replicas at peak, ${best.monthly_cost_usd:,.0f} a month")


if __name__ == "__main__":
    main()
