"""The landing page's volume, inference-mode and pricing selects show labels, and links made before (option ids,
``?vol=peak_rps&price=spot``) still open what they say: a bound select with a ``format_func`` drops a link value
that is not one of its labels, so the app rewrites ids to labels before any widget reads the link."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from estimator.scenario import (
    InferenceMode,
    Pricing,
    RecommendInputs,
    Scenario,
    Traffic,
    Volume,
    to_query_params,
)
from tests._apptest import ROOT, TIMEOUT, page


def _shown(at: AppTest, key: str) -> str:
    """The text the select ``key`` shows for its current value."""
    sb = at.selectbox(key=key)
    assert sb.index is not None
    return str(sb.options[sb.index])


def test_old_link_with_option_ids_opens_peak_rps_and_spot() -> None:
    at = page("capacity", vol="peak_rps", price="spot")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="vol").value == "peak_rps" and at.selectbox(key="price").value == "spot"
    assert _shown(at, "vol") == "Peak requests/s" and _shown(at, "price") == "Spot / preemptible"
    inputs = [n.label for n in at.number_input]
    assert "Peak requests per second" in inputs and "Requests per day" not in inputs
    assert dict(at.query_params) == {"vol": "Peak requests/s", "price": "Spot / preemptible"}
    assert not any("ignored" in w.value for w in at.warning)
    assert at.selectbox(key="mode").options[0] == "Auto: cheapest meeting SLO"


def test_router_rewrites_option_ids_in_links_to_labels() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update({"vol": "peak_rps", "mode": "realtime", "price": "committed_1y", "rpm": "spot,on_demand"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert dict(at.query_params) == {"vol": "Peak requests/s", "mode": "Real-time endpoint",
                                     "price": "1-year commitment", "rpm": ["Spot / preemptible", "On-demand"]}
    assert (at.selectbox(key="vol").value, at.selectbox(key="mode").value, at.selectbox(key="price").value) == (
        "peak_rps", "realtime", "committed_1y")
    assert at.multiselect(key="rpm").value == ["spot", "on_demand"]
    assert not any("ignored" in w.value for w in at.warning)


def test_a_link_from_to_query_params_opens_the_same_page() -> None:
    # the CLI and the reports write links with to_query_params: the page's widgets must read them as they are
    d = Scenario()
    s = d.replace(traffic=Traffic(volume=Volume.PEAK_RPS, peak_rps=20.0),
                  deploy=d.deploy.model_copy(update={"mode": InferenceMode.ASYNC, "pricing": Pricing.COMMITTED_3Y}),
                  recommend=RecommendInputs(pricing=("committed_3y", "spot")))
    params = to_query_params(s)
    at = page("capacity")
    at.query_params.update(params)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert dict(at.query_params) == params  # nothing rewritten, nothing dropped
    assert (at.selectbox(key="vol").value, at.selectbox(key="mode").value, at.selectbox(key="price").value) == (
        "peak_rps", "async", "committed_3y")
    assert at.multiselect(key="rpm").value == ["committed_3y", "spot"]
    assert _shown(at, "mode") == "Asynchronous inference"


def test_training_and_variants_pricing_read_old_links() -> None:
    # price is shared by the pages (pages._ui.SHARED_KEYS): every pricing select shows the same labels
    for name in ("training", "variants"):
        at = page(name, price="spot")
        at.run()
        assert not at.exception, (name, [e.value for e in at.exception])
        assert at.selectbox(key="price").value == "spot" and _shown(at, "price") == "Spot / preemptible", name
        assert not any("ignored" in w.value for w in at.warning), name



def _switch_from_capacity_with_spot() -> None:
    """A script run in which the user has just left the capacity page, where they chose spot pricing."""
    import streamlit as st

    from pages._ui import carry_shared_inputs

    st.session_state["_last_page"] = "capacity"
    st.session_state["_shared_inputs"] = {"price": "spot"}
    carry_shared_inputs("training")


def test_pricing_follows_the_user_to_another_page_as_its_label() -> None:
    # pages._ui.carry_shared_inputs writes the shared pricing into the new page's link: the label its select reads
    at = AppTest.from_function(_switch_from_capacity_with_spot, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["price"] == "spot"
    assert at.query_params["price"] == "Spot / preemptible"


def test_training_budget_unit_and_scaling_law_show_labels_and_read_old_links() -> None:
    at = page("training", bu="flops", ap="epoch-refit")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert (at.selectbox(key="bu").value, at.selectbox(key="ap").value) == ("flops", "epoch-refit")
    assert (_shown(at, "bu"), _shown(at, "ap")) == ("FLOPs", "Approach 3: Epoch refit")
    assert "Budget (FLOPs)" in [n.label for n in at.number_input]
    assert not any("ignored" in w.value for w in at.warning)
