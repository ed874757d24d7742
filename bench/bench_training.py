"""Benchmark of the Training budget page's compute: run ``python bench/bench_training.py``.

Prints the median time of ``training.plan_for_scenario`` and of the page's whole compute
(``pages/training.py``: the plan, ``scaling.fits_disagreement`` and, with "Compare on every priced
instance" on, ``training.compare_instances``, which re-plans the run on each of ~60 catalog
instances) for four training scenarios, against the 20 ms target for the page.

"Before" is measured in the same run, two ways:

* in process, with the slow paths put back: the region probe of ``compare_instances`` through
  ``catalog.get_region`` (an ``UnknownIdError`` with ``difflib`` "did you mean" suggestions per
  miss, caught as control flow), the scaling-law context and the carbon footprint computed
  afresh for each of the ~60 instances compared, and NumPy reductions to validate every scalar
  in ``estimator.scaling``;
  then each of them alone, to show what each costs;
* with ``--baseline REV`` (e.g. ``--baseline 61f0b31``, the last commit before this change), on
  the ``estimator/`` package of git revision ``REV`` in a subprocess (``git archive``; the working
  tree is not touched; the data are the working tree's).

The CPU may be shared: each figure is the median (and, in brackets, the best) of ``--repeat``
runs; the target is judged on the best, which contention cannot flatter; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("BENCH_ESTIMATOR_ROOT", str(REPO)))

from estimator import catalog, scaling, training  # noqa: E402
from estimator.errors import UnknownIdError  # noqa: E402
from estimator.scenario import Scenario, TrainingBudget  # noqa: E402

TARGET_MS = 20.0
"""Target for the page's compute with the default scenario (GitHub issue #10)."""


def scenarios() -> dict[str, Scenario]:
    s = Scenario()
    return {
        "default: $2M budget, approach 1": s,
        "1e5 GPU-hour budget, epoch refit": s.model_copy(
            update={"train": TrainingBudget(budget_unit="gpu-hours", approach="epoch-refit")}),
        "model: llama-3.1-70b, 15T tokens": s.model_copy(update={"train": TrainingBudget(start="model")}),
        "model: custom 13B, 2T tokens, 512 GPUs": s.model_copy(update={"train": TrainingBudget(
            start="model", model_source="custom", params_b=13, tokens_b=2000, accelerators=512)}),
    }


def page_compute(scenario: Scenario) -> None:
    """What pages/training.py computes, with the comparison across instances switched on."""
    plan = training.plan_for_scenario(scenario)
    common = training.scenario_kwargs(scenario)
    inputs = training.TrainingInputs.build(
        **({"model_id": plan.model_id} if plan.model_id else {"params": plan.params}),
        tokens=plan.tokens, **{**common, "mfu": plan.mfu},
    )
    scaling.fits_disagreement(plan.flops)
    training.compare_instances(plan, inputs)


Figures = dict[str, dict[str, float]]
"""Scenario label -> {"plan_ms", "page_ms", "plan_best_ms", "page_best_ms"}."""


def _find_region_by_exception(region_id: str) -> Any:
    """The old control flow: ``get_region`` and catch its error (built with difflib suggestions)."""
    try:
        return catalog.get_region(region_id)
    except UnknownIdError:
        return None


class _Forgetful(dict[Any, Any]):
    """A memo that remembers nothing."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


_SHARED = getattr(training, "_Shared", None)  # absent from a --baseline revision before this change


def _unshared() -> Any:
    if _SHARED is None:
        raise RuntimeError("this estimator has no training._Shared to disable")
    return _SHARED(footprints=_Forgetful(), contexts=_Forgetful())


OLD_PATHS: dict[str, str] = {
    "difflib": "region probe through get_region + difflib suggestions",
    "unshared": "context and footprint computed per instance",
    "numpy-scalars": "scalars validated with NumPy reductions",
}
"""The slow paths :func:`_old_paths` can put back, by name (see the module notes)."""

ALL_OLD = frozenset(OLD_PATHS)
NEW: frozenset[str] = frozenset()


def _old_paths(names: frozenset[str]) -> Callable[[], None]:
    """Put back the slow paths ``names`` (keys of :data:`OLD_PATHS`); returns the undo."""
    swaps: list[tuple[Any, str, Any]] = []
    if "difflib" in names:
        swaps.append((catalog, "find_region", _find_region_by_exception))
    if "unshared" in names:
        swaps.append((training, "_Shared", _unshared))
    if "numpy-scalars" in names:
        swaps.append((scaling, "_PLAIN_SCALARS", frozenset()))
    saved = [(module, name, getattr(module, name)) for module, name, _ in swaps]
    for module, name, value in swaps:
        setattr(module, name, value)

    def undo() -> None:
        for module, name, value in saved:
            setattr(module, name, value)

    return undo


def _once_s(fn: Callable[[], Any], old: frozenset[str]) -> float:
    undo = _old_paths(old)
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        undo()


def measure(repeat: int, variants: tuple[frozenset[str], ...] = (NEW,), pages_only: bool = False,
            labels: list[str] | None = None) -> list[Figures]:
    """Per variant (the set of old paths put back; empty: the code as it is), per scenario: median
    and best milliseconds of ``plan_for_scenario`` and of the page's compute. Variants alternate
    run by run, so that a busy CPU slows them alike."""
    out: list[Figures] = [{} for _ in variants]
    for label, s in scenarios().items():
        if labels is not None and label not in labels:
            continue
        kinds: list[tuple[str, Callable[[], Any]]] = [("page", partial(page_compute, s))]
        if not pages_only:
            kinds.insert(0, ("plan", partial(training.plan_for_scenario, s)))
        for kind, fn in kinds:
            times: list[list[float]] = [[] for _ in variants]
            for _ in range(repeat + 1):  # the first run warms the catalog
                for k, old in enumerate(variants):
                    times[k].append(_once_s(fn, old))
            for k in range(len(variants)):
                fig = out[k].setdefault(label, {})
                fig[f"{kind}_ms"] = statistics.median(times[k][1:]) * 1e3
                fig[f"{kind}_best_ms"] = min(times[k][1:]) * 1e3
    return out


def measure_revision(rev: str, repeat: int) -> Figures:
    """:func:`measure` on the ``estimator`` package of git revision ``rev``, in a subprocess."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "estimator"],  # noqa: S603, S607
                                 check=True, capture_output=True).stdout
        tar_path = Path(tmp) / "estimator.tar"
        tar_path.write_bytes(archive)
        with tarfile.open(tar_path) as tar:
            tar.extractall(tmp, filter="data")
        env = {**os.environ, "BENCH_ESTIMATOR_ROOT": tmp, "LLMCP_DATA_DIR": str(REPO / "data")}
        done = subprocess.run([sys.executable, __file__, "--json", "--repeat", str(repeat)],  # noqa: S603
                              capture_output=True, text=True, env=env, cwd=tmp)
        if done.returncode:
            raise SystemExit(f"measuring git {rev} failed:\n{done.stderr}")
        figures: Figures = json.loads(done.stdout)
        return figures


def report(new: Figures, old: Figures, old_label: str) -> None:
    print(f"{'median (best) ms':38s} {'plan':>13s} {'page':>13s} | {old_label}: {'plan':>13s} {'page':>13s}"
          "  page ratio: median (best)")
    for label, t in new.items():
        o = old[label]
        print(f"{label:38s} {t['plan_ms']:6.2f} ({t['plan_best_ms']:4.2f}) {t['page_ms']:6.1f} ({t['page_best_ms']:4.1f})"
              f" | {'':{len(old_label)}s}  {o['plan_ms']:6.2f} ({o['plan_best_ms']:4.2f})"
              f" {o['page_ms']:6.1f} ({o['page_best_ms']:4.1f})  x{o['page_ms'] / t['page_ms']:.2f}"
              f" (x{o['page_best_ms'] / t['page_best_ms']:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=31, help="runs per figure (median and best reported)")
    ap.add_argument("--baseline", metavar="REV", help="also measure the estimator package of git revision REV")
    ap.add_argument("--json", action="store_true", help="print this tree's figures as JSON only (for --baseline)")
    args = ap.parse_args()
    if args.json:
        print(json.dumps(measure(args.repeat)[0]))
        return
    new, old = measure(args.repeat, (NEW, ALL_OLD))
    default = next(iter(new.values()))
    verdict = "met" if default["page_best_ms"] <= TARGET_MS else "NOT met"
    print(f"Training page compute, default scenario: best {default['page_best_ms']:.1f} ms, median "
          f"{default['page_ms']:.1f} ms of {args.repeat} runs; target {TARGET_MS:.0f} ms: {verdict} (best-of-N; "
          f"a shared CPU inflates the median: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)\n")
    report(new, old, "old paths put back")
    first = next(iter(new))
    alone = measure(args.repeat, (NEW, *(frozenset({name}) for name in OLD_PATHS)), pages_only=True, labels=[first])
    print(f"\neach old path alone, page compute of the {first.split(':')[0]} scenario, median (best) ms:")
    base = alone[0][first]
    print(f"  {'as it is now':64s} {base['page_ms']:6.1f} ({base['page_best_ms']:4.1f})")
    for (name, what), fig in zip(OLD_PATHS.items(), alone[1:], strict=True):
        f = fig[first]
        print(f"  {name + ': ' + what:64s} {f['page_ms']:6.1f} ({f['page_best_ms']:4.1f})  "
              f"+{f['page_best_ms'] - base['page_best_ms']:.1f} ms best")
    if args.baseline:
        print()
        report(new, measure_revision(args.baseline, args.repeat), f"git {args.baseline}")


if __name__ == "__main__":
    main()
