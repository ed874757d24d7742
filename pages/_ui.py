"""Small UI helpers shared by the pages: the page table and router helpers, URL-parameter
checks, number formatting, sources.

Pages stay thin: widgets -> estimator -> figures. Nothing here computes an estimate.
"""

from __future__ import annotations

import contextvars
import importlib
import importlib.util
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from estimator import catalog, engines, entrypoints, imported
from estimator.errors import EstimatorError
from estimator.report import build_report, to_csv, to_json
from estimator.scenario import (
    LABELLED_KEYS,
    LIST_KEYS,
    QUERY_KEYS,
    Scenario,
    encode_value,
    from_query_params,
    option_id,
    option_label,
    to_query_params,
    widget_value,
)
from estimator.specs import ModelSpec
from estimator.store import default_store

Validator = Callable[[str], bool]

TP_CHOICES: list[str | int] = ["auto", 1, 2, 4, 8, 16]
"""Tensor-parallel choices every page offers ("auto" = the estimator picks; the Scenario stores 0)."""

WEIGHT_FORMAT_HELP = (
    "fp8 computes in fp8 where the hardware has it. nvfp4 (16-element blocks with FP8 scales, 4.5 bits "
    "per weight) and mxfp4 (OCP MX: 32-element blocks with E8M0 scales, 4.25 bits) compute in fp4 on FP4 "
    "tensor cores (Blackwell, MI355X); elsewhere they are dequantized to bf16/fp16 for the matmuls "
    "(weight-only), as are int8/int4 (GPTQ/AWQ, groups of 128) and llama.cpp's GGUF q8_0 (8.5 bits), "
    "q5_k_m (5.70) and q4_k_m (4.89 bits per weight)."
)
"""Help text of every weight-format selector (bit widths from :data:`estimator.units.BLOCK_BYTES_PER_WEIGHT`)."""


# ------------------------------------------------------------------ the pages and the router


@dataclass(frozen=True)
class AppPage:
    """One page of the app: ``pages/<page_id>.py`` with its ``render()``, served at ``/<page_id>``."""

    page_id: str
    title: str
    icon: str
    section: str


APP_PAGES: tuple[AppPage, ...] = (
    AppPage("capacity", "Capacity planner", ":material/dns:", "Plan"),
    AppPage("memory", "Model & memory", ":material/memory:", "Plan"),
    AppPage("performance", "Latency & throughput", ":material/speed:", "Plan"),
    AppPage("training", "Training budget", ":material/model_training:", "Plan"),
    AppPage("variants", "Compare variants", ":material/scatter_plot:", "Plan"),
    AppPage("scenarios", "Saved scenarios", ":material/bookmarks:", "Scenarios"),
    AppPage("catalog", "Catalog & sources", ":material/menu_book:", "Reference"),
)
"""Every page, in navigation order; the first is served at the root URL."""

DEFAULT_PAGE = APP_PAGES[0].page_id
_DEFAULT_URL_PATH = "home"
"""The default page is served at ``/``; Streamlit still wants a unique ``url_path`` for it. Its
id (``/capacity``, the form links and the CLI use) is a hidden alias that opens ``/``."""

_BY_ID = {p.page_id: p for p in APP_PAGES}
_ROUTED: contextvars.ContextVar[bool] = contextvars.ContextVar("llmcp_routed", default=False)
_ROUTER_MODULE = "llmcp_app_router"


def _render(page_id: str) -> Callable[[], None]:
    """The ``render`` function of ``pages/<page_id>.py``."""
    render: Callable[[], None] = importlib.import_module(f"pages.{page_id}").render
    return render


def app_page(page_id: str) -> Any:
    """The ``st.Page`` of ``page_id`` (also what ``st.switch_page`` takes); unknown ids: the default."""
    p = _BY_ID.get(page_id, _BY_ID[DEFAULT_PAGE])
    if p.page_id == DEFAULT_PAGE:
        return st.Page(_render(p.page_id), title=p.title, icon=p.icon, url_path=_DEFAULT_URL_PATH,
                       default=True)
    return st.Page(_render(p.page_id), title=p.title, icon=p.icon, url_path=p.page_id)


def _open_default_page() -> None:
    """``/capacity?...``: open the default page at ``/`` with the same link parameters."""
    params = {key: st.query_params.get_all(key) for key in st.query_params}
    st.switch_page(app_page(DEFAULT_PAGE), query_params=params)


def navigation_pages() -> dict[str, list[Any]]:
    """The sections and pages ``st.navigation`` shows, plus the hidden ``/capacity`` alias."""
    sections: dict[str, list[Any]] = {}
    for p in APP_PAGES:
        sections.setdefault(p.section, []).append(app_page(p.page_id))
    alias = st.Page(_open_default_page, title=_BY_ID[DEFAULT_PAGE].title, url_path=DEFAULT_PAGE,
                    visibility="hidden")
    sections[APP_PAGES[0].section].append(alias)
    return sections


@contextmanager
def routed() -> Iterator[None]:
    """Mark this script run as going through ``app.py``'s router (see :func:`run_page`)."""
    token = _ROUTED.set(True)
    try:
        yield
    finally:
        _ROUTED.reset(token)


def _is_main_script(fn: Callable[..., Any]) -> bool:
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if not main_file:
        return False
    return Path(main_file).resolve() == Path(fn.__code__.co_filename).resolve()


def run_page(render: Callable[[], None]) -> None:
    """Run a page module executed as a script; each ends with ``if __name__ == "__main__": run_page(render)``.

    ``app.py`` registers the pages' ``render`` functions, so a page file runs as ``__main__`` only
    (a) when Streamlit serves a fresh server's first request in its legacy multipage mode (it does so
    whenever a ``pages/`` folder exists, until the first ``st.navigation`` call) and runs the file the
    URL names on its own, or (b) when the file itself is the app (``streamlit run pages/x.py``, an
    AppTest of the file). In (a) run ``app.py``'s router: its public ``st.navigation`` call switches the
    server to navigation mode for good and runs the page the URL asks for, with the app's navigation,
    theme and shared inputs; in (b), and under the router, draw the page.
    """
    main = _router() if not (_ROUTED.get() or _is_main_script(render)) else None
    if main is None:
        if not _ROUTED.get():  # the router does these; a page that is the app itself must too
            normalize_labelled_link_params()
            drop_refused_link_params()
        render()
    else:
        main()


def _router() -> Callable[[], None] | None:
    """``main()`` of the app's entry script (``app.py``, the script Streamlit was started with),
    imported as a module; ``None`` when that script has none."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if not main_file:
        return None
    module = sys.modules.get(_ROUTER_MODULE)
    if module is None:
        spec = importlib.util.spec_from_file_location(_ROUTER_MODULE, main_file)
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_ROUTER_MODULE] = module
        spec.loader.exec_module(module)
    main: Callable[[], None] | None = getattr(module, "main", None)
    return main


def one_of(options: Iterable[Any]) -> Validator:
    allowed = {str(o) for o in options}
    return lambda v: v in allowed


def int_between(lo: int, hi: int) -> Validator:
    def check(v: str) -> bool:
        try:
            x = int(v)
        except ValueError:
            return False
        return lo <= x <= hi

    return check


def float_between(lo: float, hi: float) -> Validator:
    def check(v: str) -> bool:
        try:
            x = float(v)
        except ValueError:
            return False
        return math.isfinite(x) and lo <= x <= hi

    return check


def check_query_params(option_checks: dict[str, Validator], page_keys: dict[str, Validator] | None = None) -> None:
    """Warn about link parameters this page ignores: unknown names and bad values.

    Scenario parameters (``estimator.scenario.QUERY_KEYS``) are checked by the Scenario schema, and
    ``option_checks`` add what only the page knows (e.g. the id must be in the catalog);
    ``page_keys`` are parameters that belong to this page alone; a labelled option (``LABELLED_KEYS``) is checked
    by the id its label or id names. Streamlit drops a bad value of a
    bound widget silently; the user deserves to know which part of a shared link did not apply.
    Values are shown in code spans, printable characters only, truncated.
    """
    page_keys = page_keys or {}
    params = {k: st.query_params.get(k, "") for k in st.query_params.keys()}  # noqa: SIM118
    # multiselect keys (``LIST_KEYS``) are checked with all their repeated values, the others by their last
    _, ignored = from_query_params({k: st.query_params.get_all(k) if k in LIST_KEYS else v
                                    for k, v in params.items() if k not in page_keys})
    ignored = [f"`{_safe(item, 90)}`" for item in [*st.session_state.pop(_REFUSED, []), *ignored]]
    for key, check in {**option_checks, **page_keys}.items():  # a labelled option is checked by its id
        if key in params and not check(option_id(key, params[key])):
            ignored.append(f"`{_safe(key)}={_safe(params[key])}` (not an available choice)")
    if ignored:
        st.warning("Some link parameters were ignored and their defaults apply: " + ", ".join(ignored[:10]),
                   icon=":material/link_off:")


_REFUSED = "_refused_link_params"
SCENARIO_KEYS = frozenset(QUERY_KEYS.values()) | {"v"}


def drop_refused_link_params() -> None:
    """Take scenario values the schema refuses (``b=1e999``, ``in=inf``, ``tp=7``) out of the URL
    before any widget reads them, and keep what was refused for :func:`check_query_params`.

    A bound widget seeds its value from the URL the run started with, and Streamlit's
    ``number_input`` raises on a whole number it cannot convert; and a refused value left in the URL
    would come back with every copied link even after the user corrected the widget. Each key is
    checked on its own, so a pair that only fails together (``in`` above ``in95``) stays, for the
    page to explain.
    """
    refused: list[str] = []
    for key in list(st.query_params.keys()):
        if key not in SCENARIO_KEYS:
            continue
        value = st.query_params.get_all(key) if key in LIST_KEYS else st.query_params.get(key, "")
        pair = {k: st.query_params.get(k, "") for k in ("m", IMPORTED_KEY) if k != key and k in st.query_params}
        # an imported model's id (m) is only valid with its architecture (mc): they are checked together
        _, ignored = from_query_params({key: value, **pair} if key in ("m", IMPORTED_KEY) else {key: value})
        if ignored:
            refused += ignored
            del st.query_params[key]
    if refused:
        st.session_state[_REFUSED] = refused
        # A rerun reseeds the widgets from the URL as it is now; in this run they would still read
        # the value the session started with.
        st.rerun()


def _safe(text: str, limit: int = 40) -> str:
    cleaned = "".join(ch for ch in str(text) if ch.isprintable()).replace("`", "'")
    return cleaned[:limit] + ("…" if len(cleaned) > limit else "")


_MARKDOWN_SPECIAL = "\\`*_{}[]()#+-.!|<>~$:="


def plain(text: object, limit: int = 200) -> str:
    """User text (a saved scenario's name, a file name, a config's ``_name_or_path``) made safe to
    put inside Markdown: printable characters only, at most ``limit``, every Markdown character
    escaped, so ``![x](http://host/p.png)`` shows as text and makes no browser fetch anything."""
    cleaned = "".join(ch for ch in str(text) if ch.isprintable())
    cleaned = cleaned[:limit] + ("…" if len(cleaned) > limit else "")
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in cleaned)


def gb(n_bytes: float, digits: int = 2) -> str:
    """Bytes as decimal gigabytes, labelled."""
    return f"{n_bytes / 1e9:,.{digits}f} GB"


def show_error(exc: EstimatorError) -> None:
    st.error(str(exc), icon=":material/error:")


def lazy_expander(label: str, key: str, icon: str) -> Any:
    """A collapsed expander whose content is built only while it is open, or None while it is closed.

    For read-only sections (equations, sources): a closed one costs neither server time on a rerun nor the
    browser's drawing of its tables and formulae; opening it reruns the page (Streamlit 1.67 expander state:
    ``on_change="rerun"`` with a ``key``; ``.open``), whose results come from the entry-point cache. Never put
    widgets inside: a widget not drawn loses its value.

    Usage: ``exp = lazy_expander(...)``, ``if exp is None: return``, then ``with exp:`` the content.
    """
    exp = st.expander(label, icon=icon, key=key, on_change="rerun")
    return exp if exp.open else None


def lazy_tabs(labels: Sequence[str], key: str) -> list[Any]:
    """Tabs of which only the open one is built: the open tab's container, ``None`` for each of the others.

    For result views (charts, tables) a person reads one at a time: a rerun then costs the server and, above
    all, the browser only the open view. Drawing a Plotly chart after a rerun costs the browser about 50 ms
    of CPU and a data grid about 16 ms (``bench/bench_pages.py`` measures the pages), so a page that drew every
    view on every rerun answered its users slowly and a busy server's sessions slowed each other down.
    Opening a tab reruns the page (Streamlit 1.67: ``st.tabs(..., key=..., on_change="rerun")``, ``.open``),
    and its results come from the entry-point cache. The open tab is kept per session (not in the link).
    Never put widgets inside: a widget not drawn loses its value and its place in the link.

    Usage: ``for view, draw in zip(lazy_tabs(labels, key), drawers): if view is not None: with view: draw()``.
    """
    tabs = st.tabs(list(labels), key=key, on_change="rerun")
    return [tab if tab.open else None for tab in tabs]


def sources_table(frame: pd.DataFrame, caption: str) -> None:
    """A compact table of where figures came from (``source``, ``as_of``, ``assumed``)."""
    st.caption(caption)
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "source": st.column_config.TextColumn("source", width="large"),
            "as_of": st.column_config.DateColumn("as of"),
            "assumed": st.column_config.CheckboxColumn("illustrative / assumed"),
        },
    )


# ------------------------------------------------------------------ scenario actions


def current_scenario() -> tuple[Scenario, list[str]]:
    """The Scenario the widgets currently show (bound widget values by their query key), and the
    widget values the schema refused (the page must say so rather than compute from defaults).

    Keys no widget has set keep their defaults. Values pass through the same validation as a link.
    """
    params = {
        key: encode_value(st.session_state[key])
        for key in QUERY_KEYS.values()
        if key in st.session_state and st.session_state[key] is not None
    }
    return from_query_params(params)


def scenario_toolbar(page: str, scenario: Scenario | None = None, result: Any = None) -> None:
    """Save this scenario, and download its CSV report and JSON, from any page.

    ``result`` is the page's entry-point result (:mod:`estimator.entrypoints`) the page has drawn;
    without it the cached one is taken. The files are rendered from that same result, and only when
    a person clicks (``st.download_button`` with a callable), so a rerun never builds a report.
    """
    scenario = scenario or current_scenario()[0]
    c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
    with c1.popover("Save scenario", icon=":material/bookmark_add:", width="stretch"):
        _save_form(page, scenario)
    if result is None:
        try:
            result = entrypoints.compute(page, scenario)
        except EstimatorError as exc:
            c2.button("CSV report", disabled=True, help=str(exc), key=f"_csv_off_{page}", width="stretch")
            c3.button("Scenario JSON", disabled=True, help=str(exc), key=f"_json_off_{page}", width="stretch")
            return
    sc, res = scenario, result

    def csv_file() -> str:
        return to_csv(build_report(sc, page, res))

    def json_file() -> str:
        return to_json(build_report(sc, page, res))

    c2.download_button("CSV report", csv_file, file_name=f"llm-capacity-{page}.csv", mime="text/csv",
                       icon=":material/download:", key=f"_csv_{page}", width="stretch", on_click="ignore")
    c3.download_button("Scenario JSON", json_file, file_name=f"llm-capacity-{page}.json",
                       mime="application/json", icon=":material/data_object:", key=f"_json_{page}",
                       width="stretch", on_click="ignore")
    c4.caption("The page link (address bar) reproduces this page; a saved scenario gets a short `?s=` link.")


def _save_form(page: str, scenario: Scenario) -> None:
    name = st.text_input("Name", max_chars=120, key=f"_save_name_{page}", placeholder="e.g. 70B on H100, Q3")
    note = st.text_area("Note", max_chars=2000, key=f"_save_note_{page}", height=80)
    if st.button("Save", key=f"_save_btn_{page}", type="primary"):
        try:
            sid = default_store().save(scenario.replace(name=name.strip()), name, note, page)
        except EstimatorError as exc:
            show_error(exc)
        else:
            st.session_state["_last_saved"] = sid
    last = st.session_state.get("_last_saved")
    if isinstance(last, str):
        st.success(f"Saved. Its short link: `?s={last}` ([open](?s={last}); "
                   "manage it under [Saved scenarios](scenarios))")


def open_saved_scenario_link(current: Any) -> None:
    """Handle a saved scenario's short link ``?s=<id>``: switch to the page it was saved from (``current``,
    the page the URL names, when that page is not one of ours) with its inputs as link parameters, or
    say that the id does not exist (the page keeps its defaults)."""
    if "s" not in st.query_params:
        return
    sid = str(st.query_params.get("s", ""))[:64]
    try:
        saved = default_store().get(sid)
    except EstimatorError as exc:
        st.query_params.pop("s", None)
        st.error(f"{exc} The page opens with its defaults.", icon=":material/link_off:")
        return
    if saved.scenario is None:
        st.query_params.pop("s", None)
        st.error(f"Saved scenario {saved.name!r} cannot be opened: {saved.problem}")
        return
    target = app_page(saved.page) if saved.page in _BY_ID else current
    st.switch_page(target, query_params=to_query_params(saved.scenario))


SHARED_KEYS: tuple[str, ...] = ("m", "mc", "eng", "hw", "wd", "kd", "tp", "cloud", "reg", "price", "inst")
"""Inputs several pages share: they follow the user from page to page."""


def carry_shared_inputs(page_id: str) -> None:
    """On a page switch, give the new page the shared inputs last set on any page.

    Streamlit keeps each page's own bound widgets, so without this a model chosen on one page would
    be forgotten on the next. A link opened fresh (no previous page in this session) keeps its own
    parameters; the values are written before the page creates its widgets.
    """
    last_page = st.session_state.get("_last_page")
    remembered: dict[str, Any] = st.session_state.get("_shared_inputs", {})
    if last_page is not None and last_page != page_id:
        defaults = _default_widget_values()
        for key, value in remembered.items():
            st.session_state[key] = value
            # the URL must carry it too, so a link copied right after the switch reproduces the page
            if value is not None and encode_value(value) != encode_value(defaults.get(key)):
                st.query_params[key] = option_label(key, encode_value(value))  # what the bound select writes
    st.session_state["_last_page"] = page_id


def remember_shared_inputs() -> None:
    """After a page ran, remember its shared inputs for the next page switch."""
    remembered = dict(st.session_state.get("_shared_inputs", {}))
    for key in SHARED_KEYS:
        if key in st.session_state:
            remembered[key] = st.session_state[key]
    st.session_state["_shared_inputs"] = remembered


def _default_widget_values() -> dict[str, Any]:
    d = Scenario()
    return {key: widget_value(section, field, getattr(getattr(d, section), field))
            for (section, field), key in QUERY_KEYS.items()}


# ------------------------------------------------------------------ imported models

IMPORTED_KEY = "mc"
"""Link parameter (and session key) carrying the imported model (``estimator.imported.encode_link``)."""


def sync_imported_model() -> None:
    """A link's imported model (``?mc=``) becomes the session's; it then follows the user between pages
    (``SHARED_KEYS``) like the model choice."""
    raw = st.query_params.get(IMPORTED_KEY)
    if raw:
        st.session_state[IMPORTED_KEY] = raw


def imported_model() -> ModelSpec | None:
    """The session's imported model, registered so that every catalog lookup finds it (None without one)."""
    raw = st.session_state.get(IMPORTED_KEY)
    if not isinstance(raw, str) or not raw:
        return None
    try:
        spec = imported.decode_link(raw)
    except EstimatorError:
        return None
    catalog.register_model(spec)
    return spec


def with_imported(models: dict[str, ModelSpec]) -> dict[str, ModelSpec]:
    """``models`` plus the session's imported model, which every page offers after the catalog's."""
    spec = imported_model()
    return {**models, spec.model_id: spec} if spec is not None else models


def use_imported_model(spec: ModelSpec) -> None:
    """Make an imported model the scenario's model on every page (and in the link). Call it before the
    model widget of this run exists (a callback, or a branch that does not draw that widget)."""
    spec = imported.canonical(spec)
    code = imported.encode_link(spec)
    catalog.register_model(spec)
    st.session_state[IMPORTED_KEY] = code
    st.session_state["m"] = spec.model_id
    st.query_params[IMPORTED_KEY] = code
    st.query_params["m"] = spec.model_id


# ------------------------------------------------------------------ serving engine

ENGINE_IDS: list[str] = [e.value for e in engines.Engine]
MEMORY_FRACTION_HELP = (
    "Blank: the engine's default (vLLM --gpu-memory-utilization 0.90 of all device memory; SGLang "
    "--mem-fraction-static 0.79-0.88 by TP for weights + KV; TensorRT-LLM 0.90 of the memory left free "
    "after weights and activations). Sources: data/engines.csv.")


def engine_input(col: Any) -> str:
    """The serving-engine select (its defaults and memory rule: ``estimator.engines``); returns its id."""
    value: str = col.selectbox(
        # a bound select writes its option label to the link: normalize_labelled_link_params turns ids into labels
        "Serving engine", ENGINE_IDS, key="eng", bind="query-params", format_func=option_format("eng"),
        help="Scheduler cap, memory fraction, KV block size and prefill chunk follow this engine's defaults "
             "(data/engines.csv); each can be overridden.")
    return value


def _bool_keys() -> frozenset[str]:
    out = set()
    for (section, field), key in QUERY_KEYS.items():
        ann = Scenario.model_fields[section].annotation.model_fields[field].annotation  # type: ignore[union-attr]
        if ann is bool:
            out.add(key)
    return frozenset(out)


BOOL_KEYS: frozenset[str] = _bool_keys()
"""Link keys of yes/no inputs (bound toggles and checkboxes read only ``true``/``false``)."""


def normalize_bool_link_params() -> None:
    """Rewrite yes/no link values written as ``1``/``0``/``yes``/``no`` (links made before links wrote
    ``true``/``false``) to what a bound Streamlit toggle or checkbox reads, before any widget reads them."""
    changed = False
    for key in BOOL_KEYS & set(st.query_params.keys()):
        raw = str(st.query_params.get(key, "")).strip().lower()
        canonical = {"1": "true", "yes": "true", "0": "false", "no": "false"}.get(raw)
        if canonical is not None:
            st.query_params[key] = canonical
            changed = True
    if changed:  # widgets seed from the URL the run started with (as in drop_refused_link_params)
        st.rerun()


def option_format(key: str) -> Callable[[Any], str]:
    """``format_func`` of a select or multiselect bound to link key ``key`` (``LABELLED_KEYS``): the option's label
    (``estimator.scenario.option_label``), which the bound widget also writes to the link."""
    return lambda value: option_label(key, str(value))


def _labelled(key: str, values: list[str]) -> list[str]:
    """A link's values of ``key`` as the bound widget reads them: labels; a multiselect's comma-separated value split."""
    if key not in LIST_KEYS:
        return [option_label(key, values[-1])] if values else values
    parts = [option_label(key, x.strip()) for v in values for x in v.split(",") if x.strip()]
    return parts or values  # ?rpm= (an empty selection) stays as it is


def normalize_labelled_link_params() -> None:
    """Rewrite option ids in the link (``?vol=peak_rps&price=spot``, what links carried before the selects showed
    labels) to the labels the bound selects read (``LABELLED_KEYS``), before any widget reads them. A bound select
    with a ``format_func`` reads its option's label from the link and drops any other value; text that names no
    option is left for :func:`drop_refused_link_params` to report."""
    changed = False
    for key in LABELLED_KEYS.keys() & set(st.query_params.keys()):
        values = [str(v) for v in st.query_params.get_all(key)]
        canonical = _labelled(key, values)
        if canonical != values:
            st.query_params[key] = canonical if key in LIST_KEYS else canonical[0]
            changed = True
    if changed:  # widgets seed from the URL the run started with (as in drop_refused_link_params)
        st.rerun()


def engine_overrides(col: Any) -> None:
    """The engine settings a user may override (blank: the engine's default for this accelerator and layout)."""
    col.number_input("Max concurrent sequences", 1, 65_536, None, 1, key="emax", bind="query-params",
                     placeholder="engine default",
                     help="vLLM --max-num-seqs, SGLang --max-running-requests, TensorRT-LLM --max_batch_size")
    col.number_input("KV block (tokens)", 1, 1024, None, 1, key="ekb", bind="query-params", placeholder="engine default",
                     help="vLLM --block-size, SGLang --page-size, TensorRT-LLM tokens_per_block")
    col.number_input("Prefill chunk (tokens)", 16, 1_048_576, None, 256, key="epc", bind="query-params",
                     placeholder="engine default",
                     help="vLLM --max-num-batched-tokens, SGLang --chunked-prefill-size, TensorRT-LLM --max_num_tokens")
