"""drcore: the science, with no Streamlit and no database inside.

Imaging (decode, field of view, the prepared model input and the way back to original pixels), synthetic
photographs, models (registry, checkpoints with cards), heatmap methods, training, data-set readers,
metrics, evaluation, lesion discovery and archive mining. May import numpy, torch and the other science
libraries and itself; never streamlit, SQLAlchemy, db or drx. :mod:`drcore.vocabulary` and
:mod:`drcore.limits` are plain constants that every layer imports.
"""
