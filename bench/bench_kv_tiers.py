"""KV-cache tiers against published results: run ``python bench/bench_kv_tiers.py``.

Prints, for every ``kv_tiers`` anchor in ``data/serving_anchors.csv`` (AttentionStore §2.3, the SGLang
HiCache blog), the published figure, the prediction of ``estimator.kv_tiers`` for the setup the anchor's
notes record, their ratio and whether it is within 25 %; then GPU only vs + host DRAM vs + local SSD for
the default scenario with 8-turn sessions: hit rate per tier and mean TTFT at the plan's fleet, then
each set-up settled at the fleet its own hit rate sizes (replicas, monthly cost). Everything is
computed in this run.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from estimator import entrypoints, kv_tiers  # noqa: E402
from estimator.scenario import Scenario  # noqa: E402

TOLERANCE = 0.25


def anchors(technique: str) -> list[dict[str, str]]:
    with (ROOT / "data" / "serving_anchors.csv").open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["technique"] == technique]


def main() -> int:
    predicted = kv_tiers.anchor_predictions()
    print(f"{'anchor':36s} {'metric':26s} {'published':>10s} {'model':>10s} {'ratio':>6s}  within 25%")
    ok = 0
    rows = anchors("kv_tiers")
    for r in rows:
        pub, mod = float(r["published_value"]), predicted[r["anchor_id"]]
        ratio = mod / pub
        ok += abs(ratio - 1) <= TOLERANCE
        print(f"{r['anchor_id']:36s} {r['metric']:26s} {pub:10.3f} {mod:10.3f} {ratio:6.2f}  "
              f"{'yes' if abs(ratio - 1) <= TOLERANCE else 'NO'}")
    print(f"\n{ok} of {len(rows)} anchors within 25 %.")
    s = Scenario().replace(kv_tiers={"enabled": True, "turns": 8, "system_tokens": 200, "gap_s": 1800.0},
                           tokens={"input_mean": 4000, "input_p95": 12000})
    plan = entrypoints.compute("capacity", s)
    a = kv_tiers.analyze(s, plan)
    c = a.capacity
    print(f"\nDefault scenario, 8 turns 30 minutes apart, 4,000-token mean prompt: {plan.model_name} on {plan.devices_per_replica} x "
          f"{plan.hardware_name}; per replica GPU {c.gpu_bytes / 1e9:,.0f} GB, host {c.host_bytes / 1e9:,.0f} GB, "
          f"SSD {c.ssd_bytes / 1e9:,.0f} GB; {a.sessions_per_s_per_replica:.2f} sessions/s per replica")
    print("At the plan's fleet (before re-planning):")
    print(f"{'tiers':14s} {'hit':>6s} {'gpu':>6s} {'host':>6s} {'ssd':>6s} {'TTFT ms':>8s} {'load ms':>8s}")
    print(f"{'no cache':14s} {0:6.2f} {'':6s} {'':6s} {'':6s} {a.no_cache_ttft_s * 1e3:8.1f}")
    for o in a.options:
        print(f"{o.name:14s} {o.hit_rate:6.2f} {o.hits.gpu:6.2f} {o.hits.host:6.2f} {o.hits.ssd:6.2f} "
              f"{o.ttft_s * 1e3:8.1f} {o.load_s * 1e3:8.1f}")
    base = entrypoints.compute("capacity", kv_tiers.with_hit_rate(s, 0.0))
    print(f"\nSettled (each hit rate at the fleet it sizes); no reuse: {base.peak_replicas} replicas, "
          f"${base.monthly_cost_usd:,.0f}/month")
    print(f"{'tiers':14s} {'hit':>6s} {'replicas':>9s} {'sessions/s':>11s} {'TTFT ms':>8s} {'$/month':>12s}")
    for x in kv_tiers.settle(s, plan, lambda sc: entrypoints.compute("capacity", sc)):
        print(f"{x.option.name:14s} {x.hit_rate:6.2f} {x.peak_replicas:9d} {x.sessions_per_s_per_replica:11.3f} "
              f"{x.option.ttft_s * 1e3:8.1f} {x.monthly_cost_usd:12,.0f}")
    return 0 if ok == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
