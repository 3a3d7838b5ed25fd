"""The server-drawn viewer: four panels as images, scrubber, play/pause and the clip's statistics.

The Explore page uses the in-browser viewer (:mod:`ui.viewer`); this path draws samplings too large to send
to the browser (see :data:`ui.viewer.MAX_VIEWER_BYTES`).
"""

from __future__ import annotations

import streamlit as st

from mp_core import MotionParams
from mp_core.metrics import AttentionStats
from mp_core.viz import clip_view as view
from mp_core.viz import render
from mp_core.viz.clip_view import ClipData, PairImages
from ui import figures
from ui.state import bind

PANEL_TITLES = ("Frame", "Difference", "Attention", "Prompt")


def show_panels(images: PairImages, t: int, limit: float, overlay: bool = False) -> None:
    """Four columns: frame (or overlay), difference with colour bar, attention with colour bar, prompt."""
    columns = st.columns(4, gap="small")
    frame_caption = f"Frame Xₜ₊₁ with attention overlay · t = {t}" if overlay else f"Frame Xₜ₊₁ · t = {t}"
    columns[0].image(images.frame, caption=frame_caption, width="stretch")
    columns[1].image(images.difference, caption=f"Difference Dₜ = Gₜ₊₁ − Gₜ · t = {t}", width="stretch")
    columns[1].image(render.colorbar_image(render.DIFFERENCE_CMAP), width="stretch")
    columns[1].caption(f"−{limit:.3f} ← 0 → +{limit:.3f} (darker · brighter)")
    columns[2].image(images.attention, caption=f"Attention Aₜ = σ(a(Dₜ − b)) · t = {t}", width="stretch")
    columns[2].image(render.colorbar_image(render.ATTENTION_CMAP), width="stretch")
    columns[2].caption("0 ← 0.5 → 1")
    columns[3].image(images.prompt, caption=f"Prompt Pₜ = Aₜ ⊙ Xₜ₊₁ · t = {t}", width="stretch")


def _server_panels(data: ClipData, params: MotionParams) -> None:
    """Scrubber, play/pause and the four panels: reruns alone while scrubbing or playing."""
    state = st.session_state
    play, scrub = st.columns([1, 8], vertical_alignment="bottom")
    if play.button("⏸ Pause" if state["mp.playing"] else "▶ Play", key="w.play", width="stretch"):
        state["mp.playing"] = not state["mp.playing"]
        st.rerun()  # the whole page: the fragment's timer is set there
    if state["mp.playing"]:
        state["mp.pair"] = (state["mp.pair"] + 1) % data.num_pairs
    if data.num_pairs > 1:
        scrub.slider("Frame pair t", 0, data.num_pairs - 1, **bind("mp.pair", "w.pair"))
    t = state["mp.pair"]
    images = view.pair_images(data, params, t, overlay_alpha=0.5 if state["mp.overlay"] else 0.0)
    show_panels(images, t, data.limit, overlay=state["mp.overlay"])


def server_viewer(data: ClipData, params: MotionParams, stats: AttentionStats) -> None:
    """The viewer drawn on the server: overlay switch, panels (a fragment while playing), statistics and the
    power-normalization curve."""
    state = st.session_state
    st.toggle("Overlay attention on the frame", **bind("mp.overlay", "w.overlay"))
    st.fragment(_server_panels, run_every=0.5 if state["mp.playing"] else None)(data, params)
    metrics = st.columns(4)
    metrics[0].metric("Mean attention (clip)", f"{stats.mean_attention:.3f}")
    metrics[1].metric("Pixels with A > 0.5", f"{stats.share_above_half:.1%}")
    metrics[2].metric("Temporal variation R", f"{stats.variation_mean:.4g}")
    metrics[3].metric("Slope a · shift b", f"{params.slope:.2f} · {params.shift:+.3f}")
    st.markdown("**Power normalization** over the clip's differences")
    st.plotly_chart(figures.pn_curve_figure(params, data.histogram), key="pn_curve")
