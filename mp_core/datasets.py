"""Datasets of clips: folders, split lists, HDF5 packs (STUB: owned by the clips issue).

Contract:
    Sample(key: str, label: str, split: str)      key = path relative to the dataset root
    DatasetProblem(file: str, line: int | None, message: str)
    VideoDataset: Sequence[Sample]; .root, .kind ("folder" | "split-lists" | "hdf5"), .samples,
        .problems, .splits, .classes, .read(index_or_sample, **read_clip_kwargs) -> Clip
    open_dataset(path) -> VideoDataset   (lazy: nothing decoded until read)
"""
