"""Motion Prompt Explorer: the home page. Run with `streamlit run app.py`."""

from __future__ import annotations

import streamlit as st

from mp_core.viz import clip_view as view
from mp_core.viz import render
from ui import figures
from ui.sidebar import PAGES, setup_page, sidebar

setup_page("Home")
st.title("Motion Prompt Explorer")
st.markdown(
    r"""
**Video Motion Prompts** (Chen, Wang, Koniusz, Gedeon, ACML 2024) turn a clip of $T$ frames into $T-1$
*motion prompts* that a video model sees instead of raw frames:

1. grayscale each frame: $G = 0.299\,\text{red} + 0.587\,\text{green} + 0.114\,\text{blue}$;
2. take the signed frame difference $D_t = G_{t+1} - G_t$;
3. pass it through a learnable power normalization $A_t = \sigma\big(a\,(D_t - b)\big)$, with slope
   $a = 5 / (0.45\,|\tanh m| + 0.1) \in (9.09, 50]$ and shift $b = 0.6 \tanh n \in (-0.6, 0.6)$,
   learned as the raw scalars $m, n$;
4. prompt the later frame: $P_t = A_t \odot X_{t+1}$ (every channel);
5. regularise with the temporal attention variation
   $R = \sum_t \lVert A_{t+1} - A_t \rVert^2 / (B\,H\,W\,(T-2))$, weighted by $\lambda$ in the loss.
"""
)

loaded = sidebar()
if loaded is not None:
    spec, data, params = loaded
    t = data.num_pairs // 2
    images = view.pair_images(data, params, t)
    stages = [
        ("Xₜ", render.to_numpy(data.clip.frames[t])),
        ("Xₜ₊₁", images.frame),
        ("Dₜ", images.difference),
        ("Aₜ", images.attention),
        ("Pₜ", images.prompt),
    ]
    st.markdown(
        f"**The stages on {spec.label}**, pair t = {t}, a = {params.slope:.2f}, b = {params.shift:+.3f}"
    )
    st.plotly_chart(figures.pipeline_figure(stages), key="pipeline")

st.subheader("Pages")
for page in PAGES[1:]:
    st.page_link(page.path, label=f"**{page.label}** — {page.blurb}")
