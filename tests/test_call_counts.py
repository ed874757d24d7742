"""One plan per rerun on every page (GitHub issue #10, item 1).

Each page runs through AppTest three times: a first run computes its entry point's result exactly
once (``estimator.entrypoints.calls``), a rerun with unchanged inputs computes nothing, one widget
change computes once more. Heavy estimator functions are counted while no entry point runs: a
page that computes anything itself (``performance.estimate`` for a chart, ``capacity.plan`` again
for an export) fails here.
"""

from __future__ import annotations

import functools
import importlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from estimator import entrypoints

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30

HEAVY = (
    "estimator.capacity:plan",
    "estimator.capacity:plan_summary",
    "estimator.disagg:plan",
    "estimator.speculative:for_plan",
    "estimator.performance:estimate",
    "estimator.performance:max_throughput",
    "estimator.variants:best_configs",
    "estimator.variants:explore_for_scenario",
    "estimator.training:plan_for_scenario",
    "estimator.training:estimate",
    "estimator.training:compare_instances",
    "estimator.analysis:memory_analysis",
    "estimator.analysis:performance_analysis",
)
"""Functions only an entry point may call (``module:function``)."""


@dataclass(frozen=True)
class Change:
    """One widget change: the widget kind (``selectbox``, ``number_input``), its key and new value."""

    kind: str
    key: str
    value: Any


CHANGES = {
    "capacity": Change("number_input", "rpd", 500_000.0),
    "memory": Change("selectbox", "m", "mistral-7b"),
    "performance": Change("selectbox", "m", "llama-2-13b"),
    "training": Change("number_input", "usd", 3_000_000.0),
    "variants": Change("number_input", "in", 1024),
}

ALSO: dict[str, tuple[str, ...]] = {"capacity": ("recommend", "serving")}
"""Second entry points a page computes, once each per rerun too: the landing page draws the recommendation
(issue 15: the cheapest feasible plan over the catalog is its headline) above the plan of the scenario's own choice,
and the plan's serving techniques (disaggregated, speculative: ``serving``) below it."""

NOT_YET_CONVERTED: dict[str, str] = {}
"""Pages still being rewritten as functions (xfail until they call their entry point once)."""


class Watch:
    """Counts calls of :data:`HEAVY` functions made while no entry point is running."""

    def __init__(self) -> None:
        self.depth = 0
        self.outside: Counter[str] = Counter()

    def entry(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.depth += 1
            try:
                return fn(*args, **kwargs)
            finally:
                self.depth -= 1

        return wrapper

    def heavy(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self.depth == 0:
                self.outside[name] += 1
            return fn(*args, **kwargs)

        return wrapper


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Watch]:
    w = Watch()
    targets = {ep.target for ep in entrypoints.ENTRY_POINTS.values()}
    for target in set(HEAVY) | targets:
        module_name, name = target.split(":")
        module = importlib.import_module(module_name)
        fn = getattr(module, name, None)
        if fn is None:
            continue
        # an entry point counts when called from outside another one (a page calling it directly)
        wrapped = w.heavy(target, fn)
        if target in targets:
            wrapped = w.entry(wrapped)
        monkeypatch.setattr(module, name, wrapped)
    entrypoints.cache_clear()
    yield w
    entrypoints.cache_clear()


def _page(page: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=TIMEOUT)


def _change(at: AppTest, change: Change) -> None:
    getattr(at, change.kind)(key=change.key).set_value(change.value)


def _params(page: str) -> list[Any]:
    marks = [pytest.mark.xfail(strict=False, reason=NOT_YET_CONVERTED[page])] if page in NOT_YET_CONVERTED else []
    return [pytest.param(page, marks=marks, id=page)]


@pytest.mark.parametrize("page_id", [p for page in CHANGES for p in _params(page)])
def test_one_entry_point_computation_per_rerun(watch: Watch, page_id: str) -> None:
    page = page_id
    at = _page(page)
    ours = (page, *ALSO.get(page, ()))
    before, before_all = {p: entrypoints.calls(p) for p in ours}, entrypoints.calls()
    at.run()
    assert not at.exception, at.exception
    assert all(entrypoints.calls(p) - before[p] == 1 for p in ours), "first run: exactly one computation each"
    at.run()
    assert not at.exception, at.exception
    assert all(entrypoints.calls(p) - before[p] == 1 for p in ours), "rerun, same inputs: served from the cache"
    _change(at, CHANGES[page])
    at.run()
    assert not at.exception, at.exception
    assert all(entrypoints.calls(p) - before[p] == 2 for p in ours), "one widget change: one more computation each"
    assert entrypoints.calls() - before_all == 2 * len(ours), "no other page's entry point ran"
    assert not watch.outside, f"computed outside the entry point: {dict(watch.outside)}"


@pytest.mark.parametrize("page", list(CHANGES))
def test_pages_do_not_bind_heavy_functions_by_name(page: str) -> None:
    # ``from estimator.performance import estimate`` in a page would escape the counting above
    module = importlib.import_module(f"pages.{page}")
    for target in HEAVY:
        module_name, name = target.split(":")
        heavy = getattr(importlib.import_module(module_name), name, None)
        bound = [attr for attr, value in vars(module).items() if heavy is not None and value is heavy]
        assert not bound, f"pages/{page}.py binds {target} as {bound}: call it through estimator.entrypoints"


def test_the_router_adds_no_computation(watch: Watch) -> None:
    # app.py (navigation, ?s= links, shared inputs, toolbar) around the default page: still one plan.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    before, before_all = entrypoints.calls("capacity"), entrypoints.calls()
    before_rec, before_serving = entrypoints.calls("recommend"), entrypoints.calls("serving")
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Capacity planner"
    at.run()
    assert not at.exception, at.exception
    assert entrypoints.calls("capacity") - before == 1
    assert entrypoints.calls("recommend") - before_rec == 1  # the landing page's headline (ALSO)
    assert entrypoints.calls("serving") - before_serving == 1  # its serving techniques (ALSO)
    assert entrypoints.calls() - before_all == 3
    assert not watch.outside, f"computed outside the entry point: {dict(watch.outside)}"
