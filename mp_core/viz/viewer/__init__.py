"""The in-browser viewer: what it is sent (a clip payload and a view payload) and the standalone HTML demo.

The viewer (the JS modules and ``viewer.css`` next to this file, joined by :func:`viewer_script`) decodes
the clip's frames once and computes gray, :math:`D`, :math:`A = \\sigma(a(D - b))` and
:math:`P = A \\odot X_{t+1}` in the browser, so that its controls answer without a server. Two JSON
payloads feed it:

- :func:`clip_payload` (JSON, frames as PNG) or :func:`clip_bytes` (binary, frames raw): the sampled frames,
  losslessly, the clip's colour range, the histogram of its differences and the colormaps as 256-entry
  tables sampled from matplotlib. It depends only on the clip and its sampling and carries a content hash
  (``id``), so a host can send it once and the browser can skip decoding what it already holds.
- :func:`view_payload`: the parameters, frame pair and options to show (small; sent on every change).

:func:`standalone_html` puts both, the JS and the CSS into one HTML file that makes no network request.
The Streamlit app (``ui/viewer.py``) and ``python -m mp_core.demo`` use these same files. The viewer can also
show the browser's camera (``camera.js``), computed in the page like a clip.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from importlib import resources
from typing import Any

import numpy as np
import torch

from mp_core import params as formula
from mp_core.params import MotionParams
from mp_core.viz import render
from mp_core.viz.clip_view import ClipData

__all__ = [
    "DEMO_SIZE_LIMIT",
    "VIEWER_RANGES",
    "asset",
    "clip_bytes",
    "clip_payload",
    "playback_fps",
    "standalone_html",
    "view_payload",
    "viewer_script",
]

#: Control ranges (low, high, step): the sliders' (one definition, in mp_core.params).
VIEWER_RANGES = formula.CONTROL_RANGES
#: The size an emailed demo should stay under (16 frames at 320 px fit in about 0.6–2.7 MB).
DEMO_SIZE_LIMIT = 5_000_000
METHOD = "Video Motion Prompts (Chen et al., ACML 2024)"
#: The viewer's JS modules, in the order they are joined: each may use what the ones before it define.
#: math (the method's arithmetic), decode (clips from the payloads), controls (DOM and controls), draw
#: (panels and charts), stats (mean A, share, R), camera (the live source), viewer (the Viewer class that
#: mixes them in), api (``window.motionPrompts`` and the two hosts' entries).
MODULES = ("math.js", "decode.js", "controls.js", "draw.js", "stats.js", "camera.js", "viewer.js", "api.js")


def asset(name: str) -> str:
    """The text of one of the viewer's files (a module of :data:`MODULES`, ``viewer.css``,
    ``standalone.html``).

    Example:
        >>> "motionPrompts" in asset("api.js")
        True
    """
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def formula_constants() -> dict[str, float]:
    """The slope/shift constants of :mod:`mp_core.params`, as the viewer's ``FORMULA`` receives them.

    Example:
        >>> formula_constants()
        {'slope_scale': 5.0, 'slope_tanh': 0.45, 'slope_floor': 0.1, 'shift_scale': 0.6}
    """
    return {
        "slope_scale": formula.SLOPE_SCALE,
        "slope_tanh": formula.SLOPE_TANH,
        "slope_floor": formula.SLOPE_FLOOR,
        "shift_scale": formula.SHIFT_SCALE,
    }


def viewer_script(module: bool = False) -> str:
    """The viewer's JS: :data:`MODULES` joined in one strict-mode scope after the generated ``FORMULA``.

    One classic script that defines ``globalThis.MotionPromptsViewer`` (the standalone page inlines it: no
    file to load, no import URL); with ``module=True`` an ES module whose default export is the Streamlit
    components v2 entry (components v2 take one ``js`` string).

    Example:
        >>> script = viewer_script()
        >>> script.count("// ---- module "), 'const FORMULA = {"slope_scale":5.0' in script
        (8, True)
        >>> viewer_script(module=True).rstrip().endswith("streamlitComponent(component);")
        True
    """
    header = (
        "/* Motion prompts viewer, joined by mp_core.viz.viewer.viewer_script from the modules next to it.\n"
        " * Shared by the Streamlit app (a components v2 component) and the standalone HTML demo. */\n"
        "(function () {\n"
        '"use strict";\n'
        "// Generated from mp_core.params: the slope a = slope_scale / (slope_tanh |tanh m| + slope_floor),\n"
        "// the shift b = shift_scale tanh n.\n"
        f"const FORMULA = {_script_json(formula_constants())};\n"
    )
    body = "".join(f"// ---- module {name} ----\n{asset(name)}\n" for name in MODULES)
    script = header + body + "})();\n"
    if module:
        script += (
            "export default (component) => globalThis.MotionPromptsViewer.streamlitComponent(component);\n"
        )
    return script


def _lut(cmap: str) -> str:
    """A matplotlib colormap's 256 RGB entries (768 bytes, the table the server's images use), base64."""
    table = render.apply_colormap(torch.linspace(0.0, 1.0, 256), cmap, 0.0, 1.0)
    return base64.b64encode(table.numpy().tobytes()).decode("ascii")


def playback_fps(data: ClipData) -> float:
    """Sampled frames per second of real time (uniform sampling spreads frames over the whole clip).

    Example:
        >>> from mp_core.synthetic import synthetic_clip
        >>> from mp_core.viz.clip_view import prepare_clip
        >>> clip = synthetic_clip(num_frames=5, height=16, width=16).clip
        >>> playback_fps(prepare_clip(clip, "cpu", "demo")) == clip.fps
        True
    """
    stamps = data.clip.timestamps
    span = stamps[-1] - stamps[0] if len(stamps) >= 2 else 0.0
    return (len(stamps) - 1) / span if span > 0 else float(data.clip.fps)


def _clip_header(data: ClipData, label: str) -> dict[str, Any]:
    frames = data.clip.frames.contiguous().numpy()
    count, height, width, _ = frames.shape
    digest = hashlib.sha256(np.asarray(frames.shape, dtype=np.int64).tobytes() + frames.tobytes())
    histogram = data.histogram
    return {
        "kind": "clip",
        "id": digest.hexdigest()[:24],
        "name": label,
        "width": int(width),
        "height": int(height),
        "frames": int(count),
        "fps": round(playback_fps(data), 4),
        "limit": float(data.limit),
        "histogram": {
            "counts": [int(c) for c in histogram.counts],
            "low": float(histogram.edges[0]),
            "high": float(histogram.edges[-1]),
        },
        "luts": {"difference": _lut(render.DIFFERENCE_CMAP), "attention": _lut(render.ATTENTION_CMAP)},
    }


def clip_payload(data: ClipData, label: str) -> dict[str, Any]:
    """What the viewer needs of a clip, JSON-ready: frames as lossless PNG, colour range, histogram, LUTs.

    PNG keeps a file small (25–85% of the raw frames on natural video); :func:`clip_bytes` sends the same
    clip with nothing to encode or decode.

    Args:
        data: the clip (``frames`` ``(T, H, W, 3)`` uint8 on the host; limit and histogram over the clip).
        label: the clip's name as shown to the user.

    Returns:
        ``{"kind": "clip", "id", "name", "width", "height", "frames", "fps", "limit", "histogram": {"counts",
        "low", "high"}, "luts": {"difference", "attention"}, "png": [base64 per frame]}``; ``id`` hashes the
        frames, so the same sampled clip always gives the same payload.

    Example:
        >>> from mp_core.synthetic import synthetic_clip
        >>> from mp_core.viz.clip_view import prepare_clip
        >>> data = prepare_clip(synthetic_clip(num_frames=3, height=16, width=24).clip, "cpu", "demo")
        >>> payload = clip_payload(data, "demo")
        >>> payload["frames"], payload["height"], payload["width"], len(payload["png"])
        (3, 16, 24, 3)
    """
    frames = data.clip.frames.contiguous().numpy()
    pngs = [base64.b64encode(render.to_png(frame)).decode("ascii") for frame in frames]
    return {**_clip_header(data, label), "png": pngs}


def clip_bytes(data: ClipData, label: str) -> bytes:
    """The clip payload as one binary blob with the frames raw: ``b"MPV1"``, the header's length (uint32,
    little-endian), the header (the JSON of :func:`clip_payload` without ``png``), then the frames'
    RGB bytes, frame after frame (row-major, ``T·H·W·3``).

    For a host that can send bytes (the app): no PNG to encode on the server, no base64 or PNG to decode in
    the browser, and a host hashes bytes much faster than it canonicalises JSON.

    Example:
        >>> from mp_core.synthetic import synthetic_clip
        >>> from mp_core.viz.clip_view import prepare_clip
        >>> data = prepare_clip(synthetic_clip(num_frames=3, height=16, width=24).clip, "cpu", "demo")
        >>> blob = clip_bytes(data, "demo")
        >>> blob[:4], len(blob) - 8 - int.from_bytes(blob[4:8], "little") == 3 * 16 * 24 * 3
        (b'MPV1', True)
    """
    header = json.dumps(_clip_header(data, label), separators=(",", ":")).encode("utf-8")
    frames = data.clip.frames.contiguous().numpy()
    return b"MPV1" + len(header).to_bytes(4, "little") + header + frames.tobytes()


def view_payload(
    clip_id: str,
    params: MotionParams,
    *,
    pair: int = 0,
    overlay: bool = False,
    raw: bool = False,
    ack: dict[str, Any] | None = None,
    ranges: dict[str, tuple[float, float, float]] | None = None,
) -> dict[str, Any]:
    """What to show of the clip ``clip_id``: parameters, frame pair, overlay and control mode.

    ``ack`` names the viewer event the host applied last (``{"viewer", "seq"}``): a viewer ignores values
    older than its own pending changes.

    Example:
        >>> view = view_payload("abc", MotionParams(0.257, 0.053), pair=2)
        >>> view["clip"], view["pair"], round(view["slope"], 2), round(view["shift"], 4)
        ('abc', 2, 23.46, 0.0318)
    """
    return {
        "kind": "view",
        "clip": clip_id,
        "m": params.m,
        "n": params.n,
        "slope": params.slope,
        "shift": params.shift,
        "pair": int(pair),
        "overlay": bool(overlay),
        "raw": bool(raw),
        "ack": ack or {"viewer": "", "seq": 0},
        "ranges": {name: list(values) for name, values in (ranges or VIEWER_RANGES).items()},
    }


def _script_json(value: Any) -> str:
    """JSON that can sit inside a ``<script>`` element: no ``<`` at all, so nothing can close it early."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


def standalone_html(clip: dict[str, Any], view: dict[str, Any], title: str | None = None) -> str:
    """One self-contained HTML page with the viewer of ``clip`` at ``view``: no network request at all.

    Example:
        >>> from mp_core.synthetic import synthetic_clip
        >>> from mp_core.viz.clip_view import prepare_clip
        >>> data = prepare_clip(synthetic_clip(num_frames=3, height=16, width=16).clip, "cpu", "demo")
        >>> clip = clip_payload(data, "demo")
        >>> page = standalone_html(clip, view_payload(clip["id"], MotionParams(0.257, 0.053)))
        >>> page.startswith("<!DOCTYPE html>"), "<title>demo · Video Motion Prompts" in page
        (True, True)
    """
    title = title or f"{clip['name']} · {METHOD}"
    parts = {
        "TITLE": html.escape(title),
        "CLIP_NAME": html.escape(clip["name"]),
        "METHOD": html.escape(METHOD),
        "SUMMARY": html.escape(
            f"{clip['frames']} frames at {clip['width']}×{clip['height']}, "
            f"a = {view['slope']:.2f}, b = {view['shift']:+.3f} (m = {view['m']:.4f}, n = {view['n']:.4f})"
        ),
        "STYLE": asset("viewer.css"),
        "SCRIPT": viewer_script(),
        "CLIP_JSON": _script_json(clip),
        "VIEW_JSON": _script_json(view),
    }
    # One pass over the template: text put in (a clip's name, the JS) is never searched for markers.
    return re.sub(r"<!--([A-Z_]+)-->", lambda match: parts[match.group(1)], asset("standalone.html"))
