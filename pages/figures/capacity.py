"""Figures and tables of the Capacity planner page, built from one :class:`~estimator.capacity.CapacityPlan`."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from estimator.capacity import CapacityPlan
from estimator.formatting import duration, money
from estimator.scenario import InferenceMode
from pages.figures import BLUE, GREEN, GREY, MARGIN, ORANGE, PURPLE, RED, log_vline

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


def week_figure(p: CapacityPlan) -> go.Figure:
    """Arrivals (requests/s, left axis) and replicas (right axis) for each hour of the week."""
    labels, x = list(p.hour_labels), list(range(len(p.arrival_rps)))
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(x=x, y=p.arrival_rps, name="arrivals (requests/s)", line=dict(color=BLUE), customdata=labels,
                    hovertemplate="%{customdata}: %{y:,.2f} req/s<extra></extra>")
    if p.scenario.traffic.response_cache_hit_rate > 0:
        fig.add_scatter(x=x, y=p.fleet_rps, name="after the response cache", line=dict(color=BLUE, dash="dot"),
                        customdata=labels, hovertemplate="%{customdata}: %{y:,.2f} req/s<extra></extra>")
    fig.add_scatter(x=x, y=p.replicas, name="replicas", line=dict(color=ORANGE, shape="hv"), secondary_y=True,
                    customdata=labels, hovertemplate="%{customdata}: %{y} replicas<extra></extra>")
    top = max(p.replicas, default=0)
    fig.update_yaxes(title_text="requests/s", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(title_text="replicas", rangemode="tozero", secondary_y=True, showgrid=False,
                     dtick=max(1, math.ceil(top / 6)))
    fig.update_xaxes(**_day_ticks(p.hour_labels))
    fig.update_layout(title="Load and replicas over the week", height=360, margin=MARGIN,
                      legend=dict(orientation="h", y=-0.18))
    return fig


def week_cost_figure(p: CapacityPlan) -> go.Figure:
    """The fleet's cost in each hour of the week (USD per hour)."""
    labels = list(p.hour_labels)
    fig = go.Figure()
    fig.add_bar(x=list(range(len(p.cost_usd_by_hour))), y=p.cost_usd_by_hour, marker_color=GREEN,
                customdata=[[lab, money(c)] for lab, c in zip(labels, p.cost_usd_by_hour, strict=False)],
                name="cost", hovertemplate="%{customdata[0]}: %{customdata[1]}<extra></extra>")
    fig.update_xaxes(**_day_ticks(p.hour_labels))
    billing = ("serverless GB-seconds" if p.mode == InferenceMode.SERVERLESS
               else p.pricing.value.replace("_", " ") + " instances")
    fig.update_layout(title=f"Cost per hour over the week ({billing})", yaxis_title="USD per hour",
                      height=360, margin=MARGIN, showlegend=False)
    return fig


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
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(x=lc["rps_per_replica"], y=lc["ttft_p95_s"], name="p95 TTFT", line=dict(color=BLUE))
    fig.add_scatter(x=lc["rps_per_replica"], y=lc["e2e_p95_s"], name="p95 end-to-end", line=dict(color=PURPLE),
                    secondary_y=True)
    fig.add_hline(y=slo.ttft_p95_s, line_dash="dot", line_color=BLUE, annotation_text="TTFT goal",
                  annotation_position="bottom left")
    fig.add_hline(y=slo.e2e_p95_s, line_dash="dot", line_color=PURPLE, secondary_y=True)
    # plotly puts an add_hline label on the primary axis even with secondary_y: place it on y2
    fig.add_annotation(x=0, xref="x domain", y=slo.e2e_p95_s, yref="y2", text="end-to-end goal", showarrow=False,
                       xanchor="left", yanchor="bottom", font=dict(color=PURPLE))
    fig.add_vline(x=p.max_rps_per_replica, line_dash="dash", line_color=GREEN, annotation_text="plan load")
    fig.add_vline(x=p.saturation_rps_per_replica, line_dash="dash", line_color=RED, annotation_text="saturation",
                  annotation_position="top left")
    fig.update_yaxes(title_text="p95 TTFT (s)", range=[0, _axis_top(lc["ttft_p95_s"], slo.ttft_p95_s, 3)],
                     secondary_y=False)
    fig.update_yaxes(title_text="p95 end-to-end (s)", range=[0, _axis_top(lc["e2e_p95_s"], slo.e2e_p95_s, 2)],
                     secondary_y=True, showgrid=False)
    fig.update_layout(title=f"Latency vs load (one {p.devices_per_replica} × {p.hardware_id} replica, queueing model)",
                      xaxis_title="requests/s per replica", height=360, margin=MARGIN,
                      legend=dict(orientation="h", y=-0.22))
    return fig


def buy_build_figure(p: CapacityPlan, apis: int = 3) -> go.Figure:
    """Monthly cost against traffic: the self-hosted fleet and up to ``apis`` hosted APIs serving
    the same model (their bills scale linearly with the requests), log-log."""
    cc = p.cost_curve
    rpd = list(cc["requests_per_day"])
    fig = go.Figure()
    fig.add_scatter(x=rpd, y=cc["self_hosted_monthly_usd"], name="self-hosted real-time",
                    line=dict(color=ORANGE, shape="hv"))
    same = [a for a in p.api_options if a.same_model][:apis]
    for a, dash in zip(same, ("solid", "dash", "dot"), strict=False):
        per_request_day = a.monthly_cost_usd / max(p.requests_per_day, 1e-9)
        fig.add_scatter(x=rpd, y=[per_request_day * r for r in rpd], name=f"{a.provider} API",
                        line=dict(color=GREY, dash=dash))
    log_vline(fig, p.requests_per_day, "your traffic", BLUE, "dash", y=1.0)
    if p.break_even_requests_per_day:
        log_vline(fig, p.break_even_requests_per_day, "break-even", GREEN, "dot", y=0.0)
    fig.update_xaxes(type="log", title="requests per day")
    fig.update_yaxes(type="log", title="USD per month")
    fig.update_layout(title="Cost vs traffic: build (self-hosted) or buy (API)", height=360, margin=MARGIN,
                      legend=dict(orientation="h", y=-0.22))
    return fig


def growth_figure(p: CapacityPlan) -> go.Figure:
    """The monthly cost over the next 12 months at the scenario's monthly growth."""
    months = list(range(1, len(p.growth_monthly_cost_usd) + 1))
    fig = go.Figure()
    fig.add_scatter(x=months, y=p.growth_monthly_cost_usd, mode="lines+markers", line=dict(color=ORANGE),
                    customdata=[money(c) for c in p.growth_monthly_cost_usd],
                    hovertemplate="month %{x}: %{customdata}<extra></extra>")
    fig.update_layout(title=f"Monthly cost with {p.scenario.traffic.monthly_growth:+.0%} growth a month",
                      xaxis_title="month", yaxis_title="USD per month", height=300, yaxis_rangemode="tozero",
                      margin=MARGIN)
    return fig


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
