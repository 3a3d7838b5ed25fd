"""Explore: every stage of the method for one frame pair, the power-normalization curve and the clip's R."""

from __future__ import annotations

import streamlit as st

from mp_core import InputError
from mp_core.checkpoints import params_to_json
from mp_core.viz import clip_view as view
from ui import figures
from ui.exports import export_videos, panels_png
from ui.panels import server_viewer
from ui.sidebar import clip_page
from ui.viewer import (
    MAX_VIEWER_BYTES,
    demo_html,
    demo_size_note,
    fits_viewer,
    show_viewer,
)

spec, data, params = clip_page("Explore")
state = st.session_state

if fits_viewer(data):  # panels, statistics, the PN curve and the variation chart, computed in the browser
    show_viewer(spec, data)
else:
    st.info(
        f"This sampling holds {data.clip.frames.numel() / 2**20:.0f} MiB of frames, more than the in-browser "
        f"viewer takes ({MAX_VIEWER_BYTES / 2**20:.0f} MiB): the panels are drawn on the server, one answer "
        "per slider release. Lower Frames or Max side (sidebar, Sampling) for the live viewer."
    )
    stats = view.clip_stats(data, params)
    server_viewer(data, params, stats)
    st.markdown("**Temporal attention variation** per step")
    st.plotly_chart(figures.variation_figure(stats.variation, stats.variation_mean), key="variation")

options = st.columns(2)
show_surface = options[0].toggle("3D attention surface", key="w.surface")
show_export = options[1].toggle("Export", key="w.export")

if show_surface:
    attention = view.pair_attention(data, params, state["mp.pair"])
    st.plotly_chart(figures.attention_surface_figure(attention), key="surface")

if show_export:
    t = state["mp.pair"]
    row = st.columns(5)
    row[0].download_button(
        "Panels PNG",
        lambda: panels_png(view.pair_images(data, params, t, overlay_alpha=0.5 * state["mp.overlay"])),
        file_name=f"panels_t{t}.png",
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
    page = demo_html(spec, data, state)
    row[2].download_button(
        "Interactive HTML",
        page,
        file_name="motion_prompts_demo.html",
        mime="text/html",
        on_click="ignore",
        key="w.html",
        help="One file with the viewer, this clip's frames and these parameters; opens offline in a browser.",
    )
    export_key = (spec, str(data.frames.device), params)
    if row[3].button("Render MP4s", key="w.render"):
        bar = st.progress(0.0, text="Encoding H.264…")
        try:
            videos = export_videos(data, params, lambda share: bar.progress(min(share, 1.0)))
        except InputError as err:
            st.error(f"Could not encode the videos: {err}")
        else:
            state["mp.exports"] = (export_key, videos)
        bar.empty()
    exported = state.get("mp.exports")
    if exported is not None and exported[0] == export_key:
        prompted, panels = exported[1]
        row[3].download_button(
            "Prompted clip MP4", prompted, file_name="prompted.mp4", mime="video/mp4", key="w.mp4_prompt"
        )
        row[4].download_button(
            "4-panel MP4", panels, file_name="panels.mp4", mime="video/mp4", key="w.mp4_panels"
        )
    st.caption(f"Interactive HTML · {demo_size_note(len(page), data)}")
