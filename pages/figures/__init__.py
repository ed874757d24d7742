"""Figure builders: pure functions from a page's result to a plotly ``Figure`` (or a table).

Nothing here imports Streamlit or computes an estimate: a builder only arranges numbers the
page's entry point (:mod:`estimator.entrypoints`) already returned, so the builders are tested
without a browser (``tests/test_figures_<page>.py``).

How a builder builds (GitHub issue #10: a page rerun must stay under 150 ms of server time): it
writes the whole figure as plain dicts and lists first (traces with their ``"type"``, the layout
with its axes, ``shapes`` for reference lines and ``annotations`` for their labels) and constructs
one ``go.Figure(data=traces, layout=layout)`` at the end, which validates everything once. Plotly's
incremental calls (``make_subplots``, ``add_scatter``, ``update_layout``, ``add_hline``/``add_vline``,
``add_annotation``) validate and copy the figure again on every call: 3-10x slower for the same
figure. The helpers below return the dicts ``add_hline``/``add_vline`` would have added.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import plotly.graph_objects as go

BLUE, ORANGE, GREEN, RED, GREY, PURPLE = "#3b5bdb", "#f08c00", "#2f9e44", "#c92a2a", "#868e96", "#ae3ec9"
"""The app's palette (Open Color 8-9)."""

MARGIN = dict(l=10, r=10, t=50, b=10)
"""Plot margins: titles need the top 50 px."""

SECONDARY_Y_DOMAIN = [0.0, 0.94]
"""The x axis's domain of a figure with a right-hand y axis (as ``make_subplots(secondary_y=True)``
leaves room for that axis's tick labels)."""


def rgba(hex_color: str, alpha: float) -> str:
    """A palette colour (``#rrggbb``) made translucent, for fills and bands.

    >>> rgba(GREEN, 0.5)
    'rgba(47,158,68,0.5)'
    """
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def finite_positive(values: Iterable[float | None]) -> list[float]:
    """The finite, positive values (what a log axis can show), as floats."""
    return [float(v) for v in values if v is not None and math.isfinite(float(v)) and float(v) > 0]


def log_ticks(values: Iterable[float | None]) -> dict[str, list[float] | list[str]]:
    """1-2-5 tick values and short labels spanning the finite positive ``values`` on a log axis.

    >>> log_ticks([3.0, 40.0])["tickvals"]
    [2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
    >>> log_ticks([float("nan"), 0.0])
    {}
    """
    v = finite_positive(values)
    if not v:
        return {}
    lo, hi = math.floor(math.log10(min(v))), math.ceil(math.log10(max(v)))
    ticks = [m * 10.0**k for k in range(lo, hi + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if min(v) / 2.5 <= t <= max(v) * 2.5]
    return {"tickvals": ticks, "ticktext": [f"{t:,.4g}" for t in ticks]}


def line_style(color: str, dash: str | None = None, **more: Any) -> dict[str, Any]:
    """A shape's or trace's ``line`` dict: colour, and dash when given."""
    return {"color": color, **({"dash": dash} if dash else {}), **more}


def vline(x: float, color: str, dash: str | None = None, **more: Any) -> dict[str, Any]:
    """A vertical line across the plot at ``x`` (data units, even on a log axis), as ``add_vline``."""
    return {"type": "line", "xref": "x", "x0": x, "x1": x, "yref": "y domain", "y0": 0, "y1": 1,
            "line": line_style(color, dash), **more}


def hline(y: float, color: str, dash: str | None = None, yref: str = "y") -> dict[str, Any]:
    """A horizontal line across the plot at ``y`` (data units of axis ``yref``), as ``add_hline``."""
    return {"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": yref, "y0": y, "y1": y,
            "line": line_style(color, dash)}


def log_vline_items(x: float, text: str, color: str, dash: str = "solid",
                    y: float = 1.0) -> tuple[dict[str, Any], dict[str, Any]]:
    """The shape and the annotation of a labelled vertical line at ``x`` on a log x axis, the label at
    the top (``y=1``) or bottom (``y=0``) of the plot. A shape takes data units; an annotation on a log
    axis takes log10 units (plotly places an ``add_vline`` label at ``x``, off the plot)."""
    annotation = {"x": math.log10(x), "xref": "x", "y": y, "yref": "paper", "text": text, "showarrow": False,
                  "xanchor": "left", "yanchor": "top" if y >= 1 else "bottom", "font": {"color": color}}
    return vline(x, color, dash), annotation


def log_vline(fig: go.Figure, x: float, text: str, color: str, dash: str = "solid", y: float = 1.0) -> None:
    """Add :func:`log_vline_items` to an existing figure (for code that still builds incrementally)."""
    shape, annotation = log_vline_items(x, text, color, dash, y)
    fig.add_shape(shape)
    fig.add_annotation(annotation)
