"""The app's Streamlit code shared by the pages: session state, sidebar, cached clip loading, panels, figures.

Computation lives in :mod:`mp_core`; these modules only hold widgets, layout, caches and session state.
"""
