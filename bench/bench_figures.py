"""Benchmark of the pages' plotly figure builders: run ``python bench/bench_figures.py [--runs N] [--page P]``.

For each page (capacity, memory, performance, training, variants), on the default scenario and one other:

* **build**: the total time of every figure builder the page calls on a rerun (``pages/figures/<page>.py``), given
  the result object of ``estimator.entrypoints.compute(page, scenario)`` (computed once, outside the timing);
* **serialize**: what Streamlit does with each of those figures in ``st.plotly_chart``
  (``streamlit/elements/plotly_chart.py``): ``plotly.tools.return_figure_from_figure_or_data(fig,
  validate_figure=True)`` (a ``fig.to_dict()``) then ``plotly.io.to_json(figure, validate=False)``.

Median (and best) of ``--runs`` (default 15) after one warm-up. The same runs time the builders as they were
before GitHub issue #10's rework (``pages/figures/`` at commit ``REFERENCE``, read with ``git show`` into a
temporary package and imported beside the current one), interleaved run by run, so the ratios are measured under
the same load. Each figure's ``to_dict()`` is also compared with the reference's: ``same`` when they are equal
(floats to 1e-9 relative), else the first differing paths (the rework must not change what a page shows).
"""

from __future__ import annotations

import argparse
import importlib
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import plotly.io  # noqa: E402
import plotly.tools  # noqa: E402

from estimator import entrypoints  # noqa: E402
from estimator.scenario import Scenario, from_query_params  # noqa: E402

REFERENCE = "68455b75b15321bfdfd5dc193ccf12aa66a6271b"
"""The commit whose ``pages/figures/`` is the "before" (incremental ``add_*``/``update_*`` building)."""
PAGES = ("capacity", "memory", "performance", "training", "variants")
OTHER: dict[str, dict[str, str]] = {
    "capacity": {"m": "llama-3.1-8b", "hw": "l4"},
    "memory": {"m": "mixtral-8x7b", "hw": "h200", "kd": "fp8", "b": "32"},
    "performance": {"m": "llama-2-7b", "hw": "a100-80gb-sxm"},
    "training": {"bu": "flops", "fl": "1e25", "ap": "epoch-refit"},
    "variants": {"m": "llama-3.1-8b"},
}
"""The second scenario of each page (link parameters, as in the page's URL)."""

Builder = Callable[[ModuleType, Any], list[go.Figure]]


def _some(*figs: go.Figure | None) -> list[go.Figure]:
    return [f for f in figs if f is not None]


BUILDERS: dict[str, Builder] = {
    "capacity": lambda m, p: [m.week_figure(p), m.week_cost_figure(p), m.latency_figure(p), m.buy_build_figure(p),
                              m.growth_figure(p)],
    "memory": lambda m, r: [m.breakdown_figure(r), m.context_figure(r),
                            *([m.training_figure(r.training, r.hardware.name)] if r.training is not None else [])],
    "performance": lambda m, r: _some(m.roofline_figure(r), m.batch_figure(r), m.context_figure(r.context_sweep),
                                      m.comparison_figure(r), m.calibration_figure(r)),
    "training": lambda m, r: [m.frontier_figure(r.plan), m.isoflop_figure(r.plan, r.disagreement)],
    "variants": lambda m, ex: _some(m.frontier_figure(ex), m.compression_figure(ex), m.elastic_figure(ex),
                                    *(f for _, f in m.long_context_figures(ex))),
}
"""What each page builds on a rerun (``pages/<page>.py``), from its entry point's result."""


def _result(page: str, params: dict[str, str]) -> Any:
    scenario = Scenario() if not params else from_query_params(params)[0]
    return entrypoints.compute(page, scenario)


def reference_package(tmp: Path) -> str:
    """``pages/figures`` at ``REFERENCE`` as the importable package ``figures_ref`` under ``tmp``."""
    pkg = tmp / "figures_ref"
    pkg.mkdir()
    for name in ("__init__", *PAGES):
        src = subprocess.run(["git", "show", f"{REFERENCE}:pages/figures/{name}.py"], cwd=ROOT, check=True,  # noqa: S603, S607
                             capture_output=True, text=True).stdout
        (pkg / f"{name}.py").write_text(src.replace("from pages.figures import", "from figures_ref import"))
    sys.path.insert(0, str(tmp))
    return "figures_ref"


def serialize(fig: go.Figure) -> str:
    """What ``st.plotly_chart`` does with a figure before it sends it."""
    figure = plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True)
    return plotly.io.to_json(figure, validate=False)


def _diff(a: Any, b: Any, path: str = "") -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                yield f"{path}.{k} ({'new only' if k in b else 'reference only'})"
            else:
                yield from _diff(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple | np.ndarray) and isinstance(b, list | tuple | np.ndarray):
        la = a.tolist() if hasattr(a, "tolist") else list(a)
        lb = b.tolist() if hasattr(b, "tolist") else list(b)
        if len(la) != len(lb):
            yield f"{path} (length {len(la)} != {len(lb)})"
        else:
            for i, (x, y) in enumerate(zip(la, lb, strict=True)):
                yield from _diff(x, y, f"{path}[{i}]")
    elif isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool | str):
        if not (a == b or math.isclose(a, b, rel_tol=1e-9) or (math.isnan(a) and math.isnan(b))):
            yield f"{path} ({a!r} != {b!r})"
    elif a != b:
        yield f"{path} ({a!r} != {b!r})"


def compare(ref: list[go.Figure], new: list[go.Figure]) -> str:
    """``same`` or the first differences between the reference's figures and the new ones (as dicts)."""
    if len(ref) != len(new):
        return f"{len(ref)} figures before, {len(new)} now"
    diffs = [f"fig{i}{d}" for i, (a, b) in enumerate(zip(ref, new, strict=True))
             for d in _diff(a.to_dict(), b.to_dict())]
    return "same" if not diffs else f"{len(diffs)} differences: " + "; ".join(diffs[:4])


@dataclass
class Timing:
    build_s: list[float]
    serialize_s: list[float]

    def med(self) -> tuple[float, float]:
        return statistics.median(self.build_s), statistics.median(self.serialize_s)


def _time(build: Builder, module: ModuleType, result: Any, t: Timing) -> None:
    t0 = time.perf_counter()
    figs = build(module, result)
    t1 = time.perf_counter()
    for f in figs:
        serialize(f)
    t.build_s.append(t1 - t0)
    t.serialize_s.append(time.perf_counter() - t1)


def bench(page: str, params: dict[str, str], runs: int, ref: ModuleType | None) -> None:
    new = importlib.import_module(f"pages.figures.{page}")
    result = _result(page, params)
    build = BUILDERS[page]
    figs = build(new, result)
    check = compare(build(ref, result), figs) if ref is not None else "(no reference)"
    t_new, t_ref = Timing([], []), Timing([], [])
    for _ in range(runs + 1):  # the first run warms up; interleaved so both see the same load
        _time(build, new, result, t_new)
        if ref is not None:
            _time(build, ref, result, t_ref)
    for t in (t_new, t_ref):
        del t.build_s[:1], t.serialize_s[:1]
    nb, ns = t_new.med()
    label = f"{page} {'default' if not params else ' '.join(f'{k}={v}' for k, v in params.items())}"
    line = f"{label:<44} {len(figs)} figs  now: build {nb * 1e3:6.1f} ms + serialize {ns * 1e3:6.1f} ms"
    if ref is not None:
        rb, rs = t_ref.med()
        line += (f" | before: build {rb * 1e3:6.1f} ms + serialize {rs * 1e3:6.1f} ms"
                 f" | total {(rb + rs) * 1e3:6.1f} -> {(nb + ns) * 1e3:6.1f} ms (x{(rb + rs) / (nb + ns):.1f})")
    print(line)
    print(f"{'':<44} best build {min(t_new.build_s) * 1e3:.1f} ms; figures vs before: {check}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--page", choices=PAGES, action="append", help="only these pages (repeatable)")
    ap.add_argument("--no-reference", action="store_true", help="skip the 'before' timing and comparison")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ref_name = None if args.no_reference else reference_package(Path(tmp))
        for page in args.page or PAGES:
            ref = importlib.import_module(f"{ref_name}.{page}") if ref_name else None
            for params in ({}, OTHER[page]):
                bench(page, params, args.runs, ref)
    print(f"median of {args.runs} runs after a warm-up; plotly {plotly.__version__}; "
          f"reference: pages/figures at {REFERENCE[:10]}")


if __name__ == "__main__":
    main()
