"""The method's steps as pure functions on tensors (STUB: owned by the mp_core issue).

Contract (keep these names and shapes):
    rgb_to_gray(frames)                       (*, 3, H, W) -> (*, H, W)   0.299 R + 0.587 G + 0.114 B
    frame_difference(gray)                    (*, T, H, W) -> (*, T-1, H, W)   D_t = G_{t+1} - G_t
    power_normalization(diff, slope, shift)   (*) -> (*)   sigmoid(slope * (diff - shift))
    motion_prompt(attention, frames)          (*, T-1, H, W), (*, T, C, H, W) -> (*, T-1, C, H, W)
                                              P_t = A_t * X_{t+1} (every channel)
    attention_variation(attention)            (*, T-1, H, W) -> (*, T-2)   ||A_{t+1}-A_t||^2 / (H*W)
    temporal_attention_variation(attention)   (*, T-1, H, W) -> ()   R = mean of the above
    motion_intermediates(frames, params)      frames (T,3,H,W) or (B,T,3,H,W) RGB in [0,1]
                                              -> MotionIntermediates(gray, difference, attention,
                                                 prompts, variation, variation_mean)
slope/shift accept Python floats or 0-dim/broadcastable tensors.
"""
