"""The range of every predicted quantity, from the model's leave-one-source-out errors.

``bench/fit_performance.py`` predicts every published measurement of ``data/measurements.csv``
with efficiency factors fitted *without* that measurement's source (leave-one-source-out, LOSO)
and stores the predictions in ``data/calibration_loso.csv``. Their residuals

    q = ln(measured / predicted)                                         (dimensionless)

are the model's honest out-of-sample error. For a prediction ``v`` of a **rate** (output tokens/s)
or a **time** (TTFT, TPOT, end-to-end) the nominal 80% range is

    v exp(min(lo, 0)) .. v exp(max(hi, 0))

built from the residuals of the same kind (rates and times apart: a time's error is not a rate's):

1. **Conformal order statistics.** Of ``n`` residuals sorted ``q_(1) <= ... <= q_(n)``, each tail of
   the 80% range takes the split-conformal rank (Vovk, Gammerman & Shafer 2005, *Algorithmic
   Learning in a Random World*; Lei et al. 2018, "Distribution-free predictive inference for
   regression", *JASA* 113(523), Thm 2.2 with miscoverage 0.1 per tail):

       lo = q_(floor((n + 1) 0.1)),   hi = q_(ceil((n + 1) 0.9))

   which covers a new exchangeable residual with probability >= 0.9 on each side. Below
   :data:`MIN_POINTS` (9) the ranks fall outside ``1..n``: the class has no range of its own.
2. **Shrinkage toward all classes.** The scenario's **engine x vendor** class with ``n >= 9``
   residuals from ``S`` sources gets ``lo = w lo_class + (1 - w) lo_all`` (same for ``hi``) with
   ``w = S / (S + k)``, ``k`` = :data:`SHRINK_SOURCES`; ``lo_all``, ``hi_all`` come from every
   residual of the kind. Sources, not points, set the weight: one source's points share its
   systematic error (the fit shrinks by points, ``estimator.performance.SHRINK_POINTS``, because
   there each point informs the constants). A class under 9 residuals takes ``lo_all``, ``hi_all``
   (:attr:`Band.level` ``all``); fewer than 9 residuals of the kind in all take their minimum and
   maximum (under-covering; :attr:`Band.basis` says so).
3. The band is widened to include ``q = 0`` so that the point estimate always lies in its range (a
   class whose every held-out point was slower than predicted would otherwise exclude it).

The range is empirical, not a model of the error: its coverage on sources it has not seen is
measured by :func:`loso_coverage`, each point's range built from the *other* sources' residuals
only (the same rule ``bench/fit_performance.py`` stores as ``in_range_80``).

Derived quantities (:func:`plan_ranges`) assume the error of the throughput carries over one to
one: at the same load a replica serving ``f`` times the predicted rate needs ``1/f`` times the
replicas, ``n_h' = clip(ceil(n_h / f), min, max)`` per hour, and the hourly cost scales with
``n_h' / n_h`` (committed floors and whole instances are not re-rounded). Latencies take the time
band at the planned fleet: the replica range and the latency range are two readings of the same
error (the planner either adds replicas or lets the latency grow), not both at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from estimator import performance
from estimator.errors import StoreError

__all__ = [
    "LOSO_FILE", "MIN_POINTS", "SHRINK_SOURCES", "Band", "Coverage", "GroupCoverage", "PerformanceRanges", "PlanRanges", "Range",
    "Residuals", "band_for", "conformal_bounds", "coverage_flags", "loso_coverage", "performance_ranges", "plan_ranges", "residuals",
]

LOSO_FILE: str = "calibration_loso.csv"
"""Per-measurement leave-one-source-out predictions in ``data/``, written by ``bench/fit_performance.py``."""

LOSO_COLUMNS: dict[str, str] = {
    "measurement_id": "VARCHAR", "engine": "VARCHAR", "vendor": "VARCHAR", "metric": "VARCHAR",
    "measured": "DOUBLE", "predicted": "DOUBLE", "log_ratio": "DOUBLE", "in_range_80": "BOOLEAN",
    "source_group": "VARCHAR", "measurements_sha256": "VARCHAR", "assumed": "BOOLEAN", "source": "VARCHAR",
    "as_of": "DATE", "notes": "VARCHAR",
}
"""Columns of :data:`LOSO_FILE` (DuckDB types; ``log_ratio`` is ``ln(predicted / measured)``)."""

QUANTILES: tuple[float, float] = (0.1, 0.9)
"""The band's tails: 10% below, 10% above, a nominal 80% range."""

MIN_POINTS: int = 9
"""Fewest residuals whose conformal ranks ``floor((n + 1) 0.1)`` and ``ceil((n + 1) 0.9)`` both lie in
``1..n`` (:func:`conformal_bounds`): a class with fewer has no range of its own."""

SHRINK_SOURCES: float = 5.0
"""``k`` of the shrinkage weight ``S / (S + k)`` of a class with ``S`` sources: a class's own quantiles
get half the weight at 5 independent sources (an assumed prior strength, not fitted; the measured
LOSO coverage stays at 71-74% between k = 1 and k = 20, ``tests/test_uncertainty.py``)."""

RATE, TIME = "rate", "time"

FloatArray = npt.NDArray[np.float64]


class Range(BaseModel):
    """A predicted ``value`` with its nominal 80% range ``low .. high`` (same unit) and where the range comes from."""

    model_config = ConfigDict(frozen=True)

    low: float
    value: float
    high: float
    basis: str


class Band(BaseModel):
    """The nominal 80% band of ``ln(measured / predicted)`` for one kind of quantity in one class.

    ``level`` is ``engine x vendor`` (the class's conformal ends shrunk toward all classes' with
    ``weight``) or ``all`` (every engine and vendor; ``weight`` 0); ``points``/``sources`` count the
    class's own residuals (0 at level ``all`` when it has none). ``log_p10``/``log_p90`` are the
    lower and upper ends (10% and 90% conformal order statistics, shrunk), ``log_low``/``log_high``
    the band widened to include 0."""

    model_config = ConfigDict(frozen=True)

    kind: str
    engine: str
    vendor: str
    level: str
    points: int
    sources: int
    weight: float
    log_p10: float
    log_p90: float
    basis: str

    @property
    def log_low(self) -> float:
        return min(self.log_p10, 0.0)

    @property
    def log_high(self) -> float:
        return max(self.log_p90, 0.0)

    def range(self, value: float) -> Range:
        """``value exp(log_low) .. value exp(log_high)`` (a non-finite value keeps itself at both ends)."""
        if not math.isfinite(value):
            return Range(low=value, value=value, high=value, basis=self.basis)
        return Range(low=value * math.exp(self.log_low), value=value, high=value * math.exp(self.log_high),
                     basis=self.basis)


@dataclass(frozen=True)
class Residuals:
    """The stored LOSO residuals, one entry per scored measurement (``q = ln(measured / predicted)``)."""

    engine: tuple[str, ...]
    vendor: tuple[str, ...]
    kind: tuple[str, ...]
    source_group: tuple[str, ...]
    log_measured_over_predicted: FloatArray
    in_range_80: tuple[bool, ...]
    """The coverage flags ``bench/fit_performance.py`` stored (the rule of :func:`band_for`)."""


@lru_cache(maxsize=4)
def _residuals(path: str, _mtime_ns: int) -> Residuals:
    from estimator import catalog

    df = catalog.read_csv_typed(Path(path), LOSO_COLUMNS)
    kind = tuple(TIME if str(m) in performance.TIME_METRICS else RATE for m in df["metric"])
    return Residuals(
        engine=tuple(performance.canonical_engine(str(e)) for e in df["engine"]),
        vendor=tuple(str(v).strip().lower() for v in df["vendor"]), kind=kind,
        source_group=tuple(str(g) for g in df["source_group"]),
        log_measured_over_predicted=-df["log_ratio"].to_numpy(dtype=float),
        in_range_80=tuple(bool(x) for x in df["in_range_80"]))


def residuals(path: str | Path | None = None) -> Residuals:
    """The residuals of :data:`LOSO_FILE` (re-read when the file changes). Raises :class:`StoreError`
    when the file is missing (run ``bench/fit_performance.py``)."""
    p = Path(path) if path is not None else performance._data_dir() / LOSO_FILE
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as exc:
        raise StoreError(f"{p.name} is missing: run bench/fit_performance.py to write it") from exc
    return _residuals(str(p), mtime)


def conformal_bounds(q: FloatArray) -> tuple[float, float]:
    """``(q_(floor((n+1) 0.1)), q_(ceil((n+1) 0.9)))`` of the sorted residuals (1-based ranks), with
    ``-inf``/``+inf`` where a rank falls outside ``1..n`` (``n <`` :data:`MIN_POINTS`); split-conformal
    ranks, Lei et al. 2018 *JASA* 113(523) Thm 2.2. ``q`` of ``n = 9``: the 1st and the 9th value."""
    x = np.sort(np.asarray(q, dtype=float))
    n = x.size
    k_lo, k_hi = math.floor((n + 1) * QUANTILES[0]), math.ceil((n + 1) * QUANTILES[1])
    lo = float(x[k_lo - 1]) if 1 <= k_lo <= n else -math.inf
    hi = float(x[k_hi - 1]) if 1 <= k_hi <= n else math.inf
    return lo, hi


def _pool_bounds(q: FloatArray) -> tuple[float, float, bool]:
    """Conformal ends of all residuals of a kind, else (under :data:`MIN_POINTS`) their min and max."""
    lo, hi = conformal_bounds(q)
    if math.isfinite(lo) and math.isfinite(hi):
        return lo, hi, True
    return float(q.min()), float(q.max()), False


def _fmt_band(kind: str, where: str, lo: float, hi: float) -> str:
    return (f"80% range of leave-one-source-out {kind} errors of {where}: x{math.exp(min(lo, 0.0)):.2f} to "
            f"x{math.exp(max(hi, 0.0)):.2f}" + (" (widened to include the estimate)" if lo > 0 or hi < 0 else ""))


def band_for(engine: str | None, vendor: str | None, kind: str, res: Residuals | None = None,
             exclude_group: str | None = None) -> Band:
    """The band of ``kind`` (:data:`RATE` or :data:`TIME`) for ``engine`` on ``vendor`` (module docstring:
    conformal ends of the engine x vendor class shrunk toward all classes' by ``S / (S + k)``).

    ``exclude_group`` leaves one source's residuals out (the coverage check). Raises
    :class:`StoreError` when no residual of that kind exists."""
    r = res if res is not None else residuals()
    e, v = performance.canonical_engine(engine), (vendor or "").strip().lower()
    base = [i for i, k in enumerate(r.kind) if k == kind and (exclude_group is None or r.source_group[i] != exclude_group)]
    if not base:
        raise StoreError(f"no leave-one-source-out residuals of {kind}s in {LOSO_FILE}")
    q = r.log_measured_over_predicted
    g_lo, g_hi, exact = _pool_bounds(q[base])
    cell = [i for i in base if r.engine[i] == e and r.vendor[i] == v]
    n_src = len({r.source_group[i] for i in cell})
    every = f"all {len(base)} of every engine and vendor" + ("" if exact else " (min to max: too few for the 80% ranks)")
    if len(cell) >= MIN_POINTS:
        c_lo, c_hi = conformal_bounds(q[cell])
        w = n_src / (n_src + SHRINK_SOURCES)
        lo, hi = w * c_lo + (1 - w) * g_lo, w * c_hi + (1 - w) * g_hi
        where = (f"{e} x {v} ({len(cell)} points from {n_src} sources, weight {w:.2f}) shrunk toward {every}")
        level = "engine x vendor"
    else:
        w, lo, hi, level = 0.0, g_lo, g_hi, "all"
        where = f"{every} ({e} x {v} has {len(cell)}, fewer than {MIN_POINTS})"
    return Band(kind=kind, engine=e, vendor=v, level=level, points=len(cell), sources=n_src, weight=w,
                log_p10=lo, log_p90=hi, basis=_fmt_band(kind, where, lo, hi))


# ----------------------------------------------------------------------------- coverage


@dataclass(frozen=True)
class GroupCoverage:
    """Share of one group's held-out points inside the range built without their source."""

    group: str
    points: int
    share: float


@dataclass(frozen=True)
class Coverage:
    """LOSO coverage of the nominal 80% range as this module builds it, and the bench's figure."""

    share: float
    points: int
    by_engine: tuple[GroupCoverage, ...]
    by_vendor: tuple[GroupCoverage, ...]
    by_kind: tuple[GroupCoverage, ...]
    bench_share: float
    """Share of the stored ``in_range_80`` flags: what ``bench/bench_performance.py`` prints (the same
    rule, computed by ``bench/fit_performance.py`` when it wrote the file)."""


def _groups(labels: Sequence[str], inside: npt.NDArray[np.bool_]) -> tuple[GroupCoverage, ...]:
    lab = np.array(labels)
    return tuple(GroupCoverage(g, int((lab == g).sum()), float(inside[lab == g].mean())) for g in sorted(set(labels)))


def coverage_flags(r: Residuals) -> npt.NDArray[np.bool_]:
    """Whether each residual lies in the band built from the *other* sources' residuals
    (:func:`band_for` with ``exclude_group``): ``log_low_i <= q_i <= log_high_i``."""
    q = r.log_measured_over_predicted
    inside = np.zeros(q.size, dtype=bool)
    for i in range(q.size):
        b = band_for(r.engine[i], r.vendor[i], r.kind[i], r, exclude_group=r.source_group[i])
        inside[i] = b.log_low <= q[i] <= b.log_high
    return inside


def loso_coverage(res: Residuals | None = None) -> Coverage:
    """Share of points whose residual lies in the band built from the *other* sources' residuals
    (:func:`coverage_flags`): ``mean_i [log_low_i <= q_i <= log_high_i]``."""
    r = res if res is not None else residuals()
    q = r.log_measured_over_predicted
    inside = coverage_flags(r)
    return Coverage(share=float(inside.mean()) if q.size else math.nan, points=int(q.size),
                    by_engine=_groups(r.engine, inside), by_vendor=_groups(r.vendor, inside),
                    by_kind=_groups(r.kind, inside),
                    bench_share=float(np.mean(r.in_range_80)) if r.in_range_80 else math.nan)


# ----------------------------------------------------------------------------- propagation


class PerformanceRanges(BaseModel):
    """Ranges of the Latency & throughput page's figures and the two bands they come from."""

    model_config = ConfigDict(frozen=True)

    ttft_s: Range
    tpot_s: Range
    e2e_s: Range
    output_tokens_per_s: Range
    max_output_tokens_per_s: Range
    best_output_tokens_per_s: Range | None
    rate_band: Band
    time_band: Band


def performance_ranges(engine: str | None, vendor: str | None, *, ttft_s: float, tpot_s: float, e2e_s: float,
                       output_tokens_per_s: float, max_output_tokens_per_s: float,
                       best_output_tokens_per_s: float | None) -> PerformanceRanges:
    """Times take the time band, throughputs the rate band of ``engine`` x ``vendor`` (:func:`band_for`)."""
    rb, tb = band_for(engine, vendor, RATE), band_for(engine, vendor, TIME)
    return PerformanceRanges(
        ttft_s=tb.range(ttft_s), tpot_s=tb.range(tpot_s), e2e_s=tb.range(e2e_s),
        output_tokens_per_s=rb.range(output_tokens_per_s), max_output_tokens_per_s=rb.range(max_output_tokens_per_s),
        best_output_tokens_per_s=None if best_output_tokens_per_s is None else rb.range(best_output_tokens_per_s),
        rate_band=rb, time_band=tb)


class PlanRanges(BaseModel):
    """Nominal 80% ranges of a capacity plan's headline figures (:func:`plan_ranges`)."""

    model_config = ConfigDict(frozen=True)

    monthly_cost_usd: Range
    cost_usd_per_million_output_tokens: Range
    cost_usd_per_request: Range
    peak_replicas: Range
    output_tokens_per_s_per_replica: Range
    ttft_p95_s: Range
    e2e_p95_s: Range
    assumption: str


def scaled_replicas(replicas_by_hour: Sequence[int], throughput_factor: float, min_replicas: int,
                    max_replicas: int) -> npt.NDArray[np.int64]:
    """``n_h' = clip(ceil(n_h / f), min, max)`` for hours with ``n_h > 0`` (idle hours stay 0): the
    replicas at the same load when a replica serves ``f`` times the predicted rate."""
    n = np.asarray(replicas_by_hour, dtype=float)
    scaled = np.clip(np.ceil(n / throughput_factor - 1e-9), min_replicas, max(max_replicas, min_replicas))
    return np.where(n > 0, scaled, n).astype(np.int64)


def _cost_ratio(replicas_by_hour: Sequence[int], cost_usd_by_hour: Sequence[float], scaled: npt.NDArray[np.int64]) -> float:
    """``sum_h c_h n_h'/n_h / sum_h c_h`` (hours without replicas keep their cost); 1 without cost."""
    n, c = np.asarray(replicas_by_hour, dtype=float), np.asarray(cost_usd_by_hour, dtype=float)
    total = float(c.sum())
    if total <= 0 or not math.isfinite(total):
        return 1.0
    ratio = np.divide(scaled, n, out=np.ones_like(n), where=n > 0)
    return float((c * ratio).sum() / total)


def plan_ranges(engine: str | None, vendor: str | None, *, replicas_by_hour: Sequence[int],
                cost_usd_by_hour: Sequence[float], min_replicas: int, max_replicas: int, monthly_cost_usd: float,
                cost_usd_per_million_output_tokens: float, cost_usd_per_request: float,
                output_tokens_per_s_per_replica: float, ttft_p95_s: float, e2e_p95_s: float) -> PlanRanges:
    """A plan's ranges: replicas and cost from the rate band (:func:`scaled_replicas`; the low end
    at ``f = exp(log_high)``, the high end at ``f = exp(log_low)``), latencies from the time band."""
    rb, tb = band_for(engine, vendor, RATE), band_for(engine, vendor, TIME)
    ends = []
    for f in (math.exp(rb.log_high), math.exp(rb.log_low)):  # fewest replicas first
        n = scaled_replicas(replicas_by_hour, f, min_replicas, max_replicas)
        ends.append((int(n.max()) if n.size else 0, _cost_ratio(replicas_by_hour, cost_usd_by_hour, n)))
    (n_lo, c_lo), (n_hi, c_hi) = ends
    peak = max(replicas_by_hour, default=0)
    basis = f"replicas at the same load scale with 1 / throughput; {rb.basis}"

    def cost(v: float) -> Range:
        return Range(low=v * c_lo, value=v, high=v * c_hi, basis=basis)

    return PlanRanges(
        monthly_cost_usd=cost(monthly_cost_usd), cost_usd_per_million_output_tokens=cost(cost_usd_per_million_output_tokens),
        cost_usd_per_request=cost(cost_usd_per_request),
        peak_replicas=Range(low=n_lo, value=peak, high=n_hi, basis=basis),
        output_tokens_per_s_per_replica=rb.range(output_tokens_per_s_per_replica),
        ttft_p95_s=tb.range(ttft_p95_s), e2e_p95_s=tb.range(e2e_p95_s),
        assumption=("Ranges are the conformal 10%/90% order statistics of the model's leave-one-source-out "
                    f"errors (data/{LOSO_FILE}; nominal 80%), the engine x vendor class shrunk toward all classes. Replicas: n_h' = clip(ceil(n_h / f), min, max) with f the "
                    "throughput error, hourly cost scaled by n_h'/n_h (committed floors and whole instances not "
                    "re-rounded). Latencies: the time band at the planned fleet. Replicas and latencies are two "
                    "readings of one error, not both at once."))
