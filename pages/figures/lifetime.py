"""Figures and tables of the Training page's lifetime mode, built from one
:class:`~estimator.lifetime.LifetimePlan` (nothing is recomputed here)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from estimator.lifetime import LifetimeOption, LifetimePlan
from pages.figures import BLUE, GREEN, MARGIN, ORANGE, log_vline_items

__all__ = ["ROWS", "comparison_table", "lifetime_cost_figure"]

ROWS: tuple[tuple[str, str, str], ...] = (
    ("Model", "model_name", ""),
    ("Parameters (B)", "params", "e9"),
    ("Training tokens (T)", "tokens", "e12"),
    ("Tokens per parameter", "tokens_per_param", "0"),
    ("Layers x width", "shape", ""),
    ("Training cost (USD)", "training_cost_usd", "0"),
    ("Training time (days)", "training_days", "1"),
    ("Training carbon (tCO2e)", "training_co2e_t", "1"),
    ("Serving cost (USD/month)", "serving_usd_per_month", "0"),
    ("Replicas at peak (accelerators each)", "replicas", ""),
    ("Serving over the lifetime (USD)", "lifetime_serving_usd", "0"),
    ("Total lifetime cost (USD)", "total_usd", "0"),
    ("Total lifetime carbon (tCO2e)", "total_co2e_t", "1"),
    ("Total FLOPs (training + inference)", "total_flops", "flops"),
)
"""(row label, LifetimeOption field or derived key, format) of the side-by-side table."""


def _cell(o: LifetimeOption, field: str, fmt: str) -> str:
    if field == "shape":
        return f"{o.n_layers} x {o.d_model:,}"
    if field == "replicas":
        return f"{o.peak_replicas} ({o.devices_per_replica})"
    value: Any = getattr(o, field)
    if fmt == "e9":
        return f"{value / 1e9:,.2f}"
    if fmt == "e12":
        return f"{value / 1e12:,.2f}"
    if fmt == "flops":
        return f"{value:.3g}"
    if fmt in ("0", "1"):
        return f"{value:,.{int(fmt)}f}"
    return str(value)


def comparison_table(plan: LifetimePlan) -> pd.DataFrame:
    """The Chinchilla-optimal and the lifetime-optimal model side by side, as display strings."""
    return pd.DataFrame({
        "": [label for label, _, _ in ROWS],
        "Chinchilla-optimal": [_cell(plan.chinchilla, f, fmt) for _, f, fmt in ROWS],
        "Lifetime-optimal": [_cell(plan.lifetime, f, fmt) for _, f, fmt in ROWS],
    })


def lifetime_cost_figure(plan: LifetimePlan) -> go.Figure:
    """Total lifetime cost against model size: training and serving stacked, the two choices marked.

    Sizes priced by a full capacity plan are drawn as markers on the total; the rest of the curve
    interpolates serving cost between them (:mod:`estimator.lifetime`).
    """
    sw = plan.sweep
    x = list(sw.params)
    exact_x = [n for n, e in zip(sw.params, sw.exact, strict=True) if e]
    exact_y = [t for t, e in zip(sw.total_usd, sw.exact, strict=True) if e]
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "x": x, "y": list(sw.training_usd), "name": "training", "mode": "lines",
         "stackgroup": "cost", "line": {"color": BLUE}, "hovertemplate": "%{x:.3s} params<br>training $%{y:,.0f}"},
        {"type": "scatter", "x": x, "y": list(sw.serving_usd), "name": f"serving, {plan.lifetime_months:g} months",
         "mode": "lines", "stackgroup": "cost", "line": {"color": ORANGE},
         "hovertemplate": "%{x:.3s} params<br>serving $%{y:,.0f}"},
        {"type": "scatter", "x": exact_x, "y": exact_y, "name": "priced by a capacity plan", "mode": "markers",
         "marker": {"color": "black", "size": 7}, "hovertemplate": "%{x:.3s} params<br>total $%{y:,.0f}"},
    ]
    shapes_, notes = [], []
    for option, color, dash in ((plan.chinchilla, BLUE, "dash"), (plan.lifetime, GREEN, "solid")):
        shape, note = log_vline_items(option.params, f"{option.label}: {option.params / 1e9:.3g}B", color, dash,
                                      y=1.0 if option is plan.lifetime else 0.0)
        shapes_.append(shape)
        notes.append(note)
    cheapest = min(sw.total_usd)
    layout = {
        "title": {"text": "Total lifetime cost by model size (same loss)"}, "margin": MARGIN,
        "xaxis": {"type": "log", "title": {"text": "parameters"}},
        "yaxis": {"title": {"text": "USD"}, "range": [0, 3 * cheapest]},
        "legend": {"orientation": "h", "y": -0.2}, "shapes": shapes_, "annotations": notes,
    }
    return go.Figure(data=traces, layout=layout)
