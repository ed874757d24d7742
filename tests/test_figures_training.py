"""Figure and table builders of the Training budget page (pages/figures/training.py), without Streamlit."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from estimator import entrypoints, scaling
from estimator.scenario import from_query_params
from estimator.training import TrainingPlan
from pages.figures import training as figures

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = [{}, {"bu": "flops", "fl": "1e25", "ap": "epoch-refit"},
             {"tmode": "model", "m": "llama-2-70b", "tb": "2000"}]


def _plan(params: dict[str, str]) -> TrainingPlan:
    scenario, ignored = from_query_params(params)
    assert not ignored
    plan: TrainingPlan = entrypoints.compute("training", scenario).plan
    return plan


def _finite(values: Any) -> bool:
    return bool(np.all(np.isfinite(np.asarray(values, dtype=float))))


@pytest.mark.parametrize("params", SCENARIOS)
def test_frontier_figure(params: dict[str, str]) -> None:
    plan = _plan(params)
    fig = figures.frontier_figure(plan)
    contour = fig.data[0]
    assert contour.type == "contour" and np.asarray(contour.z).shape == (80, 80) and _finite(contour.z)
    names = [t.name for t in fig.data]
    assert names[-1] == "your run"
    assert list(fig.data[-1].x) == [plan.params] and list(fig.data[-1].y) == [plan.tokens]
    assert {"Approach 1 (training curves)", "Approach 3 (Epoch refit)"} <= set(names)
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text == "parameters N"
    lo, hi = fig.layout.xaxis.range  # the run sits inside the plotted range
    assert lo < math.log10(plan.params) < hi
    lo, hi = fig.layout.yaxis.range
    assert lo < math.log10(plan.tokens) < hi


def test_frontier_figure_loss_fit() -> None:
    plan = _plan({})
    assert figures.frontier_figure(plan, "epoch2024").data[0].hovertemplate.endswith("epoch2024</extra>")


@pytest.mark.parametrize("params", SCENARIOS)
def test_isoflop_figure(params: dict[str, str]) -> None:
    plan = _plan(params)
    dis = scaling.fits_disagreement(plan.flops)
    fig = figures.isoflop_figure(plan, dis)
    assert [t.name for t in fig.data] == ["L(N, C/6N), hoffmann2022 fit", "L(N, C/6N), epoch2024 fit",
                                          "each approach's optimum"]
    for trace in fig.data[:2]:
        assert len(trace.x) == 120 and _finite(trace.y)
        assert 1.0 < min(trace.y) < 5.0  # losses in nats/token, not overflowing at the grid ends
    xs = [s.x0 for s in fig.layout.shapes]
    assert plan.params in xs and len(xs) == len(dis["recommendations"]) + 1
    assert fig.layout.yaxis.title.text == "predicted loss (nats/token)"
    (label,) = fig.layout.annotations  # on the log axis: at log10(N), inside the plot
    assert label.text == "your run" and label.x == pytest.approx(math.log10(plan.params))


def test_recommendations_table() -> None:
    plan = _plan({})
    dis = scaling.fits_disagreement(plan.flops)
    table = figures.recommendations_table(dis)
    assert list(table["method"]) == [figures.METHOD_LABELS[k] for k in dis["recommendations"]]
    # every approach spends the same compute: 6 N D = C
    assert np.allclose(6 * table["parameters (B)"] * 1e9 * table["tokens (T)"] * 1e12, plan.flops, rtol=1e-6)


def test_figures_do_not_import_streamlit() -> None:
    code = "import sys, pages.figures.training; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
