"""Figures and tables of the capacity page's rent vs buy vs API section, built from one
:class:`~estimator.tco.TcoComparison` (nothing is recomputed here)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from estimator.formatting import money
from estimator.tco import PriceSheetRow, TcoComparison
from pages.figures import BLUE, GREEN, GREY, MARGIN, ORANGE, PURPLE, RED

__all__ = ["breakdown_table", "cumulative_cost_figure", "price_sheet_table"]

_RENT_COLORS = {"on_demand": RED, "spot": GREY, "committed_1y": ORANGE, "committed_3y": PURPLE}


def _style(row: PriceSheetRow) -> dict[str, Any]:
    if row.kind == "buy":
        return {"color": BLUE, "width": 3}
    if row.kind == "api":
        return {"color": GREEN, "width": 2, "dash": "dot"}
    return {"color": _RENT_COLORS.get(row.key, GREY), "width": 2, "dash": "dash"}


def cumulative_cost_figure(t: TcoComparison) -> go.Figure:
    """Discounted cumulative cost of each option by month (buying starts at its capex), with a marker
    where buying breaks even against each option."""
    months = list(t.months)
    traces: list[dict[str, Any]] = []
    for row in t.options:
        traces.append({"type": "scatter", "mode": "lines", "name": row.option, "x": months,
                       "y": list(t.curves.get(row.option, ())), "line": _style(row),
                       "hovertemplate": "month %{x}: $%{y:,.0f}<extra>" + row.option + "</extra>"})
    buy = t.curves.get(t.options[0].option, ()) if t.options else ()
    xs = [r.break_even_month for r in t.options if r.break_even_month is not None]
    if xs:
        traces.append({"type": "scatter", "mode": "markers", "name": "buying breaks even", "x": xs,
                       "y": [buy[m] for m in xs], "marker": {"color": BLUE, "size": 10, "symbol": "diamond"},
                       "hovertemplate": "break-even: month %{x}<extra></extra>"})
    layout = {"title": {"text": "Cumulative cost (discounted to today at the cost of capital)"},
              "xaxis": {"title": {"text": "month"}}, "yaxis": {"title": {"text": "USD"}, "tickformat": "$,.0f"},
              "margin": MARGIN, "legend": {"orientation": "h", "y": -0.2}, "height": 420}
    return go.Figure(data=traces, layout=layout)


def _usd_per_mtok(x: float | None) -> str:
    if x is None:
        return "—"
    return f"${x:,.3f}" if abs(x) < 10 else f"${x:,.2f}"


def price_sheet_table(t: TcoComparison) -> pd.DataFrame:
    """Every option as an API price sheet: monthly cost and USD per 1M input, cached-input and output tokens."""
    return pd.DataFrame({
        "option": [r.option for r in t.options],
        "per month": [money(r.monthly_usd) for r in t.options],
        "input $/1M": [_usd_per_mtok(r.input_usd_per_mtok) for r in t.options],
        "cached input $/1M": [_usd_per_mtok(r.cached_input_usd_per_mtok) for r in t.options],
        "output $/1M": [_usd_per_mtok(r.output_usd_per_mtok) for r in t.options],
        "buying breaks even": ["—" if r.kind == "buy" else
                               (f"month {r.break_even_month}" if r.break_even_month is not None else "not within the life")
                               for r in t.options],
    })


def breakdown_table(t: TcoComparison) -> pd.DataFrame:
    """The monthly TCO of buying, line by line."""
    lines = [("Capex, levelized (capital recovery factor)", t.capex_usd_per_month),
             ("Power and cooling (kWh x PUE x price)", t.power_usd_per_month),
             ("Colocation (provisioned kW x rent)", t.colocation_usd_per_month),
             ("Operations (share of capex per year)", t.operations_usd_per_month),
             ("Total cost of ownership", t.monthly_tco_usd)]
    return pd.DataFrame({"line": [n for n, _ in lines], "USD per month": [money(v) for _, v in lines]})
