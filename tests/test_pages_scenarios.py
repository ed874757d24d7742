"""AppTest for saving from a page, the Saved scenarios page, and ?s= short links."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from estimator.scenario import MemoryInputs, ModelChoice, Scenario
from estimator.store import default_store

TIMEOUT = 30


def test_save_from_memory_page() -> None:
    at = AppTest.from_file("../pages/memory.py", default_timeout=TIMEOUT)
    at.run()
    at.selectbox(key="m").set_value("mistral-7b").run()
    at.text_input(key="_save_name_memory").set_value("Mistral plan")
    at.button(key="_save_btn_memory").click().run()
    assert not at.exception
    saved = default_store().list()
    assert len(saved) == 1 and saved[0].name == "Mistral plan" and saved[0].page == "memory"
    assert saved[0].scenario is not None and saved[0].scenario.model.model_id == "mistral-7b"
    assert any("?s=" + saved[0].id in s.value for s in at.success)


def test_scenarios_page_empty_and_listed() -> None:
    at = AppTest.from_file("../pages/scenarios.py", default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert any("No saved scenarios" in i.value for i in at.info)
    store = default_store()
    store.save(Scenario(model=ModelChoice(model_id="llama-2-7b")), "small", "cheap one", "memory")
    store.save(Scenario(model=ModelChoice(model_id="llama-2-70b"), memory=MemoryInputs(batch=4)), "big", "", "memory")
    at = AppTest.from_file("../pages/scenarios.py", default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert set(at.dataframe[0].value["name"]) == {"small", "big"}
    at.multiselect(key="_compare").set_value([s.id for s in store.list()]).run()
    assert not at.exception
    assert any("smallest by per_device_total_bytes: **small**" in m.value for m in at.markdown)


def test_search_filters() -> None:
    store = default_store()
    store.save(Scenario(), "alpha plan")
    store.save(Scenario(), "beta plan")
    at = AppTest.from_file("../pages/scenarios.py", default_timeout=TIMEOUT)
    at.query_params["q"] = "alpha"
    at.run()
    assert list(at.dataframe[0].value["name"]) == ["alpha plan"]


def test_missing_short_link_id_says_so() -> None:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.query_params["s"] = "doesnotexist"
    at.run()
    assert not at.exception
    assert any("No saved scenario" in e.value for e in at.error)
    assert at.title[0].value == "Capacity planner"


def test_open_switches_to_the_function_page_it_was_saved_from() -> None:
    # ?s= opens the page a scenario was saved from (here the list itself); Open goes on to the memory page
    store = default_store()
    listing = store.save(Scenario(), "list", "", "scenarios")
    sid = store.save(Scenario(model=ModelChoice(model_id="llama-2-13b")), "13b", "", "memory")
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.query_params["s"] = listing
    at.run()
    assert not at.exception
    assert at.title[0].value == "Saved scenarios"
    at.selectbox(key="_chosen").set_value(sid).run()
    next(b for b in at.button if b.label == "Open").click().run()
    assert not at.exception
    assert at.title[0].value == "Model & memory"
    assert at.selectbox(key="m").value == "llama-2-13b"


def test_names_render_as_text_not_markdown() -> None:
    # issue 11: an image in a saved scenario's name made every visitor's browser fetch its URL
    store = default_store()
    evil = "![x](http://example.invalid/p.png) **bold**"
    store.save(Scenario(model=ModelChoice(model_id="llama-2-7b")), evil, "", "memory")
    store.save(Scenario(model=ModelChoice(model_id="llama-2-13b")), "other", "", "memory")
    at = AppTest.from_file("../pages/scenarios.py", default_timeout=TIMEOUT)
    at.run()
    at.multiselect(key="_compare").set_value([s.id for s in store.list()]).run()
    assert not at.exception
    texts = [m.value for m in at.markdown] + [w.value for w in at.warning] + [m.value for m in at.caption]
    assert not any("![x](" in t for t in texts)
    assert any("\\!\\[x\\]\\(http" in t for t in texts)


def test_delete_moves_to_trash_and_restore_brings_it_back() -> None:
    store = default_store()
    sid = store.save(Scenario(model=ModelChoice(model_id="llama-2-7b")), "keep me", "", "memory")
    at = AppTest.from_file("../pages/scenarios.py", default_timeout=TIMEOUT)
    at.run()
    at.button(key="_delete").click().run()
    assert not at.exception
    assert store.list() == [] and [t.name for t in store.trash()] == ["keep me"]
    at.run()
    at.button(key="_restore").click().run()
    assert not at.exception
    assert [s.name for s in store.list()] == ["keep me"]
    assert store.get(sid).scenario is not None
