"""Export: the current corrections as one ZIP (COCO JSON, PNG masks per lesion type, CSV of grades and decisions)."""

import streamlit as st

from drx.corrections_export import ExportFilter, export_choices, export_zip
from drx.ui import auth, resources

sessions = resources.session_factory(resources.settings().database_url)
auth.require(sessions, "reviewer")

st.title("Export corrections")
st.caption("The current version of every correction (deleted lesions left out), as `drx export` writes it: "
           "`coco.json` (polygons in original photograph pixels), `masks/…/<lesion type>.png`, `grades.csv`, "
           "`decisions.csv`.")
choices = export_choices(sessions)
with st.form("export"):
    chosen_graders = st.multiselect("Graders (none: all)", choices.graders, key="export_graders")
    chosen_datasets = st.multiselect("Data sets (none: all)", choices.datasets, key="export_datasets")
    since_column, until_column = st.columns(2)
    since = since_column.date_input("Changed on or after (UTC)", value=None, key="export_since")
    until = until_column.date_input("Changed on or before (UTC)", value=None, key="export_until")
    prepared = st.form_submit_button("Prepare the export", type="primary")
if prepared:
    data, summary = export_zip(sessions, ExportFilter.for_days(chosen_graders, chosen_datasets, since, until))
    st.session_state["export_zip"] = data
    st.session_state["export_summary"] = (f"{summary.images} photographs · {summary.annotations} drawn lesions · "
                                          f"{summary.masks} masks · {summary.grades} grades · "
                                          f"{summary.decisions} decisions")
if "export_zip" in st.session_state:
    st.success(st.session_state["export_summary"])
    st.download_button("Download drx-export.zip", st.session_state["export_zip"], file_name="drx-export.zip",
                       mime="application/zip", type="primary", key="export_download", icon=":material/download:")
