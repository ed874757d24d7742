"""Figures and tables of the Training budget page, built from one :class:`~estimator.training.TrainingPlan`.

The curves are closed-form Chinchilla formulas evaluated along plot grids
(:func:`estimator.training.frontier_lines`, :func:`~estimator.training.loss_surface`,
:func:`~estimator.training.isoflop_profile`, each microseconds); the plan itself is not recomputed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from estimator import scaling, training
from estimator.training import TrainingPlan
from pages.figures import BLUE, GREEN, GREY, MARGIN, PURPLE, RED, log_vline_items, vline

__all__ = ["METHOD_LABELS", "frontier_figure", "isoflop_figure", "published_runs_figure", "published_runs_table",
           "recommendations_table"]

FIT_COLORS = [BLUE, GREEN, "#e8590c", PURPLE]
"""One colour per Chinchilla approach/fit, in :data:`estimator.training.FRONTIER_METHODS` order."""

METHOD_LABELS = {
    "approach1": "Approach 1 (training curves)",
    "approach2": "Approach 2 (IsoFLOP profiles)",
    "approach3_hoffmann2022": "Approach 3, published rounded constants",
    "approach3_hoffmann2022_tex": "Approach 3, unrounded constants (TeX source)",
    "approach3_epoch2024": "Approach 3, Epoch 2024 refit",
}
"""Display names of the keys of ``scaling.fits_disagreement(...)["recommendations"]``."""


def _log_grid(lo: float, hi: float, n: int) -> np.ndarray:
    return np.logspace(math.log10(lo), math.log10(hi), n)


def _frontier_traces(plan: TrainingPlan, lines: dict[str, dict[str, np.ndarray]], n_grid: np.ndarray,
                     d_grid: np.ndarray, loss_fit: str) -> list[dict[str, Any]]:
    """The frontier figure's traces: loss contours, iso-FLOP lines, each approach's frontier, the run."""
    traces: list[dict[str, Any]] = [{
        "type": "contour", "x": n_grid, "y": d_grid, "z": training.loss_surface(n_grid, d_grid, fit=loss_fit),
        "colorscale": "Blues", "reversescale": True, "opacity": 0.55, "showscale": True, "name": "loss",
        "contours": {"showlabels": True, "labelfont": {"size": 10, "color": "#1c2a4a"}, "coloring": "fill"},
        "colorbar": {"title": {"text": "loss", "side": "right"}, "thickness": 12, "len": 0.8},
        "hovertemplate": "N %{x:.3s}<br>D %{y:.3s}<br>loss %{z:.3f}<extra>" + loss_fit + "</extra>",
    }]
    for k, mult in enumerate([0.01, 0.1, 1.0, 10.0, 100.0]):
        c = plan.flops * mult
        if not 1e10 < c <= scaling.MAX_COMPUTE_FLOPS:
            continue
        traces.append({"type": "scatter", "x": n_grid, "y": training.iso_flop_tokens(c, n_grid), "mode": "lines",
                       "showlegend": k == 2, "line": {"color": "#495057", "dash": "dot", "width": 1.5 if mult == 1 else 1},
                       "name": "iso-FLOP (×10 steps)", "hovertemplate": f"C = {c:.1e} FLOPs<extra></extra>"})
    for (label, series), color in zip(lines.items(), FIT_COLORS, strict=True):
        traces.append({"type": "scatter", "x": series["params"], "y": series["tokens"], "mode": "lines", "name": label,
                       "line": {"color": color, "width": 2.5},
                       "hovertemplate": "N %{x:.3s}, D %{y:.3s}<extra>" + label + "</extra>"})
    traces.append({"type": "scatter", "x": [plan.params], "y": [plan.tokens], "mode": "markers", "name": "your run",
                   "marker": {"size": 15, "color": RED, "symbol": "star", "line": {"color": "white", "width": 1}},
                   "hovertemplate": f"{plan.model_name}<br>N %{{x:.3s}}, D %{{y:.3s}}<extra></extra>"})
    return traces


def frontier_figure(plan: TrainingPlan, loss_fit: str = "hoffmann2022") -> go.Figure:
    """Loss contours L(N, D) of ``loss_fit``, iso-FLOP lines at 0.01x-100x the run's compute, each
    approach's compute-optimal frontier and the run itself, on log-log axes (N, D)."""
    c_user = plan.flops
    lines = training.frontier_lines(_log_grid(max(c_user / 1e4, 1e18), min(c_user * 1e4, scaling.MAX_COMPUTE_FLOPS), 60))
    first, third = lines["Approach 1 (training curves)"], lines["Approach 3 (Hoffmann fit)"]
    n_lo, n_hi = min(float(third["params"][0]), plan.params / 30), max(float(first["params"][-1]), plan.params * 30)
    d_lo, d_hi = min(float(first["tokens"][0]), plan.tokens / 30), max(float(third["tokens"][-1]), plan.tokens * 30)
    n_grid, d_grid = _log_grid(n_lo, n_hi, 80), _log_grid(d_lo, d_hi, 80)
    layout = {
        "title": {"text": "Compute-optimal frontier, iso-FLOP lines and loss contours"}, "height": 470, "margin": MARGIN,
        "xaxis": {"type": "log", "title": {"text": "parameters N"}, "range": [math.log10(n_lo), math.log10(n_hi)]},
        "yaxis": {"type": "log", "title": {"text": "training tokens D"}, "range": [math.log10(d_lo), math.log10(d_hi)]},
        "legend": {"orientation": "h", "y": -0.22},
    }
    return go.Figure(data=_frontier_traces(plan, lines, n_grid, d_grid, loss_fit), layout=layout)


def isoflop_figure(plan: TrainingPlan, disagreement: dict[str, Any]) -> go.Figure:
    """Predicted loss along the run's iso-FLOP line for both loss fits, each approach's optimum
    (dotted) and the run's size (red)."""
    lo = min(float(disagreement["params_min"]) / 10, plan.params / 2)
    hi = max(float(disagreement["params_max"]) * 10, plan.params * 2)
    n = _log_grid(lo, hi, 120)
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "x": n, "y": training.isoflop_profile(plan.flops, n, fit=fit_name), "mode": "lines",
         "name": f"L(N, C/6N), {fit_name} fit", "line": {"color": color},
         "hovertemplate": "N %{x:.3s}: loss %{y:.4f}<extra></extra>"}
        for fit_name, color in (("hoffmann2022", FIT_COLORS[2]), ("epoch2024", FIT_COLORS[3]))]
    traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "lines",  # legend entry only
                   "name": "each approach's optimum", "line": {"color": GREY, "dash": "dot"}})
    shapes = [vline(float(info["params"]), GREY, "dot", opacity=0.6) for info in disagreement["recommendations"].values()]
    run, run_label = log_vline_items(plan.params, "your run", RED)
    layout = {
        "title": {"text": f"IsoFLOP profile at {plan.flops:.2e} FLOPs"}, "height": 470,
        "xaxis": {"type": "log", "title": {"text": "parameters N (tokens D = C / 6N)"}},
        "yaxis": {"title": {"text": "predicted loss (nats/token)"}}, "legend": {"orientation": "h", "y": -0.22},
        "margin": MARGIN, "shapes": [*shapes, run], "annotations": [run_label],
    }
    return go.Figure(data=traces, layout=layout)


def recommendations_table(disagreement: dict[str, Any]) -> pd.DataFrame:
    """What each approach and fit recommends for the run's compute: size, tokens, tokens per parameter."""
    return pd.DataFrame([
        {"method": METHOD_LABELS.get(label, label), "parameters (B)": float(info["params"]) / 1e9,
         "tokens (T)": float(info["tokens"]) / 1e12, "tokens per parameter": float(info["tokens_per_param"])}
        for label, info in disagreement["recommendations"].items()
    ])


GENERATION_COLORS = {"ampere": GREEN, "hopper": BLUE, "global": GREY}
"""Marker colour of a published run by hardware generation."""


def published_runs_figure(runs: pd.DataFrame, plan: TrainingPlan) -> go.Figure:
    """GPU-hours against 6ND for the published runs (``estimator.training_runs.published_table``), one
    colour per hardware generation, and the user's run as a star with its range as an error bar.
    Both axes log; a run's distance from the others is its utilization (FLOPs per GPU-hour)."""
    traces: list[dict[str, Any]] = []
    for gen, part in runs.groupby("generation", sort=True):
        traces.append({
            "type": "scatter", "x": part["flops_6nd"], "y": part["gpu_hours"], "mode": "markers",
            "name": f"published, {gen}",
            "marker": {"size": 9, "color": GENERATION_COLORS.get(str(gen), GREY),
                       "line": {"color": "white", "width": 1}},
            "customdata": np.column_stack([part["model"], part["hardware_id"], part["predicted_gpu_hours"]]),
            "hovertemplate": "%{customdata[0]} on %{customdata[1]}<br>6ND %{x:.2e}<br>published %{y:,.0f} GPU-h"
                             "<br>predicted without it %{customdata[2]:,.0f}<extra></extra>",
        })
    star: dict[str, Any] = {
        "type": "scatter", "x": [plan.flops], "y": [plan.gpu_hours], "mode": "markers", "name": "your run",
        "marker": {"size": 16, "color": RED, "symbol": "star", "line": {"color": "white", "width": 1}},
        "hovertemplate": (f"{plan.model_name}<br>6ND %{{x:.2e}}<br>%{{y:,.0f}} GPU-h on {plan.hardware_name}"
                          "<extra></extra>"),
    }
    if plan.gpu_hours_low is not None and plan.gpu_hours_high is not None:
        star["error_y"] = {"type": "data", "symmetric": False, "array": [plan.gpu_hours_high - plan.gpu_hours],
                           "arrayminus": [plan.gpu_hours - plan.gpu_hours_low], "color": RED, "thickness": 2}
    traces.append(star)
    layout = {
        "title": {"text": "Published training runs and yours: GPU-hours against 6ND"}, "height": 440, "margin": MARGIN,
        "xaxis": {"type": "log", "title": {"text": "6 x parameters x tokens (FLOPs)"}},
        "yaxis": {"type": "log", "title": {"text": "GPU-hours"}}, "legend": {"orientation": "h", "y": -0.22},
    }
    return go.Figure(data=traces, layout=layout)


def published_runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The published runs as the page lists them: model, hardware, size, tokens, context, GPU-hours
    published and predicted by the fit without the run, and the source."""
    return pd.DataFrame({
        "model": runs["model"], "hardware": runs["hardware_id"], "parameters (B)": runs["params"] / 1e9,
        "tokens (T)": runs["tokens"] / 1e12, "sequence": runs["seq_len"], "GPU-hours": runs["gpu_hours"],
        "predicted (leave-one-out)": runs["predicted_gpu_hours"],
        "predicted / published": runs["predicted_over_published"], "source": runs["source"], "url": runs["url"],
    })
