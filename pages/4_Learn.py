"""Learn: fit slope and shift (m, n) on labelled clips, for several λ, and watch them move epoch by epoch."""

from __future__ import annotations

import streamlit as st

from ui.learn_view import controls, live_section
from ui.sidebar import setup_page, sidebar

setup_page("Learn")
st.title("Learn")
st.caption(
    "Train the motion prompt layer with a small video network on labelled clips: one model per λ, the "
    "paper's loss (cross-entropy + λ·R). Training runs in a background process: leave the page and come back."
)
sidebar()  # "Use these values" sets the sidebar's parameters
controls(st.session_state)
live_section(st.session_state)
