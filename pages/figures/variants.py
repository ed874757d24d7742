"""Figures and tables of the Compare variants page: pure functions from
:class:`estimator.variants.Exploration` to plotly figures and display tables (no Streamlit; tested in
tests/test_figures_variants.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from estimator import formatting, pricing
from estimator.variants import Exploration

__all__ = [
    "LC_LENGTHS",
    "LC_METRICS",
    "PALETTE",
    "SYMBOLS",
    "X_AXES",
    "Candidate",
    "budget_verdicts",
    "candidates",
    "compression_figure",
    "elastic_figure",
    "format_x",
    "frontier_figure",
    "hover_texts",
    "long_context_figures",
    "points_table",
]

X_AXES: dict[str, str] = {
    "cost_usd_per_1m_tokens": "Cost per 1M tokens (USD)",
    "cost_usd_per_1k_requests": "Cost per 1k requests (USD)",
    "ttft_s": "Time to first token (s)",
    "tpot_s": "Time per output token (s)",
    "e2e_s": "End-to-end latency (s)",
    "energy_kwh_per_1m_tokens": "Energy per 1M tokens (kWh)",
}
"""The x-axes the page offers (sweep column -> axis title)."""

SYMBOLS = {"base": "circle", "pruned": "diamond", "distilled": "square", "elastic": "triangle-up"}
PALETTE = ["#3b5bdb", "#e8590c", "#2f9e44", "#ae3ec9", "#1098ad", "#c2255c", "#f59f00", "#5c940d", "#495057",
           "#7048e8", "#0b7285", "#862e9c"]
LC_LENGTHS = [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]
"""Input lengths the long-context tab offers (and its x-axis ticks)."""
LC_METRICS = (("cost_usd_per_1k_requests", "USD per 1k requests"), ("e2e_s", "End-to-end latency (s)"),
              ("energy_kwh_per_1k_requests", "kWh per 1k requests"))
"""The long-context tab's three curves: column and title."""
FRONTIER_RED = "#c92a2a"


def format_x(col: str, value: float) -> str:
    """A value of an x-axis column as text: money, a duration or kWh.

    >>> format_x("cost_usd_per_1m_tokens", 0.0234), format_x("tpot_s", 0.012), format_x("energy_kwh_per_1m_tokens", 1.5)
    ('$0.0234', '12 ms', '1.5 kWh')
    """
    if col.startswith("cost"):
        return formatting.money(value)
    if col.endswith("_s"):
        return formatting.duration(value)
    return f"{value:,.4g} kWh" if math.isfinite(value) else "n/a"


def _wrap(text: str, width: int = 90, limit: int = 260) -> str:
    text = text if len(text) <= limit else text[:limit - 3] + "…"
    return "<br>".join(text[i:i + width] for i in range(0, len(text), width))


def hover_texts(points: pd.DataFrame, x: str, benchmark: str) -> list[str]:
    """Hover text per point: variant and format, configuration, x value, score and its source."""
    out = []
    for rd in points.to_dict("records"):
        out.append(
            f"<b>{rd['label']}</b> · {rd['dtype']}<br>{rd['tp']} × {rd['hardware']} · batch {rd['batch']}"
            f"<br>{X_AXES.get(x, x)}: {format_x(x, float(rd[x]))}<br>{benchmark}: {float(rd['score']):.1f} "
            f"({rd['score_kind']})<br><i>{_wrap(str(rd.get('score_source', '')))}</i>")
    return out


def _frontier_traces(fig: go.Figure, scored: pd.DataFrame, x: str, benchmark: str) -> None:
    """One marker trace per (family, kind, proxy or not): colour by family, symbol by kind, hollow
    for proxy scores, bigger on the frontier."""
    colors = {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(sorted(scored["family"].astype(str).unique()))}
    for (fam, kind), g in scored.groupby(["family", "kind"], sort=False):
        proxy = g["score_kind"].astype(str).str.startswith("proxy")
        for is_proxy, gg in ((False, g[~proxy]), (True, g[proxy])):
            if gg.empty:
                continue
            color = colors[str(fam)]
            fig.add_scatter(
                x=gg[x], y=gg["score"], mode="markers", name=f"{fam} · {kind}" + (" (proxy)" if is_proxy else ""),
                marker=dict(symbol=SYMBOLS.get(str(kind), "circle") + ("-open" if is_proxy else ""),
                            size=np.where(gg["on_frontier"], 13, 9), color=color, line=dict(width=1.5, color=color)),
                hovertext=hover_texts(gg, x, benchmark), hoverinfo="text", legendgroup=str(fam))


def _label_frontier(fig: go.Figure, frontier: pd.DataFrame, x: str) -> None:
    """Name the frontier points, skipping one that would overlap the previous label (log x)."""
    last: tuple[float, float] | None = None
    for rd in frontier.to_dict("records"):
        lx, ly = math.log10(float(rd[x])), float(rd["score"])
        if last is not None and abs(lx - last[0]) < 0.35 and abs(ly - last[1]) < 4.0:
            continue
        fig.add_annotation(x=lx, y=ly, text=f"{rd['label']} · {rd['dtype']}", showarrow=True, arrowhead=0,
                           arrowcolor=FRONTIER_RED, ax=-8, ay=-22, xanchor="right",
                           font=dict(size=10, color=FRONTIER_RED), bgcolor="rgba(255,255,255,0.7)")
        last = (lx, ly)


def frontier_figure(ex: Exploration) -> go.Figure:
    """Accuracy against the x-axis (log) for every scored point, the Pareto frontier as a step line."""
    x = ex.x
    scored = ex.scored[np.isfinite(ex.scored[x].to_numpy(float)) & (ex.scored[x].to_numpy(float) > 0)]
    fig = go.Figure()
    _frontier_traces(fig, scored, x, ex.benchmark)
    fr = scored[scored["on_frontier"]].sort_values(x, kind="stable")
    fig.add_scatter(x=fr[x], y=fr["score"], mode="lines", line=dict(shape="hv", color=FRONTIER_RED, width=2),
                    name="Pareto frontier", hoverinfo="skip")
    _label_frontier(fig, fr, x)
    fig.update_xaxes(type="log", title=X_AXES.get(x, x))
    fig.update_yaxes(title=f"{ex.benchmark} score (0-100)")
    fig.update_layout(height=560, margin=dict(l=10, r=10, t=40, b=10),
                      title=f"{ex.benchmark} vs {X_AXES.get(x, x)} · {formatting.integer(ex.spec.input_tokens)} input / "
                            f"{formatting.integer(ex.spec.output_tokens)} output tokens per request",
                      legend=dict(orientation="v", font=dict(size=10)))
    return fig


_TABLE_COLUMNS = ["on_frontier", "label", "kind", "dtype", "hardware", "tp", "batch", "score", "score_kind",
                  "cost_usd_per_1m_tokens", "cost_usd_per_1k_requests", "ttft_s", "tpot_s", "e2e_s",
                  "tokens_per_usd", "energy_kwh_per_1m_tokens", "memory_per_device_bytes", "instance_id",
                  "score_source", "model_source"]


def points_table(ex: Exploration) -> pd.DataFrame:
    """The frontier tab's table: scored points, frontier first then by x; memory in GB."""
    table = ex.scored.sort_values(["on_frontier", ex.x], ascending=[False, True], kind="stable")
    show = table[_TABLE_COLUMNS].copy()
    show["memory_per_device_bytes"] = show["memory_per_device_bytes"] / 1e9
    return show.reset_index(drop=True)


@dataclass(frozen=True)
class Candidate:
    """A scored point the capacity planner can take: its option key, label and link parameters."""

    key: str
    label: str
    params: dict[str, str]
    kind: str
    planner_model_id: str
    variant_label: str


def candidates(ex: Exploration) -> list[Candidate]:
    """Scored points whose model the capacity planner knows (frontier first, ★), with the planner's
    link parameters (model, accelerator, format, TP, tokens, pricing)."""
    table = ex.scored.sort_values(["on_frontier", ex.x], ascending=[False, True], kind="stable")
    out = []
    for r in table[table["planner_model_id"].astype(str) != ""].to_dict("records"):
        key = f"{r['variant_id']}|{r['dtype']}|{r['hardware_id']}|{r['tp']}"
        label = (f"{'★ ' if bool(r['on_frontier']) else ''}{r['label']} · {r['dtype']} · {r['tp']} × {r['hardware']} · "
                 f"{format_x(ex.x, float(r[ex.x]))} · {ex.benchmark} {float(r['score']):.1f}")
        params = {"m": str(r["planner_model_id"]), "hw": str(r["hardware_id"]), "wd": str(r["dtype"]),
                  "tp": str(int(r["tp"])), "in": str(ex.spec.input_tokens), "out": str(ex.spec.output_tokens),
                  "price": pricing.PricingModel(ex.spec.pricing_model).value}
        out.append(Candidate(key, label, params, str(r["kind"]), str(r["planner_model_id"]), str(r["label"])))
    return out


def compression_figure(ex: Exploration) -> go.Figure | None:
    """What-if map: cost relative to the 16-bit model (x) against the score change (y), per kind;
    None when no point has both."""
    tab = ex.compression
    if tab is None:
        return None
    cmap = tab[np.isfinite(tab["cost vs 16-bit base"].to_numpy(float)) & np.isfinite(tab["score change"].to_numpy(float))]
    if cmap.empty:
        return None
    fig = go.Figure()
    groups = cmap["kind"].where(cmap["kind"] != "base", "quantized")
    for i, (kind, g) in enumerate(cmap.groupby(groups)):
        names = [f"{lbl} · {dt}" for lbl, dt in zip(g["label"], g["dtype"], strict=True)]
        big = (g["score change"].abs() >= 0.5) | (g["cost vs 16-bit base"] >= 0.95)
        fig.add_scatter(x=g["cost vs 16-bit base"], y=g["score change"], mode="markers+text", name=str(kind),
                        text=[n if b else "" for n, b in zip(names, big, strict=True)], hovertext=names,
                        hoverinfo="text+x+y", textposition="top center", textfont=dict(size=9),
                        marker=dict(size=10, color=PALETTE[i % len(PALETTE)], symbol=SYMBOLS.get(str(kind), "circle")))
    fig.add_vline(x=1.0, line_dash="dot", line_color="#868e96")
    fig.add_hline(y=0.0, line_dash="dot", line_color="#868e96")
    fig.update_layout(title="What-if map: cost and accuracy relative to the 16-bit model (or teacher)",
                      xaxis_title=f"{X_AXES.get(ex.x, ex.x)} relative to 16-bit (×)",
                      yaxis_title=f"{ex.benchmark} change (points)", height=420, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def elastic_figure(ex: Exploration) -> go.Figure | None:
    """Sub-networks: score (anchored proxy) against TPOT in ms, one line per weight format; None
    without elastic points."""
    if ex.elastic is None or ex.elastic.points.empty:
        return None
    fig = go.Figure()
    for dt, g in ex.elastic.points.groupby("dtype"):
        g = g.sort_values("params_total", kind="stable")
        scored = bool(g["score"].notna().all())
        fig.add_scatter(x=g["tpot_s"] * 1e3, y=g["score"], mode="lines+markers+text", name=str(dt),
                        text=[str(lbl).split("· ")[-1] for lbl in g["label"]], textposition="top center",
                        hovertext=hover_texts(g, "tpot_s", ex.benchmark) if scored else None,
                        hoverinfo="text" if scored else "x+y")
    fig.update_layout(title="Sub-networks: accuracy (anchored proxy) vs time per output token",
                      xaxis_title="TPOT at the chosen configuration (ms)", yaxis_title=f"{ex.benchmark} (proxy)",
                      height=380, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def long_context_figures(ex: Exploration) -> list[tuple[str, go.Figure]]:
    """Cost, latency and energy per request against input length (log-log), one line per model;
    empty when nothing was evaluated. Returns ``(metric column, figure)`` pairs."""
    lc = ex.long_context
    if lc is None or lc.result is None or lc.result.frame.empty:
        return []
    curves = lc.result.frame.drop_duplicates(["variant_id", "input_tokens"])
    out = []
    for metric, title in LC_METRICS:
        fig = go.Figure()
        for i, (lbl, g) in enumerate(curves.groupby("label", sort=False)):
            fig.add_scatter(x=g["input_tokens"], y=g[metric], mode="lines+markers", name=str(lbl),
                            line=dict(color=PALETTE[i % len(PALETTE)]),
                            hovertemplate="%{x:,} tokens: %{y:.4g}<extra>" + str(lbl) + "</extra>")
        fig.update_xaxes(type="log", title="input tokens", tickvals=LC_LENGTHS,
                         ticktext=[f"{x // 1024}k" for x in LC_LENGTHS])
        fig.update_yaxes(type="log", title=title)
        fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10), showlegend=(metric == "e2e_s"),
                          legend=dict(orientation="h", y=-0.35, font=dict(size=9)), title=title)
        out.append((metric, fig))
    return out


def budget_verdicts(ex: Exploration) -> list[tuple[str, str, pd.DataFrame]]:
    """Per benchmark with a score published at a length: its name, the best point within the
    budget (markdown) and its table, best score first."""
    lc = ex.long_context
    if lc is None or lc.published.empty:
        return []
    out = []
    for bname, g in lc.published.groupby("benchmark", sort=True):
        best_in = g[g["within"]]
        if best_in.empty:
            verdict = "nothing published fits this budget"
        else:
            b = best_in.iloc[0]
            verdict = (f"best within budget: **{b['label']} at {int(b['input_tokens']):,} tokens** "
                       f"({bname} {float(b['score']):.2f})")
        out.append((str(bname), verdict, g[_BUDGET_COLUMNS]))
    return out


_BUDGET_COLUMNS: Sequence[str] = ["label", "input_tokens", "score", "cost_usd_per_1k_requests", "e2e_s",
                                  "energy_kwh_per_1k_requests", "within", "score_status", "score_source"]
