"""Figure builders of the lifetime mode (pages/figures/lifetime.py), without Streamlit."""

from __future__ import annotations

import pytest

from estimator import lifetime
from estimator.scenario import Scenario
from pages.figures.lifetime import ROWS, comparison_table, lifetime_cost_figure


@pytest.fixture(scope="module")
def plan() -> lifetime.LifetimePlan:
    return lifetime.lifetime_plan(Scenario())


def test_table_puts_the_two_models_side_by_side(plan: lifetime.LifetimePlan) -> None:
    t = comparison_table(plan)
    assert list(t.columns) == ["", "Chinchilla-optimal", "Lifetime-optimal"]
    assert len(t) == len(ROWS)
    row = dict(zip(t[""], t["Lifetime-optimal"], strict=True))
    assert row["Parameters (B)"] == f"{plan.lifetime.params / 1e9:,.2f}"
    assert row["Total lifetime cost (USD)"] == f"{plan.lifetime.total_usd:,.0f}"
    assert row["Replicas at peak (accelerators each)"] == (
        f"{plan.lifetime.peak_replicas} ({plan.lifetime.devices_per_replica})")


def test_chart_stacks_training_and_serving(plan: lifetime.LifetimePlan) -> None:
    fig = lifetime_cost_figure(plan)
    training, serving, exact = fig.data
    assert training.stackgroup == serving.stackgroup == "cost"
    assert list(training.y) == list(plan.sweep.training_usd) and list(serving.y) == list(plan.sweep.serving_usd)
    assert len(exact.x) == sum(plan.sweep.exact)
    assert fig.layout.xaxis.type == "log"
    xs = {s.x0 for s in fig.layout.shapes}
    assert plan.lifetime.params in xs and plan.chinchilla.params in xs
