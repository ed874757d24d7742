"""Figure builders: pure functions from a page's result to a plotly ``Figure`` (or a table).

Nothing here imports Streamlit or computes an estimate: a builder only arranges numbers the
page's entry point (:mod:`estimator.entrypoints`) already returned, so the builders are tested
without a browser (``tests/test_figures_<page>.py``).
"""

from __future__ import annotations

BLUE, ORANGE, GREEN, RED, GREY, PURPLE = "#3b5bdb", "#f08c00", "#2f9e44", "#c92a2a", "#868e96", "#ae3ec9"
"""The app's palette (Open Color 8-9)."""

MARGIN = dict(l=10, r=10, t=50, b=10)
"""Plot margins: titles need the top 50 px."""
