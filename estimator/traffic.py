"""Traffic over a representative week and token-length distributions.

A week has 168 hours, hour 0 being Monday 00:00-01:00 (ISO 8601 weeks start on Monday). Every
pattern produces two hourly arrays of arrival rates in requests per second:

- ``mean_rps``: the average rate over the hour (what bills and energy follow);
- ``peak_rps``: the highest rate sustained inside the hour (what the fleet must absorb; it
  differs from the mean only inside bursts).

Patterns (``Scenario.traffic.pattern``):

- **steady**: ``s(h) = 1``.
- **diurnal**: a daily sinusoid with peak-to-trough ratio ``r`` peaking at hour ``h_p``::

      s(h) = 1 + a cos(2 pi (h - h_p) / 24),   a = (r - 1) / (r + 1)

  so that ``max s / min s = (1 + a) / (1 - a) = r``.
- **business hours**: weekdays 1 inside ``[start, end)`` and ``1/r`` outside; weekend hours are
  the weekday level times the weekend factor.
- **bursty**: a flat base with ``round(7 B)`` bursts a week of height ``X`` (a multiple of the
  base) lasting ``D`` minutes, evenly spaced; an hour covered for a fraction ``f`` of its length
  has mean ``1 + (X - 1) f`` and peak ``X``.
- **custom**: 168 hourly values (relative; only the shape matters), edited or uploaded as CSV.

Volume is requests per day (the weekly mean of ``mean_rps`` is ``R/86,400``) or the peak
requests per second (the weekly maximum of ``peak_rps``). Monthly growth ``g`` scales month
``k`` by ``(1 + g)^k``.

Token lengths are distributions, not single numbers: from a mean and a 95th percentile a
lognormal is fitted (prompt and completion lengths of production LLM traffic are right-skewed and
close to lognormal; Wang et al. 2024 "BurstGPT", arXiv:2401.17644, §3.3 fits Zipf/lognormal-like
shapes), or an uploaded histogram is used as an empirical distribution.

Nothing here imports Streamlit; all arrays are numpy float64.
"""

from __future__ import annotations

import csv
import io
import math
from functools import lru_cache
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from estimator.errors import InvalidInputError
from estimator.scenario import Traffic, TrafficPattern, Volume

__all__ = [
    "HOURS_PER_WEEK",
    "SECONDS_PER_DAY",
    "Z95",
    "LOGNORMAL_MAX_P95_OVER_MEAN",
    "TokenDistribution",
    "WeeklyLoad",
    "weekly_shape",
    "weekly_load",
    "growth_factors",
    "parse_custom_profile",
    "parse_histogram",
    "day_hour_labels",
]

FloatArray = npt.NDArray[np.float64]

HOURS_PER_WEEK: int = 168
SECONDS_PER_DAY: float = 86_400.0
Z95: float = 1.6448536269514722
"""Standard normal 95th percentile (Phi^-1(0.95))."""

LOGNORMAL_MAX_P95_OVER_MEAN: float = math.exp(Z95**2 / 2.0)
"""Largest p95/mean ratio a lognormal can have: exp(z^2/2) = 3.87 (at sigma = z_0.95).

From ``p95/mean = exp(z sigma - sigma^2/2)``, maximal at ``sigma = z``."""

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def day_hour_labels() -> list[str]:
    """``["Mon 00:00", ..., "Sun 23:00"]``: labels of the 168 hours of the week."""
    return [f"{_DAYS[h // 24]} {h % 24:02d}:00" for h in range(HOURS_PER_WEEK)]


# ---------------------------------------------------------------- token distributions


@lru_cache(maxsize=16)
def _standard_normal_points(k: int) -> FloatArray:
    """Standard normal quantiles at ``(j + 1/2)/k`` (read-only), as :meth:`TokenDistribution.quantile` computes them."""
    qq = np.clip((np.arange(k) + 0.5) / k, 1e-9, 1 - 1e-9)
    z = np.array([NormalDist().inv_cdf(float(x)) for x in qq], dtype=float)
    z.flags.writeable = False
    return z


class TokenDistribution(BaseModel):
    """Distribution of a per-request token count (prompt or completion).

    ``lognormal``: ``ln N ~ Normal(mu, sigma)``, clipped to ``[1, max_tokens]``.
    ``empirical``: ``values`` with probabilities ``probs`` (an uploaded histogram).
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["lognormal", "empirical"]
    mean: float = Field(gt=0, description="tokens, before clipping")
    p95: float = Field(gt=0, description="tokens")
    mu: float = 0.0
    sigma: float = Field(default=0.0, ge=0)
    values: tuple[float, ...] = ()
    probs: tuple[float, ...] = ()
    max_tokens: float = Field(default=math.inf, gt=0)
    note: str = ""

    @classmethod
    def from_mean_p95(cls, mean: float, p95: float, max_tokens: float = math.inf) -> TokenDistribution:
        """Lognormal with the given mean and 95th percentile (tokens).

        Notes
        -----
        With ``m`` the mean and ``q`` the p95: ``m = exp(mu + sigma^2/2)`` and
        ``q = exp(mu + z sigma)`` (z = 1.645), so ``sigma^2/2 - z sigma + ln(q/m) = 0`` and
        ``sigma = z - sqrt(z^2 - 2 ln(q/m))`` (the smaller root: the less skewed fit),
        ``mu = ln m - sigma^2/2``. A lognormal cannot have ``q/m > exp(z^2/2) = 3.87``; then
        ``sigma = z`` keeps the mean and the note says the p95 was lowered.

        >>> d = TokenDistribution.from_mean_p95(1000, 3000)
        >>> round(d.sigma, 3), round(float(np.exp(d.mu + d.sigma**2 / 2)))
        (0.932, 1000)
        """
        if not (math.isfinite(mean) and mean > 0 and math.isfinite(p95) and p95 > 0):
            raise InvalidInputError(f"token mean and p95 must be positive numbers, got {mean} and {p95}")
        if p95 < mean:
            raise InvalidInputError(f"the p95 ({p95:,.0f} tokens) must be at least the mean ({mean:,.0f})")
        ratio = p95 / mean
        note = ""
        if ratio <= 1.0 + 1e-12:
            sigma = 0.0
        elif ratio > LOGNORMAL_MAX_P95_OVER_MEAN:
            sigma = Z95
            note = (
                f"p95/mean = {ratio:.2f} is more skewed than a lognormal allows (at most "
                f"{LOGNORMAL_MAX_P95_OVER_MEAN:.2f}); the mean is kept and the p95 becomes "
                f"{mean * LOGNORMAL_MAX_P95_OVER_MEAN:,.0f} tokens. Upload a histogram for a heavier tail."
            )
        else:
            sigma = Z95 - math.sqrt(Z95**2 - 2.0 * math.log(ratio))
        mu = math.log(mean) - sigma**2 / 2.0
        return cls(kind="lognormal", mean=float(mean), p95=float(math.exp(mu + Z95 * sigma)), mu=mu, sigma=sigma,
                   max_tokens=max_tokens, note=note)

    @classmethod
    def from_histogram(cls, tokens: npt.ArrayLike, counts: npt.ArrayLike,
                       max_tokens: float = math.inf) -> TokenDistribution:
        """Empirical distribution from histogram bins (token count, number of requests).

        >>> d = TokenDistribution.from_histogram([100, 1000], [3, 1])
        >>> d.mean
        325.0
        """
        t = np.asarray(tokens, dtype=float).ravel()
        c = np.asarray(counts, dtype=float).ravel()
        if t.size == 0 or t.size != c.size:
            raise InvalidInputError("a histogram needs as many counts as token bins, and at least one bin")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(c))):
            raise InvalidInputError("histogram tokens and counts must be finite numbers")
        if np.any(t < 1):
            raise InvalidInputError("histogram token counts must be at least 1")
        if np.any(c < 0) or c.sum() <= 0:
            raise InvalidInputError("histogram counts must be non-negative with a positive total")
        order = np.argsort(t)
        t, c = t[order], c[order]
        p = c / c.sum()
        mean = float(np.sum(t * p))
        cdf = np.cumsum(p)
        p95 = float(t[min(int(np.searchsorted(cdf, 0.95 - 1e-12)), t.size - 1)])
        return cls(kind="empirical", mean=mean, p95=p95, values=tuple(float(x) for x in t),
                   probs=tuple(float(x) for x in p), max_tokens=max_tokens)

    def quantile(self, q: npt.ArrayLike) -> FloatArray:
        """Token count at probability ``q`` (vectorized), at least 1 and at most ``max_tokens``."""
        qq = np.clip(np.asarray(q, dtype=float), 1e-9, 1 - 1e-9)
        if self.kind == "lognormal":
            z = np.vectorize(NormalDist().inv_cdf)(qq) if qq.ndim else np.asarray(NormalDist().inv_cdf(float(qq)))
            out = np.exp(self.mu + self.sigma * np.asarray(z, dtype=float))
        else:
            cdf = np.cumsum(np.asarray(self.probs))
            idx = np.minimum(np.searchsorted(cdf, qq - 1e-12), len(self.values) - 1)
            out = np.asarray(self.values)[idx]
        return np.clip(np.asarray(out, dtype=float), 1.0, self.max_tokens)

    def points(self, k: int = 64) -> FloatArray:
        """``k`` equally likely token counts (quantiles at ``(j + 1/2)/k``): a quadrature rule.

        >>> TokenDistribution.from_mean_p95(100, 100).points(4)
        array([100., 100., 100., 100.])
        """
        if k < 1:
            raise InvalidInputError(f"need at least one quadrature point, got {k}")
        if self.kind == "lognormal":  # the same arithmetic as quantile(), the normal quantiles computed once per k
            out = np.exp(self.mu + self.sigma * _standard_normal_points(k))
            return np.clip(out, 1.0, self.max_tokens)
        return self.quantile((np.arange(k) + 0.5) / k)

    def sample(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
        """``n`` whole token counts drawn at random (at least 1, at most ``max_tokens``)."""
        if self.kind == "lognormal":
            x = rng.lognormal(self.mu, self.sigma, size=n) if self.sigma > 0 else np.full(n, math.exp(self.mu))
        else:
            x = rng.choice(np.asarray(self.values), size=n, p=np.asarray(self.probs))
        return np.clip(np.rint(x), 1, self.max_tokens).astype(np.int64)

    @property
    def effective_mean(self) -> float:
        """Mean of the whole token counts after rounding and clipping (64-point quadrature)."""
        return float(np.mean(np.maximum(np.rint(self.points(256)), 1.0)))

    def describe(self) -> str:
        if self.kind == "lognormal":
            return f"lognormal, mean {self.mean:,.0f}, p95 {self.p95:,.0f} tokens (sigma {self.sigma:.2f})"
        return f"histogram of {len(self.values)} bins, mean {self.mean:,.0f}, p95 {self.p95:,.0f} tokens"


# ---------------------------------------------------------------- weekly load


class WeeklyLoad(BaseModel):
    """Hourly arrival rates (requests/s) over the representative week, before any cache."""

    model_config = ConfigDict(frozen=True)

    pattern: TrafficPattern
    mean_rps: tuple[float, ...] = Field(min_length=HOURS_PER_WEEK, max_length=HOURS_PER_WEEK)
    peak_rps: tuple[float, ...] = Field(min_length=HOURS_PER_WEEK, max_length=HOURS_PER_WEEK)
    burst_fraction: tuple[float, ...] = Field(
        min_length=HOURS_PER_WEEK, max_length=HOURS_PER_WEEK,
        description="fraction of each hour at the peak rate (0 outside bursts)",
    )
    description: str = ""

    @property
    def mean(self) -> FloatArray:
        return np.asarray(self.mean_rps, dtype=float)

    @property
    def peak(self) -> FloatArray:
        return np.asarray(self.peak_rps, dtype=float)

    @property
    def requests_per_week(self) -> float:
        return float(self.mean.sum() * 3600.0)

    @property
    def requests_per_day(self) -> float:
        return self.requests_per_week / 7.0


def weekly_shape(traffic: Traffic) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Relative hourly shape: ``(mean, peak, burst_fraction)`` arrays of 168 (see module notes).

    >>> from estimator.scenario import Traffic
    >>> m, p, f = weekly_shape(Traffic(pattern="diurnal", peak_to_trough=3.0, peak_hour=14))
    >>> round(float(m.max() / m.min()), 6), int(np.argmax(m))
    (3.0, 14)
    """
    h = np.arange(HOURS_PER_WEEK, dtype=float)
    hod = h % 24
    weekday = (h // 24) < 5
    frac = np.zeros(HOURS_PER_WEEK)
    pat = TrafficPattern(traffic.pattern)
    if pat == TrafficPattern.STEADY:
        mean = np.ones(HOURS_PER_WEEK)
        peak = mean.copy()
    elif pat == TrafficPattern.DIURNAL:
        r = traffic.peak_to_trough
        a = (r - 1.0) / (r + 1.0)
        mean = 1.0 + a * np.cos(2.0 * np.pi * (hod - traffic.peak_hour) / 24.0)
        peak = mean.copy()
    elif pat == TrafficPattern.BUSINESS_HOURS:
        inside = (hod >= traffic.business_start_hour) & (hod < traffic.business_end_hour)
        level = np.where(inside, 1.0, 1.0 / traffic.peak_to_trough)
        mean = np.where(weekday, level, level * traffic.weekend_factor)
        peak = mean.copy()
    elif pat == TrafficPattern.BURSTY:
        n = round(traffic.bursts_per_day * 7)
        dur_h = traffic.burst_minutes / 60.0
        if n > 0:
            starts = (np.arange(n) + 0.5) * HOURS_PER_WEEK / n
            # overlap of [s, s + d) with each hour [h, h + 1), wrapping around the week
            for shift in (0.0, -float(HOURS_PER_WEEK)):
                s = starts[:, None] + shift
                overlap = np.clip(np.minimum(s + dur_h, h[None, :] + 1.0) - np.maximum(s, h[None, :]), 0.0, 1.0)
                frac += overlap.sum(axis=0)
            frac = np.minimum(frac, 1.0)
        mean = 1.0 + (traffic.burst_height - 1.0) * frac
        peak = np.where(frac > 0, traffic.burst_height, 1.0)
    else:  # custom
        if len(traffic.custom_profile) != HOURS_PER_WEEK:
            raise InvalidInputError("the custom pattern needs a 168-hour profile")
        mean = np.asarray(traffic.custom_profile, dtype=float)
        peak = mean.copy()
    return mean, peak, frac


def weekly_load(traffic: Traffic) -> WeeklyLoad:
    """Hourly arrival rates for ``traffic``: the shape scaled to the requested volume.

    Notes
    -----
    ``requests_per_day``: ``rate(h) = s(h) R / (86,400 mean(s))``.
    ``peak_rps``: ``rate(h) = s(h) P / max(s_peak)``.
    Units: requests per second.

    >>> from estimator.scenario import Traffic
    >>> w = weekly_load(Traffic())   # 2M requests/day, diurnal 3:1
    >>> round(w.requests_per_day), round(max(w.peak_rps), 2)
    (2000000, 34.72)
    """
    mean, peak, frac = weekly_shape(traffic)
    if not np.all(np.isfinite(mean)) or mean.max() <= 0:
        raise InvalidInputError("the traffic profile has no hour with traffic")
    if traffic.volume == Volume.PEAK_RPS:
        scale = traffic.peak_rps / float(peak.max())
        desc = f"peak {traffic.peak_rps:,.3g} requests/s"
    else:
        scale = traffic.requests_per_day / SECONDS_PER_DAY / float(mean.mean())
        desc = f"{traffic.requests_per_day:,.0f} requests/day"
    m = mean * scale
    p = np.maximum(peak * scale, m)
    return WeeklyLoad(
        pattern=TrafficPattern(traffic.pattern),
        mean_rps=tuple(float(x) for x in m),
        peak_rps=tuple(float(x) for x in p),
        burst_fraction=tuple(float(x) for x in frac),
        description=f"{TrafficPattern(traffic.pattern).value.replace('_', ' ')}, {desc}",
    )


def growth_factors(monthly_growth: float, months: int = 12) -> FloatArray:
    """Traffic multiplier of months ``0 .. months-1``: ``(1 + g)^k``.

    >>> growth_factors(0.1, 3)
    array([1.  , 1.1 , 1.21])
    """
    if not math.isfinite(monthly_growth) or monthly_growth <= -1:
        raise InvalidInputError(f"monthly growth must be a finite number above -100%, got {monthly_growth}")
    if months < 1:
        raise InvalidInputError(f"months must be at least 1, got {months}")
    return np.round((1.0 + monthly_growth) ** np.arange(months, dtype=float), 12)


# ---------------------------------------------------------------- CSV parsing (user uploads)

_MAX_UPLOAD_BYTES = 1_000_000


def _rows(data: str | bytes) -> list[list[str]]:
    if isinstance(data, bytes):
        if len(data) > _MAX_UPLOAD_BYTES:
            raise InvalidInputError("the file is larger than 1 MB; a weekly profile needs only 168 numbers")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInputError("the file is not UTF-8 text; save it as CSV") from None
    if len(data) > _MAX_UPLOAD_BYTES:
        raise InvalidInputError("the text is longer than 1 MB; a weekly profile needs only 168 numbers")
    # every line ending (CRLF, LF, and the classic-Mac CR alone) becomes LF before the csv module
    # sees it: csv.reader refuses a bare CR inside an unquoted field ("new-line character seen")
    data = data.replace("\r\n", "\n").replace("\r", "\n")
    sample = data[:2048]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(data), dialect))
    except csv.Error as exc:  # e.g. a cell over csv.field_size_limit() (131,072 characters)
        raise InvalidInputError(f"the file is not readable CSV ({exc}); give one number per cell") from None
    return [row for row in rows if any(cell.strip() for cell in row)]


def _number(cell: str, where: str) -> float:
    text = cell.strip()
    try:
        value = float(text)
    except ValueError:
        shown = "".join(ch for ch in text if ch.isprintable())[:30]
        raise InvalidInputError(f"{where}: {shown!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidInputError(f"{where}: {text!r} is not a finite number")
    return value


def _is_header(row: list[str]) -> bool:
    for cell in row:
        try:
            float(cell.strip())
        except ValueError:
            return True
    return False


def parse_custom_profile(data: str | bytes) -> tuple[float, ...]:
    """168 hourly values from CSV text: one value per row, or ``hour,value`` rows (hour 0-167).

    A header row is allowed. Raises ``InvalidInputError`` naming the row for text in a number
    column, negative values, duplicate or missing hours.

    >>> parse_custom_profile("\\n".join(str(h % 24) for h in range(168)))[:3]
    (0.0, 1.0, 2.0)
    >>> parse_custom_profile("hour,value\\n0,1\\n1,x")
    Traceback (most recent call last):
    ...
    estimator.errors.InvalidInputError: row 3, column 2: 'x' is not a number
    """
    rows = _rows(data)
    start = 1 if rows and _is_header(rows[0]) and len(rows) > 1 else 0
    body = rows[start:]
    if not body:
        raise InvalidInputError("the profile is empty: it needs 168 hourly values (Monday 00:00 first)")
    width = max(len(r) for r in body)
    values: dict[int, float] = {}
    if width == 1:
        for i, row in enumerate(body):
            values[i] = _number(row[0], f"row {i + 1 + start}")
    else:
        for i, row in enumerate(body):
            if len(row) < 2:
                raise InvalidInputError(f"row {i + 1 + start}: expected 'hour,value', got {len(row)} column")
            hour_f = _number(row[0], f"row {i + 1 + start}, column 1")
            if hour_f != int(hour_f) or not 0 <= hour_f < HOURS_PER_WEEK:
                raise InvalidInputError(f"row {i + 1 + start}: hour {row[0].strip()!r} is not a whole number 0-167")
            hour = int(hour_f)
            if hour in values:
                raise InvalidInputError(f"row {i + 1 + start}: hour {hour} appears twice")
            values[hour] = _number(row[1], f"row {i + 1 + start}, column 2")
    if len(values) != HOURS_PER_WEEK or set(values) != set(range(HOURS_PER_WEEK)):
        missing = sorted(set(range(HOURS_PER_WEEK)) - set(values))
        if missing:
            shown = ", ".join(str(m) for m in missing[:8]) + (" …" if len(missing) > 8 else "")
            raise InvalidInputError(
                f"the profile has {len(values)} hourly values; 168 are needed (one week, Monday 00:00 "
                f"first). Missing hours: {shown}"
            )
        raise InvalidInputError(f"the profile has {len(values)} values; 168 are needed (one week)")
    out = tuple(values[h] for h in range(HOURS_PER_WEEK))
    if any(v < 0 for v in out):
        bad = next(h for h, v in enumerate(out) if v < 0)
        raise InvalidInputError(f"hour {bad} is negative ({out[bad]:g}); traffic cannot be below zero")
    if max(out) <= 0:
        raise InvalidInputError("the profile is zero in every hour; at least one hour needs traffic")
    return out


def parse_histogram(data: str | bytes) -> tuple[list[float], list[float]]:
    """``(tokens, counts)`` from CSV rows ``tokens,count`` (a header row is allowed).

    >>> parse_histogram("tokens,count\\n100,3\\n1000,1")
    ([100.0, 1000.0], [3.0, 1.0])
    """
    rows = _rows(data)
    start = 1 if rows and _is_header(rows[0]) else 0
    tokens: list[float] = []
    counts: list[float] = []
    for i, row in enumerate(rows[start:]):
        if len(row) < 2:
            raise InvalidInputError(f"row {i + 1 + start}: expected 'tokens,count'")
        tokens.append(_number(row[0], f"row {i + 1 + start}, column 1"))
        counts.append(_number(row[1], f"row {i + 1 + start}, column 2"))
    if not tokens:
        raise InvalidInputError("the histogram is empty")
    TokenDistribution.from_histogram(tokens, counts)  # validates
    return tokens, counts
