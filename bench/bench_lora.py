"""LoRA against published results: run ``python bench/bench_lora.py``.

Prints, for every ``lora`` anchor in ``data/serving_anchors.csv`` (LoRA Table 5, the PEFT README,
QLoRA, Punica), the published figure, the prediction of ``estimator.lora`` for the setup the anchor's
notes record, their ratio and whether it is within 25 %; then adapter memory and the mixed-batch
decode overhead of Llama-3.1-8B on an H100 across batch sizes. Everything is computed in this run.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from estimator import catalog, lora, performance  # noqa: E402

TOLERANCE = 0.25


def main() -> int:
    predicted = lora.anchor_predictions()
    with (ROOT / "data" / "serving_anchors.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["technique"] == "lora"]
    print(f"{'anchor':28s} {'metric':34s} {'published':>12s} {'model':>12s} {'ratio':>6s}  within 25%")
    ok = 0
    for r in rows:
        pub, mod = float(r["published_value"]), predicted[r["anchor_id"]]
        good = abs(mod / pub - 1) <= TOLERANCE
        ok += good
        print(f"{r['anchor_id']:28s} {r['metric']:34s} {pub:12,.2f} {mod:12,.2f} {mod / pub:6.2f}  "
              f"{'yes' if good else 'NO'}")
    print(f"\n{ok} of {len(rows)} anchors within 25 %.")
    m, hw = catalog.get_model("llama-3.1-8b"), catalog.get_hardware("h100-sxm")
    a = lora.adapter_bytes(m, 16, "all_linear")
    print(f"\nLlama-3.1-8B, r = 16 on all linear layers: {lora.trainable_params(m, 16, 'all_linear'):,} parameters, "
          f"{a / 1e6:.1f} MB per adapter; 8 slots reserve {lora.slot_bytes(m, 16, 'all_linear', 8) / 1e9:.2f} GB")
    print(f"{'batch':>6s} {'distinct (100 adapters)':>24s} {'base TPOT ms':>13s} {'extra ms':>9s} {'throughput cost':>16s}")
    for b in (1, 8, 32, 128):
        d = lora.expected_distinct_adapters(100, b)
        base = performance.estimate(m, hw, "bf16", b, 1000, 250).tpot_s
        dt = lora.mixed_batch_step_overhead_s(m, 16, "all_linear", d, b, hw.memory_bandwidth_bytes_per_s,
                                              hw.peak_flops_per_s("bf16"))
        print(f"{b:6d} {d:24.1f} {base * 1e3:13.2f} {dt * 1e3:9.2f} {dt / (base + dt):16.1%}")
    return 0 if ok == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
