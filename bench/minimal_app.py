"""A minimal Streamlit app: the reference the page benchmarks (``bench_pages.py``) compare against.

It costs Streamlit's own floor and nothing else: page config, a title, one number input (found by its label
"Value", like the planner's widgets) and one metric computed from it. Run it the same way as the app:
``streamlit run bench/minimal_app.py``.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Minimal reference", layout="wide", initial_sidebar_state="expanded")
st.title("Minimal reference")
value = st.number_input("Value", min_value=0.0, max_value=1e12, value=1.0, step=1.0)
st.metric("Twice the value", f"{2 * value:,.2f}")
