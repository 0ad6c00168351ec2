"""Glue shared by the Streamlit pages: cached resources and figures. No science here."""
