"""Figure and table builders of the Compare variants page (pages/figures/variants.py), without Streamlit."""

from __future__ import annotations

import numpy as np
import pytest

from estimator import variants as V
from estimator.scenario import Scenario
from pages.figures import variants as F


def _scenario(**variants: object) -> Scenario:
    s = Scenario()
    return s.replace(variants={**s.variants.model_dump(), **variants})


@pytest.fixture(scope="module")
def ex() -> V.Exploration:
    return V.explore_for_scenario(_scenario())


def _finite(values: object) -> bool:
    a = np.asarray(values, dtype=float)
    return a.size > 0 and bool(np.isfinite(a).all())


def test_frontier_figure(ex: V.Exploration) -> None:
    fig = F.frontier_figure(ex)
    markers = [t for t in fig.data if t.mode == "markers"]
    line = fig.data[-1]
    assert line.name == "Pareto frontier" and line.line.shape == "hv"
    assert sum(len(t.x) for t in markers) == len(ex.scored)  # every scored point drawn once
    assert all(_finite(t.x) and _finite(t.y) for t in markers)
    assert all(0 <= y <= 100 for t in markers for y in t.y)
    assert len(line.x) == int(ex.scored["on_frontier"].sum())
    assert list(line.x) == sorted(line.x) and list(line.y) == sorted(line.y)  # cheaper and better along the front
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text == F.X_AXES[ex.x]
    assert fig.layout.yaxis.title.text == "MMLU score (0-100)"
    assert "1,000 input / 250 output tokens" in fig.layout.title.text
    assert any("(proxy)" in t.name for t in markers) and any(t.marker.symbol.endswith("-open") for t in markers)
    assert 1 <= len(fig.layout.annotations) <= len(line.x)
    assert all(len(t.hovertext) == len(t.x) and "<b>" in t.hovertext[0] for t in markers)


def test_frontier_figure_follows_the_x_axis() -> None:
    ex = V.explore_for_scenario(_scenario(x_axis="ttft_s", benchmark="HellaSwag"))
    fig = F.frontier_figure(ex)
    assert fig.layout.xaxis.title.text == "Time to first token (s)"
    assert fig.layout.yaxis.title.text == "HellaSwag score (0-100)"
    assert "Time to first token" in fig.data[0].hovertext[0] and " ms" in fig.data[0].hovertext[0]


def test_points_table_and_candidates(ex: V.Exploration) -> None:
    table = F.points_table(ex)
    assert len(table) == len(ex.scored)
    n_front = int(table["on_frontier"].sum())
    assert table["on_frontier"].iloc[:n_front].all()  # frontier first
    assert table["memory_per_device_bytes"].between(0.01, 1000).all()  # GB, not bytes
    cands = F.candidates(ex)
    assert cands and all(c.params["m"] and c.params["hw"] for c in cands)
    assert cands[0].label.startswith("★ ")
    assert cands[0].params["in"] == "1000" and cands[0].params["out"] == "250" and cands[0].params["price"] == "on_demand"
    assert all(c.kind != "elastic" or c.planner_model_id for c in cands)


def test_compression_figure(ex: V.Exploration) -> None:
    fig = F.compression_figure(ex)
    assert fig is not None
    assert {t.name for t in fig.data} >= {"quantized", "pruned", "distilled"}
    assert all(_finite(t.x) and _finite(t.y) for t in fig.data)
    assert [s.type for s in fig.layout.shapes] == ["line", "line"]  # x = 1 and y = 0 guides
    assert "relative to 16-bit" in fig.layout.xaxis.title.text
    bf16_only = V.explore_for_scenario(_scenario(dtypes=("int4",)))
    assert bf16_only.compression is None and F.compression_figure(bf16_only) is None


def test_elastic_figure(ex: V.Exploration) -> None:
    fig = F.elastic_figure(ex)
    assert fig is not None and ex.elastic is not None
    assert {t.name for t in fig.data} == set(ex.elastic.points["dtype"])
    for t in fig.data:
        assert _finite(t.x) and all(0 < x < 10_000 for x in t.x)  # ms
        assert set(t.text) <= {"25% width", "50% width", "75% width", "100% width"}
    assert F.elastic_figure(V.explore_for_scenario(_scenario(elastic_parent="none"))) is None


def test_long_context_figures(ex: V.Exploration) -> None:
    figs = F.long_context_figures(ex)
    assert [m for m, _ in figs] == [m for m, _ in F.LC_METRICS]
    for metric, fig in figs:
        assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
        assert fig.layout.showlegend == (metric == "e2e_s")
        for t in fig.data:
            assert _finite(t.y) and min(t.y) > 0 and list(t.x) == sorted(t.x)
    assert F.long_context_figures(V.explore_for_scenario(_scenario(lc_model_ids=()))) == []


def test_budget_verdicts(ex: V.Exploration) -> None:
    verdicts = F.budget_verdicts(ex)
    assert verdicts
    for bname, verdict, table in verdicts:
        assert verdict.startswith("best within budget") or verdict == "nothing published fits this budget"
        assert list(table["score"]) == sorted(table["score"], reverse=True)
        assert bname in set(ex.long_context.published["benchmark"])  # type: ignore[union-attr]
    none = V.explore_for_scenario(_scenario(lc_budget_usd_per_1k=0.0))
    assert all(v == "nothing published fits this budget" for _, v, _ in F.budget_verdicts(none))


def test_format_x_and_hover_texts(ex: V.Exploration) -> None:
    assert F.format_x("cost_usd_per_1k_requests", 12.5) == "$12.50"
    assert F.format_x("e2e_s", 2.5) == "2.5 s"
    assert F.format_x("energy_kwh_per_1m_tokens", float("nan")) == "n/a"
    hover = F.hover_texts(ex.scored.head(3), "tpot_s", "MMLU")
    assert len(hover) == 3 and all("Time per output token (s): " in h and "MMLU: " in h for h in hover)
    long_source = ex.scored.head(1).assign(score_source="x" * 1000)
    assert F.hover_texts(long_source, ex.x, "MMLU")[0].count("x") <= 260  # long sources are cut
