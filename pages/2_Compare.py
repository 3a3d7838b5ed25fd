"""Compare: parameter sets side by side, the paper's comparison power normalizations, and the λ sweep."""

from __future__ import annotations

import streamlit as st

from mp_core import PRESETS, MotionParams, lambda_sweep
from mp_core.metrics import AttentionStats, motion_focus
from mp_core.power_norms import COMPARISON_NORMS
from mp_core.viz import clip_view as view
from ui import compare, figures
from ui.clips import ClipSpec, motion_mask
from ui.learn import LEARNED_KEY
from ui.sidebar import clip_page
from ui.state import bind

spec, data, params = clip_page("Compare")
state = st.session_state
if data.num_pairs > 1:
    st.slider("Frame pair t (all columns)", 0, data.num_pairs - 1, **bind("mp.pair", "w.cmp.pair"))
t = state["mp.pair"]
mask = motion_mask(spec)
views = ["Parameter sets", "Power normalizations", "λ sweep"]
# Only the chosen view is computed (tabs would compute all three).
shown = st.segmented_control("View", views, required=True, **bind("mp.cmp.view", "w.cmp.view"))


@st.cache_data(max_entries=64, show_spinner=False)
def whole_clip(
    spec: ClipSpec, device: str, m: float, n: float, _data: view.ClipData
) -> tuple[AttentionStats, float | None]:
    """Statistics and motion focus of the whole clip: they do not change with the scrubber, so keep them."""
    values = MotionParams(m, n)
    mask = motion_mask(spec)
    focus = view.clip_focus(_data, values, mask) if mask is not None else None
    return view.clip_stats(_data, values), focus


@st.cache_data(max_entries=8, show_spinner=False)
def sweep_rows(spec: ClipSpec, device: str, _data: view.ClipData) -> list[dict[str, float]]:
    return compare.sweep_table(_data, lambda_sweep(), motion_mask(spec))


def show_column(label: str, values: MotionParams) -> None:
    attention_image, prompt_image = view.params_images(data, values, t)
    st.image(attention_image, caption=f"Attention · {label}", width="stretch")
    st.image(prompt_image, caption=f"Prompt · {label}", width="stretch")
    stats, focus = whole_clip(spec, state["mp.device"], values.m, values.n, data)
    st.markdown(
        f"a = **{values.slope:.2f}**, b = **{values.shift:+.3f}** (m = {values.m:.4f}, n = {values.n:.4f})"
    )
    left, right = st.columns(2)
    left.metric("Mean attention", f"{stats.mean_attention:.3f}")
    right.metric("R (clip)", f"{stats.variation_mean:.4g}")
    if focus is not None:
        st.metric("Motion focus", f"{focus:+.3f}", help=compare.FOCUS_HELP)


if shown == "Parameter sets":
    count = st.slider("Parameter sets", 2, 4, **bind("mp.cmp.count", "w.cmp.count"))
    curves = {}
    for index, column in enumerate(st.columns(count)):
        with column:
            options = [
                compare.CURRENT,
                *PRESETS,
                *st.session_state.get(LEARNED_KEY, {}),
                compare.FROM_CHECKPOINT,
            ]
            key = f"mp.cmp.choice.{index}"
            st.selectbox(f"Set {index + 1}", options, **bind(key, f"w.cmp.choice.{index}"))
            if state[key] == compare.FROM_CHECKPOINT:
                compare.compare_checkpoint_uploader(index)
            chosen = compare.compare_params(state, index)
            if chosen is None:
                st.info("Upload a checkpoint (.pyth, .pt, .pth, .ckpt, .safetensors or .json).")
                continue
            show_column(*chosen)
            curves[chosen[0]] = chosen[1]
    st.markdown("**The functions together** over the clip's differences")
    st.plotly_chart(figures.pn_curve_figure(curves, data.histogram), key="cmp_curves")

elif shown == "Power normalizations":
    st.caption(
        "The paper's function uses the sign of the change; the earlier power normalizations only its size "
        "|D|. Each row: attention map and prompt for pair t."
    )
    rows = [("Ours", None), *COMPARISON_NORMS.items()]
    for name, norm in rows:
        control, attention_column, prompt_column = st.columns([2, 3, 3], vertical_alignment="center")
        with control:
            if norm is None:
                st.markdown(f"**Ours** · a = {params.slope:.2f}, b = {params.shift:+.3f}")
                st.latex(r"\sigma\big(a\,(D - b)\big)")
                attention = view.pair_attention(data, params, t)
            else:
                st.markdown(f"**{name}**")
                st.latex(norm.formula)
                label = f"{name} {norm.param_name}"  # Gamma and AsinhE both call theirs γ
                st.slider(label, norm.min, norm.max, **bind(f"mp.pn.{name}", f"w.pn.{name}"))
                attention = norm.fn(data.difference[t], float(state[f"mp.pn.{name}"]))
        attention_image, prompt_image = view.attention_and_prompt(data, attention, t)
        attention_column.image(attention_image, caption=f"Attention · {name}", width="stretch")
        prompt_column.image(prompt_image, caption=f"Prompt · {name}", width="stretch")
        if mask is not None:
            focus = motion_focus(attention, mask[t])
            control.metric("Motion focus (pair t)", f"{focus:+.3f}", help=compare.FOCUS_HELP)
    norms = {name: (norm, float(state[f"mp.pn.{name}"])) for name, norm in COMPARISON_NORMS.items()}
    st.plotly_chart(figures.norm_comparison_figure(params, norms, data.histogram), key="norm_curves")

else:
    sweep = lambda_sweep()
    st.caption(
        "Values learned on FineGym with penalty weights λ = 0 … 10 (the paper's ablation), applied to this "
        "clip at pair t."
    )
    for start in range(0, len(sweep), 5):
        for preset, column in zip(sweep[start : start + 5], st.columns(5), strict=False):
            values = preset.params
            image, _ = view.params_images(data, values, t)
            caption = f"λ = {preset.penalty_weight:g} · a = {values.slope:.1f}, b = {values.shift:+.2f}"
            column.image(image, caption=caption, width="stretch")
    st.plotly_chart(figures.lambda_sweep_figure(sweep), key="sweep")
    st.dataframe(sweep_rows(spec, state["mp.device"], data), hide_index=True)
