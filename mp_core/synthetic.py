"""Synthetic clips with ground-truth motion masks, and motion_focus (STUB: owned by the clips issue).

Contract:
    SyntheticClip(clip: Clip, mask: bool tensor [T,H,W]); .pair_mask -> [T-1,H,W] (mask[t] | mask[t+1])
    synthetic_clip(*, num_frames=16, height=128, width=160, num_objects=1, noise=0.0, flicker=0.0,
                   jitter=0.0, seed=0) -> SyntheticClip
    motion_focus(attention [T-1,H,W] or [H,W], mask same shape) -> float
"""
