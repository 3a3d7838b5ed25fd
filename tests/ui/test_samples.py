"""The shipped sample clips: present, small, credited and decodable."""

from __future__ import annotations

from pathlib import Path

from mp_core.video_io import probe, read_clip
from ui.samples import list_samples


def test_samples_are_shipped_small_and_credited(repo_root: Path) -> None:
    samples = list_samples()
    assert len(samples) >= 3
    assert samples[0].name == "pen_coin"  # the clip the app opens on
    credits = (repo_root / "assets" / "CLIPS.md").read_text(encoding="utf-8")
    assert sum(s.path.stat().st_size for s in samples) < 5_000_000
    for sample in samples:
        assert sample.path.parent == repo_root / "assets"
        assert f"## {sample.path.name}" in credits
        assert sample.license and sample.credit and sample.title


def test_every_sample_decodes_with_its_probe() -> None:
    for sample in list_samples():
        info = probe(sample.path)
        clip = read_clip(sample.path, max_frames=4, max_side=160)
        assert clip.frames.shape[0] == 4
        assert max(clip.frames.shape[1:3]) == 160
        assert info.codec == "h264" and info.frame_count_exact and info.frame_count >= 16
