"""Learned parameters m, n; their slope/shift view; published presets; checkpoint loading (STUB).

Contract:
    MotionParams(m: float, n: float)   frozen dataclass; .slope = 5/(0.45|tanh m|+0.1); .shift = 0.6 tanh n
        MotionParams.from_slope_shift(slope, shift) -> MotionParams (m >= 0); out of range -> ParameterError
        non-finite m or n -> ParameterError
    Preset(name, params, source, dataset, penalty_weight: float | None)
    PRESETS: Mapping[str, Preset]      "FineGym", "HMDB-51", "MPII Cooking 2", "UCF-Crime",
                                       and "FineGym λ=0" ... "FineGym λ=10" (penalty_weight set)
    lambda_sweep() -> list[Preset]     the FineGym sweep, by increasing λ
    load_params(path | bytes | file, name=None) -> MotionParams   (.pyth .pt .pth .ckpt .safetensors .json)
    save_params(path | file, params) -> None                      JSON {"m", "n", "slope", "shift"}
"""
