"""The paper's comparison power normalizations, applied to |D| (STUB: owned by the mp_core issue).

Contract: gamma_norm(diff, gamma), maxexp_norm(diff, eta), sigme_norm(diff, eta), asinhe_norm(diff, gamma),
each (*) -> (*) taking the signed difference and using |diff|; COMPARISON_NORMS: Mapping[str, NormSpec]
with NormSpec(name, fn, param_name, default, min, max, formula) for "Gamma", "MaxExp", "SigmE", "AsinhE".
"""
