"""Explore: every stage of the method for one frame pair, the power-normalization curve and the clip's R."""

from __future__ import annotations

import streamlit as st

from mp_core import InputError, MotionParams
from mp_core.checkpoints import params_to_json
from mp_core.viz import clip_view as view
from ui import figures
from ui.panels import show_panels
from ui.sidebar import clip_page
from ui.state import bind

spec, data, params = clip_page("Explore")
state = st.session_state

options = st.columns(3)
overlay = options[0].toggle("Overlay attention on the frame", key="w.overlay")
show_surface = options[1].toggle("3D attention surface", key="w.surface")
show_export = options[2].toggle("Export", key="w.export")


def viewer(data: view.ClipData, params: MotionParams, overlay: bool) -> None:
    """Scrubber, play/pause and the four panels: reruns alone while scrubbing or playing."""
    play, scrub = st.columns([1, 8], vertical_alignment="bottom")
    if play.button("⏸ Pause" if state["mp.playing"] else "▶ Play", key="w.play", width="stretch"):
        state["mp.playing"] = not state["mp.playing"]
        st.rerun()  # the whole page: the fragment's timer is set there
    if state["mp.playing"]:
        state["mp.pair"] = (state["mp.pair"] + 1) % data.num_pairs
    if data.num_pairs > 1:
        scrub.slider("Frame pair t", 0, data.num_pairs - 1, **bind("mp.pair", "w.pair"))
    t = state["mp.pair"]
    images = view.pair_images(data, params, t, overlay_alpha=0.5 if overlay else 0.0)
    show_panels(images, t, data.limit, overlay=overlay)
    state["mp.pair_images"] = images


st.fragment(viewer, run_every=0.5 if state["mp.playing"] else None)(data, params, overlay)

stats = view.clip_stats(data, params)
metrics = st.columns(4)
metrics[0].metric("Mean attention (clip)", f"{stats.mean_attention:.3f}")
metrics[1].metric("Pixels with A > 0.5", f"{stats.share_above_half:.1%}")
metrics[2].metric("Temporal variation R", f"{stats.variation_mean:.4g}")
metrics[3].metric("Slope a · shift b", f"{params.slope:.2f} · {params.shift:+.3f}")

curve, variation = st.columns([3, 2])
with curve:
    st.markdown("**Power normalization** over the clip's differences")
    st.plotly_chart(figures.pn_curve_figure(params, data.histogram), key="pn_curve")
with variation:
    st.markdown("**Temporal attention variation** per step")
    st.plotly_chart(figures.variation_figure(stats.variation, stats.variation_mean), key="variation")

if show_surface:
    attention = view.pair_attention(data, params, state["mp.pair"])
    st.plotly_chart(figures.attention_surface_figure(attention), key="surface")

if show_export:
    images: view.PairImages = state["mp.pair_images"]
    row = st.columns(4)
    row[0].download_button(
        "Panels PNG",
        view.panels_png(images),
        file_name=f"panels_t{state['mp.pair']}.png",
        mime="image/png",
        on_click="ignore",
        key="w.png",
    )
    row[1].download_button(
        "Values JSON",
        params_to_json(params),
        file_name="motion_prompt_params.json",
        mime="application/json",
        on_click="ignore",
        key="w.json",
    )
    export_key = (spec, str(data.frames.device), params)
    if row[2].button("Render MP4s", key="w.render"):
        bar = st.progress(0.0, text="Encoding H.264…")
        try:
            videos = view.export_videos(data, params, lambda share: bar.progress(min(share, 1.0)))
        except InputError as err:
            st.error(f"Could not encode the videos: {err}")
        else:
            state["mp.exports"] = (export_key, videos)
        bar.empty()
    exported = state.get("mp.exports")
    if exported is not None and exported[0] == export_key:
        prompted, panels = exported[1]
        row[2].download_button(
            "Prompted clip MP4", prompted, file_name="prompted.mp4", mime="video/mp4", key="w.mp4_prompt"
        )
        row[3].download_button(
            "4-panel MP4", panels, file_name="panels.mp4", mime="video/mp4", key="w.mp4_panels"
        )
