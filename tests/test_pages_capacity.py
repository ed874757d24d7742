"""AppTest for the "Capacity planner" page."""

from __future__ import annotations

import pytest

from estimator import capacity, modes
from estimator.formatting import duration, integer, money
from estimator.scenario import Scenario
from tests._apptest import metric, page, with_tab


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
    # result views are lazy tabs (pages._ui.lazy_tabs): at first only the plan's week view draws its charts
    assert [c.key for c in at.get("plotly_chart")] == ["fig_week", "fig_cost_week"]
    assert any("How this is computed" in e.label for e in at.expander)


# (tab key, tab label, chart keys the open tab draws, tables it draws by their first column: AppTest does not
# expose a dataframe's key); the other tabs of the same key draw none of theirs
VIEWS = [
    ("cap_view", "Week: fleet and cost", {"fig_week", "fig_cost_week"}, set()),
    ("cap_view", "Latency and buy vs build", {"fig_latency", "fig_buy_build"}, set()),
    ("cap_view", "Modes and the reasoning", set(), {"mode"}),
    ("cap_view", "Prices, hosted APIs and regions", {"fig_growth"}, {"pricing", "TP", "API", "role"}),
    ("rec_view", "Options", set(), {"accelerator"}),
    ("rec_view", "Cost vs p95 TTFT", {"fig_rec_ttft"}, set()),
    ("rec_view", "Cost vs carbon", {"fig_rec_carbon"}, set()),
    ("tco_view", "Price sheet", set(), {"option"}),
    ("tco_view", "Cumulative cost and owning per month", {"fig_tco_cumulative"}, {"line"}),
]


@pytest.mark.parametrize(("key", "label", "charts", "tables"), VIEWS, ids=[v[1] for v in VIEWS])
def test_each_view_draws_only_its_own_results(key: str, label: str, charts: set[str], tables: set[str]) -> None:
    """Opening a tab (its state set, as a click does) draws that view's charts and tables and no other view's
    of the same tab group; views of the other groups keep their defaults."""
    at = with_tab("capacity", key, label)
    drawn_charts = {c.key for c in at.get("plotly_chart")}
    drawn_tables = {str(d.value.columns[0]) for d in at.dataframe if len(d.value.columns)}
    same_group = [v for v in VIEWS if v[0] == key]
    others_c = {c for v in same_group if v[1] != label for c in v[2]}
    others_t = {t for v in same_group if v[1] != label for t in v[3]}
    assert charts <= drawn_charts and not (others_c & drawn_charts)
    assert tables <= drawn_tables and not (others_t & drawn_tables)
    if label == "Modes and the reasoning":  # the plan explained line by line
        assert any("Replicas per hour" in md.value for md in at.markdown)


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
