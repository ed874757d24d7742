"""Shared helpers for the browser benchmarks (``bench_pages.py``, ``load_test.py``).

Server: ``streamlit run SCRIPT`` on a loopback port (the same way ``tests/browser/conftest.py`` starts it),
with ``LLMCP_HOME`` pointing at a throw-away directory so the benchmark never touches a real scenario store.
Browser: Debian's Chromium at /usr/bin/chromium through Playwright's async API; nothing is downloaded.

When is a script run finished?
    Streamlit's frontend puts the script-run state on its root element,
    ``<div data-testid="stApp" data-test-script-state="running|notRunning|...">`` (Streamlit sets it for its own
    end-to-end tests; it is the state the "Running..." ``stStatusWidget`` is drawn from, without that widget's
    display delay). It is not enough on its own: for a fast run (the minimal app) React applies "running" and
    "not running" in one update, the attribute never changes and a watcher waits forever (seen here). So the
    server's messages are read as well: an init script (``INIT_JS``) wraps ``window.WebSocket`` and reads the
    top-level field numbers of each ForwardMsg (``new_session`` = 4 starts a run, ``script_finished`` = 6 ends
    one: streamlit/proto/ForwardMsg.proto), and a MutationObserver records every change of the attribute; all
    with ``performance.now()``. A run started at page time ``t0`` is *finished* when:
      1. a ``script_finished`` message arrived after ``t0``, not one saying FINISHED_EARLY_FOR_RERUN (another
         run follows), and the first animation frame after the frontend handled it has passed (wherever the
         attribute change was seen, this frame came after it),
      2. no ``new_session`` arrived after that message (no further run under way),
      3. the attribute reads ``notRunning``, and
      4. nothing of the above changed for ``quiet_s`` (so a page that starts another run by itself, e.g.
         ``st.rerun`` or ``st.switch_page``, is measured until its last run ends).
    The time reported is the later of that frame and the last attribute change, minus ``t0``; the quiet window
    is not counted. For a first render ``t0`` is 0 (``performance.now()`` counts from navigation start), and the
    main area must also show an element (``stMain ... stElementContainer``).

    Server span (from outside, same page clock): from the first WebSocket message the page sends after ``t0``
    (the rerun request carrying the new widget value) to the last ``script_finished`` message. That is the
    server's script run plus serialisation and the loopback transfer, without the browser's rendering.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from playwright.async_api import Browser, Page, Playwright, ViewportSize
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import _server  # noqa: E402 (the repository root must be importable first)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT: ViewportSize = {"width": 1440, "height": 1000}
EXCEPTION = '[data-testid="stException"]'

INIT_JS = """
(() => {
  if (window.__stb) return;
  const rec = window.__stb = {states: [], sent: [], recv: [], starts: [], finishes: []};
  // Top-level field numbers of a protobuf message (ForwardMsg): 4 = new_session (a run starts),
  // 6 = script_finished (a run ends; its value is the finish status). Large fields are skipped, not read.
  const topFields = (buf) => {
    const b = new Uint8Array(buf), out = [];
    let i = 0;
    const varint = () => { let v = 0, m = 1, c; do { c = b[i++]; v += (c & 127) * m; m *= 128; } while (c & 128); return v; };
    while (i < b.length) {
      const tag = varint(), field = Math.floor(tag / 8), wire = tag & 7;
      if (wire === 0) out.push([field, varint()]);
      else if (wire === 2) { const n = varint(); i += n; out.push([field, n]); }
      else if (wire === 1) i += 8; else if (wire === 5) i += 4; else break;
    }
    return out;
  };
  const onMessage = (e) => {
    const t = performance.now();
    rec.recv.push(t);
    if (!(e.data instanceof ArrayBuffer)) return;
    for (const [field, value] of topFields(e.data)) {
      if (field === 4) rec.starts.push(t);
      if (field === 6) {
        const fin = {t: t, status: value, frame: null};
        rec.finishes.push(fin);
        // The first animation frame after the frontend handled the message (React renders before it).
        setTimeout(() => requestAnimationFrame(() => { fin.frame = performance.now(); }), 0);
      }
    }
  };
  const Orig = window.WebSocket;
  class Recorded extends Orig {
    constructor(...args) { super(...args); this.addEventListener('message', onMessage); }
    send(data) { rec.sent.push(performance.now()); return super.send(data); }
  }
  window.WebSocket = Recorded;
  new MutationObserver((records) => {
    const t = performance.now();
    for (const r of records) {
      if (r.target.getAttribute && r.target.getAttribute('data-testid') === 'stApp')
        rec.states.push([r.target.getAttribute('data-test-script-state'), t]);
    }
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
})();
"""

# Returns null until the run(s) started at or after page time t0 are finished (see module docstring), then
# {done: page time the UI was up to date, sent: first send >= t0, recv: the last script_finished message}.
SETTLED_JS = """
([t0, quietMs, needContent]) => {
  const rec = window.__stb;
  const app = document.querySelector('[data-testid="stApp"]');
  if (!rec || !app || app.getAttribute('data-test-script-state') !== 'notRunning') return null;
  const fins = rec.finishes.filter((f) => f.t >= t0);
  if (!fins.length) return null;
  const fin = fins[fins.length - 1];
  if (fin.status === 2 || fin.frame === null) return null;  // 2: FINISHED_EARLY_FOR_RERUN, a run follows
  const starts = rec.starts.filter((t) => t >= t0);
  if (starts.length && starts[starts.length - 1] > fin.t) return null;  // another run is under way
  const states = rec.states.filter(([, t]) => t >= t0);
  const lastState = states.length ? states[states.length - 1][1] : 0;
  const done = Math.max(fin.frame, lastState);
  if (performance.now() - done < quietMs) return null;
  if (needContent && !document.querySelector(
      '[data-testid="stMain"] [data-testid="stElementContainer"]')) return null;
  const sent = rec.sent.filter((t) => t >= t0);
  return {done: done, sent: sent.length ? sent[0] : null, recv: fin.t};
}
"""


@dataclass(frozen=True)
class Probe:
    """The widget a benchmark changes on a page, found by its visible label.

    ``kind``: ``number`` / ``text`` (fill, then Enter) or ``select`` (open, click the option).
    ``values``: the values to set, used in turn; each must differ from the previous one (and from the default)
    so every change starts a rerun, and distinct values keep ``st.cache_data`` from answering.
    """

    label: str
    kind: Literal["number", "text", "select"]
    values: tuple[str, ...]

    def value(self, i: int) -> str:
        return self.values[i % len(self.values)]


@dataclass(frozen=True)
class RunTiming:
    """One finished script run, in seconds from its start (navigation start, or the widget change)."""

    total_s: float
    server_s: float | None  # first message sent after the start -> last script_finished received (None: none sent)
    exceptions: int  # Streamlit exception boxes on the page after the run
    retries: int = 0  # widget commits repeated because the first sent nothing (see change_and_time)


@contextmanager
def streamlit_server(script: str, home: Path, port: int | None = None) -> Iterator[str]:
    """``tests._server.streamlit_server`` with ``LLMCP_TIMING=1`` (app.py then logs each script run's time)."""
    with _server.streamlit_server(script, home, port=port, env={"LLMCP_TIMING": "1"}) as url:
        yield url


async def launch(pw: Playwright) -> Browser:
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: install Debian's chromium package (never `playwright install`)")
    return await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


async def new_page(browser: Browser) -> Page:
    """A page in a fresh browser context (no cookies, no cache, its own Streamlit session), recording runs."""
    context = await browser.new_context(viewport=VIEWPORT)
    await context.add_init_script(INIT_JS)
    return await context.new_page()


async def wait_settled(page: Page, t0_ms: float, timeout_s: float, quiet_s: float,
                       need_content: bool = False) -> RunTiming:
    """Wait until the run started at page time ``t0_ms`` is finished; raise Playwright's TimeoutError if not."""
    handle = await page.wait_for_function(SETTLED_JS, arg=[t0_ms, quiet_s * 1e3, need_content],
                                          timeout=timeout_s * 1e3, polling=50)
    got = await handle.json_value()
    server = (got["recv"] - got["sent"]) / 1e3 if got["sent"] is not None and got["recv"] is not None else None
    exceptions = await page.locator(EXCEPTION).count()
    return RunTiming(total_s=(got["done"] - t0_ms) / 1e3, server_s=server, exceptions=exceptions)


async def first_render(page: Page, url: str, timeout_s: float, quiet_s: float) -> RunTiming:
    """Open ``url`` and time navigation start -> the page's (last) script run finished with content shown."""
    await page.goto(url, wait_until="commit", timeout=timeout_s * 1e3)
    return await wait_settled(page, 0.0, timeout_s, quiet_s, need_content=True)


async def _commit(page: Page, probe: Probe, value: str, timeout_s: float) -> float:
    """Set the widget and commit the value (Enter, or the option's click); returns the page time of the commit."""
    box = page.get_by_label(probe.label, exact=True).first
    await box.wait_for(state="visible", timeout=timeout_s * 1e3)
    if probe.kind == "select":
        await box.click(timeout=timeout_s * 1e3)
        option = page.get_by_role("option", name=value, exact=True).first
        await option.wait_for(state="visible", timeout=timeout_s * 1e3)
        t0 = float(await page.evaluate("performance.now()"))
        await option.click(timeout=timeout_s * 1e3)
    else:
        await box.fill(value, timeout=timeout_s * 1e3)
        t0 = float(await page.evaluate("performance.now()"))
        await box.press("Enter", timeout=timeout_s * 1e3)
    return t0


async def change_and_time(page: Page, probe: Probe, value: str, timeout_s: float, quiet_s: float,
                          commit_s: float = 10.0) -> RunTiming:
    """Set ``probe`` to ``value`` and time the rerun it starts (from the committing key press or click).

    If the page has sent nothing to the server ``commit_s`` after the commit (the input swallowed it, seen
    rarely, or the browser was starved of CPU), the value is set and committed once more; the time still counts from the first commit, so a
    retry can only make the figure worse, and ``retries`` says it happened.
    """
    t0 = await _commit(page, probe, value, timeout_s)
    retries = 0
    try:
        await page.wait_for_function("t0 => window.__stb.sent.some((t) => t >= t0)", arg=t0,
                                     timeout=commit_s * 1e3, polling=50)
    except PlaywrightTimeout:
        retries = 1
        await _commit(page, probe, value, timeout_s)
    got = await wait_settled(page, t0, timeout_s, quiet_s)
    return replace(got, retries=retries)


async def exception_text(page: Page) -> str:
    """The first line of the first Streamlit exception box on the page ("" if none), for error reports."""
    box = page.locator(EXCEPTION)
    if not await box.count():
        return ""
    text = (await box.first.inner_text(timeout=5_000)).strip()
    return text.splitlines()[0][:160] if text else "(empty exception box)"


PAGE_STATE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]'), rec = window.__stb || {finishes: [], starts: []};
  return {script: app && app.getAttribute('data-test-script-state'),
          connection: app && app.getAttribute('data-test-connection-state'),
          finishes: rec.finishes.map((f) => f.status), starts: rec.starts.length,
          elements: document.querySelectorAll('[data-testid="stElementContainer"]').length};
}"""


async def page_state(page: Page, label: str) -> str:
    """What the page shows, for an error report: script and connection state, the runs seen, the label's count."""
    try:
        got = await page.evaluate(PAGE_STATE_JS)
        labels = await page.get_by_label(label, exact=True).count()
    except PlaywrightError as exc:
        return f"page state unreadable ({type(exc).__name__})"
    return (f"script={got['script']} connection={got['connection']} runs started={got['starts']} "
            f"finish statuses={got['finishes']} elements={got['elements']} {label!r} inputs={labels}")


def server_log_tail(home: Path, lines: int = 12) -> list[str]:
    """The last lines of every server log under ``home`` (printed when a benchmark saw errors)."""
    out = []
    for log in sorted(home.glob("server-*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        out += [f"{log.name}: {line}" for line in tail]
    return out


def machine_note() -> str:
    """CPU count and load average, printed with the figures (the absolute times depend on them)."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.2f} (1 min) {five:.2f} (5 min)"


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100), like numpy's default."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
