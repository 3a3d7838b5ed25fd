"""The framework's floor for bench_app.py: one sidebar slider and four 320×180 images, nothing else.

Captions and the slider's name match Explore's, so the same browser driver times both apps.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

slope = st.sidebar.slider("Slope a", 9.10, 50.0, 23.46, step=0.01, format="%.2f")
ramp = np.linspace(0.0, 1.0, 320, dtype=np.float32)[None, :, None]
# Every 0.01 step of the slider changes every pixel, as the attention panel changes with the slope.
image = np.broadcast_to(((ramp * 255 + slope * 100) % 256).astype(np.uint8), (180, 320, 3))
columns = st.columns(4)
for column, title in zip(columns, ("Frame", "Difference", "Attention", "Prompt"), strict=True):
    column.image(image, caption=f"{title} · a = {slope:.2f}", width="stretch")
