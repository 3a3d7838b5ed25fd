"""Pictures of the method's tensors: colour-mapped differences and attention, overlays, PNG, panel strips.

Needs matplotlib (colormaps) and Pillow (PNG): ``pip install "motion-prompt-explorer[viz]"``. The rest of
``mp_core`` does not import this package.
"""
