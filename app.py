"""LLM Capacity Planner: Streamlit entry point. A thin router; the pages live in ``pages/``.

Each page module defines ``render()`` and is registered here as a function page
(``pages._ui.APP_PAGES``), so a URL such as ``/performance?m=llama-2-7b`` runs this file, its
navigation and shared-input handling, then the page. Streamlit serves a fresh server's first
request in its legacy multipage mode because a ``pages/`` folder exists; the page file then runs
on its own and hands over to :func:`main` (``pages._ui.run_page``), whose ``st.navigation`` call
ends that mode for the process.
"""

from __future__ import annotations

import os
import sys
import time

import streamlit as st

from pages._ui import (
    DEFAULT_PAGE,
    carry_shared_inputs,
    drop_refused_link_params,
    navigation_pages,
    normalize_bool_link_params,
    normalize_labelled_link_params,
    open_saved_scenario_link,
    remember_shared_inputs,
    routed,
    sync_imported_model,
)


def main() -> None:
    """Navigation, short links and shared inputs, then the page the URL names."""
    st.set_page_config(
        page_title="LLM Capacity Planner",
        page_icon=":material/memory:",
        layout="wide",
        initial_sidebar_state="expanded",
    )
    page = st.navigation(navigation_pages(), position="sidebar")
    normalize_bool_link_params()  # s2z=1 (older links) -> s2z=true, what a bound checkbox reads
    normalize_labelled_link_params()  # price=spot (older links) -> the label the bound select reads
    drop_refused_link_params()  # before any widget reads them: b=1e999 must not reach a number_input
    open_saved_scenario_link(page)  # ?s=<id> opens the page a scenario was saved from
    sync_imported_model()  # ?mc=<model>: an imported model travels in the link
    carry_shared_inputs(page.url_path or DEFAULT_PAGE)  # model, hardware, cloud... follow the user
    started = time.perf_counter()
    try:
        with routed():
            page.run()
    finally:
        remember_shared_inputs()
        if os.environ.get("LLMCP_TIMING"):  # bench/bench_pages.py reads these lines from the server log
            print(f"llmcp-timing page={page.url_path or 'capacity'} script_s={time.perf_counter() - started:.4f}",
                  file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
