"""CPU a page costs the browser and the server (issue #10): ``.venv/bin/python bench/bench_browser_cpu.py``.

Why: on a machine where the browsers run beside the server (``bench/load_test.py`` on 2 cores), every session's
Chromium competes with the app for the same CPUs, so the load test's figures are set by what one first render and
one rerun cost Chromium. This script measures that, one session at a time on a quiet machine: the CPU seconds
(user + system, from ``/proc/<pid>/stat``) of every Chromium process and of the ``streamlit run`` server over
(a) a first render in a fresh browser context (server caches warm) and (b) each rerun after a widget change,
for the minimal app, the chart floor (minimal + one Plotly chart + one table) and the app's pages.

From these, the load a page puts on a shared machine: ``N sessions x CPU per rerun / cores`` is the shortest
time in which N sessions that all change an input at once can all be answered (the closed-loop floor), and the
same for N sessions opening the page at once. Run on a quiet machine (the load average is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _browser import (
    Probe,
    change_and_time,
    first_render,
    launch,
    machine_note,
    new_page,
    streamlit_server,
)

ROOT = Path(__file__).resolve().parents[1]
MINIMAL_PROBE_LABEL = "Value"  # the number input of minimal_app.py and minimal_chart_app.py
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")

# (name, script, url path, probe): what bench_pages.py changes on each
TARGETS: dict[str, tuple[str, str, Probe]] = {
    "minimal": ("bench/minimal_app.py", "", Probe(MINIMAL_PROBE_LABEL, "number", tuple(str(2 + i) for i in range(8)))),
    "min+chart": ("bench/minimal_chart_app.py", "",
                  Probe(MINIMAL_PROBE_LABEL, "number", tuple(str(2 + i) for i in range(8)))),
    "capacity": ("app.py", "", Probe("Requests per day", "number",
                                     tuple(str(1_000_000 + 7_000 * i) for i in range(1, 9)))),
    "performance": ("app.py", "performance", Probe("Batch (concurrent sequences)", "number",
                                                   tuple(str(2 + i) for i in range(8)))),
    "variants": ("app.py", "variants", Probe("Output tokens", "number", tuple(str(260 + 10 * i) for i in range(8)))),
}


@dataclass(frozen=True)
class PageCpu:
    """Median wall seconds and mean CPU seconds of one first render and one rerun."""

    first_s: float
    first_browser_cpu_s: float
    first_server_cpu_s: float
    rerun_s: float
    rerun_browser_cpu_s: float
    rerun_server_cpu_s: float


def _pids(marker: str, also: str | None = None) -> list[str]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd and (also is None or also in cmd):
            out.append(d)
    return out


def _cpu_s(pids: list[str]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended: its time is gone with it (short-lived helpers only)
        total += (int(fields[11]) + int(fields[12])) * TICK_S
    return total


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2]


async def measure(url: str, probe: Probe, rounds: int) -> PageCpu:
    """``rounds`` first renders (fresh contexts) and ``rounds`` reruns, with CPU read around each."""
    server = _pids("streamlit", " run ")
    firsts, f_browser, f_server, reruns, r_browser, r_server = [], [], [], [], [], []
    async with async_playwright() as pw:
        browser = await launch(pw)
        warm = await new_page(browser)
        await first_render(warm, url, 120, 0.4)  # server caches and imports warm, not counted
        await warm.context.close()
        page = None
        for _ in range(rounds):
            await asyncio.sleep(0.5)
            b0, s0 = _cpu_s(_pids("chromium")), _cpu_s(server)
            page = await new_page(browser)
            run = await first_render(page, url, 120, 0.4)
            firsts.append(run.total_s)
            f_browser.append(_cpu_s(_pids("chromium")) - b0)
            f_server.append(_cpu_s(server) - s0)
            if len(firsts) < rounds:
                await page.context.close()
        if page is None:
            raise SystemExit("--rounds must be at least 1")
        for i in range(rounds):
            await asyncio.sleep(0.5)
            b0, s0 = _cpu_s(_pids("chromium")), _cpu_s(server)
            run = await change_and_time(page, probe, probe.value(i), 60, 0.4)
            reruns.append(run.total_s)
            r_browser.append(_cpu_s(_pids("chromium")) - b0)
            r_server.append(_cpu_s(server) - s0)
        await browser.close()
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return PageCpu(_median(firsts), mean(f_browser), mean(f_server), _median(reruns), mean(r_browser), mean(r_server))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=4, help="first renders and reruns per page (default 4)")
    ap.add_argument("--pages", default=",".join(TARGETS), help=f"comma-separated, from {', '.join(TARGETS)}")
    ap.add_argument("--sessions", type=int, default=20, help="N for the shared-machine floors (default 20)")
    args = ap.parse_args(argv)
    names = [n for n in args.pages.split(",") if n in TARGETS]
    cores = os.cpu_count() or 1
    print(f"machine: {machine_note()}")
    print(f"{'page':<12} {'first s':>8} {'browser CPU':>12} {'server CPU':>11} | {'rerun s':>8} {'browser CPU':>12} "
          f"{'server CPU':>11} | {args.sessions} at once on {cores} cores: open / rerun (floor, s)")
    os.chdir(ROOT)
    for name in names:
        script, path, probe = TARGETS[name]
        with tempfile.TemporaryDirectory(prefix="llmcp-cpu-") as tmp, streamlit_server(script, Path(tmp)) as url:
            r = asyncio.run(measure(f"{url}/{path}", probe, args.rounds))
        open_floor = args.sessions * (r.first_browser_cpu_s + r.first_server_cpu_s) / cores
        rerun_floor = args.sessions * (r.rerun_browser_cpu_s + r.rerun_server_cpu_s) / cores
        print(f"{name:<12} {r.first_s:8.2f} {r.first_browser_cpu_s:12.2f} {r.first_server_cpu_s:11.2f} | "
              f"{r.rerun_s:8.2f} {r.rerun_browser_cpu_s:12.2f} {r.rerun_server_cpu_s:11.2f} | "
              f"{open_floor:6.1f} / {rerun_floor:5.1f}", flush=True)
    print(f"(CPU: seconds per first render / per rerun, mean of {args.rounds}; wall: median. The floors assume the "
          f"browsers share this machine's {cores} cores with the server, as bench/load_test.py does; on a deployment "
          "each browser runs on its user's machine and only the server column is shared: bench/load_test_ws.py.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
