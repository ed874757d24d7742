"""Catalog & sources: every reference figure the estimator uses, with its source and date."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from estimator import catalog
from pages._ui import check_query_params, lazy_expander, one_of, run_page

TABLES = {
    "models": "Models",
    "hardware": "Accelerators",
    "instances": "Cloud instances and prices",
    "regions": "Regions: grid intensity and PUE",
    "measurements": "Published inference measurements",
    "accuracy": "Published benchmark scores",
    "compression": "Published compression results",
}

def render() -> None:
    """Draw the Catalog & sources page."""
    st.title("Catalog & sources")
    st.caption(
        "The reference data behind every estimate: published architectures, datasheet figures "
        "(dense, without 2:4 sparsity), dated cloud price snapshots and grid carbon intensities. "
        "Rows marked *assumed* are illustrative or estimated; each row names its source and date."
    )
    check_query_params({}, page_keys={"t": one_of(TABLES), "q": lambda v: len(v) <= 80})
    c1, c2 = st.columns([1.6, 1])
    table = c1.segmented_control("Table", list(TABLES), default="models", key="t", bind="query-params") or "models"
    query = c2.text_input("Filter rows (any column contains)", key="q", bind="query-params", max_chars=80)
    frame = catalog.table_frame(table)
    shown = _filtered(frame, query)
    n_assumed = int(shown["assumed"].sum()) if "assumed" in shown else 0
    st.markdown(f"**{len(shown):,}** of {len(frame):,} rows · {n_assumed} assumed/illustrative · figures dated "
                f"{pd.Timestamp(frame['as_of'].min()):%Y-%m-%d} to {pd.Timestamp(frame['as_of'].max()):%Y-%m-%d}")
    st.caption(TABLES[table])
    if shown.empty:
        st.info("No row matches this filter.")
    else:
        st.dataframe(shown, hide_index=True, width="stretch", height=560, column_config={
            "source": st.column_config.TextColumn("source", width="large"),
            "notes": st.column_config.TextColumn("notes", width="large"),
            "as_of": st.column_config.DateColumn("as of"),
            "assumed": st.column_config.CheckboxColumn("assumed"),
        })
    st.download_button(f"Download {TABLES[table].lower()} (CSV)", data=frame.to_csv(index=False).encode(),
                       file_name=f"{table}.csv", mime="text/csv", key="dl_catalog")
    _conventions()


def _filtered(frame: pd.DataFrame, query: str) -> pd.DataFrame:
    """The rows where any column contains ``query`` (case-insensitive); all rows without a query."""
    if not query:
        return frame
    needle = query.strip().lower()
    mask = frame.astype(str).apply(lambda col: col.str.lower().str.contains(needle, regex=False)).any(axis=1)
    return frame[mask]


def _conventions() -> None:
    exp = lazy_expander("Units and conventions", "how_cat_units", icon=":material/straighten:")
    if exp is None:
        return
    with exp:
        st.markdown(
            "- Memory and bandwidth in GB and GB/s: 10⁹ bytes. Peak throughput in TFLOPS/TOPS, **dense** "
            "(NVIDIA quotes Tensor-Core figures with 2:4 structured sparsity; dense is half).\n"
            "- Link bandwidth is the vendor's per-device figure (bidirectional aggregate for NVLink).\n"
            "- Prices are USD per instance-hour in the stated region on the `as_of` date; committed prices are "
            "effective hourly rates.\n"
            "- Grid intensity in gCO₂e/kWh (location-based); PUE is the provider's published fleet figure.\n"
            "- Parameter counts include embeddings (the Chinchilla convention)."
        )


if __name__ == "__main__":
    run_page(render)
