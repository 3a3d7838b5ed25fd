"""MotionPromptLayer: the drop-in nn.Module for training code (STUB: owned by the mp_core issue).

Contract:
    MotionPromptLayer(penalty_weight=0.0, layout="BCTHW", color_order="BGR", mean=0.45, std=0.225)
        parameters m, n: nn.Parameter shape [1], init N(0, 1)
        prompts, reg = layer(video)   prompts in the same layout/normalisation with T-1 frames;
                                      reg = penalty_weight * R, 0-dim tensor
        .params -> MotionParams (detached values, a host sync: not for forward)
"""
