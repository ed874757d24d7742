"""Figures and tables of the expert-parallel section of the Latency & throughput page: pure functions
from :class:`estimator.expert_parallel.EPPlan` to plotly figures and pandas tables (no Streamlit;
tested in tests/test_expert_parallel.py)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from estimator.expert_parallel import EPPlan

__all__ = ["STEP_PARTS", "ep_frame", "step_figure"]

STEP_PARTS: tuple[tuple[str, str, str], ...] = (
    ("replicated_s", "replicated weights (attention, shared, dense, head)", "#3b5bdb"),
    ("attention_s", "attention over the KV cache", "#2f9e44"),
    ("activations_s", "activations", "#868e96"),
    ("experts_s", "routed experts (× imbalance)", "#ae3ec9"),
    ("dispatch_s", "dispatch all-to-all", "#e8590c"),
    ("combine_s", "combine all-to-all", "#f08c00"),
    ("allreduce_s", "all-reduce (TP attention)", "#c92a2a"),
    ("overhead_s", "step overhead", "#adb5bd"),
)
"""(field of :class:`estimator.expert_parallel.EPDecode`, legend, colour) of the stacked decode step."""


def step_figure(plan: EPPlan) -> go.Figure:
    """Decode step time per EP degree, stacked by part, at each degree's chosen batch (ms)."""
    rows = [r for r in plan.rows if r.decode is not None]
    x = [f"EP{r.ep} · B={r.batch_per_gpu}" for r in rows]
    fig = go.Figure()
    for field, name, color in STEP_PARTS:
        y = [getattr(r.decode, field) * 1e3 for r in rows]
        if any(v > 0 for v in y):
            fig.add_bar(x=x, y=y, name=name, marker_color=color)
    if plan.tpot_target_s is not None:
        fig.add_hline(y=plan.tpot_target_s * 1e3, line_dash="dash", line_color="#c92a2a",
                      annotation_text=f"TPOT target {plan.tpot_target_s * 1e3:g} ms")
    fig.update_layout(barmode="stack", title="Decode step per GPU by EP degree", yaxis_title="ms per step",
                      legend=dict(orientation="h", y=-0.25), margin=dict(l=10, r=10, t=60, b=10), height=420)
    return fig


def ep_frame(plan: EPPlan) -> pd.DataFrame:
    """One row per EP degree: memory per GPU (GB), batch, TPOT, throughput per GPU and all-to-all share."""
    out = []
    for r in plan.rows:
        m, d, p = r.memory, r.decode, r.prefill
        out.append({
            "EP": r.ep, "nodes": r.nodes, "experts/GPU": r.experts_per_gpu,
            "replicated weights (GB)": m.replicated_weights_bytes / 1e9,
            "expert weights (GB)": m.expert_weights_bytes / 1e9, "KV cache (GB)": m.kv_cache_bytes / 1e9,
            "total (GB)": m.total_bytes / 1e9, "max batch/GPU (memory)": r.max_batch_memory,
            "batch/GPU": r.batch_per_gpu, "meets TPOT": r.meets_tpot,
            "TPOT (ms)": d.step_s * 1e3 if d else None,
            "decode tok/s/GPU": d.tokens_per_s_per_gpu if d else None,
            "prefill tok/s/GPU": p.tokens_per_s_per_gpu if p else None,
            "all-to-all share (decode)": d.communication_share if d else None,
            "all-to-all share (prefill)": p.communication_share if p else None,
        })
    return pd.DataFrame(out)
