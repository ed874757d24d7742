"""Expert parallelism against published wide-EP results (``estimator.expert_parallel``).

Run: ``.venv/bin/python bench/bench_expert_parallel.py``

Prints:

1. every ``expert_parallel`` row of ``data/serving_anchors.csv`` (DeepSeek's inference-system figures
   and profile, SGLang's 96-H100 and GB200 NVL72 results, DeepEP's all-to-all latencies): the published
   value, this module's prediction at the fitted efficiencies, their ratio and whether it is within 25%;
2. the EP sweep (memory per GPU, batch, TPOT, decode/prefill tokens/s per GPU, all-to-all share) of
   DeepSeek-V3, Qwen3-235B-A22B, GPT-OSS-120B and Kimi K2 on H100, H200, B200, GB200 and MI300X at a
   50 ms TPOT target, with the best EP degree and the time one plan takes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from estimator import catalog, expert_parallel
from estimator.units import DType

TOLERANCE = 0.25
MODELS = (("deepseek-v3", DType.FP8), ("qwen3-235b-a22b", DType.FP8), ("gpt-oss-120b", DType.MXFP4),
          ("kimi-k2", DType.FP8))
HARDWARE = ("h100-sxm", "h200", "b200", "gb200", "mi300x")


def anchors() -> int:
    print("Published anchors (model / published; within 25% marked ok)")
    print(f"{'anchor':40s} {'metric':38s} {'published':>12s} {'model':>12s} {'ratio':>6s}")
    within = 0
    results = expert_parallel.reproduce_anchors()
    for r in results:
        ok = abs(r.ratio - 1.0) <= TOLERANCE
        within += ok
        print(f"{r.anchor.anchor_id:40s} {r.anchor.metric:38s} {r.anchor.published_value:12.6g} "
              f"{r.predicted:12.6g} {r.ratio:6.3f} {'ok' if ok else 'MISS'}")
    print(f"{within} of {len(results)} within {TOLERANCE:.0%}\n")
    return within


def sweeps() -> None:
    print("EP sweep at TPOT <= 50 ms, 1000 input + 250 output tokens, DP attention, imbalance 1.0")
    for model_id, dtype in MODELS:
        model = catalog.get_model(model_id)
        for hw_id in HARDWARE:
            hw = catalog.get_hardware(hw_id)
            t0 = time.perf_counter()
            p = expert_parallel.plan(model, hw, expert_parallel.EPConfig(ep=8, dtype=dtype), 1000, 250,
                                     tpot_target_s=0.05)
            ms = (time.perf_counter() - t0) * 1e3
            print(f"{model_id} on {hw_id}: best EP{p.best_ep} ({ms:.0f} ms)")
            for r in p.rows:
                if r.decode is None or r.prefill is None:
                    print(f"   EP{r.ep:<4d} weights do not fit ({r.memory.total_bytes / 1e9:.0f} GB per GPU)")
                    continue
                print(f"   EP{r.ep:<4d} {r.memory.total_bytes / 1e9:6.1f} GB/GPU  B={r.batch_per_gpu:<5d} "
                      f"TPOT {r.decode.step_s * 1e3:6.1f} ms  decode {r.decode_tokens_per_s_per_gpu:8,.0f} tok/s/GPU "
                      f"(a2a {r.decode.communication_share:4.0%})  prefill {r.prefill_tokens_per_s_per_gpu:8,.0f} "
                      f"tok/s/GPU (a2a {r.prefill.communication_share:4.0%})")


def main() -> None:
    anchors()
    sweeps()


if __name__ == "__main__":
    main()
