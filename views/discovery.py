"""Discovery: gather the hot spots of an image set, see which look alike, name the groups.

A session is started here (or by ``drx discover --store``) and reopened at any time; naming, merging,
splitting and marking patches are stored append-only (who: the logged-in account; when) through
drx.discovery_sessions.
"""

import json

import streamlit as st

from db import discovery_repository
from db.errors import DbError
from drcore.datasets import DATASETS
from drcore.device import default_device
from drcore.discovery import ExtractionParameters, GroupingParameters, image_set
from drcore.errors import DrxError
from drcore.heatmaps import DEFAULT_METHOD, METHODS
from drcore.vocabulary import LESION_LABELS, LESION_TYPES, OUTPUTS
from drcore.models import DEFAULT_MODEL, bundled_models, load_model
from drx import discovery_sessions
from drx.ui import auth, resources
from drx.ui.dashboard_data import file_sha256, grade_records
from drx.ui.discovery_map import COLOUR_BY, group_label, group_table, map_figure, map_points
from drx.ui.discovery_start import discover_with_progress, run_folder
from drx.ui.gallery import discovery_run, gallery_order, patches, review_target
from drx.ui.grader_statistics import grades_by_image, icdr_label
from drx.ui.image_list import selected_points
from drx.ui.review_link import open_in_review
from drx.ui.text import verbatim

GALLERY_COLUMNS = 4
settings = resources.settings()
sessions = resources.session_factory(settings.database_url)
researcher = auth.require(sessions).name

st.title("Discovery")
with sessions() as session:
    stored = [(row.id, row.name, row.researcher, row.created_at, row.model_name)
              for row in discovery_repository.discovery_sessions(session)]
labels = {sid: f"#{sid} · {name} · {who} · {when:%Y-%m-%d %H:%M} · {model}" for sid, name, who, when, model in stored}

with st.expander("Start a session", expanded=not stored):
    with st.form("disc_start"):
        top = st.columns([2, 1, 1])
        name = top[0].text_input("Session name", key="disc_name", placeholder="e.g. DiaretDB1 test, any lesion")
        kind = top[1].selectbox("Image set", ["data set", "synthetic", "folder"], key="disc_kind")
        models = list(bundled_models())
        model_name = top[2].selectbox("Model", models, key="disc_model",
                                      index=models.index(st.session_state.get("model_name") or DEFAULT_MODEL))
        source = st.columns(3)
        dataset = source[0].selectbox("Data set", sorted(DATASETS), key="disc_dataset")
        split = source[1].selectbox("Split", ["all", "train", "test"], key="disc_split")
        folder_text = source[2].text_input("Folder or photographs (one per line)", key="disc_folder")
        synthetic = st.columns(3)
        count = synthetic[0].number_input("Synthetic photographs", 10, 2000, 100, key="disc_count")
        first_seed = synthetic[1].number_input("First seed", 0, 10**9, 20_000_000, key="disc_seed0")
        rings = synthetic[2].slider("Share with planted rings", 0.0, 1.0, 0.3, key="disc_rings")
        how = st.columns(4)
        method = how[0].selectbox("Heatmap method", sorted(METHODS), index=sorted(METHODS).index(DEFAULT_METHOD),
                                  key="disc_method")
        output = how[1].selectbox("Output", list(OUTPUTS),
                                  format_func=LESION_LABELS.get, key="disc_output")
        max_spots = how[2].number_input("Hot spots per image", 1, 100, ExtractionParameters.max_spots,
                                        key="disc_max_spots")
        smoothing = how[3].number_input("Smoothing sigma (px)", 0.0, 20.0, ExtractionParameters.smoothing_sigma,
                                        key="disc_smoothing")
        grouping_row = st.columns(4)
        clustering = grouping_row[0].selectbox("Grouping", ["kmeans", "hdbscan"], key="disc_clustering")
        k_min, k_max = grouping_row[1].slider("k-means groups (silhouette picks)", 2, 30, (2, 12), key="disc_k")
        seed = grouping_row[2].number_input("Seed", 0, 10**6, 0, key="disc_grouping_seed")
        resamples = grouping_row[3].number_input("Bootstrap resamples", 100, 5000, 1000, key="disc_resamples")
        start = st.form_submit_button("Start", type="primary")
    if start:
        spec = {"data set": {"kind": "dataset", "name": dataset, "split": split},
                "synthetic": {"kind": "synthetic", "start": int(first_seed), "count": int(count),
                              "ring_probability": float(rings)},
                "folder": {"kind": "folder", "paths": [line.strip() for line in folder_text.splitlines()
                                                       if line.strip()]}}[kind]
        try:
            images = image_set(spec)
            if not images:
                raise DrxError("the image set is empty")
            loaded = load_model(model_name)  # its own copy: the run hooks a layer, the shared one stays untouched
            loaded.model.to(default_device()).eval()
            result = discover_with_progress(
                images, loaded, run_folder(settings.home, name or kind),
                ExtractionParameters(output=output, method=method, max_spots=int(max_spots),
                                     smoothing_sigma=float(smoothing)),
                GroupingParameters(method=clustering, k_min=k_min, k_max=k_max, seed=int(seed),
                                   n_resamples=int(resamples)),
                spec)
            new_id = discovery_sessions.record_session(sessions, result, name=name or kind, researcher=researcher)
        except (DrxError, DbError, OSError) as error:
            st.error(f"The session could not be started: {verbatim(str(error))}", icon="🚫")
        else:
            st.session_state["disc_session"] = new_id
            st.rerun()

if not stored:
    st.info("No discovery session yet: start one above, or run `drx discover ... --store`.")
    st.stop()

session_id = st.selectbox("Session", list(labels), format_func=labels.get, key="disc_session")
state = discovery_sessions.reopen_session(sessions, session_id)
try:
    result = discovery_run(state.session.run_folder)
except (DrxError, OSError) as error:
    st.error(f"The run folder of this session cannot be read ({verbatim(state.session.run_folder)}): "
             f"{verbatim(str(error))}", icon="🚫")
    st.stop()
run_output = result.hot_spots.parameters["parameters"]["output"]
colour_by = st.session_state.get("disc_colour") or "group"
grade_labels = None
if colour_by == "grade":
    with sessions() as session:
        by_image = grades_by_image(grade_records(session))
    paths = {hot_spot.image_path for hot_spot in state.hot_spots.values() if hot_spot.image_path}
    grade_labels = {path: icdr_label(by_image.get(file_sha256(path), [])) for path in paths}
points = map_points(state, result.hot_spots.spots, result.hot_spots.images, grade_labels)
groups = {group.id: group for group in state.groups}
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
                st.error(verbatim(str(error)), icon="🚫")
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
                st.error(verbatim(str(error)), icon="🚫")
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
                st.error(verbatim(str(error)), icon="🚫")

st.subheader("Gallery")
if selected:
    shown, title = selected, f"{len(selected)} hot spots selected on the map"
else:
    gallery_id = st.selectbox("Group", list(group_names), format_func=group_names.get, key="disc_gallery_group")
    group = groups[gallery_id]
    strength = result.hot_spots.spots.set_index("spot")["strength"]
    shown, title = gallery_order(group.members, group.statistics, strength), group_names[gallery_id]
limit = st.slider("Patches shown", 6, 120, 24, 6, key="disc_patch_limit")
st.caption(f"{verbatim(title)}: " + ("by spot number" if selected else "the medoid first, then the strongest")
           + ". Each patch is centred on its hot spot; the cyan line is the heatmap region at half the spot's strength.")
thumbnails = patches(state.session.run_folder, tuple(shown[:limit]))
by_spot = points.set_index("spot")
for start_index in range(0, min(limit, len(shown)), GALLERY_COLUMNS):
    columns = st.columns(GALLERY_COLUMNS)
    for column, spot in zip(columns, shown[start_index:start_index + GALLERY_COLUMNS]):
        point = by_spot.loc[spot]
        with column:
            st.image(thumbnails[spot], width="stretch",
                     caption=f"#{spot} · {point['group'].split(' ')[0]} · {point['lesion']}"
                             + (f" · marked {point['mark']}" if point["mark"] else ""))
            buttons = st.columns(3)
            if buttons[0].button("In", key=f"disc_in_{spot}",
                                 width="stretch"):
                discovery_sessions.mark_patch(sessions, session_id, spot, "clear" if point["mark"] == "in" else "in",
                                              researcher)
                st.rerun()
            if buttons[1].button("Out", key=f"disc_out_{spot}",
                                 width="stretch"):
                discovery_sessions.mark_patch(sessions, session_id, spot,
                                              "clear" if point["mark"] == "out" else "out", researcher)
                st.rerun()
            if buttons[2].button("Open", key=f"disc_review_{spot}", help="Open on the Review page at this spot",
                                 disabled=point["image_path"] is None, width="stretch"):
                try:
                    target = review_target(sessions, point["image_path"], point["row"], point["col"], run_output)
                except OSError as error:
                    st.error(f"The photograph cannot be read: {verbatim(str(error))}", icon="🚫")
                else:
                    open_in_review(target)
