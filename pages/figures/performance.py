"""Figures and tables of the Latency & throughput page: pure functions from
:class:`estimator.analysis.PerformanceAnalysis` to plotly figures and pandas tables (no Streamlit;
tested in tests/test_figures_performance.py)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from estimator.analysis import LatencyContextSweep, PerformanceAnalysis
from estimator.uncertainty import Band, PerformanceRanges, Range
from pages.figures import finite_positive, log_ticks, log_vline_items, rgba

__all__ = [
    "COLORS",
    "METRIC_NAMES",
    "batch_figure",
    "calibration_figure",
    "calibration_frame",
    "comparison_figure",
    "comparison_frame",
    "context_figure",
    "log_ticks",
    "band_trace",
    "microbenchmark_frame",
    "range_text",
    "ranges_caption",
    "roofline_figure",
]

COLORS = {"a": "#3b5bdb", "b": "#e8590c", "prefill": "#2f9e44", "decode": "#ae3ec9", "limit": "#c92a2a",
          "grid": "#868e96"}
_MARGIN = dict(l=10, r=10, t=60, b=10)


def range_text(rng: Range, fmt: str = "{:,.0f}", unit: str = "", scale: float = 1.0) -> str:
    """``"2,300 tok/s (1,900–2,600)"``: the value and its nominal 80% range, each ``fmt`` of ``x * scale``.

    >>> range_text(Range(low=1900.0, value=2300.0, high=2600.0, basis=""), unit="tok/s")
    '2,300 tok/s (1,900–2,600)'
    """
    lo, v, hi = (fmt.format(x * scale) for x in (rng.low, rng.value, rng.high))
    return f"{v}{' ' + unit if unit else ''} ({lo}–{hi})"


def ranges_caption(ranges: PerformanceRanges) -> str:
    """One line of the page's headline figures with their nominal 80% ranges."""
    parts = [f"TTFT {range_text(ranges.ttft_s, '{:,.0f}', 'ms', 1e3)}",
             f"TPOT {range_text(ranges.tpot_s, '{:,.1f}', 'ms', 1e3)}",
             f"end-to-end {range_text(ranges.e2e_s, '{:,.2f}', 's')}",
             f"output {range_text(ranges.output_tokens_per_s, unit='tok/s')}",
             f"max output {range_text(ranges.max_output_tokens_per_s, unit='tok/s')}"]
    if ranges.best_output_tokens_per_s is not None:
        parts.append(f"best under limits {range_text(ranges.best_output_tokens_per_s, unit='tok/s')}")
    return "Nominal 80% ranges: " + " · ".join(parts)


def band_trace(x: Iterable[float], y: Iterable[float | None], band: Band, color: str, name: str,
               yaxis: str = "y") -> dict[str, Any]:
    """A shaded polygon from ``y exp(log_low)`` to ``y exp(log_high)`` over ``x`` (points with no ``y``
    left out): the curve's nominal 80% range (:class:`estimator.uncertainty.Band`)."""
    pts = [(float(a), float(b)) for a, b in zip(x, y, strict=True) if b is not None and math.isfinite(float(b))]
    xs = [a for a, _ in pts]
    lo = [b * math.exp(band.log_low) for _, b in pts]
    hi = [b * math.exp(band.log_high) for _, b in pts]
    return {"type": "scatter", "x": xs + xs[::-1], "y": hi + lo[::-1], "fill": "toself", "mode": "lines",
            "fillcolor": rgba(color, 0.15), "line": {"width": 0}, "name": f"{name} 80% range", "yaxis": yaxis,
            "hoverinfo": "skip", "legendgroup": name}


def _with_band(values: list[float | None], ranges: PerformanceRanges | None) -> list[float | None]:
    """``values`` plus their time band's ends (so that a log axis's ticks span the shaded range)."""
    if ranges is None:
        return values
    b = ranges.time_band
    return [*values, *(v * math.exp(b.log_low) for v in finite_positive(values)),
            *(v * math.exp(b.log_high) for v in finite_positive(values))]


def _marker_trace(phase: str, intensity_flops_per_byte: float, attainable_flops_per_s: float) -> dict[str, Any]:
    """A phase's point on the roofline (TFLOP/s), labelled above its marker."""
    return {"type": "scatter", "x": [intensity_flops_per_byte], "y": [attainable_flops_per_s / 1e12],
            "mode": "markers+text", "name": phase, "text": [phase], "textposition": "top center",
            "marker": {"size": 13, "color": COLORS[phase]},
            "hovertemplate": f"{phase}: %{{x:,.1f}} FLOP/byte, %{{y:,.0f}} TFLOP/s<extra></extra>"}


def roofline_figure(result: PerformanceAnalysis) -> go.Figure:
    """The device's roofline (datasheet dotted, attainable solid) and where prefill and decode sit."""
    rf = result.roofline
    ai = list(rf.intensity_flops_per_byte)
    traces = [{"type": "scatter", "x": ai, "y": [y / 1e12 for y in rf.datasheet_flops_per_s], "mode": "lines",
               "name": f"{rf.hardware_name} datasheet", "line": {"color": COLORS["a"], "dash": "dot"}},
              {"type": "scatter", "x": ai, "y": [y / 1e12 for y in rf.attainable_flops_per_s], "mode": "lines",
               "name": "attainable (efficiencies)", "line": {"color": COLORS["a"]}}]
    traces += [_marker_trace(p.phase, p.intensity_flops_per_byte, p.attainable_flops_per_s) for p in rf.points
               if p.intensity_flops_per_byte is not None and p.attainable_flops_per_s is not None]
    ridge, ridge_label = log_vline_items(rf.ridge_flops_per_byte, f"ridge {rf.ridge_flops_per_byte:,.0f} FLOP/B",
                                        COLORS["grid"], dash="dot")
    # headroom above the peak, so the phase labels above their markers stay inside the plot
    lows = finite_positive([*rf.attainable_flops_per_s, *(p.attainable_flops_per_s for p in rf.points)])
    y_range = [math.log10(min(lows) / 1e12 / 1.5), math.log10(rf.peak_flops_per_s / 1e12 * 4)] if lows else None
    layout = {"xaxis": {"type": "log", "title": {"text": "arithmetic intensity (FLOP per byte moved, per device)"}},
              "yaxis": {"type": "log", "title": {"text": f"attainable TFLOP/s ({rf.compute_dtype})"}, "range": y_range},
              "shapes": [ridge], "annotations": [ridge_label],
              "title": {"text": "Roofline: where prefill and decode sit"}, "height": 400, "margin": _MARGIN,
              "legend": {"orientation": "h", "y": -0.25}}
    return go.Figure(data=traces, layout=layout)


def batch_figure(result: PerformanceAnalysis) -> go.Figure:
    """Continuous batching: output tokens/s (left axis) and TPOT/TTFT in ms (right, log) vs batch."""
    s = result.batch_sweep
    bs = list(s.batch)
    tpot_ms = [t * 1e3 for t in s.tpot_s]
    ttft_ms = [t * 1e3 for t in s.ttft_s]
    traces = [
        {"type": "scatter", "x": bs, "y": list(s.output_tokens_per_s), "name": "output tokens/s (replica)",
         "mode": "lines", "line": {"color": COLORS["a"]},
         "hovertemplate": "batch %{x:,.0f}: %{y:,.0f} tok/s<extra></extra>"},
        {"type": "scatter", "x": bs, "y": tpot_ms, "name": "TPOT (ms)", "mode": "lines", "yaxis": "y2",
         "line": {"color": COLORS["decode"]}, "hovertemplate": "batch %{x:,.0f}: %{y:,.1f} ms<extra></extra>"},
        {"type": "scatter", "x": bs, "y": ttft_ms, "name": "TTFT (ms)", "mode": "lines", "yaxis": "y2",
         "line": {"color": COLORS["prefill"], "dash": "dash"},
         "hovertemplate": "batch %{x:,.0f}: %{y:,.0f} ms<extra></extra>"},
    ]
    rg = result.ranges
    if rg is not None:
        traces += [band_trace(bs, s.output_tokens_per_s, rg.rate_band, COLORS["a"], "output tokens/s"),
                   band_trace(bs, tpot_ms, rg.time_band, COLORS["decode"], "TPOT", "y2"),
                   band_trace(bs, ttft_ms, rg.time_band, COLORS["prefill"], "TTFT", "y2")]
    shapes, annotations = [], []
    if s.tpot_limit_s:
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y2", "y0": s.tpot_limit_s * 1e3,
                       "y1": s.tpot_limit_s * 1e3, "line": {"dash": "dot", "color": COLORS["limit"]}})
    if s.best_batch is not None:
        best, best_label = log_vline_items(float(s.best_batch), f"best under limits: {s.best_batch:,}",
                                           COLORS["limit"], dash="dot")
        shapes.append(best)
        annotations.append(best_label)
    y2_ticks = log_ticks([*_with_band([*tpot_ms, *ttft_ms], rg), s.tpot_limit_s * 1e3 if s.tpot_limit_s else None])
    layout = {"title": {"text": "Continuous batching: throughput and latency vs batch"}, "height": 400,
              "xaxis": {"type": "log", "title": {"text": "sequences in flight (batch)"}, **log_ticks(bs)},
              "yaxis": {"title": {"text": "output tokens/s per replica"}},
              "yaxis2": {"title": {"text": "ms"}, "overlaying": "y", "side": "right", "type": "log", **y2_ticks},
              "shapes": shapes, "annotations": annotations, "margin": _MARGIN,
              "legend": {"orientation": "h", "y": -0.25}}
    return go.Figure(data=traces, layout=layout)


def context_figure(sweep: LatencyContextSweep, ranges: PerformanceRanges | None = None) -> go.Figure:
    """TTFT (s, left, log) and TPOT (ms, right) of the static batch vs prompt length; points where the
    batch no longer fits are left out (a gap) and marked; shaded: the time band of ``ranges``."""
    x = list(sweep.input_tokens)
    ttft = [t if ok else None for t, ok in zip(sweep.ttft_s, sweep.fits, strict=True)]
    tpot_ms = [t * 1e3 if ok else None for t, ok in zip(sweep.tpot_s, sweep.fits, strict=True)]
    traces = [{"type": "scatter", "x": x, "y": ttft, "name": "TTFT (s)", "mode": "lines+markers",
               "line": {"color": COLORS["prefill"]}, "hovertemplate": "%{x:,.0f} tokens: %{y:,.3f} s<extra></extra>"},
              {"type": "scatter", "x": x, "y": tpot_ms, "name": "TPOT (ms)", "mode": "lines+markers", "yaxis": "y2",
               "line": {"color": COLORS["decode"]}, "hovertemplate": "%{x:,.0f} tokens: %{y:,.2f} ms<extra></extra>"}]
    if ranges is not None:
        traces += [band_trace(x, ttft, ranges.time_band, COLORS["prefill"], "TTFT"),
                   band_trace(x, tpot_ms, ranges.time_band, COLORS["decode"], "TPOT", "y2")]
    layout: dict[str, Any] = {
        "title": {"text": f"Long context: TTFT and TPOT vs prompt length (batch {sweep.batch:,})"}, "height": 380,
        "xaxis": {"type": "log", "title": {"text": "input tokens"}},
        "yaxis": {"title": {"text": "TTFT (s)"}, "type": "log", **log_ticks(_with_band(ttft, ranges))},
        "yaxis2": {"title": {"text": "TPOT (ms)"}, "overlaying": "y", "side": "right", "tickmode": "auto",
                   "showgrid": False},
        "margin": _MARGIN, "legend": {"orientation": "h", "y": -0.25}}
    first = sweep.first_unfit_tokens
    if first is not None:
        shape, label = log_vline_items(first, f"batch {sweep.batch:,} no longer fits", COLORS["limit"], dash="dot")
        layout.update(shapes=[shape], annotations=[label])
    return go.Figure(data=traces, layout=layout)


_COMPARED = (("TTFT (ms)", "ttft_s", 1e3), ("TPOT (ms)", "tpot_s", 1e3),
             ("max tok/s per device", "max_output_tokens_per_s_per_device", 1.0))


def comparison_figure(result: PerformanceAnalysis) -> go.Figure | None:
    """Grouped bars (log) of TTFT, TPOT and max tokens/s per device for each compared accelerator;
    None unless at least two accelerators have every figure."""
    rows = [c for c in result.comparison if all(getattr(c, f) is not None for _, f, _ in _COMPARED)]
    if len(rows) < 2:
        return None
    names = [label for label, _, _ in _COMPARED]
    traces = []
    for i, c in enumerate(rows):
        values = [float(getattr(c, f)) * scale for _, f, scale in _COMPARED]
        traces.append({"type": "bar", "x": names, "y": values, "name": c.hardware_name,
                       "marker": {"color": COLORS["a"] if i == 0 else COLORS["b"]},
                       "text": [f"{v:,.1f}" for v in values], "textposition": "outside"})
    layout = {"barmode": "group", "height": 300, "yaxis": {"type": "log"}, "margin": dict(l=10, r=10, t=30, b=10),
              "legend": {"orientation": "h", "y": -0.2}}
    return go.Figure(data=traces, layout=layout)


def comparison_frame(result: PerformanceAnalysis) -> pd.DataFrame:
    """The side-by-side table: one row per accelerator (empty figures and a note where it failed)."""
    batch = result.batch
    rows = [{"": c.label, "accelerator": c.hardware_name, "devices": c.devices,
             "TTFT (ms)": None if c.ttft_s is None else c.ttft_s * 1e3,
             "TPOT (ms)": None if c.tpot_s is None else c.tpot_s * 1e3, "e2e (s)": c.e2e_s,
             f"tok/s at batch {batch:,}": c.output_tokens_per_s, "max tok/s": c.max_output_tokens_per_s,
             "max tok/s per device": c.max_output_tokens_per_s_per_device, "best batch": c.best_batch,
             "prefill bound": c.prefill_bound, "decode bound": c.decode_bound, "note": c.note}
            for c in result.comparison]
    return pd.DataFrame(rows)


CALIBRATION_LABELLED_POINTS = 40
"""Most points whose measurement ids fit as axis labels; more are shown by hover only."""


METRIC_NAMES: dict[str, str] = {
    "output_tokens_per_s": "output tokens/s", "output_tokens_per_s_per_gpu": "output tokens/s per GPU",
    "ttft_s": "TTFT", "tpot_s": "TPOT", "e2e_s": "end-to-end latency",
}
"""Legend names of the measurements' metrics (the CSV's column values stay in the table and the hover)."""


def calibration_figure(result: PerformanceAnalysis) -> go.Figure:
    """Model / measured for every published point (log x), grouped by metric; green band ±20%,
    dotted lines at a factor of two; points not scored are crosses."""
    points = result.calibration.points
    shapes = [{"type": "rect", "xref": "x", "x0": 0.8, "x1": 1.25, "yref": "y domain", "y0": 0, "y1": 1,
               "fillcolor": "#d3f9d8", "opacity": 0.5, "line": {"width": 0}}]
    shapes += [{"type": "line", "x0": x0, "x1": x0, "yref": "paper", "y0": 0, "y1": 1,
                "line": {"dash": "dot", "color": "#adb5bd"}} for x0 in (0.5, 2.0)]
    traces = []
    for metric in dict.fromkeys(p.metric for p in points):
        grp = [p for p in points if p.metric == metric]
        traces.append({"type": "scatter", "x": [p.model_over_measured for p in grp],
                       "y": [p.measurement_id for p in grp], "mode": "markers",
                       "name": METRIC_NAMES.get(metric, metric),
                       "marker": {"symbol": ["x" if p.excluded else "circle" for p in grp], "size": 9},
                       "customdata": [[p.value, p.predicted] for p in grp],
                       "hovertemplate": "%{y}<br>model / measured %{x:.2f}<br>measured %{customdata[0]:,.4g}"
                                        "<br>model %{customdata[1]:,.4g}<extra></extra>"})
    ratios = [p.model_over_measured for p in points if p.model_over_measured and p.model_over_measured > 0]
    lo, hi = min([0.4, *[r / 1.15 for r in ratios]]), max([2.6, *[r * 1.15 for r in ratios]])
    fine = (0.67, 0.8, 1.25, 1.5) if hi / lo <= 50 else ()  # over a wide span they overlap ("0.670.8 1.251.5")
    ticks = sorted(t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, *fine) if lo <= t <= hi)
    labelled = len(points) <= CALIBRATION_LABELLED_POINTS  # beyond that the ids overlap: they stay on hover
    layout = {"title": {"text": "Model / measured for every point (green: within ±20%; dotted: 2×)"
                        + ("" if labelled else "; hover a point for its id")}, "height": 640,
              "xaxis": {"type": "log", "title": {"text": "model / measured"},
                        "tickvals": ticks, "range": [math.log10(lo), math.log10(hi)]},
              "yaxis": {"autorange": "reversed", "tickfont": {"size": 9}, "dtick": 1, "showticklabels": labelled,
                        "title": {"text": "" if labelled else f"{len(points)} published points"}},
              "shapes": shapes, "margin": dict(l=10, r=10, t=50, b=10), "legend": {"orientation": "h", "y": -0.12}}
    return go.Figure(data=traces, layout=layout)


_CALIBRATION_COLUMNS = ["measurement_id", "metric", "value", "predicted", "error", "model_id", "hardware_id", "dtype",
                        "tp", "scenario", "batch", "input_tokens", "output_tokens", "framework", "source", "url",
                        "as_of", "assumed", "excluded", "excluded_reason", "notes"]


def calibration_frame(result: PerformanceAnalysis) -> pd.DataFrame:
    """The calibration table: every measurement, the model's prediction and the error."""
    rows = [dataclasses.asdict(p) for p in result.calibration.points]
    return pd.DataFrame(rows, columns=[*_CALIBRATION_COLUMNS, "model_over_measured"])[_CALIBRATION_COLUMNS]


def microbenchmark_frame(result: PerformanceAnalysis) -> pd.DataFrame:
    """The raw microbenchmark ceilings with their share of the datasheet."""
    cols = ["benchmark_id", "hardware_id", "metric", "value", "unit", "share_of_datasheet", "notes", "source", "as_of"]
    return pd.DataFrame([dataclasses.asdict(m) for m in result.microbenchmarks], columns=cols)
