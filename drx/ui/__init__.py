"""The Streamlit pieces the pages share: cached resources, login, panels, figures and links between pages.

A panel reads widgets and calls the application layer (:mod:`drx`); the workflows and the logic live there.
May import streamlit, plotly, drcore, db and the application layer; only the pages (views/) and app.py
import it.
"""
