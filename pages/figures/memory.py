"""Figures of the Model & memory page: pure functions from :class:`estimator.analysis.MemoryAnalysis`
to plotly figures (no Streamlit; tested in tests/test_figures_memory.py). Sizes are shown in GB (10⁹ bytes)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import plotly.graph_objects as go

from estimator.analysis import MemoryAnalysis, TrainingMemoryAnalysis
from pages.figures import hline, vline

__all__ = ["COLORS", "breakdown_figure", "context_figure", "log_range", "training_figure"]

COLORS = {
    "weights": "#3b5bdb",
    "KV cache": "#f08c00",
    "activations": "#2f9e44",
    "runtime overhead": "#868e96",
    "gradients": "#ae3ec9",
    "optimizer states": "#e8590c",
    "limit": "#c92a2a",
}
_MARGIN = dict(l=10, r=10, t=60, b=10)


def log_range(values: Iterable[float], pad: float = 1.25) -> list[float] | None:
    """A log axis range (log10 units, as plotly wants them) spanning the finite positive ``values``,
    padded by the factor ``pad`` each side; None when there are none.

    >>> log_range([10.0, 100.0, float("inf"), 0.0], pad=1.0)
    [1.0, 2.0]
    """
    v = [float(x) for x in values if x is not None and math.isfinite(float(x)) and float(x) > 0]
    if not v:
        return None
    return [math.log10(min(v) / pad), math.log10(max(v) * pad)]


def _bars(parts: tuple[tuple[str, list[int | float]], ...], labels: list[str], horizontal: bool) -> list[dict[str, Any]]:
    """One stacked bar trace per memory part (values in bytes, shown in GB) over the bar ``labels``."""
    value_axis = "x" if horizontal else "y"
    traces = []
    for part, values in parts:
        gb = [v / 1e9 for v in values]
        traces.append({"type": "bar", "name": part, "marker": {"color": COLORS[part]},
                       "x": gb if horizontal else labels, "y": labels if horizontal else gb,
                       **({"orientation": "h"} if horizontal else {}),
                       "hovertemplate": f"%{{{value_axis}:,.2f}} GB<extra>{part}</extra>"})
    return traces


def breakdown_figure(result: MemoryAnalysis) -> go.Figure:
    """Stacked bars of memory per device (weights, KV cache, activations, overhead) by tensor-parallel
    degree, with the device budget as a dashed line."""
    layouts = result.layouts
    labels = [f"TP {lay.tp}" for lay in layouts]
    parts = (("weights", [lay.weights_bytes for lay in layouts]), ("KV cache", [lay.kv_cache_bytes for lay in layouts]),
             ("activations", [lay.activation_bytes for lay in layouts]),
             ("runtime overhead", [lay.runtime_overhead_bytes for lay in layouts]))
    budget_gb = result.budget_bytes / 1e9
    layout = {
        "barmode": "stack", "title": {"text": "Memory per device by tensor-parallel degree"},
        "xaxis": {"title": {"text": "GB per device"}}, "height": 360, "margin": _MARGIN,
        "legend": {"orientation": "h", "y": -0.2},
        "shapes": [vline(budget_gb, COLORS["limit"], "dash")],
        "annotations": [{"text": f"budget {budget_gb:,.1f} GB", "showarrow": False, "x": budget_gb, "xref": "x",
                         "xanchor": "center", "y": 1, "yref": "y domain", "yanchor": "bottom"}],
    }
    return go.Figure(data=_bars(parts, labels, horizontal=True), layout=layout)


def _context_label(tokens: int) -> str:
    return f"{tokens / 1024:g}k" if tokens >= 1024 else str(tokens)


def context_figure(result: MemoryAnalysis) -> go.Figure:
    """Weights + KV cache + overhead per device vs context, one line per batch, on log axes.

    The y range is set from the finite positive values and the budget (plotly would otherwise
    autorange a log axis over an annotation placed in data units: 10^72 for a 72 GB budget).
    """
    sweep = result.context_sweep
    grid = list(sweep.context_tokens)
    traces, values = [], []
    for line in sweep.lines:
        gb = [b / 1e9 for b in line.per_device_bytes]
        values += gb
        traces.append({"type": "scatter", "x": grid, "y": gb, "mode": "lines+markers", "name": f"batch {line.batch:,}",
                       "hovertemplate": "%{x:,} tokens: %{y:,.1f} GB<extra></extra>"})
    budget_gb = sweep.budget_bytes / 1e9
    layout: dict[str, Any] = {
        "xaxis": {"type": "log", "tickvals": grid, "ticktext": [_context_label(c) for c in grid],
                  "title": {"text": "context tokens per sequence"}},
        "yaxis": {"type": "log", "title": {"text": "GB per device (log)"}, "range": log_range([*values, budget_gb])},
        "title": {"text": f"Weights + KV cache per device vs context (TP {sweep.tp})"}, "height": 360,
        "margin": _MARGIN, "legend": {"orientation": "h", "y": -0.25},
    }
    if budget_gb > 0:
        # shapes take data units; annotations on a log axis take log10 units
        layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": budget_gb, "y1": budget_gb,
                             "line": {"dash": "dash", "color": COLORS["limit"]}}]
        layout["annotations"] = [{"xref": "paper", "x": 1.0, "xanchor": "right", "y": math.log10(budget_gb),
                                  "yanchor": "bottom", "text": f"budget {budget_gb:,.1f} GB", "showarrow": False,
                                  "font": {"color": COLORS["limit"]}}]
    return go.Figure(data=traces, layout=layout)


def training_figure(training: TrainingMemoryAnalysis, hardware_name: str) -> go.Figure:
    """Stacked bars of training memory per device at ZeRO 0-3, with the device's memory as a line."""
    stages = training.stages
    labels = [f"ZeRO-{z}" for z in range(len(stages))]
    parts = (("weights", [s.weights_bytes for s in stages]), ("gradients", [s.gradients_bytes for s in stages]),
             ("optimizer states", [s.optimizer_bytes for s in stages]),
             ("activations", [s.activation_bytes for s in stages]),
             ("runtime overhead", [s.runtime_overhead_bytes for s in stages]))
    device_gb = training.device_memory_bytes / 1e9
    layout = {
        "barmode": "stack", "title": {"text": f"Training memory per device over {training.dp:,} data-parallel ranks"},
        "yaxis": {"title": {"text": "GB per device"}}, "height": 360, "margin": _MARGIN,
        "legend": {"orientation": "h", "y": -0.2},
        "shapes": [hline(device_gb, COLORS["limit"], "dash")],
        "annotations": [{"text": f"{hardware_name} {device_gb:,.0f} GB", "showarrow": False, "x": 1,
                         "xref": "x domain", "xanchor": "right", "y": device_gb, "yref": "y", "yanchor": "bottom"}],
    }
    return go.Figure(data=_bars(parts, labels, horizontal=False), layout=layout)
