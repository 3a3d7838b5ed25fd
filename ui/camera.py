"""The camera's server side: a recording made in the viewer becomes the session's clip.

The camera itself runs in the browser (``mp_core/viz/viewer/camera.js``): its frames never reach the server.
Only a recording the user asks for (MediaRecorder WebM, VP8 or VP9) is sent, base64 in the viewer's
``recording`` trigger event, and handed to the upload path (:func:`ui.clips.apply_clip_upload`): spooled to
the session's folder, decoded with PyAV, deleted with the session or when the next upload replaces it.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import Any

from ui.clips import apply_clip_upload
from ui.state import State

#: The largest recording accepted. The viewer stops recording after 10 s at 2 Mbit/s (about 2.5 MB); the
#: bound leaves room for a camera that ignores the bitrate asked for, and keeps one session's spooled file
#: and its base64 message (4/3 of it, held in memory while the event is applied) small on a shared server.
MAX_RECORDING_BYTES = 16 * 2**20
_NAME = re.compile(r"camera-[0-9]{8}-[0-9]{6}\.webm")
_WEBM_MAGIC = b"\x1a\x45\xdf\xa3"  # EBML, the start of every WebM/Matroska file


def apply_recording(state: State, payload: Any) -> bool:
    """Make a viewer's recording event ``{"value": {"name", "data" (base64 WebM), ...}, ...}`` the clip.

    False, with the reason in ``mp.upload_error``, when it is malformed, too large, not WebM or does not
    decode; the current clip then stays.
    """
    value = payload.get("value") if isinstance(payload, dict) else None
    data = value.get("data") if isinstance(value, dict) else None
    if not isinstance(data, str):
        state["mp.upload_error"] = "The camera's recording did not arrive: record again."
        return False
    if len(data) > (MAX_RECORDING_BYTES * 4) // 3 + 4:
        state["mp.upload_error"] = (
            f"The recording is over {MAX_RECORDING_BYTES // 2**20} MiB: record fewer seconds."
        )
        return False
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        state["mp.upload_error"] = "The camera's recording arrived damaged: record again."
        return False
    if len(raw) > MAX_RECORDING_BYTES:
        state["mp.upload_error"] = (
            f"The recording is over {MAX_RECORDING_BYTES // 2**20} MiB: record fewer seconds."
        )
        return False
    if not raw.startswith(_WEBM_MAGIC):
        state["mp.upload_error"] = "The camera's recording is not a WebM video: record again."
        return False
    name = str(value.get("name", ""))
    name = name if _NAME.fullmatch(name) else "camera.webm"
    upload = io.BytesIO(raw)
    upload.name = name  # spool_upload keeps the suffix: PyAV then reads it as WebM
    return apply_clip_upload(state, upload, name)


def on_recording(state: State, result: dict[str, Any] | None) -> None:
    """The viewer component's ``recording`` callback (``result``: the component's value).

    The event is acknowledged (``mp.viewer_ack``) whether or not the recording was usable, so the viewer
    takes the server's values again at once.
    """
    payload = (result or {}).get("recording")
    apply_recording(state, payload)
    if isinstance(payload, dict) and isinstance(payload.get("seq"), int):
        state["mp.viewer_ack"] = {"viewer": str(payload.get("viewer", "")), "seq": payload["seq"]}
