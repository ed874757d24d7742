"""Figures and tables of the Compare variants page: pure functions from
:class:`estimator.variants.Exploration` to plotly figures and display tables (no Streamlit; tested in
tests/test_figures_variants.py)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from estimator import formatting, pricing
from estimator.variants import Exploration, LongContextSection
from pages.figures import hline, vline

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
    "cost_usd_per_1m_tokens": "Cost per 1M output tokens (USD)",
    "cost_usd_per_1k_requests": "Cost per 1k requests (USD)",
    "ttft_s": "Time to first token (s)",
    "tpot_s": "Time per output token (s)",
    "e2e_s": "End-to-end latency (s)",
    "energy_kwh_per_1m_tokens": "Energy per 1M output tokens (kWh)",
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

T = TypeVar("T")
_MEMO: dict[tuple[int, str], tuple[object, Any]] = {}
_MEMO_SIZE = 64


def _memo(owner: object, name: str, build: Callable[[], T]) -> T:
    """``build()``, remembered for this very ``owner`` object (an :class:`Exploration` or one of its
    sections, which the estimator caches and never modifies): a rerun that gets the same object back
    reuses the figures and tables drawn from it. The owner is held with the value, so its id cannot
    be reused while the entry lives; callers must not modify what is returned."""
    key = (id(owner), name)
    hit = _MEMO.get(key)
    if hit is not None and hit[0] is owner:
        return cast(T, hit[1])
    value = build()
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[key] = (owner, value)
    return value


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
    cols = ("label", "dtype", "tp", "hardware", "batch", "score", "score_kind")
    label, dtype, tp, hardware, batch, score, score_kind = (points[c].tolist() for c in cols)
    xs = points[x].tolist()
    sources = points["score_source"].tolist() if "score_source" in points else [""] * len(points)
    x_title = X_AXES.get(x, x)
    return [f"<b>{label[i]}</b> · {dtype[i]}<br>{tp[i]} × {hardware[i]} · batch {batch[i]}"
            f"<br>{x_title}: {format_x(x, float(xs[i]))}<br>{benchmark}: {float(score[i]):.1f} "
            f"({score_kind[i]})<br><i>{_wrap(str(sources[i]))}</i>" for i in range(len(xs))]


def _groups(keys: list[tuple[object, ...]]) -> dict[tuple[object, ...], list[int]]:
    """Row positions per key, keys in order of first appearance, rows with a missing key left out
    (as ``DataFrame.groupby(..., sort=False)``)."""
    out: dict[tuple[object, ...], list[int]] = {}
    for i, key in enumerate(keys):
        if not any(k is None or (isinstance(k, float) and math.isnan(k)) for k in key):
            out.setdefault(key, []).append(i)
    return out


def _frontier_traces(scored: pd.DataFrame, x: str, benchmark: str) -> list[dict[str, Any]]:
    """One marker trace per (family, kind, proxy or not): colour by family, symbol by kind, hollow
    for proxy scores, bigger on the frontier."""
    families = scored["family"].astype(str).tolist()
    colors = {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(sorted(set(families)))}
    xs, ys = scored[x].to_numpy(), scored["score"].to_numpy()
    size = np.where(scored["on_frontier"].to_numpy(bool), 13, 9)
    proxy = scored["score_kind"].astype(str).str.startswith("proxy").to_numpy(bool)
    hover = hover_texts(scored, x, benchmark)
    traces = []
    for (fam, kind), rows in _groups(list(zip(scored["family"].tolist(), scored["kind"].tolist(), strict=True))).items():
        for is_proxy in (False, True):
            idx = np.array([i for i in rows if proxy[i] == is_proxy], dtype=int)
            if not idx.size:
                continue
            color = colors[str(fam)]
            traces.append({
                "type": "scatter", "x": xs[idx], "y": ys[idx], "mode": "markers",
                "name": f"{fam} · {kind}" + (" (proxy)" if is_proxy else ""),
                "marker": {"symbol": SYMBOLS.get(str(kind), "circle") + ("-open" if is_proxy else ""),
                           "size": size[idx], "color": color, "line": {"width": 1.5, "color": color}},
                "hovertext": [hover[i] for i in idx], "hoverinfo": "text", "legendgroup": str(fam)})
    return traces


def _frontier_labels(frontier: pd.DataFrame, x: str) -> list[dict[str, Any]]:
    """Name the frontier points, skipping one that would overlap the previous label (log x)."""
    last: tuple[float, float] | None = None
    out = []
    for xv, score, label, dtype in zip(*(frontier[c].tolist() for c in (x, "score", "label", "dtype")), strict=True):
        lx, ly = math.log10(float(xv)), float(score)
        if last is not None and abs(lx - last[0]) < 0.35 and abs(ly - last[1]) < 4.0:
            continue
        out.append({"x": lx, "y": ly, "text": f"{label} · {dtype}", "showarrow": True, "arrowhead": 0,
                    "arrowcolor": FRONTIER_RED, "ax": -8, "ay": -22, "xanchor": "right",
                    "font": {"size": 10, "color": FRONTIER_RED}, "bgcolor": "rgba(255,255,255,0.7)"})
        last = (lx, ly)
    return out


def frontier_figure(ex: Exploration) -> go.Figure:
    """Accuracy against the x-axis (log) for every scored point, the Pareto frontier as a step line."""
    return _memo(ex, "frontier_figure", lambda: _frontier_figure(ex))


def _frontier_figure(ex: Exploration) -> go.Figure:
    x = ex.x
    scored = ex.scored[np.isfinite(ex.scored[x].to_numpy(float)) & (ex.scored[x].to_numpy(float) > 0)]
    fr = scored[scored["on_frontier"]].sort_values(x, kind="stable")
    traces = _frontier_traces(scored, x, ex.benchmark)
    traces.append({"type": "scatter", "x": fr[x].to_numpy(), "y": fr["score"].to_numpy(), "mode": "lines",
                   "line": {"shape": "hv", "color": FRONTIER_RED, "width": 2}, "name": "Pareto frontier",
                   "hoverinfo": "skip"})
    layout = {"xaxis": {"type": "log", "title": {"text": X_AXES.get(x, x)}},
              "yaxis": {"title": {"text": f"{ex.benchmark} score (0-100)"}},
              "annotations": _frontier_labels(fr, x), "height": 560, "margin": dict(l=10, r=10, t=40, b=10),
              "title": {"text": f"{ex.benchmark} vs {X_AXES.get(x, x)} · {formatting.integer(ex.spec.input_tokens)} "
                                f"input / {formatting.integer(ex.spec.output_tokens)} output tokens per request"},
              "legend": {"orientation": "v", "font": {"size": 10}}}
    return go.Figure(data=traces, layout=layout)


_TABLE_COLUMNS = ["on_frontier", "label", "kind", "dtype", "hardware", "tp", "batch", "score", "score_kind",
                  "cost_usd_per_1m_tokens", "cost_usd_per_1k_requests", "ttft_s", "tpot_s", "e2e_s",
                  "tokens_per_usd", "energy_kwh_per_1m_tokens", "memory_per_device_bytes", "instance_id",
                  "score_source", "model_source"]


def points_table(ex: Exploration) -> pd.DataFrame:
    """The frontier tab's table: scored points, frontier first then by x; memory in GB."""
    return _memo(ex, "points_table", lambda: _points_table(ex))


def _points_table(ex: Exploration) -> pd.DataFrame:
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
    return list(_memo(ex, "candidates", lambda: _candidates(ex)))


def _candidates(ex: Exploration) -> list[Candidate]:
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
    return _memo(ex, "compression_figure", lambda: _compression_figure(ex))


def _compression_figure(ex: Exploration) -> go.Figure | None:
    tab = ex.compression
    if tab is None:
        return None
    cmap = tab[np.isfinite(tab["cost vs 16-bit base"].to_numpy(float)) & np.isfinite(tab["score change"].to_numpy(float))]
    if cmap.empty:
        return None
    traces = []
    groups = cmap["kind"].where(cmap["kind"] != "base", "quantized")
    for i, (kind, g) in enumerate(cmap.groupby(groups)):
        names = [f"{lbl} · {dt}" for lbl, dt in zip(g["label"].tolist(), g["dtype"].tolist(), strict=True)]
        cost, change = g["cost vs 16-bit base"].to_numpy(), g["score change"].to_numpy()
        big = (np.abs(change) >= 0.5) | (cost >= 0.95)
        traces.append({"type": "scatter", "x": cost, "y": change, "mode": "markers+text", "name": str(kind),
                       "text": [n if b else "" for n, b in zip(names, big, strict=True)], "hovertext": names,
                       "hoverinfo": "text+x+y", "textposition": "top center", "textfont": {"size": 9},
                       "marker": {"size": 10, "color": PALETTE[i % len(PALETTE)],
                                  "symbol": SYMBOLS.get(str(kind), "circle")}})
    grey = "#868e96"
    layout = {"title": {"text": "What-if map: cost and accuracy relative to the 16-bit model (or teacher)"},
              "xaxis": {"title": {"text": f"{X_AXES.get(ex.x, ex.x)} relative to 16-bit (×)"}},
              "yaxis": {"title": {"text": f"{ex.benchmark} change (points)"}}, "height": 420,
              "margin": dict(l=10, r=10, t=50, b=10), "shapes": [vline(1.0, grey, "dot"), hline(0.0, grey, "dot")]}
    return go.Figure(data=traces, layout=layout)


def elastic_figure(ex: Exploration) -> go.Figure | None:
    """Sub-networks: score (anchored proxy) against TPOT in ms, one line per weight format; None
    without elastic points."""
    return _memo(ex, "elastic_figure", lambda: _elastic_figure(ex))


def _elastic_figure(ex: Exploration) -> go.Figure | None:
    if ex.elastic is None or ex.elastic.points.empty:
        return None
    traces = []
    for dt, g in ex.elastic.points.groupby("dtype"):
        g = g.sort_values("params_total", kind="stable")
        scored = bool(g["score"].notna().all())
        trace = {"type": "scatter", "x": g["tpot_s"].to_numpy() * 1e3, "y": g["score"].to_numpy(),
                 "mode": "lines+markers+text", "name": str(dt),
                 "text": [str(lbl).split("· ")[-1] for lbl in g["label"].tolist()], "textposition": "top center",
                 "hoverinfo": "text" if scored else "x+y"}
        if scored:
            trace["hovertext"] = hover_texts(g, "tpot_s", ex.benchmark)
        traces.append(trace)
    layout = {"title": {"text": "Sub-networks: accuracy (anchored proxy) vs time per output token"},
              "xaxis": {"title": {"text": "TPOT at the chosen configuration (ms)"}},
              "yaxis": {"title": {"text": f"{ex.benchmark} (proxy)"}}, "height": 380,
              "margin": dict(l=10, r=10, t=50, b=10)}
    return go.Figure(data=traces, layout=layout)


def long_context_figures(ex: Exploration) -> list[tuple[str, go.Figure]]:
    """Cost, latency and energy per request against input length (log-log), one line per model;
    empty when nothing was evaluated. Returns ``(metric column, figure)`` pairs."""
    lc = ex.long_context
    if lc is None or lc.result is None or lc.result.frame.empty:
        return []
    frame = lc.result.frame
    return list(_memo(lc, "long_context_figures", lambda: _long_context_figures(frame)))


def _long_context_figures(frame: pd.DataFrame) -> list[tuple[str, go.Figure]]:
    curves = frame.drop_duplicates(["variant_id", "input_tokens"])
    groups = [(str(lbl), g) for lbl, g in curves.groupby("label", sort=False)]
    x_axis = {"type": "log", "title": {"text": "input tokens"}, "tickvals": LC_LENGTHS,
              "ticktext": [f"{x // 1024}k" for x in LC_LENGTHS]}
    out = []
    for metric, title in LC_METRICS:
        traces = [{"type": "scatter", "x": g["input_tokens"].to_numpy(), "y": g[metric].to_numpy(),
                   "mode": "lines+markers", "name": lbl, "line": {"color": PALETTE[i % len(PALETTE)]},
                   "hovertemplate": "%{x:,} tokens: %{y:.4g}<extra>" + lbl + "</extra>"}
                  for i, (lbl, g) in enumerate(groups)]
        layout = {"xaxis": x_axis, "yaxis": {"type": "log", "title": {"text": title}}, "height": 340,
                  "margin": dict(l=10, r=10, t=30, b=10), "showlegend": metric == "e2e_s",
                  "legend": {"orientation": "h", "y": -0.35, "font": {"size": 9}}, "title": {"text": title}}
        out.append((metric, go.Figure(data=traces, layout=layout)))
    return out


def budget_verdicts(ex: Exploration) -> list[tuple[str, str, pd.DataFrame]]:
    """Per benchmark with a score published at a length: its name, the best point within the
    budget (markdown) and its table, best score first."""
    lc = ex.long_context
    if lc is None or lc.published.empty:
        return []
    return list(_memo(lc, "budget_verdicts", lambda: _budget_verdicts(lc)))


def _budget_verdicts(lc: LongContextSection) -> list[tuple[str, str, pd.DataFrame]]:
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
