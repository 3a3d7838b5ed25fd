"""Dataset: a report of learned attention over a dataset's samples, and the samples themselves."""

from __future__ import annotations

import streamlit as st

from ui.dataset import choose_dataset, samples_section, show_counts, show_problems
from ui.dataset_report import report_section
from ui.sidebar import setup_page, sidebar
from ui.state import bind, current_params

setup_page("Dataset")
st.title("Dataset")
sidebar()  # the sidebar's values are one of the report's parameter sets and drive the Samples view
params = current_params(st.session_state)

opened = choose_dataset()
show_counts(opened[1])
problems_box = st.container()  # filled last: decoding below may find unreadable samples
show = st.segmented_control("Show", ["Report", "Samples"], required=True, **bind("mp.ds.show", "w.ds.show"))
if show == "Report":
    report_section(opened, params)
else:
    samples_section(opened, params)
with problems_box:
    show_problems(opened[1], opened[0])
