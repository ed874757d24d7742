"""Numbers as people read them: money, durations, token counts, large integers, bytes.

One module serves the pages, the reports' titles and the tests, so a figure reads the same
everywhere. Every function takes SI units (USD, seconds, bytes, tokens), returns a ``str`` and
never raises on ``nan``/``inf``: a non-finite value reads as ``n/a`` (or ``unbounded`` for a time).

>>> money(93751.2), money(6.214), money(0.00042)
('$93,751', '$6.21', '$0.00042')
>>> duration(0.5), duration(29.3), duration(2.5 * 86400)
('500 ms', '29.3 s', '2.5 days')
>>> tokens(1.2e12), integer(1234567)
('1.2T tokens', '1,234,567')
"""

from __future__ import annotations

import math

__all__ = ["bytes_gb", "compact", "duration", "integer", "money", "money_compact", "percent", "tokens"]

_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def _finite(x: float) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError, OverflowError):
        return False


def money(usd: float) -> str:
    """US dollars: whole dollars from $100, cents from $1, three significant digits below.

    >>> money(-1234.6), money(float("nan"))
    ('-$1,235', 'n/a')
    """
    if not _finite(usd):
        return "n/a"
    sign, a = ("-" if usd < 0 else ""), abs(float(usd))
    if a >= 100:
        return f"{sign}${a:,.0f}"
    if a >= 1:
        return f"{sign}${a:,.2f}"
    if a == 0:
        return "$0"
    return f"{sign}${a:.3g}"


def compact(x: float, digits: int = 3) -> str:
    """A large number with a k/M/B/T suffix (``digits`` significant digits).

    >>> compact(57.5e9), compact(950), compact(1.0e15)
    ('57.5B', '950', '1e+15')
    """
    if not _finite(x):
        return "n/a"
    a = abs(float(x))
    if a >= 1e15:
        return f"{x:.{digits}g}"
    for scale, suffix in _SUFFIXES:
        if a >= scale:
            return f"{x / scale:.{digits}g}{suffix}"
    return f"{x:.{digits}g}"


def money_compact(usd: float) -> str:
    """US dollars with a suffix for large sums, for headlines that must stay short.

    >>> money_compact(2_000_000), money_compact(93_751), money_compact(512.4)
    ('$2M', '$93.8k', '$512')
    """
    if not _finite(usd):
        return "n/a"
    if abs(usd) < 1e4:
        return money(usd)
    return ("-" if usd < 0 else "") + "$" + compact(abs(usd))


def duration(seconds: float) -> str:
    """A time span in the unit that reads best: ms, s, min, h or days; ``unbounded`` when infinite.

    >>> duration(0.0123), duration(125), duration(3 * 3600), duration(float("inf"))
    ('12.3 ms', '2.1 min', '3 h', 'unbounded')
    """
    try:
        s = float(seconds)
    except (TypeError, ValueError, OverflowError):
        return "n/a"
    if math.isnan(s):
        return "n/a"
    if math.isinf(s):
        return "unbounded"
    a = abs(s)
    if a < 1:
        return f"{s * 1e3:.3g} ms"
    if a < 100:
        return f"{s:.3g} s"
    if a < 3600:
        return f"{s / 60:.3g} min"
    if a < 2 * 86400:
        return f"{s / 3600:.3g} h"
    return f"{s / 86400:,.3g} days" if a < 1000 * 86400 else f"{s / 86400:,.0f} days"


def tokens(n: float) -> str:
    """A token count with a suffix.

    >>> tokens(512), tokens(15e12)
    ('512 tokens', '15T tokens')
    """
    if not _finite(n):
        return "n/a"
    return f"{compact(n, 3)} tokens"


def integer(n: float) -> str:
    """A whole number with thousands separators.

    >>> integer(6_738_415_616), integer(2.6)
    ('6,738,415,616', '3')
    """
    if not _finite(n):
        return "n/a"
    return f"{round(float(n)):,}"


def percent(fraction: float, digits: int = 1) -> str:
    """A fraction as a percentage.

    >>> percent(0.4), percent(0.0123, 2)
    ('40.0%', '1.23%')
    """
    if not _finite(fraction):
        return "n/a"
    return f"{fraction * 100:.{digits}f}%"


def bytes_gb(n_bytes: float, digits: int = 1) -> str:
    """Bytes as decimal gigabytes (10^9), labelled.

    >>> bytes_gb(141.1e9), bytes_gb(85.0e9, 2)
    ('141.1 GB', '85.00 GB')
    """
    if not _finite(n_bytes):
        return "n/a"
    return f"{n_bytes / 1e9:,.{digits}f} GB"
