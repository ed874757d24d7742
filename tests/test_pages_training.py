"""AppTest for the "Training budget" page (pages/training.py) as functions: what it draws comes from
its one entry point, the cross-instance comparison only on request."""

from __future__ import annotations

import pytest

from estimator import entrypoints, training
from estimator.formatting import integer, money
from estimator.scenario import Scenario, from_query_params
from tests._apptest import metric, page, with_tab


def test_default_page_draws_the_entry_point_result() -> None:
    at = page("training")
    at.run()
    assert not at.exception and not at.error
    plan = entrypoints.compute("training", Scenario()).plan
    assert metric(at, "Cost") == money(plan.cost_usd)
    assert metric(at, "GPU-hours") == integer(plan.gpu_hours)
    assert metric(at, "Parameters") == f"{plan.params / 1e9:,.1f} B"
    # result views are lazy tabs (pages._ui.lazy_tabs): the scaling view's frontier and iso-FLOP charts at first
    assert [c.key for c in at.get("plotly_chart")] == ["fig_frontier", "fig_isoflop"]
    assert [t.label for t in at.tabs][:3] == ["Scaling laws", "Across hardware and clouds", "Beside published runs"]
    assert any("How this is computed" in e.label for e in at.expander)


def test_comparison_is_part_of_the_one_result(monkeypatch: pytest.MonkeyPatch) -> None:
    entrypoints.cache_clear()
    calls = []
    original = training.compare_instances

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(training, "compare_instances", counting)
    at = with_tab("training", "train_view", "Across hardware and clouds")
    assert calls == [1]  # inside the entry point, once (opening the tab reran the page from the cache)
    table = next(df.value for df in at.dataframe if "cost (USD)" in df.value.columns)
    assert len(table) > 5
    # runs that can span nodes come first, each group by cost (issue 11: single-GPU pods ranked cheapest)
    spans = table["multi-node"].tolist()
    assert spans == sorted(spans, reverse=True)
    assert table[table["multi-node"]]["cost (USD)"].is_monotonic_increasing
    at.run()
    assert calls == [1]


def test_link_parameters_reach_the_plan() -> None:
    params = {"tmode": "model", "m": "llama-2-70b", "tb": "2000", "hw": "a100-80gb-sxm", "price": "spot"}
    at = page("training")
    at.query_params.update(params)
    at.run()
    assert not at.exception
    scenario, ignored = from_query_params(params)
    assert not ignored
    plan = entrypoints.compute("training", scenario).plan
    assert metric(at, "Cost") == money(plan.cost_usd)
    assert at.subheader[0].value.startswith(plan.model_name)


def test_error_is_a_message_and_nothing_else() -> None:
    at = page("training")
    at.query_params.update({"usd": "-5"})
    at.run()
    assert not at.exception
    assert at.error and not at.metric and not at.get("plotly_chart")
