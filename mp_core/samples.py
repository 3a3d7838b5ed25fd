"""The sample clips shipped in assets/ (STUB: owned by the clips issue).

Contract:
    SampleClip(name, path: Path, title, description, license, credit)
    list_samples() -> list[SampleClip]; default_sample() -> SampleClip
"""
