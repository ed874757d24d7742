"""Speculative decoding against published results: run ``python bench/bench_speculative.py``.

Prints, for every speculative anchor in ``data/serving_anchors.csv`` (EAGLE-3 paper Tables 1, 3 and 5,
DeepSeek-V3 §5.4.3, the SGLang documentation), the published figure, the prediction of
``estimator.speculative`` for the setup recorded in the anchor's notes, their ratio and whether it is within
25 %; then the same predictions with every draft step charged the engine's per-iteration overhead
(``performance.STEP_OVERHEAD_S``) instead of ``speculative.DRAFT_STEP_OVERHEAD_S`` (a sensitivity check of the
one assumption the drafter's cost rests on); then with vs without speculation across batch sizes for the
default scenario (Llama-3.1-70B on 4 x H100, EAGLE-3, 3 drafts, the published acceptance length).
Everything is computed in this run.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from estimator import performance, speculative  # noqa: E402
from estimator.anchors import ANCHOR_TOLERANCE, anchor_table  # noqa: E402

TOLERANCE = ANCHOR_TOLERANCE


def main() -> int:
    checks = speculative.anchor_checks()
    print("\n".join(anchor_table(checks, TOLERANCE)))
    print(f"\nSensitivity: each draft step charged {performance.STEP_OVERHEAD_S * 1e3:.2f} ms "
          f"(instead of {speculative.DRAFT_STEP_OVERHEAD_S * 1e3:.2f} ms):")
    for a, c in zip(speculative.ANCHOR_SETUPS, checks, strict=True):
        alt = speculative.predict_anchor(a, draft_overhead_s=performance.STEP_OVERHEAD_S)
        print(f"  {a.anchor_id:32s} model {alt:8.2f}  ratio {alt / c.published:5.2f}")
    r = speculative.compare("llama-3.1-70b", "h100-sxm", "bf16", tp=4, method="eagle3", spec_tokens=3)
    print(f"\nDefault scenario: {r.drafter}, k = {r.spec_tokens}, tau = {r.acceptance_length:.2f} "
          f"(alpha {r.acceptance_rate:.2f}; {r.acceptance_source})")
    print(f"{'batch':>6s} {'TPOT off ms':>12s} {'TPOT on ms':>11s} {'speedup':>8s}  verify bound     fits")
    for p in r.points:
        print(f"{p.batch:6d} {p.tpot_off_s * 1e3:12.2f} {p.tpot_on_s * 1e3:11.2f} {p.speedup:8.2f}  "
              f"{p.verify_bound:16s} {p.fits_on}")
    print(f"Speculation stops paying at batch {r.break_even_batch} (max batch {r.max_batch_off} without, "
          f"{r.max_batch_on} with the drafter).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
