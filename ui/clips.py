"""The sidebar's clip: what to decode (a hashable spec), decoding, and where the decoded tensors live.

Several people share one server, each with their own clip. A session keeps its clips in its own store (a
least-recently-used map under a byte budget, freed when the session ends); clips that are identical for
everyone (shipped samples, synthetic clips, which are deterministic in their seed) are also kept in one
shared store, so a second session opening a sample does not decode it again. Stores hand out the same
tensors on every hit (never copies), and nothing in them is mutated. An uploaded video is spooled to a file
in the session's temporary folder, deleted with the session; only its path stays in session state.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import streamlit as st
from torch import Tensor

from mp_core import InputError
from mp_core.files import atomic_target
from mp_core.sampling import Sampling, read_sampled
from mp_core.synthetic import SyntheticClip, synthetic_clip
from mp_core.video import Clip, VideoInfo, distinct_frames, probe
from mp_core.viz.clip_view import ClipData, prepare_clip
from ui.samples import list_samples
from ui.state import State

#: Bytes of decoded clips one session keeps (its current clip is kept even when larger).
SESSION_CLIP_BYTES = 256 * 2**20
#: Bytes of clips shared by every session (samples and synthetic clips).
SHARED_CLIP_BYTES = 256 * 2**20


class UploadedClip(NamedTuple):
    name: str
    digest: str
    path: Path


@dataclass(frozen=True)
class ClipSpec:
    """What to decode and how: hashable, so it keys the stores."""

    kind: str  # "sample" | "upload" | "synthetic"
    ident: str  # sample path | spooled upload path | synthetic options as JSON
    label: str
    sampling: Sampling


class ClipStore:
    """Least-recently-used values under a byte budget; the newest entry is always kept. Thread-safe."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: Any, nbytes: int) -> None:
        with self._lock:
            self._entries[key] = (value, nbytes)
            self._entries.move_to_end(key)
            while len(self._entries) > 1 and self.nbytes > self.budget:
                self._entries.popitem(last=False)

    @property
    def nbytes(self) -> int:
        return sum(size for _, size in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class SessionFiles(NamedTuple):
    """What one session owns on the server: its clips and the folder its uploads are spooled to."""

    clips: ClipStore
    folder: Path


def release_session(files: SessionFiles) -> None:
    """Free a session's tensors and delete its spooled uploads (called by Streamlit when it ends)."""
    files.clips.clear()
    shutil.rmtree(files.folder, ignore_errors=True)


def session_files() -> SessionFiles:
    """This session's store and upload folder; released when the session disconnects or ends.

    Outside a Streamlit run (handlers called with a plain dict in tests or scripts) one process-wide pair.
    """
    if not _in_a_script_run():
        return _process_files()
    return _session_files()


def _in_a_script_run() -> bool:
    """Whether a Streamlit script run (a session) is calling: its runtime's own test, a private module
    (``streamlit.runtime.scriptrunner``); without it, the public ``st.runtime.exists()``."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:  # moved in a later release: a running server is then taken as a session
        return st.runtime.exists()
    return get_script_run_ctx(suppress_warning=True) is not None


def _new_session_files() -> SessionFiles:
    return SessionFiles(ClipStore(SESSION_CLIP_BYTES), Path(tempfile.mkdtemp(prefix="mpe-session-")))


@st.cache_resource(scope="session", on_release=release_session, show_spinner=False)
def _session_files() -> SessionFiles:
    return _new_session_files()


@st.cache_resource(show_spinner=False)
def _process_files() -> SessionFiles:
    return _new_session_files()


@st.cache_resource(show_spinner=False)
def shared_clips() -> ClipStore:
    return ClipStore(SHARED_CLIP_BYTES)


def sampling_of(state: State) -> Sampling:
    """The sidebar's sampling: its "uniform" mode spreads the frames, "stride" takes every stride-th one."""
    return Sampling(
        frames=int(state["mp.frames"]),
        start=float(state["mp.start"]),
        stride=None if state["mp.mode"] == "uniform" else int(state["mp.stride"]),
        max_side=int(state["mp.max_side"]),
    )


def clip_spec(state: State) -> ClipSpec | None:
    """The clip the sidebar asks for, or None when it asks for an upload that has not happened yet."""
    sampling = sampling_of(state)
    source = state["mp.source"]
    samples = list_samples()
    if source == "Sample" and samples:
        names = [s.name for s in samples]
        sample = samples[names.index(state["mp.sample"])] if state["mp.sample"] in names else samples[0]
        return ClipSpec("sample", str(sample.path), sample.title, sampling)
    if source == "Upload":
        upload: UploadedClip | None = state["mp.upload"]
        if upload is None:
            return None
        return ClipSpec("upload", str(upload.path), upload.name, sampling)
    options = {k[len("mp.syn.") :]: state[k] for k in sorted(state.keys()) if str(k).startswith("mp.syn.")}
    label = f"synthetic ({options['objects']} object{'s' * (options['objects'] > 1)}, seed {options['seed']})"
    return ClipSpec("synthetic", json.dumps(options, sort_keys=True), label, sampling)


def decode_clip(spec: ClipSpec) -> Clip:
    """Decode the spec's clip (no caching here: :func:`clip_data` keeps the result).

    A uniform read of a short clip shows it whole (:meth:`Sampling.frame_count`), without repeated frames.
    """
    if spec.kind == "synthetic":
        return _synthetic(spec).clip
    clip = read_sampled(Path(spec.ident), spec.sampling)
    return distinct_frames(clip) if spec.sampling.mode == "uniform" else clip


def _synthetic(spec: ClipSpec) -> SyntheticClip:
    """The synthetic clip of the sidebar's options: ``max_side`` wide, 4:3, deterministic in its seed."""
    key = ("synthetic", spec.ident, spec.sampling)
    made: SyntheticClip | None = shared_clips().get(key)
    if made is None:
        options = json.loads(spec.ident)
        # The sidebar always names a frame count and a size (None is for files: all frames, stored size).
        frames, max_side = spec.sampling.frames or 2, spec.sampling.max_side or 320
        made = synthetic_clip(
            num_frames=frames,
            height=max(16, round(max_side * 0.75) // 2 * 2),
            width=max_side,
            num_objects=int(options["objects"]),
            noise=float(options["noise"]),
            flicker=float(options["flicker"]),
            jitter=float(options.get("jitter", 0.0)),
            seed=int(options["seed"]),
        )
        shared_clips().put(key, made, _nbytes(made.clip.frames, made.pair_mask))
    return made


def motion_mask(spec: ClipSpec) -> Tensor | None:
    """Ground truth of a synthetic clip: moving-object pixels per frame pair (T-1, H, W); else None."""
    return _synthetic(spec).pair_mask if spec.kind == "synthetic" else None


@st.cache_resource(max_entries=64, show_spinner=False)
def probe_clip(kind: str, ident: str) -> VideoInfo:
    """Headers of a sample or spooled upload (small and immutable: shared, never copied)."""
    return probe(Path(ident))


def _nbytes(*tensors: Tensor) -> int:
    return sum(t.element_size() * t.nelement() for t in tensors)


def clip_data(spec: ClipSpec, device: str) -> ClipData:
    """The clip's tensors on ``device`` (never mutated); raises InputError for unusable clips.

    Looked up in this session's store, then (samples, synthetic clips) in the shared one, else decoded.
    """
    key = (spec, device)
    own = session_files().clips
    data: ClipData | None = own.get(key)
    if data is None:
        shared = shared_clips() if spec.kind != "upload" else None
        data = shared.get(key) if shared is not None else None
        if data is None:
            data = prepare_clip(decode_clip(spec), device, spec.label)
            if shared is not None:
                shared.put(key, data, _nbytes(data.clip.frames, data.frames, data.difference))
        own.put(key, data, _nbytes(data.clip.frames, data.frames, data.difference))
    return data


def load_spec(state: State, spec: ClipSpec) -> ClipData:
    return clip_data(spec, state["mp.device"])


def spool_upload(upload: BinaryIO, folder: Path) -> tuple[Path, str]:
    """Copy an upload to a file in ``folder`` named by its SHA-256 (kept suffix); return path and digest.

    The same content spooled before is not written again; a new file appears whole or not at all.
    """
    upload.seek(0)
    digest = hashlib.file_digest(upload, "sha256").hexdigest()
    path = folder / f"{digest}{Path(str(getattr(upload, 'name', ''))).suffix.lower()}"
    if not path.is_file():
        with atomic_target(path) as temporary, temporary.open("wb") as out:
            upload.seek(0)
            shutil.copyfileobj(upload, out, 1 << 20)
    return path, digest


def apply_clip_upload(state: State, upload: BinaryIO, filename: str) -> bool:
    """Spool an uploaded video and validate it by decoding; only a usable one replaces the current clip.

    The session keeps one upload: the previous one's file is deleted when a new one is accepted.
    """
    folder = session_files().folder
    folder.mkdir(parents=True, exist_ok=True)
    path, digest = spool_upload(upload, folder)
    previous: UploadedClip | None = state["mp.upload"]
    try:
        clip_data(ClipSpec("upload", str(path), filename, sampling_of(state)), state["mp.device"])
    except InputError as err:
        state["mp.upload_error"] = f"Could not use {filename}: {err}"
        if previous is None or previous.path != path:
            path.unlink(missing_ok=True)
        return False
    if previous is not None and previous.path != path:
        previous.path.unlink(missing_ok=True)
    state["mp.upload"] = UploadedClip(filename, digest, path)
    state["mp.source"] = "Upload"
    state["mp.upload_error"] = ""
    return True


def on_clip_upload() -> None:
    upload = st.session_state.get("w.upload")
    if upload is not None:
        apply_clip_upload(st.session_state, upload, upload.name)


def _respool_if_released(state: State) -> None:
    """After a dropped connection the session's files are released: spool the uploader's file again."""
    upload: UploadedClip | None = state["mp.upload"]
    if upload is None or upload.path.is_file():
        return
    widget = state.get("w.upload")
    if widget is not None and widget.name == upload.name:
        folder = session_files().folder
        folder.mkdir(parents=True, exist_ok=True)
        path, digest = spool_upload(widget, folder)
        if digest == upload.digest:
            state["mp.upload"] = UploadedClip(upload.name, digest, path)
            return
        path.unlink(missing_ok=True)
    state["mp.upload"] = None
    state["mp.last_good"] = None
    state["mp.clip_error"] = f"{upload.name} was released when the connection dropped: upload it again."


def current_clip(state: State) -> tuple[ClipSpec, ClipData] | None:
    """The requested clip, else the last one that loaded (with the reason in ``mp.clip_error``)."""
    _respool_if_released(state)
    spec = clip_spec(state)
    if spec is not None:
        try:
            data = load_spec(state, spec)
        except InputError as err:
            state["mp.clip_error"] = f"Could not use {spec.label}: {err}"
        else:
            state["mp.clip_error"] = ""
            state["mp.last_good"] = spec
            return spec, data
    last: ClipSpec | None = state["mp.last_good"]
    if last is not None and last != spec:
        try:
            return last, load_spec(state, last)
        except InputError:
            pass
    return None
