"""AppTest for the "Capacity planner" page."""

from __future__ import annotations

import pytest

from estimator import capacity, modes
from estimator.formatting import duration, integer, money
from estimator.scenario import Scenario
from tests._apptest import metric, page


@pytest.fixture(scope="module")
def default_plan() -> capacity.CapacityPlan:
    return capacity.plan(Scenario())


def test_default_page_shows_the_plan(default_plan: capacity.CapacityPlan) -> None:
    at = page("capacity")
    at.run()
    assert not at.exception
    assert not at.error
    p = default_plan
    assert metric(at, "Monthly cost") == money(p.monthly_cost_usd)
    assert metric(at, "Per 1M output tokens") == money(p.cost_usd_per_million_output_tokens)
    assert metric(at, "p95 TTFT") == duration(p.ttft_p95_s)
    assert metric(at, "p95 end-to-end") == duration(p.e2e_p95_s)
    assert metric(at, "Peak replicas") == integer(p.peak_replicas)
    assert metric(at, "Average replicas") == f"{p.mean_replicas:,.2f}"
    assert metric(at, "tCO2e / month") == f"{p.co2e_t_per_month:,.2f}"
    assert p.recommended_mode is not None
    # the metric shows the short name ("Real-time"); the full name is in the caption
    assert modes.MODE_NAMES[p.recommended_mode].startswith(metric(at, "Recommended mode"))
    # five of the plan + the rent vs buy vs API curves (pages/_tco.py) + the recommendation's two Pareto charts
    assert len(at.get("plotly_chart")) == 8
    # the mode table gives every mode with its reason, and the plan is explained line by line
    assert any("weights need" in md.value for md in at.markdown) or at.dataframe
    assert any("Replicas per hour" in md.value for md in at.markdown)
    assert any("How this is computed" in e.label for e in at.expander)


def test_zero_requests_per_day_is_a_message_not_a_traceback() -> None:
    at = page("capacity")
    at.run()
    at.number_input(key="rpd").set_value(0.0).run()
    assert not at.exception
    assert any("greater than zero" in e.value for e in at.error)
    assert not at.metric  # nothing computed from a silently substituted default


def test_custom_profile_with_text_names_the_problem() -> None:
    at = page("capacity")
    at.run()
    at.selectbox(key="pat").set_value("custom").run()
    rows = ["hour,value"] + [f"{h},{1 + h % 24}" for h in range(168)]
    rows[10] = "9,busy"
    at.text_area(key="prof").set_value("\n".join(rows)).run()
    assert not at.exception
    assert any("'busy' is not a number" in e.value for e in at.error)


def test_custom_profile_with_missing_hours() -> None:
    at = page("capacity")
    at.run()
    at.selectbox(key="pat").set_value("custom").run()
    at.text_area(key="prof").set_value(",".join("1" for _ in range(100))).run()
    assert not at.exception
    assert any("168 are needed" in e.value for e in at.error)


def test_valid_custom_profile_plans() -> None:
    at = page("capacity")
    at.run()
    at.selectbox(key="pat").set_value("custom").run()
    at.text_area(key="prof").set_value(",".join(str(1 + (h % 24 >= 9) * 2) for h in range(168))).run()
    assert not at.exception and not at.error
    assert metric(at, "Monthly cost").startswith("$")


def test_slo_tighter_than_the_hardware_offers_the_nearest_alternative() -> None:
    at = page("capacity")
    at.run()
    at.number_input(key="ttft").set_value(0.01).run()
    assert not at.exception
    assert any("at batch 1" in e.value for e in at.error)


def test_spot_without_a_price_links_to_an_alternative() -> None:
    # Azure publishes no spot price for the ND H200 v5 in the catalog snapshot.
    at = page("capacity")
    at.query_params.update({"cloud": "azure", "reg": "eastus2", "hw": "h200"})
    at.run()
    at.selectbox(key="price").set_value("spot").run()
    assert not at.exception
    assert any("spot" in e.value for e in at.error)
    assert any("alternative" in i.value for i in at.info)


def test_widgets_change_the_plan() -> None:
    at = page("capacity")
    at.run()
    before = metric(at, "Monthly cost")
    at.number_input(key="rpd").set_value(500_000.0).run()
    assert not at.exception and not at.error
    after = metric(at, "Monthly cost")
    assert after != before
    p = capacity.plan(Scenario().replace(traffic=Scenario().traffic.model_copy(update={"requests_per_day": 500_000.0})))
    assert after == money(p.monthly_cost_usd)


def test_plan_shows_its_ranges() -> None:
    # Issue 12 part 5: the plan's monthly cost, replicas and latencies carry their nominal 80% range on the page
    from estimator import entrypoints

    at = page("capacity", timeout=60)
    at.run()
    assert not at.exception
    r = entrypoints.compute("capacity", Scenario()).ranges
    assert r is not None and r.monthly_cost_usd.low <= r.monthly_cost_usd.value <= r.monthly_cost_usd.high
    text = " ".join(c.value for c in at.caption)
    assert f"({money(r.monthly_cost_usd.low)}–{money(r.monthly_cost_usd.high)})" in text
