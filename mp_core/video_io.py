"""Reading and writing video with PyAV (STUB: owned by the clips issue).

Contract:
    Clip: frozen dataclass; frames uint8 tensor [T,H,W,3] RGB; fps float > 0; timestamps tuple[float,...];
          name str; original_size (height, width); codec str; warnings tuple[str, ...]
          .as_float(device=None, dtype=torch.float32) -> [T,3,H,W] in [0,1]
    read_clip(source, *, max_frames=None, stride=1, start=0.0, max_side=None) -> Clip
        source: str | Path | bytes | binary file object
    read_clip_uniform(source, num_frames, *, start=0.0, end=None, max_side=None) -> Clip
    VideoInfo: duration (s), fps, frame_count, frame_count_exact: bool, width, height, codec, name
    probe(source) -> VideoInfo
    write_video(path_or_file, frames [T,H,W,3] uint8 (tensor or ndarray), fps, *, progress=None) -> None
        progress: Callable[[int, int], None] called with (frames_done, total)
    write_gif(path_or_file, frames, fps) -> None
    side_by_side(panels: Sequence[[T,H,W,3] uint8], *, gap=4) -> [T,H,W_total,3]
"""
