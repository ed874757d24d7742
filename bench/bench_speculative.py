"""Speculative decoding against published results: run ``python bench/bench_speculative.py``.

Prints, for every speculative anchor in ``data/serving_anchors.csv`` (EAGLE-3 paper Tables 1, 3 and 5,
DeepSeek-V3 §5.4.3, the SGLang documentation), the published figure, the prediction of
``estimator.speculative`` for the setup recorded in the anchor's notes, their ratio and whether it is within
25 %; then two sensitivity checks of the assumptions the large-batch rows rest on: every draft forward
charged no fixed time (the model before issue 14), and every engine's host time exposed with and without
speculation (no overlap scheduler, no eager launch model), and the per-sequence host time charged per
sequence instead of per token kept; then the per-iteration breakdown of each anchor;
then with vs without speculation across batch sizes for the default scenario (Llama-3.1-70B on 4 x H100,
EAGLE-3, 3 drafts, the published acceptance length). Everything is computed in this run.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from estimator import speculative  # noqa: E402
from estimator.anchors import ANCHOR_TOLERANCE, anchor_table  # noqa: E402

TOLERANCE = ANCHOR_TOLERANCE


def _per_sequence_host(a: speculative.AnchorSetup) -> float:
    """The anchor with the per-sequence host time charged once per sequence, not per token kept (tau)."""
    st = speculative.anchor_step_times(replace(a, acceptance_length=1.0))
    plain = float(st.plain_s[0])
    if a.metric == "tokens_per_s_off":
        return a.batch / plain
    return a.acceptance_length * plain / (float(st.verify_s[0]) + float(st.drafts_s[0]))


def main() -> int:
    checks = speculative.anchor_checks()
    print("\n".join(anchor_table(checks, TOLERANCE)))
    print("\nSensitivity (ratio to the published value):")
    print(f"  {'anchor':32s} {'as modelled':>12s} {'drafts 0 ms':>12s} {'no overlap':>11s} {'host per seq':>13s}")
    for a, c in zip(speculative.ANCHOR_SETUPS, checks, strict=True):
        free = speculative.predict_anchor(a, draft_overhead_s=0.0)
        exposed = speculative.predict_anchor(a, engine="none")
        print(f"  {a.anchor_id:32s} {c.ratio:12.2f} {free / c.published:12.2f} {exposed / c.published:11.2f} "
              f"{_per_sequence_host(a) / c.published:13.2f}")
    print("\nPer iteration (ms): plain step, verification (incl. exposed host time), all draft forwards")
    for a in speculative.ANCHOR_SETUPS:
        st = speculative.anchor_step_times(a)
        print(f"  {a.anchor_id:32s} {a.engine or '-':7s} B={a.batch:<4d} plain {float(st.plain_s[0]) * 1e3:7.2f}  "
              f"verify({a.verify_tokens}) {float(st.verify_s[0]) * 1e3:7.2f}  drafts(k={a.spec_tokens}) "
              f"{float(st.drafts_s[0]) * 1e3:6.2f}  [{st.verify_bound[0]}]")
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
