"""AppTest of the landing page's answer (GitHub issue 15, part 2): the recommended plan first, "Use this
option", the ranked options, and numbers formatted for people."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from estimator import capacity, report
from estimator.formatting import duration, money
from estimator.recommend import Recommendation, recommend
from estimator.scenario import Deployment, Scenario, Traffic
from estimator.units import DType
from pages._recommend import option_title, recommend_scenario
from tests._apptest import metric, page

TIMEOUT = 60
RAW_FLOAT = re.compile(r"(?<![\w.:])\d+\.0*[1-9]\d{3,}")  # "13.2182": four significant decimals or more
RAW_INT = re.compile(r"(?<![\w.,])\d{6,}(?![\w,])")  # "70553706496": a long number without separators


@pytest.fixture(scope="module")
def rec() -> Recommendation:
    return recommend(recommend_scenario(Scenario()))


def test_the_answer_comes_first(rec: Recommendation) -> None:
    at = page("capacity", timeout=TIMEOUT)
    at.run()
    assert not at.exception and not at.error
    best = rec.best
    assert best is not None
    # the first heading after the title is the recommended plan, before the plan of the scenario's own choice
    heads = [h.value for h in at.subheader]
    assert heads[0] == option_title(best)
    assert best.hardware_name in heads[0] and best.instance_type in heads[0] and best.region in heads[0]
    assert f"{best.weight_dtype} weights" in heads[0] and f"TP {best.tp}" in heads[0]
    labels = [m.label for m in at.metric]
    assert labels[:6] == ["Cost per month", "$/1M input tokens", "$/1M output tokens", "TTFT, p95",
                          "End-to-end, p95", "t CO2e per month"]
    assert labels.index("Monthly cost") > 5  # the detailed plan's metrics follow
    assert metric(at, "Cost per month") == money(best.monthly_cost_usd or 0.0)
    assert metric(at, "$/1M input tokens") == money(best.usd_per_million_input_tokens or 0.0)
    assert metric(at, "$/1M output tokens") == money(best.usd_per_million_output_tokens or 0.0)
    assert metric(at, "TTFT, p95") == duration(best.ttft_p95_s or 0.0)
    assert metric(at, "End-to-end, p95") == duration(best.e2e_p95_s or 0.0)
    assert metric(at, "t CO2e per month") == f"{best.co2e_t_per_month:,.2f}"
    # the ranked table (the open tab; the two Pareto charts are the other tabs of "rec_view") and the grouped
    # infeasible reasons follow, before the detailed plan's own views
    assert [t.label for t in at.tabs][:3] == ["Options", "Cost vs p95 TTFT", "Cost vs carbon"]
    assert str(at.dataframe[0].value.columns[0]) == "accelerator"
    assert any(e.label.startswith("Why ") and "grouped by reason" in e.label for e in at.expander)
    at.session_state["rec_view"] = "Cost vs p95 TTFT"
    at.run()
    assert [c.key for c in at.get("plotly_chart")][:1] == ["fig_rec_ttft"]


def test_use_this_option_plans_the_recommended_option(rec: Recommendation) -> None:
    best = rec.best
    assert best is not None
    at = page("capacity", timeout=TIMEOUT)
    at.run()
    assert metric(at, "Monthly cost") != money(best.monthly_cost_usd or 0.0)  # the defaults are another plan
    at.button(key="_use_best").click().run()
    assert not at.exception and not at.error
    assert at.selectbox(key="hw").value == best.hardware_id
    assert at.selectbox(key="cloud").value == best.provider
    assert at.selectbox(key="reg").value == best.region
    assert at.selectbox(key="inst").value == best.instance_id
    assert at.selectbox(key="wd").value == best.weight_dtype
    assert at.selectbox(key="tp").value == best.tp
    # the detailed plan is now the recommended one: the same exact plan, the same monthly cost
    plan = capacity.plan(rec.scenario_for(best))
    assert metric(at, "Monthly cost") == money(plan.monthly_cost_usd) == money(best.monthly_cost_usd or 0.0)
    assert at.button(key="_use_best").disabled  # nothing left to switch to


def test_no_feasible_option_is_a_message_not_a_traceback() -> None:
    at = page("capacity", timeout=TIMEOUT)
    at.run()
    at.number_input(key="ttft").set_value(0.01).run()
    assert not at.exception
    assert any("No option in the catalog meets" in w.value for w in at.warning)


def test_the_search_does_not_depend_on_the_plans_own_hardware() -> None:
    # picking another accelerator for the detailed plan reuses the recommendation (one cache key) ...
    a = Scenario()
    b = Scenario(deploy=Deployment(hardware_id="mi300x", provider="azure", region="eastus", tp=1))
    b = b.replace(model=b.model.model_copy(update={"weight_dtype": DType.FP8}))
    assert recommend_scenario(a) == recommend_scenario(b)
    # ... while the traffic, the goals and the pricing model are the search's inputs
    c = Scenario(traffic=Traffic(requests_per_day=500_000))
    assert recommend_scenario(c) != recommend_scenario(a)
    d = Scenario(deploy=Deployment(pricing="spot"))
    assert recommend_scenario(d).deploy.pricing.value == "spot"


def test_numbers_are_formatted_for_people() -> None:
    at = page("capacity", timeout=TIMEOUT)
    at.run()
    texts = [m.value for m in at.metric] + [m.help or "" for m in at.metric]
    texts += [e.value for kind in ("markdown", "caption", "subheader", "success", "info", "warning")
              for e in at.get(kind)]
    for t in texts:
        t = str(t)
        if "Capital recovery factor" in t:  # pages/_tco.py: a factor to four digits, as in its source's table
            continue
        assert not RAW_FLOAT.search(t), t
        assert not RAW_INT.search(t), t
    # the ranked table shows money with separators and durations with units
    table = next(d.value for d in at.dataframe if "$ / 1M input tokens" in d.value.columns)
    assert table["monthly cost"].str.match(r"^\$[\d,]+(\.\d+)?$").all()
    assert table["p95 TTFT"].str.match(r"^[\d.,]+ (ms|s|min|h)$").all()


def test_recommendation_report_is_the_answer(rec: Recommendation) -> None:
    rep = report.build_report(rec.scenario, "recommend", rec)
    best = rec.best
    assert best is not None and rep.page == "recommend"
    assert rep.value("best_monthly_cost_usd") == best.monthly_cost_usd
    assert rep.value("best_hardware_id") == best.hardware_id and rep.value("best_tp") == best.tp
    assert rep.value("option_01").startswith(f"{best.hardware_id} x{best.tp} {best.weight_dtype}")
    assert rep.value("feasible_plans") == len(rec.feasible)
    assert sum(1 for r in rep.rows if re.fullmatch(r"option_\d\d", r.name)) == len(rec.options)
    frame = pd.read_csv(io.StringIO(report.to_csv(rep)))
    units = set(frame["unit"].dropna())
    assert {"USD/1M input tokens", "USD/1M output tokens"} <= units  # cost per token labelled input or output
    groups = frame[frame["name"].str.startswith("infeasible_")]
    assert groups["value"].astype(int).sum() == sum(g.count for g in rec.infeasible)


def test_limiting_the_search_changes_the_answer(rec: Recommendation) -> None:
    best = rec.best
    assert best is not None
    at = page("capacity", timeout=TIMEOUT)
    at.run()
    at.multiselect(key="rxcl").set_value([best.provider]).run()
    assert not at.exception and not at.error
    other = recommend(recommend_scenario(Scenario()), {"exclude_clouds": (best.provider,)}).best
    assert other is not None and other.provider != best.provider
    assert at.subheader[0].value == option_title(other)
    assert metric(at, "Cost per month") == money(other.monthly_cost_usd or 0.0)
    # no weight format at all is a message, not a traceback
    at.multiselect(key="rwf").set_value([]).run()
    assert not at.exception
    assert any("at least one weight format" in e.value for e in at.error)
