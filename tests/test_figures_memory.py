"""Figure builders of the Model & memory page (pages/figures/memory.py), without Streamlit."""

from __future__ import annotations

import doctest
import math
import subprocess
import sys
from pathlib import Path

import pytest

from estimator import analysis
from estimator.scenario import from_query_params
from pages.figures import memory as figures

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = [{}, {"m": "llama-2-70b", "tp": "1"}, {"m": "mixtral-8x7b", "hw": "h200", "kd": "fp8", "b": "32"},
             {"m": "llama-3.2-1b", "hw": "l4", "b": "64", "ctx": "512"}, {"m": "llama-2-7b", "mu": "0.5", "ovh": "0"}]


def _result(params: dict[str, str]) -> analysis.MemoryAnalysis:
    scenario, ignored = from_query_params(params)
    assert not ignored
    return analysis.memory_analysis(scenario)


def test_doctests() -> None:
    assert doctest.testmod(figures).failed == 0


def test_breakdown_figure() -> None:
    r = _result({})
    fig = figures.breakdown_figure(r)
    assert [t.name for t in fig.data] == ["weights", "KV cache", "activations", "runtime overhead"]
    assert all(list(t.y) == [f"TP {lay.tp}" for lay in r.layouts] for t in fig.data)
    tp4 = next(lay for lay in r.layouts if lay.tp == 4)
    assert fig.data[0].x[[lay.tp for lay in r.layouts].index(4)] == tp4.weights_bytes / 1e9
    assert fig.layout.shapes[0].x0 == pytest.approx(r.budget_bytes / 1e9)
    assert fig.layout.xaxis.title.text == "GB per device"


@pytest.mark.parametrize("params", SCENARIOS)
def test_context_figure_has_a_sane_log_axis(params: dict[str, str]) -> None:
    """Issue #11: the y-axis ran from 1 to 1e70 (the budget's label was placed in data units on a log axis)."""
    r = _result(params)
    fig = figures.context_figure(r)
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.type == "log"
    lo, hi = fig.layout.yaxis.range
    assert math.isfinite(lo) and math.isfinite(hi) and lo < hi
    assert hi - lo <= 4  # at most four decades
    ys = [y for t in fig.data for y in t.y]
    assert len(fig.data) == len(r.context_sweep.lines)
    assert all(len(t.x) == len(r.context_sweep.context_tokens) == len(t.y) for t in fig.data)
    assert all(math.isfinite(y) and y > 0 for y in ys)
    budget_gb = r.context_sweep.budget_bytes / 1e9
    for y in [*ys, budget_gb]:
        assert lo <= math.log10(y) <= hi
    for ann in fig.layout.annotations:  # annotations on a log axis are in log10 units
        assert ann.yref in (None, "y") and lo <= ann.y <= hi
    assert fig.layout.shapes[0].y0 == pytest.approx(budget_gb)  # shapes are in data units


def test_context_figure_lines_and_ticks() -> None:
    r = _result({})
    fig = figures.context_figure(r)
    assert [t.name for t in fig.data] == ["batch 1", "batch 4"]  # default 70B on TP 2 (device memory as reported)
    assert list(fig.layout.xaxis.tickvals) == list(r.context_sweep.context_tokens)
    assert fig.layout.xaxis.ticktext[0] == "512" and fig.layout.xaxis.ticktext[-1] == "128k"
    assert "TP 2" in fig.layout.title.text


def test_log_range() -> None:
    assert figures.log_range([]) is None
    assert figures.log_range([float("nan"), -1.0, 0.0]) is None
    lo, hi = figures.log_range([1.0, 1000.0], pad=10.0)  # type: ignore[misc]
    assert (lo, hi) == pytest.approx((-1.0, 4.0))


def test_training_figure() -> None:
    r = _result({"dp": "16"})
    assert r.training is not None
    fig = figures.training_figure(r.training, r.hardware.name)
    assert [t.name for t in fig.data] == ["weights", "gradients", "optimizer states", "activations",
                                          "runtime overhead"]
    assert list(fig.data[0].x) == ["ZeRO-0", "ZeRO-1", "ZeRO-2", "ZeRO-3"]
    totals = [sum(t.y[i] for t in fig.data) for i in range(4)]
    assert totals == pytest.approx([s.total_bytes / 1e9 for s in r.training.stages])
    assert fig.layout.shapes[0].y0 == pytest.approx(r.hardware.memory_bytes / 1e9)
    assert "16 data-parallel ranks" in fig.layout.title.text


def test_figure_modules_do_not_import_streamlit() -> None:
    code = ("import sys, pages.figures.memory, pages.figures.performance; "
            "assert 'streamlit' not in sys.modules, 'streamlit imported'")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
