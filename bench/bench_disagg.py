"""Disaggregated prefill/decode against published results: run ``python bench/bench_disagg.py``.

Prints, for every disaggregation anchor in ``data/serving_anchors.csv`` (DistServe §1 Figure 1 and §3.3, the
DistServe simulator's published placement, Splitwise §VI-A and §VI-B), the published figure, the prediction of
``estimator.disagg`` for the setup recorded in the anchor (DistServe: the authors' published per-iteration
profiles, goals at P90; Splitwise: the paper's measured time between tokens and stated 400 Gbps link, and its
iso-power search with the simulator's performance model, traces and SLOs), their ratio and whether it is within
25 %; then Figure 1 under each engine's latencies, the placement search's pairs, the Splitwise search's splits, and
colocated vs disaggregated serving for the default scenario. Everything is computed in this run.
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
    print("\nDistServe Fig. 1 (OPT-13B, 1 x A100, 512 + 64 tokens, P90 TTFT 0.4 s, P90 TPOT 0.04 s), requests/s per GPU "
          "by the iteration latencies used (published: prefill 5.6, decode 10, colocated 1.6, gain 2.1):")
    print(f"{'engine':10s} {'prefill':>8s} {'decode':>8s} {'colocated':>10s} {'mixed':>7s} {'gain':>6s}")
    for eng in disagg.FIG1_ENGINES:
        f1 = disagg.distserve_fig1(eng)
        print(f"{eng:10s} {f1['prefill']:8.2f} {f1['decode']:8.2f} {f1['colocated']:10.2f} "
              f"{f1['colocated_mixed']:7.2f} {f1['gain']:6.2f}")
    print("(colocated: vLLM 0.2's whole-prompt prefill iterations stall the decodes; mixed: the planner's iterations "
          "that carry the decodes along)")
    print("\nDistServe placement search (OPT-13B, ShareGPT, 4 x A100, P90 TTFT 0.2 s, P90 TPOT 0.1 s; published best: "
          "prefill TP 2 + decode TP 1, 1.56 requests/s per GPU):")
    for pl in disagg.distserve_placement():
        print(f"  prefill TP {pl.tp_prefill} ({pl.prefill_rps:5.2f} req/s) + decode TP {pl.tp_decode} "
              f"({pl.decode_rps:5.2f} req/s): {pl.per_gpu_rps:.2f} per GPU")
    print("\nSplitwise-HH iso-power search (BLOOM-176B, 40 DGX-H100, Splitwise's performance model, Azure 2023 traces, "
          "Table 6 SLOs; published: conversation 25P:15T, coding 35P:5T), requests/s within the nine SLOs:")
    for trace in ("conv", "code"):
        sp = disagg.splitwise_provisioning(trace)
        cells = "  ".join(f"{40 - t}P:{t}T {min(p_rps, t_rps):5.1f}" for t, p_rps, t_rps in sp.splits
                          if t in disagg.SPLITWISE_HH_TOKEN_SWEEP)
        print(f"  {trace}: {cells}")
        print(f"  {trace}: best swept {40 - sp.best_token}P:{sp.best_token}T ({sp.cluster_rps:.1f} req/s); with any "
              f"token count {sp.unconstrained_ratio:.2f} prompt per token machine; {sp.token_slots} slots per token machine")
    print(f"Splitwise serialized KV transfer on the second token (published 0.64): H100 setup "
          f"{disagg.splitwise_second_token('h100'):.2f} (the anchor), A100 setup {disagg.splitwise_second_token('a100'):.2f}")
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
