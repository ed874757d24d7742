"""The chart floor: ``minimal_app.py`` plus what any planning page must draw (``bench_pages.py`` reference 2).

Streamlit's own floor for a page that answers with a chart and a table: the minimal app's number input
("Value") and metric, plus one Plotly line chart (three traces of 168 hourly points, as the capacity page's
fleet-per-hour chart) and one 24-row table, both recomputed from the input. No estimator code runs here: what
this costs above ``minimal_app.py`` is the browser drawing a Plotly figure and a data grid after a rerun, which no
page that shows a chart can avoid. Run it the same way as the app: ``streamlit run bench/minimal_chart_app.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="Minimal reference with a chart", layout="wide", initial_sidebar_state="expanded")
st.title("Minimal reference with a chart")
value = st.number_input("Value", min_value=0.0, max_value=1e12, value=1.0, step=1.0)
st.metric("Twice the value", f"{2 * value:,.2f}")
hours = np.arange(168)
load = value * (1.0 + 0.5 * np.sin(2 * np.pi * hours / 24.0))
fig = go.Figure()
for name, scale in (("demand", 1.0), ("capacity", 1.2), ("p95", 1.4)):
    fig.add_trace(go.Scatter(x=hours, y=scale * load, mode="lines", name=name))
fig.update_layout(height=360, margin={"l": 40, "r": 10, "t": 30, "b": 40}, xaxis_title="hour of week")
st.plotly_chart(fig, use_container_width=True)
st.dataframe(pd.DataFrame({"hour": hours[:24], "load": load[:24], "capacity": 1.2 * load[:24]}),
             hide_index=True)
