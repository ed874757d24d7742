"""One estimator entry point per page, computed once per scenario and shared by every caller.

Each page of the app has exactly ONE function here that takes the :class:`Scenario` and returns
one typed result: the page draws it, :mod:`estimator.report` renders it to CSV/JSON, Save stores
its scenario and the CLI prints it. :func:`compute` memoizes the result per page and canonical
scenario JSON (plus the page's session-only extras, such as an uploaded histogram), in one
process-wide LRU, so two browser sessions opening the same link compute it once, and a page and
its export never compute it twice. Errors the user can cause (:class:`EstimatorError`) are cached
as well: a scenario that cannot be planned is not re-planned on every rerun.

| page          | entry point                              | result                                   |
|---------------|------------------------------------------|------------------------------------------|
| capacity      | :func:`estimator.capacity.plan`          | :class:`estimator.capacity.CapacityPlan` |
| memory        | :func:`estimator.analysis.memory_analysis` | :class:`estimator.analysis.MemoryAnalysis` |
| performance   | :func:`estimator.analysis.performance_analysis` | :class:`estimator.analysis.PerformanceAnalysis` |
| training      | :func:`estimator.analysis.training_analysis` | :class:`estimator.analysis.TrainingAnalysis` |
| variants      | :func:`estimator.variants.explore_for_scenario` | :class:`estimator.variants.Exploration` |
| lifetime      | :func:`estimator.lifetime.lifetime_plan` | :class:`estimator.lifetime.LifetimePlan` (the Training page's lifetime mode) |
| recommend     | :func:`estimator.recommend.recommend`    | :class:`estimator.recommend.Recommendation` (the landing page's headline) |
| serving       | :func:`serving`                          | :class:`ServingComparison` (the landing page's serving techniques) |

The cache is thread-safe: concurrent callers of the same key wait for the first one's result
instead of computing it again (one lock per key).
"""

from __future__ import annotations

import importlib
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from estimator.errors import EstimatorError
from estimator.scenario import Scenario

if TYPE_CHECKING:
    from estimator.disagg import DisaggPlan
    from estimator.speculative import SpeculativeComparison
    from estimator.traffic import TokenDistribution

__all__ = ["ENTRY_POINTS", "EntryPoint", "ServingComparison", "cache_clear", "calls", "compute", "entry_point",
           "serving"]

CACHE_SIZE = 64
"""Results kept (least recently used evicted). A capacity plan is a few hundred kB."""


@dataclass(frozen=True)
class EntryPoint:
    """Where a page's computation lives: ``module:function`` (imported on first use)."""

    page: str
    target: str
    title: str

    def function(self) -> Callable[..., Any]:
        module, name = self.target.split(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
        return fn


ENTRY_POINTS: dict[str, EntryPoint] = {
    e.page: e
    for e in (
        EntryPoint("capacity", "estimator.capacity:plan", "Capacity planner"),
        EntryPoint("memory", "estimator.analysis:memory_analysis", "Model & memory"),
        EntryPoint("performance", "estimator.analysis:performance_analysis", "Latency & throughput"),
        EntryPoint("training", "estimator.analysis:training_analysis", "Training budget"),
        EntryPoint("variants", "estimator.variants:explore_for_scenario", "Compare variants"),
        EntryPoint("lifetime", "estimator.lifetime:lifetime_plan", "Lifetime sizing (training page)"),
        EntryPoint("recommend", "estimator.recommend:recommend", "Recommended plan"),
        EntryPoint("serving", "estimator.entrypoints:serving", "Serving techniques (capacity page)"),
    )
}
"""Page id -> its one entry point."""


@dataclass(frozen=True)
class ServingComparison:
    """The serving techniques of one scenario's capacity plan, each with why it is missing when it is.

    ``disagg``: :func:`estimator.disagg.plan` (colocated vs disaggregated prefill/decode);
    ``speculative``: :func:`estimator.speculative.for_plan` (with vs without speculative decoding).
    """

    disagg: DisaggPlan | None
    disagg_error: str
    speculative: SpeculativeComparison | None
    speculative_error: str


def serving(scenario: Scenario, input_tokens: TokenDistribution | None = None) -> ServingComparison:
    """The capacity page's serving comparison for ``scenario``: its plan (``compute("capacity", ...)``, the
    page's own cached plan, with the same uploaded prompt lengths ``input_tokens``), then the disaggregated
    plan and the speculative comparison of that plan, each computed once per scenario here (the page draws
    them in two sections). Raises the plan's :class:`EstimatorError`; the techniques' errors are kept as text."""
    from estimator import disagg, speculative

    plan = compute("capacity", scenario, input_tokens=input_tokens)
    try:
        d: DisaggPlan | None = disagg.plan(plan.scenario, plan)
        d_error = ""
    except EstimatorError as exc:
        d, d_error = None, str(exc)
    try:
        sp: SpeculativeComparison | None = speculative.for_plan(plan)
        sp_error = ""
    except EstimatorError as exc:
        sp, sp_error = None, str(exc)
    return ServingComparison(disagg=d, disagg_error=d_error, speculative=sp, speculative_error=sp_error)


@dataclass(frozen=True)
class _Failed:
    error: EstimatorError


_results: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
_key_locks: dict[tuple[str, str, str], threading.Lock] = {}
_guard = threading.Lock()
_calls: Counter[str] = Counter()


def entry_point(page: str) -> EntryPoint:
    """The entry point of ``page``; :class:`EstimatorError` for an unknown page."""
    try:
        return ENTRY_POINTS[page]
    except KeyError:
        raise EstimatorError(f"unknown page {page!r}; choose one of {', '.join(ENTRY_POINTS)}") from None


def _extra_key(extras: Mapping[str, Any]) -> str:
    """A stable text key for a page's session-only extras (pydantic models, data frames, scalars)."""
    parts = []
    for name in sorted(extras):
        value = extras[name]
        if value is None:
            continue
        if hasattr(value, "model_dump_json"):
            text = value.model_dump_json()
        elif hasattr(value, "to_json"):
            text = value.to_json(orient="split", double_precision=15)
        else:
            text = repr(value)
        parts.append(f"{name}={text}")
    return "&".join(parts)


def _lookup(key: tuple[str, str, str]) -> tuple[bool, Any]:
    with _guard:
        if key in _results:
            _results.move_to_end(key)
            return True, _results[key]
        return False, None


def _store(key: tuple[str, str, str], value: Any) -> None:
    with _guard:
        _results[key] = value
        _results.move_to_end(key)
        while len(_results) > CACHE_SIZE:
            old, _ = _results.popitem(last=False)
            _key_locks.pop(old, None)


def _unwrap(value: Any) -> Any:
    if isinstance(value, _Failed):
        raise value.error.with_traceback(None)
    return value


def compute(page: str, scenario: Scenario, *, progress: Callable[[float, str], None] | None = None,
            **extras: Any) -> Any:
    """The result of ``page``'s entry point for ``scenario``, computed at most once per key.

    ``extras`` are keyword arguments of the entry point that are not part of the scenario (an
    uploaded prompt-length histogram, scores typed on the page); they are part of the cache key.
    ``progress(fraction, message)`` is passed to entry points that report progress (capacity) and
    is not part of the key. Raises the entry point's :class:`EstimatorError` (cached too).
    """
    ep = entry_point(page)
    key = (page, scenario.model_dump_json(), _extra_key(extras))
    hit, value = _lookup(key)
    if hit:
        return _unwrap(value)
    with _guard:
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        hit, value = _lookup(key)
        if hit:
            return _unwrap(value)
        kwargs = {k: v for k, v in extras.items() if v is not None}
        if progress is not None and page == "capacity":
            kwargs["progress"] = progress
        _calls[page] += 1
        try:
            value = ep.function()(scenario, **kwargs)
        except EstimatorError as exc:
            value = _Failed(exc)
        _store(key, value)
    return _unwrap(value)


def calls(page: str | None = None) -> int:
    """How many times entry points actually ran (cache misses), for ``page`` or all pages."""
    with _guard:
        return sum(_calls.values()) if page is None else _calls[page]


def cache_clear() -> None:
    """Forget every cached result (tests; after the catalog changed)."""
    with _guard:
        _results.clear()
        _key_locks.clear()
