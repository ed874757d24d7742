"""Disaggregated prefill/decode against published results: run ``python bench/bench_disagg.py``.

Prints, for every disaggregation anchor in ``data/serving_anchors.csv`` (DistServe §1 Figure 1 and §3.3,
Splitwise §VI-A and §VI-B), the published figure, the prediction of ``estimator.disagg`` for the setup
recorded in the anchor's setup (DistServe Fig. 1: the paper's vLLM baseline, whole-prompt
prefill iterations; Splitwise: the stated 400 Gbps link), their ratio and whether it is within 25 %; then colocated vs disaggregated
serving for the default scenario. Everything is computed in this run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from estimator import disagg  # noqa: E402
from estimator.anchors import ANCHOR_TOLERANCE, anchor_table  # noqa: E402
from estimator.scenario import Scenario  # noqa: E402

TOLERANCE = ANCHOR_TOLERANCE


def main() -> int:
    t0 = time.perf_counter()
    checks = disagg.anchor_checks()
    print("\n".join(anchor_table(checks, TOLERANCE)) + f" ({time.perf_counter() - t0:.1f} s)")
    f1 = disagg.distserve_fig1()
    print(f"\nDistServe Fig. 1 colocated baseline (goals P90 TTFT 0.4 s, P90 TPOT 0.04 s): whole-prompt prefill "
          f"(vLLM 0.2) {f1['colocated']:.2f} req/s, the planner's mixed iterations {f1['colocated_mixed']:.2f} req/s; "
          f"gain {f1['gain']:.2f}x (published 2.1x)")
    p = disagg.plan(Scenario().replace(serving={"disaggregated": True}))
    print(f"\nDefault scenario ({p.model_name}): best ratio {p.ratio_text} (lambda*_d / lambda*_p = "
          f"{p.capacity_ratio:.2f}); KV {p.kv_bytes_mean / 1e6:,.0f} MB per request over {p.link.name}, "
          f"{p.kv_transfer_s_mean * 1e3:.2f} ms")
    print(f"{'':14s} {'cost/month':>12s} {'p95 TTFT s':>11s} {'p95 e2e s':>10s} {'TPOT ms':>8s} {'peak GPUs':>10s}")
    print(f"{'colocated':14s} {p.colocated_monthly_cost_usd or float('nan'):12,.0f} "
          f"{p.colocated_ttft_p95_s or float('nan'):11.2f} {p.colocated_e2e_p95_s or float('nan'):10.2f} "
          f"{(p.colocated_tpot_s or float('nan')) * 1e3:8.1f} {p.colocated_peak_accelerators or 0:10d}")
    print(f"{'disaggregated':14s} {p.monthly_cost_usd:12,.0f} {p.ttft_p95_s:11.2f} {p.e2e_p95_s:10.2f} "
          f"{p.tpot_s * 1e3:8.1f} {p.peak_accelerators:10d}")
    for pool in (p.prefill, p.decode):
        print(f"  {pool.role:8s} TP {pool.tp} on {pool.hardware_name}: {pool.max_rps_per_instance:.2f} req/s per "
              f"instance, peak {pool.peak_instances} instances, ${pool.monthly_cost_usd:,.0f}/month")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
