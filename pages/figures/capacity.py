"""Figures and tables of the Capacity planner page, built from one :class:`~estimator.capacity.CapacityPlan`."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from estimator.capacity import CapacityPlan
from estimator.formatting import duration, money
from estimator.scenario import InferenceMode, option_label
from pages.figures import (
    BLUE,
    GREEN,
    GREY,
    MARGIN,
    ORANGE,
    PURPLE,
    RED,
    SECONDARY_Y_DOMAIN,
    hline,
    log_vline_items,
    rgba,
    vline,
)

__all__ = [
    "api_table",
    "buy_build_figure",
    "growth_figure",
    "latency_figure",
    "modes_table",
    "pricing_table",
    "regions_table",
    "tp_table",
    "week_cost_figure",
    "week_figure",
]

HOURS = 168


def _day_ticks(labels: tuple[str, ...]) -> dict[str, Any]:
    """One tick per day of the week (``Mon``, ``Tue``, ...) on an hourly axis."""
    return dict(tickmode="array", tickvals=list(range(0, HOURS, 24)), ticktext=[lab[:3] for lab in labels[::24]])


def _two_y_axes(left: dict[str, Any], right: dict[str, Any], **x: Any) -> dict[str, Any]:
    """The axes of a figure with a right-hand y axis (``yaxis2``, overlaying the left one), laid out
    as ``make_subplots(specs=[[{"secondary_y": True}]])`` does."""
    return {"xaxis": {"anchor": "y", "domain": SECONDARY_Y_DOMAIN, **x},
            "yaxis": {"anchor": "x", "domain": [0.0, 1.0], **left},
            "yaxis2": {"anchor": "x", "overlaying": "y", "side": "right", **right}}


def week_figure(p: CapacityPlan) -> go.Figure:
    """Arrivals (requests/s, left axis) and replicas (right axis) for each hour of the week."""
    labels, x = list(p.hour_labels), list(range(len(p.arrival_rps)))
    rps_hover = "%{customdata}: %{y:,.2f} req/s<extra></extra>"
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "x": x, "y": list(p.arrival_rps), "name": "arrivals (requests/s)",
         "line": {"color": BLUE}, "customdata": labels, "hovertemplate": rps_hover}]
    if p.scenario.traffic.response_cache_hit_rate > 0:
        traces.append({"type": "scatter", "x": x, "y": list(p.fleet_rps), "name": "after the response cache",
                       "line": {"color": BLUE, "dash": "dot"}, "customdata": labels, "hovertemplate": rps_hover})
    traces.append({"type": "scatter", "x": x, "y": list(p.replicas), "name": "replicas",
                   "line": {"color": ORANGE, "shape": "hv"}, "xaxis": "x", "yaxis": "y2", "customdata": labels,
                   "hovertemplate": "%{customdata}: %{y} replicas<extra></extra>"})
    top = max(p.replicas, default=0)
    layout = _two_y_axes({"title": {"text": "requests/s"}, "rangemode": "tozero"},
                         {"title": {"text": "replicas"}, "rangemode": "tozero", "showgrid": False,
                          "dtick": max(1, math.ceil(top / 6))},
                         **_day_ticks(p.hour_labels))
    layout.update(title={"text": "Load and replicas over the week"}, height=360, margin=MARGIN,
                  legend={"orientation": "h", "y": -0.18})
    return go.Figure(data=traces, layout=layout)


def week_cost_figure(p: CapacityPlan) -> go.Figure:
    """The fleet's cost in each hour of the week (USD per hour)."""
    labels, cost = list(p.hour_labels), list(p.cost_usd_by_hour)
    # one stepped, filled line rather than 168 bars: the same picture, and the browser draws one SVG path
    # instead of 168 (bench/bench_browser_cpu.py: the bar chart cost Chromium about 0.1 s per rerun)
    bar = {"type": "scatter", "mode": "lines", "x": list(range(len(cost))), "y": cost, "line": {"color": GREEN,
           "shape": "hv", "width": 1}, "fill": "tozeroy", "fillcolor": rgba(GREEN, 0.55),
           "customdata": [[lab, money(c)] for lab, c in zip(labels, cost, strict=False)], "name": "cost",
           "hovertemplate": "%{customdata[0]}: %{customdata[1]}<extra></extra>"}
    billing = ("serverless GB-seconds" if p.mode == InferenceMode.SERVERLESS
               else option_label("price", p.pricing.value).lower() + " instances")
    layout = {"xaxis": _day_ticks(p.hour_labels), "yaxis": {"title": {"text": "USD per hour"}},
              "title": {"text": f"Cost per hour over the week ({billing})"}, "height": 360, "margin": MARGIN,
              "showlegend": False}
    return go.Figure(data=[bar], layout=layout)


def _axis_top(curve: tuple[float, ...], goal: float, cap: float) -> float:
    """Upper end of a latency axis: the curve's finite maximum (and the goal when it is within 3x),
    plus 15 %, never above ``cap`` x the goal (the curve runs to infinity at saturation)."""
    finite = [v for v in curve if math.isfinite(v)]
    top = max(finite) if finite else goal
    return min(1.15 * (max(top, goal) if goal <= 3 * top else top), cap * goal)


def latency_figure(p: CapacityPlan) -> go.Figure:
    """p95 TTFT and end-to-end latency of one replica against its load, with the goals, the plan
    load and saturation marked."""
    lc, slo = p.latency_curve, p.scenario.slo
    rps = list(lc["rps_per_replica"])
    traces = [{"type": "scatter", "x": rps, "y": list(lc["ttft_p95_s"]), "name": "p95 TTFT", "line": {"color": BLUE}},
              {"type": "scatter", "x": rps, "y": list(lc["e2e_p95_s"]), "name": "p95 end-to-end",
               "line": {"color": PURPLE}, "xaxis": "x", "yaxis": "y2"}]
    plan_x, sat_x = p.max_rps_per_replica, p.saturation_rps_per_replica
    shapes = [hline(slo.ttft_p95_s, BLUE, "dot"), hline(slo.e2e_p95_s, PURPLE, "dot", yref="y2"),
              vline(plan_x, GREEN, "dash"), vline(sat_x, RED, "dash")]
    label = {"showarrow": False, "yanchor": "top"}
    annotations = [
        {**label, "text": "TTFT goal", "x": 0, "xref": "x domain", "xanchor": "left", "y": slo.ttft_p95_s, "yref": "y"},
        # on the right-hand axis (plotly's add_hline would put this label on the primary axis)
        {**label, "text": "end-to-end goal", "x": 0, "xref": "x domain", "xanchor": "left", "y": slo.e2e_p95_s,
         "yref": "y2", "yanchor": "bottom", "font": {"color": PURPLE}},
        {**label, "text": "plan load", "x": plan_x, "xref": "x", "xanchor": "left", "y": 1, "yref": "y domain"},
        {**label, "text": "saturation", "x": sat_x, "xref": "x", "xanchor": "right", "y": 1, "yref": "y domain"},
    ]
    layout = _two_y_axes(
        {"title": {"text": "p95 TTFT (s)"}, "range": [0, _axis_top(lc["ttft_p95_s"], slo.ttft_p95_s, 3)]},
        {"title": {"text": "p95 end-to-end (s)"}, "range": [0, _axis_top(lc["e2e_p95_s"], slo.e2e_p95_s, 2)],
         "showgrid": False},
        title={"text": "requests/s per replica"})
    layout.update(
        title={"text": f"Latency vs load (one {p.devices_per_replica} × {p.hardware_id} replica, queueing model)"},
        height=360, margin=MARGIN, legend={"orientation": "h", "y": -0.22}, shapes=shapes, annotations=annotations)
    return go.Figure(data=traces, layout=layout)


def buy_build_figure(p: CapacityPlan, apis: int = 3) -> go.Figure:
    """Monthly cost against traffic: the self-hosted fleet and up to ``apis`` hosted APIs serving
    the same model (their bills scale linearly with the requests), log-log."""
    cc = p.cost_curve
    rpd = list(cc["requests_per_day"])
    traces = [{"type": "scatter", "x": rpd, "y": list(cc["self_hosted_monthly_usd"]), "name": "self-hosted real-time",
               "line": {"color": ORANGE, "shape": "hv"}}]
    same = [a for a in p.api_options if a.same_model][:apis]
    for a, dash in zip(same, ("solid", "dash", "dot"), strict=False):
        per_request_day = a.monthly_cost_usd / max(p.requests_per_day, 1e-9)
        traces.append({"type": "scatter", "x": rpd, "y": [per_request_day * r for r in rpd],
                       "name": f"{a.provider} API", "line": {"color": GREY, "dash": dash}})
    lines = [log_vline_items(p.requests_per_day, "your traffic", BLUE, "dash", y=1.0)]
    if p.break_even_requests_per_day:
        lines.append(log_vline_items(p.break_even_requests_per_day, "break-even", GREEN, "dot", y=0.0))
    layout = {"xaxis": {"type": "log", "title": {"text": "requests per day"}},
              "yaxis": {"type": "log", "title": {"text": "USD per month"}},
              "shapes": [s for s, _ in lines], "annotations": [a for _, a in lines],
              "title": {"text": "Cost vs traffic: build (self-hosted) or buy (API)"}, "height": 360, "margin": MARGIN,
              "legend": {"orientation": "h", "y": -0.22}}
    return go.Figure(data=traces, layout=layout)


def growth_figure(p: CapacityPlan) -> go.Figure:
    """The monthly cost over the next 12 months at the scenario's monthly growth."""
    cost = list(p.growth_monthly_cost_usd)
    trace = {"type": "scatter", "x": list(range(1, len(cost) + 1)), "y": cost, "mode": "lines+markers",
             "line": {"color": ORANGE}, "customdata": [money(c) for c in cost],
             "hovertemplate": "month %{x}: %{customdata}<extra></extra>"}
    layout = {"title": {"text": f"Monthly cost with {p.scenario.traffic.monthly_growth:+.0%} growth a month"},
              "xaxis": {"title": {"text": "month"}}, "yaxis": {"title": {"text": "USD per month"}, "rangemode": "tozero"},
              "height": 300, "margin": MARGIN}
    return go.Figure(data=[trace], layout=layout)


# ------------------------------------------------------------------ tables


def modes_table(p: CapacityPlan) -> pd.DataFrame:
    """Each inference mode with its verdict, cost, latency and the reasons behind the verdict."""
    return pd.DataFrame([
        {"mode": c.name, "verdict": c.verdict,
         "monthly cost": money(c.monthly_cost_usd) if c.monthly_cost_usd is not None else "n/a",
         "p95 TTFT": duration(c.ttft_p95_s) if c.ttft_p95_s is not None else "n/a",
         "p95 end-to-end": duration(c.e2e_p95_s) if c.e2e_p95_s is not None else "n/a",
         "why": "; ".join(c.reasons) or "within every limit", "notes": "; ".join(c.notes)}
        for c in p.modes
    ])


def pricing_table(p: CapacityPlan) -> pd.DataFrame:
    """On-demand, spot and committed prices of the same fleet."""
    return pd.DataFrame([
        {"pricing": o.label, "$/instance-hour": o.price_usd_per_instance_h,
         "monthly": money(o.monthly_cost_usd) if o.available and o.monthly_cost_usd is not None else "not published",
         "per 1M output tokens": money(o.cost_usd_per_million_output_tokens)
         if o.cost_usd_per_million_output_tokens is not None else "n/a",
         "note": o.note}
        for o in p.pricing_options
    ])


def tp_table(p: CapacityPlan) -> pd.DataFrame:
    """The tensor/pipeline-parallel layouts compared, feasible or with the reason they are not."""
    return pd.DataFrame([
        {"TP": o.tp, "PP": o.pp, "feasible": o.feasible,
         "monthly": money(o.monthly_cost_usd) if o.monthly_cost_usd is not None else "n/a",
         "saturation req/s": round(o.saturation_rps, 2) if o.saturation_rps else None,
         "plan req/s per replica": round(o.max_rps_per_replica, 2) if o.max_rps_per_replica else None,
         "why not": o.reason}
        for o in p.tp_options
    ])


def api_table(p: CapacityPlan) -> pd.DataFrame:
    """Hosted APIs priced for the same traffic (buy instead of build)."""
    return pd.DataFrame([
        {"API": f"{a.provider} {a.model}", "same model": a.same_model, "monthly": money(a.monthly_cost_usd),
         "per 1M output tokens": money(a.cost_usd_per_million_output_tokens),
         "$/1M in": a.input_usd_per_mtok, "$/1M out": a.output_usd_per_mtok}
        for a in p.api_options
    ])


def regions_table(p: CapacityPlan) -> pd.DataFrame:
    """The same plan in other regions, marking the greenest, the cheapest and the current one."""
    rows = []
    for r in p.regions:
        roles = (("greenest", p.greenest_region == r), ("cheapest", p.cheapest_region == r),
                 ("current", r.is_current))
        rows.append({"role": ", ".join(name for name, on in roles if on), "region": f"{r.provider} {r.region}",
                     "location": r.location, "instance": r.instance_id, "monthly": money(r.monthly_cost_usd),
                     "tCO2e/month": round(r.co2e_kg_per_month / 1000, 3), "gCO2e/kWh": r.grid_gco2e_per_kwh})
    return pd.DataFrame(rows)
