"""Published replicates: the same configuration measured more than once, and the error floor it sets.

A performance model takes the configuration (model, accelerator, weight and KV-cache dtype,
parallelism, lengths, batch or concurrency, scenario, engine) and returns one number. Where
``data/measurements.csv`` holds two or more scored rows with the same inputs, no such model can
match them all: the spread between them is an error floor. This module groups the rows and
computes that floor in the units the calibration is scored in (``bench/fit_performance.py``):

* the relative error of one point, ``e_i = |p / x_i - 1|`` (dimensionless), and the group's
  median of it (``numpy.median``: the mean of the two middle values for an even count);
* the factor error of one point, ``max(p / x_i, x_i / p)`` (1 = exact), and the group's worst.

Throughputs are compared per accelerator: a row with metric ``output_tokens_per_s`` covers
``gpus`` accelerators (``estimator.performance.load_measurements``), so its value is divided by
``gpus`` and grouped with ``output_tokens_per_s_per_gpu`` rows.

Pure functions; values are in the metric's own unit (tokens/s per GPU or seconds) and only ratios
of them enter the floors, so every floor is scale-invariant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from estimator.errors import InvalidInputError

__all__ = [
    "INPUT_KEYS",
    "ReplicateFloor",
    "ReplicateGroup",
    "ReplicateRow",
    "cross_engine_groups",
    "forced_misses",
    "min_median_abs_error",
    "replicate_floor",
    "replicate_groups",
    "replicate_rows",
    "same_engine_groups",
]

#: The model's inputs that define "the same configuration" (the engine is added per view).
INPUT_KEYS: tuple[str, ...] = (
    "model_id", "hardware_id", "dtype", "kv_dtype", "tp", "pp", "gpus", "attention_dp", "scenario",
    "batch", "concurrency", "input_tokens", "output_tokens", "metric",
)

#: A relative error of at most 10% on every point of a group needs max/min <= 1.1 / 0.9.
TEN_PERCENT_WINDOW_RATIO = 1.1 / 0.9
#: A factor error of at most 1.5x on every point of a group needs max/min <= 1.5 ** 2.
FACTOR_1_5_WINDOW_RATIO = 1.5**2


@dataclass(frozen=True)
class ReplicateFloor:
    """The smallest errors any single prediction ``p`` can reach on one group of replicates.

    ``spread_ratio`` = max/min; ``geometric_midpoint_value`` = sqrt(max * min), the ``p`` that
    minimises the worst factor error, which is then ``min_worst_factor`` = sqrt(max/min);
    ``min_median_abs_error`` = min over p of median_i |p/x_i - 1| at ``median_optimal_value``;
    ``forced_misses_10pct`` / ``forced_misses_1_5x``: the fewest rows that must fall outside
    10% relative error / outside a factor of 1.5 whatever ``p`` is.
    """

    points: int
    spread_ratio: float
    geometric_midpoint_value: float
    min_worst_factor: float
    min_median_abs_error: float
    median_optimal_value: float
    forced_misses_10pct: int
    forced_misses_1_5x: int


@dataclass(frozen=True)
class ReplicateRow:
    """One scored measurement as the grouping sees it (``value`` per accelerator for throughputs)."""

    measurement_id: str
    value: float
    engine: str
    engine_version: str
    source: str
    url: str
    as_of: str
    hardware_id: str


@dataclass(frozen=True)
class ReplicateGroup:
    """Rows with equal inputs (``key``: ``(column, normalised value)`` pairs) and their floor."""

    key: tuple[tuple[str, str], ...]
    rows: tuple[ReplicateRow, ...]
    floor: ReplicateFloor

    @property
    def engines(self) -> tuple[str, ...]:
        """The distinct engines of the rows, sorted."""
        return tuple(sorted({r.engine for r in self.rows}))

    def get(self, column: str) -> str:
        """The normalised key value of ``column`` ("" when the key lacks it)."""
        return dict(self.key).get(column, "")


def _checked_values(values: Iterable[float]) -> np.ndarray:
    x = np.asarray([float(v) for v in values], dtype=float)
    if x.size == 0:
        raise InvalidInputError("a replicate group needs at least one value")
    if not np.all(np.isfinite(x)) or np.any(x <= 0.0):
        raise InvalidInputError(f"replicate values must be finite and > 0, got {x.tolist()}")
    return x


def min_median_abs_error(values: Sequence[float]) -> tuple[float, float]:
    """``(min_p median_i |p/x_i - 1|, the p that reaches it)`` for positive values ``x_i``.

    Equation: g(p) = median_i |p/x_i - 1| (dimensionless; ``numpy.median``). Each term is linear in
    p on either side of p = x_i, and two terms cross only where p/x_i - 1 = 1 - p/x_j, i.e. at the
    harmonic mean p = 2 x_i x_j / (x_i + x_j). So g is piecewise linear with breakpoints only at
    the x_i and those harmonic means; it falls for p < min x and rises for p > max x, hence its
    minimum lies at one of these O(n^2) candidates, all of which are evaluated (exact, no search).
    Two values a < b give (1 - a/b) / 2 at p = a (errors 0 and 1 - a/b; on [a, b] g rises with p).
    Source: the scoring rule of ``bench/fit_performance.py`` (``score``: median |pred/measured - 1|).
    """
    x = _checked_values(values)
    pairs = 2.0 * np.outer(x, x) / np.add.outer(x, x)
    candidates = np.unique(np.concatenate([x, pairs.ravel()]))
    errors = np.median(np.abs(candidates[:, None] / x[None, :] - 1.0), axis=1)
    best = int(np.argmin(errors))
    return float(errors[best]), float(candidates[best])


def forced_misses(values: Sequence[float], window_ratio: float) -> int:
    """The fewest values outside a tolerance band whatever single prediction ``p`` is made.

    A band of relative error ``tol`` holds x with |p/x - 1| <= tol, i.e. p/(1+tol) <= x <= p/(1-tol):
    values fit together iff max/min <= (1+tol)/(1-tol) (= ``TEN_PERCENT_WINDOW_RATIO`` for 10%). A
    factor band ``f`` holds x with p/f <= x <= p f: max/min <= f^2 (``FACTOR_1_5_WINDOW_RATIO``).
    Result = n - (largest count of sorted values x_i..x_j with x_j / x_i <= ``window_ratio``).
    """
    if not window_ratio >= 1.0:
        raise InvalidInputError(f"window_ratio must be >= 1, got {window_ratio}")
    x = np.sort(_checked_values(values))
    hi = np.searchsorted(x, x * window_ratio, side="right")
    return int(x.size - int(np.max(hi - np.arange(x.size))))


def replicate_floor(values: Sequence[float]) -> ReplicateFloor:
    """The error floor of one group of replicates (see :class:`ReplicateFloor`).

    Equations: r = max/min; the worst factor error max_i max(p/x_i, x_i/p) is smallest at the
    geometric midpoint p = sqrt(max * min), where it equals sqrt(r) (the "every point within 1.5x"
    target of issue 12 is then out of reach for the group iff r > 2.25); the median relative
    error floor is :func:`min_median_abs_error`. For two rows, sqrt(r) - 1 is the relative error
    of the upper row at the geometric midpoint. Source: issue 12 scoring (median |error|, worst
    factor) as in ``bench/fit_performance.py``.
    """
    x = _checked_values(values)
    lo, hi = float(x.min()), float(x.max())
    err, at = min_median_abs_error(x.tolist())
    return ReplicateFloor(
        points=int(x.size), spread_ratio=hi / lo, geometric_midpoint_value=math.sqrt(hi * lo),
        min_worst_factor=math.sqrt(hi / lo), min_median_abs_error=err, median_optimal_value=at,
        forced_misses_10pct=forced_misses(x.tolist(), TEN_PERCENT_WINDOW_RATIO),
        forced_misses_1_5x=forced_misses(x.tolist(), FACTOR_1_5_WINDOW_RATIO),
    )


def _norm(column: str, value: object) -> str:
    """A key value as text: empty for missing, integers without ``.0``, flags as true/false."""
    missing = value is None or (not isinstance(value, str) and bool(pd.isna(value)))  # type: ignore[call-overload]
    if column == "attention_dp":
        return "true" if not missing and str(value).strip().lower() in ("true", "1", "1.0", "yes") else "false"
    if missing:
        return ""
    if isinstance(value, float | int | np.floating | np.integer) and not isinstance(value, bool):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    return str(value).strip().lower()


def _text(value: object) -> str:
    return "" if value is None or (not isinstance(value, str) and bool(pd.isna(value))) else str(value)  # type: ignore[call-overload]


def replicate_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The scored rows of a measurements frame (``excluded_reason`` empty) with throughputs per GPU.

    Adds ``group_metric`` (``output_tokens_per_s_per_gpu`` for both throughput metrics, else the
    metric) and ``group_value`` (``value / gpus`` for ``output_tokens_per_s``, else ``value``;
    tokens/s per accelerator, or seconds). Rows whose throughput lacks ``gpus`` keep the system
    metric and value.
    """
    reason = frame["excluded_reason"] if "excluded_reason" in frame.columns else pd.Series("", index=frame.index)
    scored = frame[reason.fillna("").astype(str).str.strip() == ""].copy()
    gpus = pd.to_numeric(scored["gpus"], errors="coerce")
    system = (scored["metric"] == "output_tokens_per_s") & (gpus > 0)
    scored["group_metric"] = scored["metric"].where(~system, "output_tokens_per_s_per_gpu")
    scored["group_value"] = scored["value"].astype(float).where(~system, scored["value"].astype(float) / gpus)
    return scored


def _row(rec: pd.Series) -> ReplicateRow:
    return ReplicateRow(
        measurement_id=_text(rec.get("measurement_id")), value=float(rec["group_value"]),
        engine=_text(rec.get("engine")).strip().lower(), engine_version=_text(rec.get("engine_version")),
        source=_text(rec.get("source")), url=_text(rec.get("url")), as_of=_text(rec.get("as_of")),
        hardware_id=_text(rec.get("hardware_id")),
    )


def replicate_groups(frame: pd.DataFrame, keys: Sequence[str] = INPUT_KEYS, by_engine: bool = False,
                     min_rows: int = 2) -> tuple[ReplicateGroup, ...]:
    """Groups of at least ``min_rows`` scored rows equal on ``keys`` (plus the engine if ``by_engine``).

    ``metric`` in ``keys`` compares the per-GPU ``group_metric`` of :func:`replicate_rows`; each
    group carries its :func:`replicate_floor` over ``group_value``. Sorted by spread, widest first.
    """
    rows = replicate_rows(frame)
    cols = [*keys, "engine"] if by_engine else list(keys)
    buckets: dict[tuple[tuple[str, str], ...], list[ReplicateRow]] = {}
    for _, rec in rows.iterrows():
        key = tuple((c, _norm(c, rec["group_metric"] if c == "metric" else rec.get(c))) for c in cols)
        buckets.setdefault(key, []).append(_row(rec))
    out = [ReplicateGroup(k, tuple(v), replicate_floor([r.value for r in v]))
           for k, v in buckets.items() if len(v) >= min_rows]
    return tuple(sorted(out, key=lambda g: (-g.floor.spread_ratio, g.key)))


def same_engine_groups(frame: pd.DataFrame, keys: Sequence[str] = INPUT_KEYS) -> tuple[ReplicateGroup, ...]:
    """View (a): same inputs and same engine (different version or source): a model that knows the
    engine but not its version must predict one number for the whole group."""
    return replicate_groups(frame, keys, by_engine=True)


def cross_engine_groups(frame: pd.DataFrame, keys: Sequence[str] = INPUT_KEYS) -> tuple[ReplicateGroup, ...]:
    """View (b): same inputs, more than one engine: the spread the engine input must explain."""
    return tuple(g for g in replicate_groups(frame, keys) if len(g.engines) > 1)
