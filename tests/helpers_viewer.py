"""Reading the in-browser viewer from playwright: its JS API, its canvases' pixels, its render events.

The app mounts the viewer in a shadow root; playwright's CSS locators pierce it, ``document.querySelector``
does not, so canvases are reached through locators.
"""

from __future__ import annotations

import base64

import numpy as np

VIEWER_READY = "() => !!window.motionPrompts && window.motionPrompts.info().pairs > 0"
_PIXELS = """(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let text = "";
  for (let i = 0; i < data.length; i += 8192) {
    text += String.fromCharCode.apply(null, data.subarray(i, i + 8192));
  }
  return [canvas.width, canvas.height, btoa(text)];
}"""
_ARM = """() => { window.__mpRendered = null;
  window.addEventListener("motionprompts:render", (event) => { window.__mpRendered = event.detail; },
                          { once: true }); }"""


def wait_viewer(page, timeout_ms: float = 60_000) -> None:
    """Wait until the viewer has decoded its clip and drawn (its API answers with the clip's size)."""
    page.wait_for_function(VIEWER_READY, timeout=timeout_ms)
    page.locator('canvas[data-panel="prompt"]').first.wait_for(timeout=timeout_ms)


def info(page) -> dict:
    return page.evaluate("() => window.motionPrompts.info()")


def attention(page, t: int) -> np.ndarray:
    """``window.motionPrompts.attention(t)`` as a float32 array (flat, H·W)."""
    values = page.evaluate("(t) => Array.from(window.motionPrompts.attention(t))", t)
    return np.asarray(values, dtype=np.float32)


def panel_pixels(page, name: str) -> np.ndarray:
    """The RGB pixels (H, W, 3) of the viewer's canvas ``name`` (frame, difference, attention, prompt)."""
    width, height, data = page.locator(f'canvas[data-panel="{name}"]').first.evaluate(_PIXELS)
    rgba = np.frombuffer(base64.b64decode(data), dtype=np.uint8).reshape(height, width, 4)
    return rgba[..., :3].copy()


def arm_render(page) -> None:
    """Start listening for the next ``motionprompts:render`` event (before the action that causes it)."""
    page.evaluate(_ARM)


def next_render(page, timeout_ms: float = 10_000) -> dict:
    """The detail of the render event armed by :func:`arm_render` (waits for it)."""
    return page.wait_for_function("() => window.__mpRendered", timeout=timeout_ms).json_value()
