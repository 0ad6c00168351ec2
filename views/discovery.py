"""Discovery: gather the hot spots of an image set, see which look alike, name the groups.

A session is started here (or by ``drx discover --store``) and reopened at any time; naming, merging,
splitting and marking patches are stored append-only (who: the logged-in account; when) through
drx.discovery_sessions.
"""

import json

import streamlit as st

from drcore.errors import DrxError
from drcore.vocabulary import LESION_LABELS, LESION_TYPES
from drx import discovery_sessions
from drx.dashboards import grade_labels
from drx.ui import auth, resources
from drx.ui.discovery_groups import gallery, group_forms
from drx.ui.discovery_map import COLOUR_BY, group_table, map_figure, map_points
from drx.ui.discovery_start import start_form
from drx.ui.gallery import discovery_run
from drx.ui.image_list import selected_points
from drx.ui.text import verbatim

settings = resources.settings()
sessions = resources.session_factory(settings.database_url)
researcher = auth.require(sessions).name

st.title("Discovery")
stored = discovery_sessions.list_sessions(sessions)
with st.expander("Start a session", expanded=not stored):
    new_id = start_form(sessions, settings.home, researcher)
    if new_id is not None:
        st.session_state["disc_session"] = new_id
        st.rerun()
if not stored:
    st.info("No discovery session yet: start one above, or run `drx discover ... --store`.")
    st.stop()

labels = {summary.id: summary.label for summary in stored}
session_id = st.selectbox("Session", list(labels), format_func=labels.get, key="disc_session")
state = discovery_sessions.reopen_session(sessions, session_id)
try:
    result = discovery_run(state.session.run_folder)
except (DrxError, OSError) as error:
    st.error(f"The run folder of this session cannot be read ({verbatim(state.session.run_folder)}): "
             f"{verbatim(str(error))}", icon=":material/block:")
    st.stop()
colour_by = st.session_state.get("disc_colour") or "group"
by_grade = grade_labels(sessions, {spot.image_path for spot in state.hot_spots.values() if spot.image_path}) \
    if colour_by == "grade" else None
points = map_points(state, result.hot_spots.spots, result.hot_spots.images, by_grade)
with st.expander("Parameters and history"):
    st.json(json.loads(state.session.parameters_json), expanded=False)
    st.dataframe([{"when": event.created_at, "who": event.researcher, "what": event.kind,
                   "details": event.details_json} for event in state.events], hide_index=True, width="stretch",
                 key="disc_events")

st.dataframe(group_table(state), hide_index=True, width="stretch", key="disc_groups",
             column_config={column: st.column_config.NumberColumn(format="%.2f") for column in
                            ["AUC (referable)", "on planted rings"] + [f"in {LESION_LABELS[n]}" for n in LESION_TYPES]})

map_column, action_column = st.columns([3, 2], gap="medium")
with map_column:
    st.segmented_control("Colour by", list(COLOUR_BY), format_func=COLOUR_BY.get, default="group",
                         key="disc_colour")
    event = st.plotly_chart(map_figure(points, colour_by), on_select="rerun", selection_mode=("points", "box", "lasso"),
                            key="disc_map", config={"displaylogo": False})
    # a selection made on another session's map names spots this session may not have
    selected = sorted({int(point["customdata"][0]) for point in selected_points(event) if point.get("customdata")}
                      & set(state.hot_spots))
    st.caption(f"{len(points)} hot spots · {len(state.groups)} groups · "
               + (f"**{len(selected)} selected** (gallery below)" if selected else
                  "lasso or click points to see their patches; crosses are patches marked out"))
with action_column:
    group_forms(sessions, result, state, session_id, selected, researcher)
gallery(sessions, result, state, session_id, points, selected, researcher)
