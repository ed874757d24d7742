"""How close any calibration of today's performance and training models can come to the issue #12 targets.

Run: ``.venv/bin/python bench/calibration_ceiling.py`` (about 2.5 minutes on one core; ``--sources N`` limits the
inference part to the first N source groups; ``--delta 0.02`` fits with a loss close to the sum of |log error|).

The targets of GitHub issue #12 are scored leave-one-source-out (LOSO): each published page is predicted
by constants fitted without it. A fit that *sees* the points it is scored on can only do better, so its
in-sample error is a floor (a ceiling on accuracy) for every LOSO score of the same model form. This script
fits the performance model's constants (:data:`estimator.performance.FIT_FIELDS`: compute and
low-precision compute fractions, memory fraction, step and prefill overheads, link latency, MoE grouped-GEMM
factor) at three levels of freedom, each in-sample with the robust loss ``bench/fit_performance.py`` uses:

1. **global**: one set of constants for all scored points;
2. **per cell**: one set per engine x vendor family (the cells the app uses), not shrunk;
3. **per source**: one set per published page (``url``): every source gets its own eight constants. Nothing a
   calibration can learn from the data is finer than this.

It prints, per level, the median |error|, the worst ratio and the share within 1.5x per engine and per
vendor family, and the points that even the per-source fit leaves outside 1.5x. For training
(``data/training_runs.csv``, :mod:`estimator.training_runs`) it prints the in-sample spread of the published
runs' utilization per hardware generation: with one utilization per generation, the worst in-sample ratio is
at least ``sqrt(max u / min u)`` of that generation (the best single value sits at the geometric midpoint).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fit_performance

from estimator import performance, training_runs

FloatArray = npt.NDArray[np.float64]
RATIO_LIMIT = 1.5
"""The issue's "every point within 1.5x"."""


@dataclass(frozen=True)
class Level:
    """In-sample ``ln(predicted / measured)`` of every scored row at one level of freedom."""

    name: str
    log_ratio: FloatArray


def _robust_loss(s: fit_performance.Scored, idx: Sequence[int], eff: performance.Efficiency, d: float) -> float:
    """The fit's pseudo-Huber loss with scale ``d`` of rows ``idx`` at ``eff``."""
    r = performance.log_residuals([s.prep.rows[i] for i in idx], s.measured[idx], eff)
    return float(np.mean(2.0 * d**2 * (np.sqrt(1.0 + (r / d) ** 2) - 1.0)))


def starts(s: fit_performance.Scored, idx: Sequence[int]) -> list[performance.Efficiency]:
    """Where each fit starts: the calibration start ``bench/fit_performance.py`` uses, the stored global refit and
    the stored cells of the rows (Nelder-Mead finds a local minimum; the best of these is kept)."""
    cells = performance.calibration_cells()
    out = [performance.calibration_start()]
    if ("all", "all") in cells:
        out.append(cells[("all", "all")].efficiency)
    keys = sorted({k for k in (s.keys[i] for i in idx) if k is not None})
    out += [cells[k].efficiency for k in keys if k in cells]
    return out


def _fit_groups(s: fit_performance.Scored, labels: Sequence[object], delta: float = performance.ROBUST_DELTA,
                ) -> FloatArray:
    """Each row predicted by constants fitted on the rows that share its label (in-sample; best of :func:`starts`),
    with the pseudo-Huber loss of scale ``delta`` (``bench/fit_performance.py``'s :data:`ROBUST_DELTA`; a small
    ``delta`` is close to the sum of |log residuals|, the loss whose minimum is nearest the median)."""
    out = np.full(len(s.measured), np.nan)
    rows = s.prep.rows
    for label in sorted({str(x) for x in labels}):
        idx = [i for i, x in enumerate(labels) if str(x) == label]
        fits = [performance.fit_prepared([rows[i] for i in idx], s.measured[idx], start, iters=800,
                                         delta=delta, tol=1e-9) for start in starts(s, idx)]
        eff = min(fits, key=lambda e: _robust_loss(s, idx, e, delta))
        out[idx] = [math.log(performance._predict_prepared(rows[i], eff) / s.measured[i]) for i in idx]
    return out


def levels(s: fit_performance.Scored, delta: float = performance.ROBUST_DELTA) -> list[Level]:
    """The global, per-cell and per-source in-sample fits of ``s``."""
    cell = [k if k is not None else ("other", e) for k, e in zip(s.keys, s.engine, strict=True)]
    return [Level("global", _fit_groups(s, ["all"] * len(s.measured), delta)),
            Level("per cell", _fit_groups(s, cell, delta)),
            Level("per source", _fit_groups(s, s.group, delta))]


def group_line(name: str, lr: FloatArray) -> str:
    """Points, median |error|, worst ratio and share within 1.5x of one group's log ratios."""
    err = np.abs(np.expm1(lr))
    worst = float(np.exp(np.abs(lr)).max())
    inside = float(np.mean(np.abs(lr) <= math.log(RATIO_LIMIT) + 1e-12))
    return f"{name:<18}{len(lr):>7}{np.median(err):>13.1%}{worst:>8.2f}x{inside:>9.0%}"


def level_table(s: fit_performance.Scored, level: Level) -> list[str]:
    """Per engine, per vendor family and overall."""
    lines = [f"-- {level.name} (in-sample) --",
             f"{'group':<18}{'points':>7}{'median |err|':>13}{'worst':>9}{'<=1.5x':>9}"]
    for what, values in (("engine", s.engine), ("vendor", s.vendor)):
        arr = np.array(values)
        for v in sorted(set(values)):
            lines.append(group_line(f"{what} {v}", level.log_ratio[arr == v]))
    lines.append(group_line("all", level.log_ratio))
    return lines


def outside_lines(s: fit_performance.Scored, level: Level) -> list[str]:
    """The rows ``level`` leaves outside 1.5x, worst first."""
    ids = s.prep.frame["measurement_id"].tolist()
    bad = [i for i in np.argsort(-np.abs(level.log_ratio)) if abs(level.log_ratio[i]) > math.log(RATIO_LIMIT)]
    return [f"  {ids[i]:<48} {s.engine[i]:<8} {math.exp(level.log_ratio[i]):.2f}x" for i in bad]


def little_lines(frame: pd.DataFrame | None = None) -> list[str]:
    """Closed-loop runs whose published throughput and TPOT no steady-state model can both meet within 1.5x.

    A model in which all ``C`` sequences of a closed loop decode together predicts throughput ``X = C / TPOT``
    (Little's law with the TTFT small next to ``O x TPOT``; :func:`estimator.performance.steady_state_arrays`).
    Then ``(X_pred / X_pub) (TPOT_pred / TPOT_pub) = C / (X_pub TPOT_pub)`` whatever the constants, so where
    ``C / (X_pub TPOT_pub) > 1.5^2`` one of the two rows is outside 1.5x for every calibration.
    """
    df = performance.load_measurements() if frame is None else frame
    online = df[(df["scenario"] == "online") & ~performance._excluded_mask(df)]
    lines = []
    for _, part in online.groupby(["url", "model_id", "hardware_id", "engine", "concurrency", "input_tokens"]):
        by = dict(zip(part["metric"], part["value"], strict=False))
        if "tpot_s" in by and "output_tokens_per_s" in by:
            c = float(part["concurrency"].iloc[0])
            product = c / (float(by["output_tokens_per_s"]) * float(by["tpot_s"]))
            if product > RATIO_LIMIT ** 2:
                lines.append(f"  {part['measurement_id'].iloc[0]:<48} C / (X TPOT) = {product:.2f}: at best "
                             f"{math.sqrt(product):.2f}x on both")
    return lines


def training_lines() -> list[str]:
    """Per hardware generation: runs, utilization range and the least possible worst in-sample ratio."""
    frame = training_runs.runs()
    lines = [f"{'generation':<11}{'runs':>5}{'min u':>8}{'max u':>8}{'least worst ratio':>19}  (run at min, at max)"]
    for gen, part in frame.groupby("generation"):
        u = part["utilization"].to_numpy(dtype=float)
        lo, hi = int(np.argmin(u)), int(np.argmax(u))
        lines.append(f"{gen:<11}{len(u):>5}{u[lo]:>8.3f}{u[hi]:>8.3f}{math.sqrt(u[hi] / u[lo]):>18.2f}x"
                     f"  ({part['run_id'].iloc[lo]}, {part['run_id'].iloc[hi]})")
    return lines


def _limit_sources(s: fit_performance.Scored, n: int) -> fit_performance.Scored:
    """``s`` restricted to its first ``n`` source groups (sorted), for a quick run."""
    keep = set(sorted(set(s.group))[:n])
    idx = [i for i, g in enumerate(s.group) if g in keep]
    sub = performance.prepare_measurements(s.prep.frame.iloc[idx])
    return fit_performance.load_scored(sub.frame)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=0, help="only the first N source groups (0: all)")
    parser.add_argument("--delta", type=float, default=performance.ROBUST_DELTA,
                        help="scale of the pseudo-Huber loss (default: the calibration's ln 1.5; 0.02: about L1)")
    args = parser.parse_args(argv)
    s = fit_performance.load_scored()
    if args.sources:
        s = _limit_sources(s, args.sources)
    print(f"== Inference: {len(s.measured)} scored points, {len(set(s.group))} sources ==")
    print(f"(pseudo-Huber loss, scale {args.delta:.3g} in ln ratio; each fit the best of several starts)")
    fitted = levels(s, args.delta)
    for level in fitted:
        print("\n".join(level_table(s, level)))
    print(f"\npoints outside {RATIO_LIMIT}x even with eight constants per source:")
    print("\n".join(outside_lines(s, fitted[-1])) or "  none")
    print(f"\nclosed-loop runs whose throughput and TPOT cannot both be within {RATIO_LIMIT}x of a steady-state model:")
    print("\n".join(little_lines()) or "  none")
    print("\n== Training: one utilization per hardware generation (bench/fit_training.py) ==")
    print("\n".join(training_lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
