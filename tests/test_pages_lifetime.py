"""AppTest for the Training page's lifetime mode (pages/training.py, ``estimator.lifetime``): it draws
the one lifetime result side by side with the Chinchilla model, the stacked chart and how it is computed."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from estimator import entrypoints, lifetime
from estimator.formatting import money
from estimator.scenario import Scenario, from_query_params
from tests._apptest import metric, page

TIMEOUT = 60


def test_lifetime_mode_is_off_by_default() -> None:
    at = page("training", timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert not any(s.value == "Lifetime: training plus serving" for s in at.subheader)


def test_lifetime_mode_draws_the_entry_point_result() -> None:
    at = page("training", timeout=TIMEOUT, lt="true")
    at.run()
    assert not at.exception and not at.error
    scenario = Scenario().replace(lifetime={"enabled": True})
    plan = entrypoints.compute("lifetime", scenario)
    assert isinstance(plan, lifetime.LifetimePlan)
    assert metric(at, "Lifetime-optimal size") == f"{plan.lifetime.params / 1e9:,.1f} B"
    assert metric(at, "Lifetime cost saved") == money(plan.savings_usd)
    table = next(df.value for df in at.dataframe if "Lifetime-optimal" in df.value.columns)
    assert "Total lifetime cost (USD)" in table[""].tolist()
    assert any(e.label == "How this is computed (lifetime)" for e in at.expander)
    assert any("Loss fit in force" in c.value for c in at.caption)
    # the stacked chart: training + serving
    fig = next(c for c in at.get("plotly_chart") if "lifetime" in c.proto.id or "Total lifetime" in c.proto.spec)
    assert "stackgroup" in fig.proto.spec
    assert any(b.proto.label == "Lifetime CSV report" for b in at.get("download_button"))


def test_widgets_reach_the_scenario_and_serve_link() -> None:
    at = page("training", timeout=TIMEOUT, lt="true", rpd="500000", ltmo="36", ltfit="hoffmann2022_tex")
    at.run()
    assert not at.exception and not at.error
    scenario = Scenario().replace(
        traffic=Scenario().traffic.model_copy(update={"requests_per_day": 500_000.0}),
        lifetime={"enabled": True, "lifetime_months": 36.0, "fit": "hoffmann2022_tex"},
    )
    plan = entrypoints.compute("lifetime", scenario)
    assert metric(at, "Lifetime-optimal size") == f"{plan.lifetime.params / 1e9:,.1f} B"
    button = next(b for b in at.get("link_button") if "capacity planner" in b.proto.label)
    query = {k: v[-1] for k, v in parse_qs(urlparse(button.proto.url).query).items()}
    served, ignored = from_query_params(query)
    assert not ignored
    assert served.model.custom is not None and served.model.custom.params_total == plan.lifetime.params
    assert served.traffic.requests_per_day == 500_000.0
