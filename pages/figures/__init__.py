"""Figure builders: pure functions from a page's result to a plotly ``Figure`` (or a table).

Nothing here imports Streamlit or computes an estimate: a builder only arranges numbers the
page's entry point (:mod:`estimator.entrypoints`) already returned, so the builders are tested
without a browser (``tests/test_figures_<page>.py``).
"""

from __future__ import annotations

import math

import plotly.graph_objects as go

BLUE, ORANGE, GREEN, RED, GREY, PURPLE = "#3b5bdb", "#f08c00", "#2f9e44", "#c92a2a", "#868e96", "#ae3ec9"
"""The app's palette (Open Color 8-9)."""

MARGIN = dict(l=10, r=10, t=50, b=10)
"""Plot margins: titles need the top 50 px."""


def log_vline(fig: go.Figure, x: float, text: str, color: str, dash: str = "solid", y: float = 1.0) -> None:
    """A labelled vertical line at ``x`` on a log x axis; the label at the top (``y=1``) or bottom
    (``y=0``) of the plot. Plotly places an ``add_vline`` label at ``x`` rather than ``log10(x)`` on
    log axes, which puts it off the plot."""
    fig.add_vline(x=x, line_dash=dash, line_color=color)
    fig.add_annotation(x=math.log10(x), xref="x", y=y, yref="paper", text=text, showarrow=False, xanchor="left",
                       yanchor="top" if y >= 1 else "bottom", font=dict(color=color))
