"""Figures of the recommendation (:class:`estimator.recommend.Recommendation`): Pareto charts of monthly
cost against p95 TTFT and against carbon, and the ranked table. Pure functions, no Streamlit (tested in
tests/test_recommend.py); figures are built as plain dicts, then one ``go.Figure`` (see ``pages.figures``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from estimator import formatting
from estimator.recommend import Option, Recommendation, pareto_cost_carbon, pareto_cost_ttft
from estimator.scenario import option_label
from pages.figures import BLUE, GREY, MARGIN, RED, hline, log_ticks

__all__ = ["cost_carbon_figure", "cost_ttft_figure", "infeasible_table", "options_table"]


def _label(o: Option) -> str:
    return f"{o.hardware_name or o.hardware_id} ×{o.tp} {o.weight_dtype}, {o.provider} {o.instance_type} ({o.region})"


def _hover(o: Option) -> str:
    parts = [_label(o), f"{formatting.money(o.monthly_cost_usd or 0.0)} a month, {o.replicas} replicas at peak"]
    if o.ttft_p95_s is not None and o.e2e_p95_s is not None:
        parts.append(f"p95 TTFT {formatting.duration(o.ttft_p95_s)}, end-to-end {formatting.duration(o.e2e_p95_s)}")
    if o.co2e_t_per_month is not None:
        parts.append(f"{o.co2e_t_per_month:,.2f} t CO2e a month")
    if o.usd_per_million_input_tokens is not None and o.usd_per_million_output_tokens is not None:
        parts.append(f"{formatting.money(o.usd_per_million_input_tokens)} per 1M input tokens, "
                     f"{formatting.money(o.usd_per_million_output_tokens)} per 1M output tokens")
    return "<br>".join(parts)


def _scatter(rows: Sequence[Option], y: Callable[[Option], float | None], name: str, color: str,
             size: int, mode: str = "markers") -> dict[str, Any]:
    pts = [(o.monthly_cost_usd, y(o), o) for o in rows if o.monthly_cost_usd is not None and y(o) is not None]
    return {"type": "scatter", "mode": mode, "name": name, "x": [p[0] for p in pts], "y": [p[1] for p in pts],
            "text": [_hover(p[2]) for p in pts], "hoverinfo": "text", "marker": {"color": color, "size": size},
            "line": {"color": color}}


def _pareto_figure(rec: Recommendation, y: Callable[[Option], float | None], front: tuple[Option, ...],
                   title: str, y_title: str, goal: float | None = None) -> go.Figure:
    plans = [o for o in rec.options if o.feasible]
    traces = [
        _scatter([o for o in rec.screened if o.feasible], y, "screening estimates", GREY, 5),
        _scatter(plans, y, "exact plans", BLUE, 9),
        _scatter(front, y, "Pareto frontier", RED, 11, mode="lines+markers"),
    ]
    xs = [x for t in traces for x in t["x"]]
    ys = [v for t in traces for v in t["y"]] + ([goal] if goal is not None else [])
    x_ticks = log_ticks(xs)
    if x_ticks:  # whole labels ($50k, $100k, $200k): plotly's own log labels read "5  $100k  2"
        x_ticks["ticktext"] = [formatting.money_compact(float(v)) for v in x_ticks["tickvals"]]
    layout: dict[str, Any] = {
        "title": {"text": title}, "margin": MARGIN, "hovermode": "closest",
        "xaxis": {"title": {"text": "Monthly cost (USD)"}, "type": "log", **x_ticks},
        "yaxis": {"title": {"text": y_title}, "type": "log", **log_ticks(ys)},
        "legend": {"orientation": "h", "y": -0.2},
        "shapes": [hline(goal, RED, "dot")] if goal is not None else [],
    }
    return go.Figure(data=traces, layout=layout)


def cost_ttft_figure(rec: Recommendation) -> go.Figure:
    """Monthly cost against p95 TTFT: screened options, exact plans, the frontier and the TTFT goal."""
    return _pareto_figure(rec, lambda o: o.ttft_p95_s, pareto_cost_ttft(rec.options), "Cost vs p95 time to first token",
                          "p95 TTFT (s)", rec.scenario.slo.ttft_p95_s)


def cost_carbon_figure(rec: Recommendation) -> go.Figure:
    """Monthly cost against emissions (t CO2e a month): screened options, exact plans, the frontier."""
    return _pareto_figure(rec, lambda o: o.co2e_t_per_month, pareto_cost_carbon(rec.options), "Cost vs carbon",
                          "t CO2e per month")


def options_table(rec: Recommendation, rows: int = 20) -> pd.DataFrame:
    """The exact plans, cheapest first, formatted for people (money with separators, durations with units)."""
    out = []
    for o in rec.options[:rows]:
        out.append({
            "accelerator": f"{o.hardware_name or o.hardware_id} ×{o.tp}", "weights": o.weight_dtype,
            "cloud": o.provider, "region": o.region, "instance": o.instance_type, "pricing": option_label("price", o.pricing),
            "replicas (peak)": o.replicas,
            "monthly cost": formatting.money(o.monthly_cost_usd) if o.monthly_cost_usd is not None else "—",
            "p95 TTFT": formatting.duration(o.ttft_p95_s) if o.ttft_p95_s is not None else "—",
            "p95 end-to-end": formatting.duration(o.e2e_p95_s) if o.e2e_p95_s is not None else "—",
            "t CO2e / month": f"{o.co2e_t_per_month:,.2f}" if o.co2e_t_per_month is not None else "—",
            "$ / 1M input tokens": (formatting.money(o.usd_per_million_input_tokens)
                                    if o.usd_per_million_input_tokens is not None else "—"),
            "$ / 1M output tokens": (formatting.money(o.usd_per_million_output_tokens)
                                     if o.usd_per_million_output_tokens is not None else "—"),
            "meets goals": "yes" if o.feasible else "no: " + o.detail,
        })
    return pd.DataFrame(out)


def infeasible_table(rec: Recommendation) -> pd.DataFrame:
    """Infeasible options grouped by reason: ``reason (count)`` and a few examples."""
    return pd.DataFrame([{"reason": g.label, "for example": "; ".join(g.examples)} for g in rec.infeasible])
