"""The four viewer panels of one frame pair."""

from __future__ import annotations

import streamlit as st

from mp_core.viz import render
from mp_core.viz.clip_view import PairImages

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
