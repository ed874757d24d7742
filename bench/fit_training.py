"""Fit training MFU and goodput on published runs and report the leave-one-out error.

Run ``python bench/fit_training.py`` to print, per published run in ``data/training_runs.csv``,
the GPU-hours published and predicted by a fit that leaves that run out, then per hardware
generation and overall the median |error| and the worst ratio, against the targets of GitHub
issue #12 (median |error| <= 15 %, every run within 1.5x). ``--write`` also stores the fit in
``data/training_fit.csv`` with today's date and the SHA-256 of the runs file; the Training budget
page uses it as the default MFU and goodput (``estimator.training.fitted_efficiency``).

The model and the fit: ``estimator/training_runs.py``. For comparison it also prints the same
leave-one-out error with 6ND alone (no attention term) and with one utilization for all hardware.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("BENCH_ESTIMATOR_ROOT", str(REPO)))

import pandas as pd  # noqa: E402

from estimator import catalog, training_runs  # noqa: E402

TARGET_MEDIAN_ABS_ERROR = 0.15
TARGET_WORST_RATIO = 1.5


def summary_lines(frame: pd.DataFrame) -> list[str]:
    """Per generation and overall: runs, median |error|, worst ratio, 80 % range (the test reads these)."""
    loo = training_runs.leave_one_out(frame)
    lines = [f"{'group':<8} {'runs':>4} {'median |err|':>12} {'worst ratio':>11} {'80% range':>13}"]
    for gen in [*sorted({r.generation for r in loo}), "all"]:
        mine = [r for r in loo if gen == "all" or r.generation == gen]
        med, worst, lo, hi = training_runs.loo_summary(mine)
        lines.append(f"{gen:<8} {len(mine):>4} {med:>12.1%} {worst:>10.2f}x {lo:>6.2f}-{hi:<6.2f}")
    return lines


def run_lines(frame: pd.DataFrame) -> list[str]:
    """One line per run: published and leave-one-out predicted GPU-hours."""
    lines = [f"{'run':<22} {'gen':<7} {'u':>6} {'published h':>13} {'predicted h':>13} {'error':>7}"]
    for r, u in zip(training_runs.leave_one_out(frame), frame["utilization"], strict=True):
        lines.append(f"{r.run_id:<22} {r.generation:<7} {u:>6.3f} {r.gpu_hours:>13,.0f} "
                     f"{r.predicted_gpu_hours:>13,.0f} {r.error:>+7.1%}")
    return lines


def _variant(frame: pd.DataFrame, attention: bool, by_generation: bool) -> str:
    f = frame.copy()
    if not attention:
        f["train_flops"] = f["flops_6nd"]
        f["peak_flops_per_s"] = f["dtype_peak_flops_per_s"]  # 6ND alone runs at the compute dtype's peak
        f["utilization"] = f["flops_6nd"] / (f["peak_flops_per_s"] * f["gpu_hours"] * 3600.0)
    if not by_generation:
        f["generation"] = "global"
    med, worst, _, _ = training_runs.loo_summary(training_runs.leave_one_out(f))
    return (f"  {'6ND + attention' if attention else '6ND only':<16} "
            f"{'by generation' if by_generation else 'one for all':<14} median |err| {med:.1%}, worst {worst:.2f}x")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="store the fit in data/training_fit.csv")
    args = ap.parse_args(argv)
    frame = training_runs.runs()
    excluded = training_runs.runs(include_excluded=True)
    print(f"{len(frame)} published runs fitted ({len(excluded) - len(frame)} excluded, see excluded_reason)\n")
    print("\n".join(run_lines(frame)))
    print("\nLeave-one-out, GPU-hours predicted / published:")
    print("\n".join(summary_lines(frame)))
    print(f"targets: median |error| <= {TARGET_MEDIAN_ABS_ERROR:.0%}, worst ratio <= {TARGET_WORST_RATIO}x")
    print("\nOther models, for comparison:")
    for attention, by_gen in ((False, False), (False, True), (True, False), (True, True)):
        print(_variant(frame, attention, by_gen))
    table = training_runs.fit_frame(frame, dt.date.today().isoformat(), training_runs.data_sha256())
    print("\nFitted defaults:")
    print(table[["generation", "n_runs", "utilization", "mfu", "goodput", "ratio_low", "ratio_high"]].to_string(
        index=False))
    if args.write:
        path = catalog.data_dir() / "training_fit.csv"
        table.to_csv(path, index=False, lineterminator="\n")
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
