"""Refit the efficiency factors per engine x vendor family and score them leave-one-source-out.

Run: ``.venv/bin/python bench/fit_performance.py`` (writes ``data/calibration_engines.csv`` and
``data/calibration_loso.csv``; add ``--no-write`` to only print). Takes about 4 minutes on one core
(a fit per held-out source).

What it does, on the scored rows of ``data/measurements.csv`` (``excluded_reason`` empty and
predictable, :func:`estimator.performance.prepare_measurements`):

1. **Global fit**: Nelder-Mead over :data:`~estimator.performance.FIT_FIELDS` (the dense efficiencies and
   overheads, and ``moe_gemm``, the MoE grouped-GEMM factor applied to the routed experts' FLOPs and bytes
   only: :data:`~estimator.performance.MOE_GEMM_EFFICIENCY`) with the
   pseudo-Huber loss on ``ln(predicted / measured)`` (:data:`~estimator.performance.ROBUST_DELTA`),
   started at the module's constants with the per-sequence iteration overhead
   (:func:`~estimator.performance.calibration_start`, held fixed in every fit: fitted globally, per engine,
   per cell or in the vLLM cells only it did not score better held out, 2026-11-30 refits in
   :data:`~estimator.performance.SEQUENCE_OVERHEAD_S`).
2. **Cells**: the same fit on each engine (vLLM, SGLang, TensorRT-LLM) x calibration family (nvidia, amd, and
   nvidia-blackwell for B200/B300/GB200/GB300: :func:`~estimator.performance.calibration_family`)
   with points, started at the global fit, then shrunk toward it with weight ``n / (n + k)``
   (:func:`~estimator.performance.shrink_efficiency`, ``k`` =
   :data:`~estimator.performance.SHRINK_POINTS`).
3. **Standard error per constant**: from the residual spread, ``cov(z) = s^2 (J^T J)^-1`` with ``J``
   the Jacobian of the cell's log residuals in the fit coordinates (central differences) and
   ``s = 1.4826 median |r|`` scaled by ``n / (n - p)`` (Gauss-Newton asymptotics; Seber & Wild, *Nonlinear Regression*,
   §2.1), combined with the global fit's as ``w^2 var_cell + (1 - w)^2 var_global`` and carried to
   the constant's unit by the delta method. Empty (NaN) where the cell's points do not identify the
   constant (standard deviation above 3 in the fit coordinates).
4. **Leave-one-source-out (LOSO)**: rows are grouped by ``url`` (one published page, table set or
   result directory); for each group the global fit and every cell are refitted without it and its
   rows predicted at their cell's factors (the global refit where the cell has no other rows). The
   table is printed per engine, vendor family, architecture class (dense / MoE: routed experts) and
   engine x class.
5. **Nominal 80% range**: each held-out point's range is the one the app shows
   (:func:`estimator.uncertainty.band_for`: conformal 10%/90% order statistics of the LOSO residuals
   ``ln(measured / predicted)`` of its engine x vendor class, rates and times apart, shrunk toward
   all classes' by sources), built from the other sources' points only: coverage is the share of
   held-out points inside their range.

The fit goes through the whole estimator (the batch of a ``max_throughput`` row is
:func:`estimator.memory.max_batch`), so rerun it after a change to ``estimator/memory.py`` or
``estimator/performance.py`` as well as to the measurements: the stored SHA-256 only covers the
measurements file, and the slow test ``test_stored_loso_prediction_reproduces_for_one_source``
catches a model change.

The CSV holds, per cell and for the global refit (``all``/``all``), each fitted constant with its
standard error, the LOSO residual percentiles (the range the estimator shows), the points, the
shrinkage weight, the date and the SHA-256 of the measurements file.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from estimator import performance, uncertainty
from estimator.performance import Efficiency, PreparedMeasurements

FloatArray = npt.NDArray[np.float64]
Key = tuple[str, str]
ALL: Key = ("all", "all")
RANGE_MIN_POINTS = uncertainty.MIN_POINTS
"""A cell with fewer LOSO residuals from other sources than this takes its range from all of them
(the conformal ranks of :func:`estimator.uncertainty.conformal_bounds` need 9)."""
SOURCE = "fitted by bench/fit_performance.py"
CELL_FIXED: tuple[str, ...] = ("moe_gemm",)
"""Constants the cells do not refit: they keep the global fit's value (and its standard error). The MoE
grouped-GEMM factor is one constant for all cells: with one per cell, shrunk like the rest
(``--moe-per-cell``), the leave-one-source-out median error of all 159 points was 18.7% against 19.4%,
but 80% of the points were within 1.5x against 83%, the worst miss 3.16x against 2.48x and the
range coverage 77% against 81% (2026-11-29 refits on sha256 d357e096...), for five more constants."""


@dataclass(frozen=True)
class Scored:
    """The scored, predictable measurements with what the fit and the LOSO need per row."""

    prep: PreparedMeasurements
    measured: FloatArray
    keys: tuple[Key | None, ...]  # engine x calibration family cell, None where the engine has no cell
    engine: tuple[str, ...]
    vendor: tuple[str, ...]
    group: tuple[str, ...]  # the LOSO source group (url, else source)
    rate_sign: FloatArray  # +1 for a rate (tokens/s), -1 for a time (*_s)
    arch: tuple[str, ...] = ()  # architecture class of the row's model: "moe" (routed experts) or "dense"


@dataclass(frozen=True)
class Fit:
    """A global fit and the shrunk fit of every cell with points (``cells[key] = (efficiency, n)``)."""

    global_eff: Efficiency
    cells: dict[Key, tuple[Efficiency, int]]
    raw: dict[Key, Efficiency]


def measurements_sha256(path: Path | None = None) -> str:
    """SHA-256 of the measurements file's bytes."""
    p = path or performance._data_dir() / "measurements.csv"
    return hashlib.sha256(p.read_bytes()).hexdigest()


def load_scored(frame: object | None = None) -> Scored:
    """The scored rows of ``frame`` (default: ``data/measurements.csv``), prepared."""
    import pandas as pd

    df = performance.load_measurements() if frame is None else frame
    assert isinstance(df, pd.DataFrame)
    df = df[~performance._excluded_mask(df)]
    prep = performance.prepare_measurements(df)
    f = prep.frame
    engine = tuple(performance.canonical_engine(e) for e in performance._engine_of(f))
    keys = tuple((e, v) if e in performance.CALIBRATION_ENGINES else None
                 for e, v in zip(engine, prep.family, strict=True))
    group = tuple(str(u) if isinstance(u, str) and u else str(s) for u, s in zip(f["url"], f["source"], strict=True))
    sign = np.array([-1.0 if str(m) in performance.TIME_METRICS else 1.0 for m in f["metric"]])
    arch = tuple("moe" if float(x.f.n_experts) > 1 else "dense" for x in prep.rows)
    return Scored(prep, f["value"].to_numpy(float), keys, engine, tuple(prep.vendor), group, sign, arch)


def _subset(rows: Sequence[performance._Prepared], idx: Sequence[int]) -> list[performance._Prepared]:
    return [rows[i] for i in idx]


def fit_cells(rows: Sequence[performance._Prepared], measured: FloatArray, keys: Sequence[Key | None],
              start: Efficiency | None = None, k: float = performance.SHRINK_POINTS,
              iters: int = 800, tol: float = 1e-9) -> Fit:
    """The global fit of all ``rows`` and each cell's fit shrunk toward it (deterministic); ``start``
    defaults to :func:`~estimator.performance.calibration_start`."""
    start = start if start is not None else performance.calibration_start()
    delta = performance.ROBUST_DELTA
    g = performance.fit_prepared(rows, measured, start, iters=iters, delta=delta, tol=tol)
    cells: dict[Key, tuple[Efficiency, int]] = {}
    raw: dict[Key, Efficiency] = {}
    for key in sorted({kk for kk in keys if kk is not None}):
        idx = [i for i, kk in enumerate(keys) if kk == key]
        own = performance.fit_prepared(_subset(rows, idx), measured[idx], g, iters=iters, delta=delta, tol=tol,
                                       fixed=CELL_FIXED)
        raw[key] = own
        cells[key] = (performance.shrink_efficiency(own, g, len(idx), k), len(idx))
    return Fit(g, cells, raw)


def predict_fit(fit: Fit, rows: Sequence[performance._Prepared], keys: Sequence[Key | None]) -> FloatArray:
    """Each row predicted at its cell's shrunk factors (the global fit where the cell has none)."""
    out = []
    for x, key in zip(rows, keys, strict=True):
        eff = fit.cells[key][0] if key is not None and key in fit.cells else fit.global_eff
        out.append(performance._predict_prepared(x, eff))
    return np.array(out, dtype=float)


def loso_log_ratios(s: Scored, start: Efficiency | None = None, iters: int = 800, tol: float = 1e-9,
                    k: float = performance.SHRINK_POINTS) -> FloatArray:
    """``ln(predicted / measured)`` of every row, predicted by a fit that never saw its source group."""
    out = np.full(len(s.measured), np.nan)
    rows = s.prep.rows
    for g in sorted(set(s.group)):
        held = [i for i, gg in enumerate(s.group) if gg == g]
        train = [i for i, gg in enumerate(s.group) if gg != g]
        fit = fit_cells(_subset(rows, train), s.measured[train], [s.keys[i] for i in train], start,
                        k=k, iters=iters, tol=tol)
        pred = predict_fit(fit, _subset(rows, held), [s.keys[i] for i in held])
        out[held] = np.log(pred / s.measured[held])
    return out


def speed_residuals(s: Scored, log_ratio: FloatArray) -> FloatArray:
    """``ln(measured speed / predicted speed)``: ``-ln(pred/meas)`` for a rate, ``+ln(pred/meas)`` for a time."""
    return np.asarray(-s.rate_sign * log_ratio, dtype=float)


def residuals_of(s: Scored, log_ratio: FloatArray) -> uncertainty.Residuals:
    """The LOSO residuals as :mod:`estimator.uncertainty` reads them back: ``q = ln(measured / predicted)``,
    rates and times apart."""
    kind = tuple(uncertainty.TIME if sign < 0 else uncertainty.RATE for sign in s.rate_sign)
    return uncertainty.Residuals(engine=s.engine, vendor=s.vendor, kind=kind, source_group=s.group,
                                 log_measured_over_predicted=-np.asarray(log_ratio, dtype=float),
                                 in_range_80=tuple(False for _ in s.group))


def coverage_mask(s: Scored, log_ratio: FloatArray) -> npt.NDArray[np.bool_]:
    """Whether each held-out point lies in the nominal 80% range the app shows, built from the other
    sources' LOSO residuals only (:func:`estimator.uncertainty.coverage_flags`: conformal 10%/90%
    order statistics of its engine x vendor class shrunk toward all classes, rates and times apart)."""
    return uncertainty.coverage_flags(residuals_of(s, log_ratio))


@dataclass(frozen=True)
class GroupScore:
    """LOSO score of one engine or vendor group."""

    group: str
    points: int
    sources: int
    median_abs_error: float
    worst_ratio: float
    within_1_5x: float
    coverage_80: float

    @property
    def meets_targets(self) -> bool:
        return self.median_abs_error <= 0.10 and self.worst_ratio <= 1.5


def score(s: Scored, log_ratio: FloatArray, inside: npt.NDArray[np.bool_], mask: npt.NDArray[np.bool_],
          name: str) -> GroupScore:
    """Median |predicted/measured - 1|, worst factor, share within 1.5x and range coverage over ``mask``."""
    r = log_ratio[mask]
    return GroupScore(name, int(mask.sum()), len({s.group[i] for i in np.flatnonzero(mask)}),
                      float(np.median(np.abs(np.expm1(r)))), float(np.exp(np.abs(r)).max()),
                      float((np.exp(np.abs(r)) <= 1.5).mean()), float(inside[mask].mean()))


def loso_table(s: Scored, log_ratio: FloatArray) -> list[GroupScore]:
    """Scores per engine, per vendor family, per architecture class (dense / MoE), per engine x class and overall."""
    inside = coverage_mask(s, log_ratio)
    eng, ven, arch = np.array(s.engine), np.array(s.vendor), np.array(s.arch)
    out = [score(s, log_ratio, inside, eng == e, f"engine {e}") for e in sorted(set(s.engine))]
    out += [score(s, log_ratio, inside, ven == v, f"vendor {v}") for v in sorted(set(s.vendor))]
    out += [score(s, log_ratio, inside, arch == a, f"class {a}") for a in sorted(set(s.arch))]
    out += [score(s, log_ratio, inside, (eng == e) & (arch == a), f"{e} x {a}")
            for e in sorted(set(s.engine)) for a in sorted(set(s.arch)) if ((eng == e) & (arch == a)).any()]
    out.append(score(s, log_ratio, inside, np.ones(len(eng), dtype=bool), "all"))
    return out


def format_table(rows: Sequence[GroupScore]) -> str:
    """The LOSO table as text."""
    head = f"{'group':<18}{'points':>7}{'sources':>8}{'median |err|':>14}{'worst':>8}{'<=1.5x':>8}{'80% cov':>9}  targets"
    lines = [head]
    for g in rows:
        lines.append(f"{g.group:<18}{g.points:>7}{g.sources:>8}{g.median_abs_error:>13.1%}{g.worst_ratio:>7.2f}x"
                     f"{g.within_1_5x:>8.0%}{g.coverage_80:>9.0%}  {'MET' if g.meets_targets else 'not met'}")
    return "\n".join(lines)


def format_worst(s: Scored, log_ratio: FloatArray, n: int = 15) -> str:
    """The ``n`` largest held-out misses, worst first: id, source group, engine, hardware, model, metric,
    published value, the LOSO prediction and their ratio (predicted / published)."""
    f = s.prep.frame
    order = np.argsort(-np.abs(log_ratio), kind="stable")[:n]
    lines = [f"{'measurement_id':<44}{'engine':<8}{'hardware':<10}{'model':<18}{'metric':<29}{'published':>11}"
             f"{'model':>11}{'ratio':>7}  source"]
    for i in order:
        row = f.iloc[int(i)]
        pred = s.measured[i] * math.exp(log_ratio[i])
        lines.append(f"{str(row['measurement_id'])[:43]:<44}{s.engine[i]:<8}{str(row['hardware_id'])[:9]:<10}"
                     f"{str(row['model_id'])[:17]:<18}{str(row['metric'])[:28]:<29}{s.measured[i]:>11.4g}{pred:>11.4g}"
                     f"{math.exp(log_ratio[i]):>6.2f}x  {s.group[i]}")
    return "\n".join(lines)


def _jacobian(rows: Sequence[performance._Prepared], measured: FloatArray, eff: Efficiency,
              h: float = 1e-3) -> FloatArray:
    z = performance.efficiency_to_z(eff)
    cols = []
    for j in range(z.size):
        zp, zm = z.copy(), z.copy()
        zp[j] += h
        zm[j] -= h
        rp = performance.log_residuals(rows, measured, performance.efficiency_from_z(zp, eff))
        rm = performance.log_residuals(rows, measured, performance.efficiency_from_z(zm, eff))
        cols.append((rp - rm) / (2 * h))
    return np.stack(cols, axis=1)


def z_variance(rows: Sequence[performance._Prepared], measured: FloatArray, eff: Efficiency,
               fixed: Sequence[str] = ()) -> FloatArray:
    """Variance of each fitted coordinate from the residual spread: ``diag(s^2 (J^T J)^-1)``;
    ``inf`` for a direction the rows do not identify (and for the ``fixed`` fields, not fitted here:
    their columns are left out of ``J``). ``s`` is the robust scale of the residuals,
    ``1.4826 median |r|`` (the normal-consistent MAD; Huber & Ronchetti, *Robust Statistics*, §5.1),
    matching the pseudo-Huber fit: a few 100x misfits would otherwise set every standard error."""
    r = performance.log_residuals(rows, measured, eff)
    jac = _jacobian(rows, measured, eff)
    jac[:, [j for j, name in enumerate(performance.FIT_FIELDS) if name in fixed]] = 0.0
    s2 = float((1.4826 * np.median(np.abs(r))) ** 2 * len(r) / max(len(r) - jac.shape[1] + len(fixed), 1))
    jtj = jac.T @ jac
    var = np.full(jac.shape[1], np.inf)
    ok = np.diag(jtj) > 1e-12
    if ok.any():
        cov = np.linalg.pinv(jtj[np.ix_(ok, ok)], rcond=1e-10)
        var[ok] = s2 * np.maximum(np.diag(cov), 0.0)
    return var


def natural_std_errors(eff: Efficiency, var_z: FloatArray) -> dict[str, float]:
    """Standard errors in each constant's unit by the delta method (NaN where not identified)."""
    out = {}
    for j, name in enumerate(performance.FIT_FIELDS):
        v = float(getattr(eff, name))
        sd = math.sqrt(var_z[j]) if np.isfinite(var_z[j]) else math.inf
        slope = v * (1 - v) if name in performance.FRACTION_FIELDS else v  # d value / d z: logistic or exponential
        out[name] = slope * sd if sd <= 3.0 else math.nan
    return out


def range_percentiles(s: Scored, log_ratio: FloatArray, key: Key | None) -> tuple[float, float, int]:
    """Lower and upper end of a cell's nominal 80% range of LOSO speed residuals
    ``ln(measured speed / predicted speed)`` (rates and times pooled, a time's sign flipped), by the
    rule of :func:`estimator.uncertainty.band_for`; the cell's points (all points for :data:`ALL`)."""
    e = speed_residuals(s, log_ratio)
    family = tuple(k[1] if k is not None else v for k, v in zip(s.keys, s.vendor, strict=True))  # the cells' classes
    res = uncertainty.Residuals(engine=s.engine, vendor=family, kind=tuple(uncertainty.RATE for _ in e),
                                source_group=s.group, log_measured_over_predicted=e,
                                in_range_80=tuple(False for _ in e))
    if key is None or key == ALL:
        lo, hi = uncertainty.conformal_bounds(e)
        return lo, hi, len(e)
    b = uncertainty.band_for(key[0], key[1], uncertainty.RATE, res)
    return b.log_p10, b.log_p90, b.points


def csv_rows(s: Scored, fit: Fit, log_ratio: FloatArray, sha: str, today: dt.date) -> list[list[str]]:
    """The rows of ``data/calibration_engines.csv``."""
    rows: list[list[str]] = []
    all_idx = list(range(len(s.measured)))
    var_g = z_variance(s.prep.rows, s.measured, fit.global_eff)
    cells: list[tuple[Key, Efficiency, int, float, FloatArray]] = [(ALL, fit.global_eff, len(all_idx), 0.0, var_g)]
    for key, (eff, n) in sorted(fit.cells.items()):
        idx = [i for i, kk in enumerate(s.keys) if kk == key]
        w = n / (n + performance.SHRINK_POINTS)
        var_c = z_variance(_subset(s.prep.rows, idx), s.measured[idx], fit.raw[key], CELL_FIXED)
        var = w**2 * var_c + (1 - w) ** 2 * var_g
        held = [j for j, name in enumerate(performance.FIT_FIELDS) if name in CELL_FIXED]
        var[held] = var_g[held]  # not refitted by the cell: the global fit's value and error
        cells.append((key, eff, n, w, var))
    units = {"compute": "fraction", "low_precision_compute": "fraction", "memory": "fraction",
             "step_overhead_s": "s", "prefill_overhead_s": "s", "link_latency_s": "s", "sequence_overhead_s": "s",
             "moe_gemm": "fraction"}
    for key, eff, n, w, var in cells:
        se = natural_std_errors(eff, var)
        what = ("global refit: all scored points, the target the cells shrink toward" if key == ALL else
                f"shrunk toward the global refit with weight n/(n+k) = {n}/({n}+{performance.SHRINK_POINTS:g})")
        for name in performance.FIT_FIELDS:
            how_fit = (f"{what}; pseudo-Huber Nelder-Mead" if key == ALL or name not in CELL_FIXED else
                       "not refitted per cell: the global refit's value and standard error (CELL_FIXED, one factor "
                       "for all cells)")
            rows.append([key[0], key[1], name, f"{getattr(eff, name):.6g}", "" if math.isnan(se[name]) else f"{se[name]:.3g}",
                         units[name], str(n), f"{w:.4f}", sha, "false", SOURCE, today.isoformat(),
                         f"{how_fit}; standard error from the residual spread "
                         "(Jacobian), empty where the points do not identify the constant"])
        for name in performance.FIXED_FIELDS:
            rows.append([key[0], key[1], name, f"{getattr(eff, name):.6g}", "", units[name], str(n), f"{w:.4f}", sha,
                         "true", SOURCE, today.isoformat(),
                         "held fixed in every fit (assumed, not fitted): see estimator.performance.SEQUENCE_OVERHEAD_S"])
        lo, hi, used = range_percentiles(s, log_ratio, key)
        how = ("conformal order statistic of all" if key == ALL else
               f"conformal order statistic of the cell's {used} points shrunk toward all" if used >= RANGE_MIN_POINTS
               else f"cell under {RANGE_MIN_POINTS} points: conformal order statistic of all")
        for name, v in zip(performance.RANGE_CONSTANTS, (lo, hi), strict=True):
            rows.append([key[0], key[1], name, f"{v:.6g}", "", "log ratio", str(n), f"{w:.4f}", sha, "false",
                         SOURCE, today.isoformat(),
                         f"{how} leave-one-source-out residuals ln(measured/predicted speed) (10% / 90% ranks, "
                         "estimator.uncertainty.band_for): the nominal 80% range"])
    return rows


LOSO_FILE = "calibration_loso.csv"
"""Per-point leave-one-source-out predictions (in ``data/``), read back by ``bench/bench_performance.py``
and the coverage test."""

LOSO_COLUMNS: dict[str, str] = {
    "measurement_id": "VARCHAR", "engine": "VARCHAR", "vendor": "VARCHAR", "metric": "VARCHAR",
    "measured": "DOUBLE", "predicted": "DOUBLE", "log_ratio": "DOUBLE", "in_range_80": "BOOLEAN",
    "source_group": "VARCHAR", "measurements_sha256": "VARCHAR", "assumed": "BOOLEAN", "source": "VARCHAR",
    "as_of": "DATE", "notes": "VARCHAR",
}


def loso_rows(s: Scored, log_ratio: FloatArray, sha: str, today: dt.date) -> list[list[str]]:
    """The rows of ``data/calibration_loso.csv``: each scored point's held-out prediction."""
    inside = coverage_mask(s, log_ratio)
    f = s.prep.frame
    out = []
    for i, (mid, metric) in enumerate(zip(f["measurement_id"], f["metric"], strict=True)):
        pred = s.measured[i] * math.exp(log_ratio[i])
        out.append([str(mid), s.engine[i], s.vendor[i], str(metric), f"{s.measured[i]:.6g}", f"{pred:.6g}",
                    f"{log_ratio[i]:.6f}", "true" if inside[i] else "false", s.group[i], sha, "false", SOURCE,
                    today.isoformat(), "predicted by the global and engine x vendor fits without this source group"])
    return out


def write_csv(path: Path, rows: list[list[str]], columns: Sequence[str] = tuple(performance.CALIBRATION_COLUMNS)) -> None:
    """Write one of the calibration CSVs (header = ``columns``)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(list(columns))
        w.writerows(rows)


def read_loso(path: Path | None = None) -> tuple[Scored, FloatArray, str]:
    """The stored LOSO predictions aligned with :func:`load_scored` (and the hash they were made on).

    Raises ``ValueError`` where the stored file does not cover exactly the current scored rows."""
    from estimator import catalog

    p = path or performance._data_dir() / LOSO_FILE
    df = catalog.read_csv_typed(p, LOSO_COLUMNS).set_index("measurement_id")
    s = load_scored()
    ids = list(s.prep.frame["measurement_id"])
    if set(ids) != set(df.index):
        raise ValueError(f"{p.name} does not match the scored measurements; rerun bench/fit_performance.py")
    return s, df.loc[ids, "log_ratio"].to_numpy(float), str(df["measurements_sha256"].iloc[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--out", type=Path, default=None, help="folder of the two CSVs (default data/)")
    parser.add_argument("--moe-per-cell", action="store_true",
                        help="each cell refits the MoE grouped-GEMM factor too (the variant CELL_FIXED compares)")
    args = parser.parse_args()
    if args.moe_per_cell:
        global CELL_FIXED
        CELL_FIXED = ()
    t0 = time.perf_counter()
    s = load_scored()
    sha = measurements_sha256()
    print(f"{len(s.measured)} scored points from {len(set(s.group))} sources; skipped: {s.prep.skipped_counts()}")
    fit = fit_cells(s.prep.rows, s.measured, s.keys, performance.calibration_start())
    print(f"global refit: {fit.global_eff!r}")
    for key, (eff, n) in sorted(fit.cells.items()):
        print(f"{key[0]:>7} x {key[1]:<7} n={n:<4} {eff!r}")
    lr = loso_log_ratios(s, start=fit.global_eff)
    print("\n== Leave-one-source-out (targets: median |error| <= 10%, every point within 1.5x) ==")
    print(format_table(loso_table(s, lr)))
    if not args.no_write:
        today = dt.datetime.now(dt.UTC).date()
        out = args.out or performance._data_dir()
        write_csv(out / performance.CALIBRATION_FILE, csv_rows(s, fit, lr, sha, today))
        write_csv(out / LOSO_FILE, loso_rows(s, lr, sha, today), tuple(LOSO_COLUMNS))
        print(f"\nwrote {performance.CALIBRATION_FILE} and {LOSO_FILE} in {out} (measurements sha256 {sha[:16]}...)")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
