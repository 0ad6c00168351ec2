"""The Discovery page's group tools: name, merge and split groups, and the gallery of patches with In/Out marks."""

from collections.abc import Sequence

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from db.discovery_repository import SessionState
from db.errors import DbError
from drcore.discovery import DiscoveryResult
from drcore.errors import DrxError
from drx import discovery_sessions
from drx.ui.discovery_map import group_label
from drx.ui.gallery import gallery_order, patches, review_target
from drx.ui.review_link import open_in_review
from drx.ui.text import verbatim

GALLERY_COLUMNS = 4


def _refused(error: Exception) -> None:
    st.error(verbatim(str(error)), icon=":material/block:")


def group_forms(sessions: sessionmaker[Session], result: DiscoveryResult, state: SessionState, session_id: int,
                selected: Sequence[int], researcher: str) -> None:
    """Forms that name a group, merge groups and split one (in two by k-means, or into the selected points and
    the rest); each change reruns the page."""
    groups = {group.id: group for group in state.groups}
    group_names = {group.id: group_label(group) for group in state.groups}
    st.subheader("Groups")
    with st.form("disc_rename", border=True):
        rename_id = st.selectbox("Group", list(group_names), format_func=group_names.get, key="disc_rename_group")
        new_name = st.text_input("Name", key="disc_new_name", placeholder="e.g. vessel crossings")
        if st.form_submit_button("Name the group"):
            try:
                discovery_sessions.rename_group(sessions, session_id, rename_id, new_name, researcher)
                st.rerun()
            except DbError as error:
                _refused(error)
    with st.form("disc_merge", border=True):
        merge_ids = st.multiselect("Merge groups", list(group_names), format_func=group_names.get,
                                   key="disc_merge_groups")
        merged_name = st.text_input("Name of the merged group (optional)", key="disc_merged_name")
        if st.form_submit_button("Merge"):
            try:
                discovery_sessions.merge_groups(sessions, result, session_id, merge_ids, researcher,
                                                name=merged_name.strip() or None)
                st.rerun()
            except (DbError, DrxError) as error:
                _refused(error)
    with st.form("disc_split", border=True):
        split_id = st.selectbox("Split group", list(group_names), format_func=group_names.get, key="disc_split_group")
        chosen_part = [spot for spot in selected if spot in set(groups[split_id].members)]
        how_split = st.radio("Into", ["two, by k-means", "the points selected on the map and the rest"],
                             key="disc_split_how", horizontal=True)
        if st.form_submit_button("Split"):
            parts = None
            if how_split.startswith("the points"):
                rest = [spot for spot in groups[split_id].members if spot not in set(chosen_part)]
                parts = [chosen_part, rest]
            try:
                discovery_sessions.split_group(sessions, result, session_id, split_id, researcher, parts=parts)
                st.rerun()
            except (DbError, DrxError) as error:
                _refused(error)


def gallery(sessions: sessionmaker[Session], result: DiscoveryResult, state: SessionState, session_id: int,
            points: pd.DataFrame, selected: Sequence[int], researcher: str) -> None:
    """Patches of the spots selected on the map (else of one group: its medoid, then the strongest), each with
    In / Out marks and a button that opens it on the Review page."""
    st.subheader("Gallery")
    groups = {group.id: group for group in state.groups}
    group_names = {group.id: group_label(group) for group in state.groups}
    if selected:
        shown, title = list(selected), f"{len(selected)} hot spots selected on the map"
    else:
        gallery_id = st.selectbox("Group", list(group_names), format_func=group_names.get, key="disc_gallery_group")
        group = groups[gallery_id]
        strength = result.hot_spots.spots.set_index("spot")["strength"]
        shown, title = gallery_order(group.members, group.statistics, strength), group_names[gallery_id]
    limit = st.slider("Patches shown", 6, 120, 24, 6, key="disc_patch_limit")
    st.caption(f"{verbatim(title)}: " + ("by spot number" if selected else "the medoid first, then the strongest")
               + ". Each patch is centred on its hot spot; the cyan line is the heatmap region at half the spot's "
               "strength.")
    thumbnails = patches(state.session.run_folder, tuple(shown[:limit]))
    by_spot = points.set_index("spot")
    run_output = result.hot_spots.parameters["parameters"]["output"]
    for start_index in range(0, min(limit, len(shown)), GALLERY_COLUMNS):
        for column, spot in zip(st.columns(GALLERY_COLUMNS), shown[start_index:start_index + GALLERY_COLUMNS]):
            point = by_spot.loc[spot]
            with column:
                st.image(thumbnails[spot], width="stretch",
                         caption=f"#{spot} · {point['group'].split(' ')[0]} · {point['lesion']}"
                                 + (f" · marked {point['mark']}" if point["mark"] else ""))
                buttons = st.columns(3)
                for button, mark, label in ((buttons[0], "in", "In"), (buttons[1], "out", "Out")):
                    if button.button(label, key=f"disc_{mark}_{spot}", width="stretch"):
                        discovery_sessions.mark_patch(sessions, session_id, spot,
                                                      "clear" if point["mark"] == mark else mark, researcher)
                        st.rerun()
                if buttons[2].button("Open", key=f"disc_review_{spot}", help="Open on the Review page at this spot",
                                     disabled=point["image_path"] is None, width="stretch"):
                    try:
                        target = review_target(sessions, point["image_path"], point["row"], point["col"], run_output)
                    except OSError as error:
                        st.error(f"The photograph cannot be read: {verbatim(str(error))}", icon=":material/block:")
                    else:
                        open_in_review(target)
