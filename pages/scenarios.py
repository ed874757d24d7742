"""Saved scenarios: list, search, open, rename, duplicate, delete, import, and compare 2-4."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from estimator import report as report_mod
from estimator.errors import EstimatorError
from estimator.scenario import Scenario, to_query_params, validate_scenario
from estimator.store import SavedScenario, ScenarioStore, default_store
from pages._ui import app_page, check_query_params, lazy_expander, plain, run_page, show_error
from pages.figures import BLUE, MARGIN

SCENARIO_PAGES = {"memory", "capacity", "training", "performance", "variants"}
"""Pages a saved scenario can be opened on (the others open the Model & memory page)."""
RANKED = {"monthly_cost_usd": "cheapest", "cost_usd_per_month": "cheapest", "per_device_total_bytes": "smallest",
          "p95_e2e_s": "fastest", "p95_ttft_s": "fastest"}
"""Report outputs where the smallest value wins, and the word for the winner."""


def render() -> None:
    """Draw the Saved scenarios page."""
    st.title("Saved scenarios")
    st.caption("Scenarios saved from any page, kept in this server's saved-scenario store (SQLite, or PostgreSQL "
               "when configured). Open one to reproduce its page exactly, or compare two to four side by side.")
    check_query_params({}, page_keys={"q": lambda v: len(v) <= 80})
    try:
        store = default_store()
        notices = store.notices()
    except EstimatorError as exc:
        show_error(exc)
        st.info("Links that carry their inputs in the address keep working; only saved scenarios are unavailable.")
        return
    for notice in notices:
        st.warning(plain(notice, 400), icon=":material/info:")
    _import(store)
    _trash(store)
    _help()
    query = st.text_input("Search by name or note", key="q", bind="query-params", max_chars=80)
    try:
        saved = store.list(query)
    except EstimatorError as exc:
        show_error(exc)
        return
    if not saved:
        st.info("No saved scenarios yet. Use **Save scenario** on any page." if not query else "Nothing matches.")
        return
    table = pd.DataFrame([_summary(s) for s in saved])
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"note": st.column_config.TextColumn(width="large")})
    by_id = {s.id: s for s in saved}
    _manage(store, by_id)
    _compare(saved, by_id)


def _read_import(upload: Any) -> Scenario:
    """The scenario in an uploaded scenario or report JSON; :class:`EstimatorError`/``ValueError`` if none."""
    if upload.size > 5_000_000:
        raise EstimatorError("the file is larger than 5 MB")
    data = json.loads(upload.getvalue().decode("utf-8"),
                      parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not allowed")))
    if isinstance(data, dict) and isinstance(data.get("scenario"), dict):
        data = data["scenario"]
    if not isinstance(data, dict):
        raise EstimatorError("a scenario must be a JSON object")
    return validate_scenario(data)


def _import(store: ScenarioStore) -> None:
    with st.expander("Import a scenario (JSON)", icon=":material/upload:"):
        upload = st.file_uploader("Scenario or exported report JSON", type=["json"], key="_import")
        if upload is None:
            return
        try:
            imported = _read_import(upload)
        except (EstimatorError, ValueError, UnicodeDecodeError) as exc:
            st.error(f"Could not import {plain(upload.name)}: {plain(exc, 400)}. Nothing was saved.")
            return
        if st.button("Save imported scenario", type="primary", key="_import_save"):
            try:
                sid = store.save(imported, (imported.name or upload.name.removesuffix(".json"))[:120], "imported")
            except EstimatorError as exc:
                show_error(exc)
            else:
                st.success(f"Imported as `?s={sid}`.")


def _help() -> None:
    exp = lazy_expander("How links, saving and exports work", "how_scn_help", icon=":material/help:")
    if exp is None:
        return
    with exp:
        st.markdown(
            "- **Links.** Every input of every page belongs to one versioned `Scenario` (schema version "
            f"{Scenario().version}). A page writes only the inputs that differ from the defaults into its address, "
            "with short names (`m`, `hw`, `rpd`, ...). Links from older versions are migrated; a bad or unknown "
            "parameter is ignored with a message and its default applies.\n"
            "- **Saving.** A saved scenario is stored with a random id in this server's store (an SQLite file, or "
            "PostgreSQL shared by several app replicas); `?s=<id>` opens the page it was saved from. Saving under an "
            "existing name adds a version (older versions' links keep working); deleting moves a scenario to the "
            "trash, where it can be restored for 30 days.\n"
            "- **Exports.** The CSV report lists inputs, outputs, assumptions and sources with units; cells that a "
            "spreadsheet would run as a formula are prefixed with `'`. `python -m estimator report LINK` prints the "
            "same report headless."
        )


def _link_text(params: dict[str, str | list[str]]) -> str:
    """Link parameters as text; multiselects repeat their key (``v_models=a&v_models=b``)."""
    return "&".join(f"{k}={x}" for k, v in params.items() for x in (v if isinstance(v, list) else [v]))


def _summary(s: SavedScenario) -> dict[str, object]:
    sc = s.scenario
    return {
        "name": s.name,
        "id": s.id,
        "page": s.page or "memory",
        "model": sc.model.model_id if sc else "—",
        "hardware": sc.deploy.hardware_id if sc else "—",
        "versions": s.versions,
        "note": s.note,
        "updated (UTC)": s.updated_at,
        "problem": s.problem,
    }


def _manage(store: ScenarioStore, by_id: dict[str, SavedScenario]) -> None:
    """Open, duplicate, rename or delete one saved scenario."""
    st.subheader("Manage")
    chosen = by_id[st.selectbox("Scenario", list(by_id), format_func=lambda i: f"{by_id[i].name} ({i})",
                                key="_chosen")]
    a1, a2, a3, a4 = st.columns(4)
    page_name = chosen.page if chosen.page in SCENARIO_PAGES else "memory"
    if a1.button("Open", icon=":material/open_in_new:", disabled=chosen.scenario is None, width="stretch") \
            and chosen.scenario is not None:
        st.switch_page(app_page(page_name), query_params=to_query_params(chosen.scenario))
    if a2.button("Duplicate", icon=":material/content_copy:", width="stretch"):
        try:
            new_id = store.duplicate(chosen.id)
            st.toast(f"Duplicated as {new_id}")
            st.rerun()
        except EstimatorError as exc:
            show_error(exc)
    with a3.popover("Rename", icon=":material/edit:", width="stretch"):
        new_name = st.text_input("New name", value=chosen.name, max_chars=120, key="_rename")
        new_note = st.text_area("Note", value=chosen.note, max_chars=2000, key="_renote")
        if st.button("Apply", key="_rename_apply"):
            try:
                store.rename(chosen.id, new_name, new_note)
                st.rerun()
            except EstimatorError as exc:
                show_error(exc)
    with a4.popover("Delete", icon=":material/delete:", width="stretch"):
        st.write(f"Move **{plain(chosen.name)}** and its versions to the trash? It can be restored for 30 days.")
        if st.button("Move to trash", type="primary", key="_delete"):
            try:
                store.delete(chosen.id)
            except EstimatorError as exc:
                show_error(exc)
            else:
                st.rerun()
    st.caption(f"Short link: `?s={chosen.id}` · page link parameters: "
               f"`{_link_text(to_query_params(chosen.scenario)) if chosen.scenario else '—'}`")
    _versions(store, chosen)


def _versions(store: ScenarioStore, chosen: SavedScenario) -> None:
    """Every saved version of the chosen scenario, newest first, each with its own link."""
    if chosen.versions <= 1:
        return
    with st.expander(f"{chosen.versions} versions", icon=":material/history:"):
        try:
            versions = store.versions(chosen.id)
        except EstimatorError as exc:
            show_error(exc)
            return
        st.dataframe(pd.DataFrame([{"version": v.version, "link": f"?s={v.id}", "saved (UTC)": v.saved_at,
                                    "latest": v.is_latest} for v in versions]), hide_index=True, width="stretch")


def _trash(store: ScenarioStore) -> None:
    """Deleted scenarios, restorable for 30 days."""
    try:
        trashed = store.trash()
    except EstimatorError as exc:
        show_error(exc)
        return
    if not trashed:
        return
    with st.expander(f"Trash ({len(trashed)}; restorable for 30 days after deletion)", icon=":material/delete:"):
        pick = st.selectbox("Deleted scenario", [t.id for t in trashed], key="_trash_pick",
                            format_func=lambda i: next(f"{t.name} (deleted {t.deleted_at:%Y-%m-%d %H:%M} UTC)"
                                                       if t.deleted_at else t.name for t in trashed if t.id == i))
        if st.button("Restore", icon=":material/restore_from_trash:", key="_restore"):
            try:
                new_id = store.restore(pick)
            except EstimatorError as exc:
                show_error(exc)
            else:
                st.toast(f"Restored as ?s={new_id}")
                st.rerun()


def _reports(picked: list[str], by_id: dict[str, SavedScenario]) -> tuple[list[report_mod.Report], list[str]]:
    """The picked scenarios' reports for one page chosen on the page, and their names."""
    pages = sorted({by_id[i].page or "memory" for i in picked} & set(report_mod.REPORTS)) or ["memory"]
    page = st.segmented_control("Report", pages, default=pages[0], key="_cmp_page") or pages[0]
    reports, labels = [], []
    for i in picked:
        sc = by_id[i].scenario
        if sc is None:
            continue
        try:
            reports.append(report_mod.build_report(sc, page))
            labels.append(by_id[i].name)
        except EstimatorError as exc:
            st.warning(f"{plain(by_id[i].name)}: {plain(exc, 400)}")
    return reports, labels


def _compare(saved: list[SavedScenario], by_id: dict[str, SavedScenario]) -> None:
    """Two to four saved scenarios side by side: inputs that differ, outputs, a chart and a CSV."""
    st.subheader("Compare")
    valid = [s for s in saved if s.scenario is not None]
    picked = st.multiselect("Pick 2 to 4 scenarios", [s.id for s in valid], max_selections=4,
                            format_func=lambda i: by_id[i].name, key="_compare")
    if len(picked) < 2:
        st.caption("Pick at least two scenarios to compare.")
        return
    reports, labels = _reports(picked, by_id)
    if len(reports) < 2:
        return
    pairs = list(zip(labels, reports, strict=True))
    inputs = pd.DataFrame({lab: {r.name: r.value for r in rep.rows if r.section == "input"} for lab, rep in pairs})
    outputs = pd.DataFrame({lab: {r.name: r.value for r in rep.rows if r.section == "output"} for lab, rep in pairs})
    differs = inputs.astype(str).nunique(axis=1) > 1
    st.markdown(f"**Inputs** ({int(differs.sum())} differ, highlighted)")
    st.dataframe(inputs.astype(str).style.apply(
        lambda row: ["background-color: #fff3bf" if differs[row.name] else "" for _ in row], axis=1), width="stretch")
    _outputs(outputs)
    st.download_button("Comparison CSV", report_mod.comparison_csv(reports, labels),
                       file_name="llm-capacity-comparison.csv", mime="text/csv", icon=":material/download:",
                       on_click="ignore")


def _outputs(outputs: pd.DataFrame) -> None:
    marks = []
    for metric, word in RANKED.items():
        if metric in outputs.index:
            vals = pd.to_numeric(outputs.loc[metric], errors="coerce")
            if vals.notna().any():
                marks.append(f"{word} by {metric}: **{plain(vals.idxmin())}**")
    st.markdown("**Outputs**" + (" · " + " · ".join(marks) if marks else ""))
    st.dataframe(outputs.map(_fmt), width="stretch")
    numeric = outputs.apply(pd.to_numeric, errors="coerce").dropna(how="all")
    numeric = numeric[numeric.notna().all(axis=1) & (numeric.nunique(axis=1) > 1)]
    if not numeric.empty:
        metric = st.selectbox("Chart", list(numeric.index), key="_cmp_metric")
        fig = go.Figure(go.Bar(x=list(numeric.columns), y=list(numeric.loc[metric]), marker_color=BLUE))
        fig.update_layout(title=metric, height=320, margin=MARGIN)
        st.plotly_chart(fig, width="stretch", key="_cmp_fig")


def _fmt(value: object) -> str:
    """Readable numbers: whole numbers with separators, others to four significant digits."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, (int, float)):
        if value != value:  # NaN
            return ""
        return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.4g}"
    return str(value)


if __name__ == "__main__":
    run_page(render)
