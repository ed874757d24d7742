"""Figure and table builders of the Capacity planner page (pages/figures/capacity.py), without Streamlit."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from estimator import capacity, entrypoints
from estimator.capacity import CapacityPlan
from estimator.formatting import money
from estimator.scenario import from_query_params
from pages.figures import capacity as figures

ROOT = Path(__file__).resolve().parents[1]


def _plan(params: dict[str, str]) -> CapacityPlan:
    scenario, ignored = from_query_params(params)
    assert not ignored
    plan: CapacityPlan = entrypoints.compute("capacity", scenario)
    return plan


@pytest.fixture(scope="module")
def default() -> CapacityPlan:
    return _plan({})


@pytest.fixture(scope="module")
def cached() -> CapacityPlan:
    # a response cache adds the "after the response cache" line; business hours a weekly shape
    return _plan({"rch": "0.3", "pat": "business_hours", "rpd": "500000"})


def _finite(values: object) -> bool:
    return all(math.isfinite(float(v)) for v in values)  # type: ignore[attr-defined]


def test_week_figure(default: CapacityPlan, cached: CapacityPlan) -> None:
    fig = figures.week_figure(default)
    assert [t.name for t in fig.data] == ["arrivals (requests/s)", "replicas"]
    assert len(fig.data[0].x) == len(fig.data[0].y) == 168
    assert tuple(fig.data[1].y) == default.replicas
    assert _finite(fig.data[0].y)
    assert fig.layout.yaxis.title.text == "requests/s" and fig.layout.yaxis2.title.text == "replicas"
    assert list(fig.layout.xaxis.ticktext) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    names = [t.name for t in figures.week_figure(cached).data]
    assert names == ["arrivals (requests/s)", "after the response cache", "replicas"]


def test_week_cost_figure(default: CapacityPlan) -> None:
    fig = figures.week_cost_figure(default)
    (bars,) = fig.data
    assert len(bars.y) == 168 and _finite(bars.y)
    # the week's hourly costs add up to the monthly cost (730/168 weeks a month)
    assert sum(bars.y) * 730 / 168 == pytest.approx(default.monthly_cost_usd, rel=1e-6)
    assert bars.customdata[0][1] == money(default.cost_usd_by_hour[0])
    assert fig.layout.yaxis.title.text == "USD per hour"
    assert "on-demand instances" in fig.layout.title.text


def test_latency_figure_axes_are_bounded(default: CapacityPlan) -> None:
    fig = figures.latency_figure(default)
    assert [t.name for t in fig.data] == ["p95 TTFT", "p95 end-to-end"]
    slo = default.scenario.slo
    lo, hi = fig.layout.yaxis.range
    assert lo == 0 and 0 < hi <= 3 * slo.ttft_p95_s
    lo2, hi2 = fig.layout.yaxis2.range
    assert lo2 == 0 and 0 < hi2 <= 2 * slo.e2e_p95_s
    xs = [s.x0 for s in fig.layout.shapes if s.x0 == s.x1]
    assert default.max_rps_per_replica in xs and default.saturation_rps_per_replica in xs
    assert fig.layout.xaxis.title.text == "requests/s per replica"
    # each goal's label sits on its own axis (plotly would put the end-to-end one on the TTFT axis)
    labels = {a.text: a for a in fig.layout.annotations}
    assert labels["TTFT goal"].yref == "y" and labels["TTFT goal"].y == slo.ttft_p95_s
    assert labels["end-to-end goal"].yref == "y2" and labels["end-to-end goal"].y == slo.e2e_p95_s


def test_buy_build_figure(default: CapacityPlan) -> None:
    fig = figures.buy_build_figure(default)
    assert fig.data[0].name == "self-hosted real-time"
    same = [a for a in default.api_options if a.same_model][:3]
    assert [t.name for t in fig.data[1:]] == [f"{a.provider} API" for a in same]
    for trace in fig.data:
        assert len(trace.x) == len(default.cost_curve["requests_per_day"]) and _finite(trace.y)
    if same:  # an API's bill at your traffic is its monthly cost
        i = min(range(len(fig.data[1].x)), key=lambda k: abs(fig.data[1].x[k] - default.requests_per_day))
        expect = same[0].monthly_cost_usd * fig.data[1].x[i] / default.requests_per_day
        assert fig.data[1].y[i] == pytest.approx(expect)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    # on a log axis a label's x is log10 of the value, or it lands off the plot
    (label,) = [a for a in fig.layout.annotations if a.text == "your traffic"]
    assert label.x == pytest.approx(math.log10(default.requests_per_day))


def test_growth_figure(default: CapacityPlan) -> None:
    fig = figures.growth_figure(default)
    assert list(fig.data[0].x) == list(range(1, 13))
    assert tuple(fig.data[0].y) == default.growth_monthly_cost_usd
    assert fig.layout.yaxis.title.text == "USD per month"


def test_tables(default: CapacityPlan) -> None:
    modes = figures.modes_table(default)
    assert len(modes) == len(default.modes) and set(modes.columns) >= {"mode", "verdict", "monthly cost", "why"}
    assert len(figures.pricing_table(default)) == len(default.pricing_options)
    tp = figures.tp_table(default)
    assert list(tp["TP"]) == [o.tp for o in default.tp_options]
    api = figures.api_table(default)
    assert len(api) == len(default.api_options)
    regions = figures.regions_table(default)
    assert len(regions) == len(default.regions)
    assert regions["role"].str.contains("current").sum() == 1


def test_builders_do_not_plan(monkeypatch: pytest.MonkeyPatch, default: CapacityPlan) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a figure builder planned")

    monkeypatch.setattr(capacity, "plan", refuse)
    for build in (figures.week_figure, figures.week_cost_figure, figures.latency_figure, figures.buy_build_figure,
                  figures.growth_figure, figures.modes_table, figures.regions_table):
        build(default)


def test_figures_do_not_import_streamlit() -> None:
    code = "import sys, pages.figures.capacity; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
