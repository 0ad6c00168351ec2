"""Review: a photograph, where the model looked, candidate lesions to decide, missed lesions to draw, the grade."""

import streamlit as st

from db import repository
from db.grading import grade_image
from db.models import Grader, Image
from drcore.errors import BadImage
from drcore.imaging import image_sha256
from drcore.vocabulary import ICDR_LABELS, LESION_LABELS, REFERABLE_DR, UPLOAD_TYPES
from drcore.limits import MAX_NOTE_CHARS
from drcore.models import DEFAULT_MODEL
from drx.records import register_model
from drx.ui import analysis, auth, candidates, resources, storage
from drx.ui.actions import write
from drx.ui.candidate_panel import candidate_panel, markers, my_decisions, register_spots
from drx.ui.drawing_panel import annotation_traces, drawing_panel, my_annotations
from drx.ui.history_panel import history_panel
from drx.ui.overlay import COLORMAPS, overlay_figure
from drx.ui.queue_panel import has_queue, queue_picker
from drx.ui.referral import referral_banner
from drx.ui.review_link import InvalidReviewLink, read_review_target
from drx.ui.text import verbatim

GRADE_FLASH = "grade_saved"
#: Below this output probability the candidates of its map are shown with a warning that the map is weak.
WEAK_MAP_SCORE = 0.5

settings = resources.settings()
sessions = resources.session_factory(settings.database_url)
user = auth.require(sessions)
model_name = st.session_state.get("model_name") or DEFAULT_MODEL
loaded = resources.model(model_name)

st.title("Review")
try:
    target = read_review_target(st.query_params)  # a link from Discovery or Dashboards: one photograph, one spot
except InvalidReviewLink as error:
    st.warning(f"The link's photograph cannot be opened: {error}", icon="⚠️")
    target = None
sources = (["Linked photograph"] if target else []) + (["My queue"] if has_queue(sessions, user) else []) + [
    "Demo images", "Upload"]
source = st.segmented_control("Photograph from", sources, default=sources[0], key="source") or sources[0]
if source in ("My queue", "Linked photograph"):
    with sessions() as session:
        if source == "My queue":
            listed_image = session.get(Image, queue_picker(sessions, user))
        else:
            listed_image = repository.find_image(session, target.image_sha256)
        if listed_image is None:
            st.error("The linked photograph is not in the database (import it first).", icon="🚫")
            st.stop()
        file_name, stored = listed_image.file_name, listed_image.stored_path
    try:
        data = open(stored, "rb").read()
    except (OSError, TypeError) as error:
        st.error(f"The photograph {verbatim(file_name)} cannot be read from {verbatim(str(stored))}: "
                 f"{verbatim(str(error))}", icon="🚫")
        st.stop()
    origin, chosen_path = ("queue" if source == "My queue" else "link"), stored
elif source == "Demo images":
    demos = resources.demo_images(settings.demo_dir)
    chosen_path = st.selectbox("Demo photograph", demos, format_func=lambda path: path.stem, key="demo")
    file_name, data, origin = chosen_path.name, chosen_path.read_bytes(), "demo"
else:
    uploads = st.file_uploader(
        "Fundus photographs (JPEG, PNG or TIFF)", type=list(UPLOAD_TYPES), accept_multiple_files=True, key="uploads"
    )
    if not uploads:
        st.info("Upload one or more fundus photographs, or choose **Demo images** above.")
        st.stop()
    names = [upload.name for upload in uploads]
    chosen = uploads[names.index(st.selectbox("Photograph", names, key="upload_choice"))] if len(uploads) > 1 else uploads[0]
    file_name, data, origin = chosen.name, chosen.getvalue(), "upload"

sha256 = image_sha256(data)
try:
    result = analysis.analyse(sha256, data, model_name)
except BadImage as error:
    st.error(f"**{verbatim(file_name)}** cannot be reviewed. {error}", icon="🚫")
    st.stop()

height, width = result.photograph.shape[:2]
stored_path = storage.keep_upload(settings.upload_dir, sha256, file_name, data) if origin == "upload" else None

figure_column, side_column = st.columns([5, 2], gap="medium")
with side_column:
    candidates_tab, grade_tab, display_tab = st.tabs(["Candidates", "Grade", "Heatmap"])
with display_tab:
    for name, probability in result.probabilities.items():
        st.progress(probability, text=f"{LESION_LABELS[name]}: **{probability:.2f}**")
    outputs = list(result.probabilities)
    linked_output = target.output if source == "Linked photograph" and target.output in outputs else None
    output = st.selectbox("Heatmap of", outputs, format_func=LESION_LABELS.get, key="output",
                          index=outputs.index(linked_output or loaded.card.default_output()))
    opacity = st.slider("Opacity", 0.0, 1.0, 0.55, 0.05, key="opacity")
    colormap = st.selectbox("Colour map", COLORMAPS, key="colormap")
    threshold = st.slider(
        "Show the top share of the map", 0.5, 50.0, 3.0, 0.5, format="%.1f %%", key="top_share",
        help="Only the strongest pixels are coloured; the rest of the photograph stays visible.",
    )
    smoothing = st.slider(
        "Smoothing (px)", 0.0, 20.0, 4.0, 1.0, key="smoothing",
        help="Gaussian blur of the displayed map, in photograph pixels; the stored map stays raw.",
    )
    st.markdown("**Candidate lesions** (hot spots: local maxima of the smoothed map, strongest first)")
    spot_count = st.slider("How many", 1, 30, 10, key="spot_count")
    spot_smoothing = st.slider("Smoothing before peaks (px at 1500 px width)", 0.0, 20.0, 10.0, 1.0,
                               key="spot_smoothing")
    spot_spacing = st.slider("Minimum distance between candidates (px at 1500 px width)", 2.0, 60.0, 10.0, 1.0,
                             key="spot_spacing")

heatmap = analysis.heatmap(sha256, result.prepared, model_name, output)
map_path, map_is_new = storage.store_heatmap(
    settings.heatmap_dir, f"{sha256[:16]}_{loaded.card.sha256[:12]}_{heatmap.method}_{output}", heatmap.values
)
spots = candidates.hot_spots(f"{sha256}_{loaded.card.sha256}_{heatmap.method}_{output}", heatmap.values,
                             candidates.field(sha256, result.photograph), spot_count, spot_smoothing, spot_spacing)
with sessions.begin() as session:
    image_row = repository.register_image(
        session, content_sha256=sha256, file_name=file_name, width=width, height=height,
        size_bytes=len(data), source=origin, stored_path=str(stored_path or chosen_path),
    )
    model_row = register_model(session, loaded)
    if map_is_new:
        repository.record_heatmap_run(
            session, image=image_row, model=model_row, method=heatmap.method, output=output, parameters={},
            device=heatmap.device, duration_s=heatmap.duration_s, storage_path=str(map_path),
        )
    listed = register_spots(session, image_id=image_row.id, model_id=model_row.id, method=heatmap.method,
                            output=output, spots=spots)
    image_id = image_row.id

with candidates_tab:
    score = result.probabilities[output]
    if score < WEAK_MAP_SCORE:
        st.info(f"The model scores this photograph **{score:.2f}** for {LESION_LABELS[output].lower()} (below "
                f"{WEAK_MAP_SCORE}): these candidates are only the strongest spots of a weak map, most likely not "
                "lesions. Reject them, or draw what the model missed.", icon="ℹ️")
    selected = candidate_panel(sessions, user, image_id, listed)

with grade_tab:
    if GRADE_FLASH in st.session_state:
        st.success(st.session_state.pop(GRADE_FLASH))
    with sessions() as session:
        current = repository.current_grade(session, session.get(Image, image_id), session.get(Grader, user.id))
    form_key = f"grade_{sha256[:16]}_{user.id}"  # one form state per photograph and user
    with st.form(form_key):
        grade = st.selectbox("ICDR grade", list(ICDR_LABELS), format_func=ICDR_LABELS.get, key=f"{form_key}_icdr",
                             index=current.icdr_grade if current and current.icdr_grade is not None else 0)
        referable = st.checkbox("Referable DR", value=bool(current and current.referable), key=f"{form_key}_referable")
        ungradable = st.checkbox("Ungradable (image quality too poor)", value=bool(current and current.ungradable),
                                 key=f"{form_key}_ungradable")
        note = st.text_area("Note", value=current.note if current else "", height=90, key=f"{form_key}_note",
                            max_chars=MAX_NOTE_CHARS)
        saved = st.form_submit_button("Save grade", type="primary")
    if saved:
        # Retried on a busy database; a user's own concurrent edit (two tabs) is superseded, never lost.
        if write(sessions, lambda session: grade_image(
            session, user, image_id, icdr_grade=None if ungradable else grade, referable=referable,
            ungradable=ungradable, note=note,
        ), "The grade was not saved:"):
            # Rerun so that the queue's progress and the history include it; the message shows after the rerun.
            st.session_state[GRADE_FLASH] = "Grade saved" + (" (the earlier version is kept in the history)."
                                                             if current else ".")
            st.rerun()
    elif current:
        st.caption(f"Your current grade was saved {current.created_at:%Y-%m-%d %H:%M} UTC.")

with figure_column:
    if REFERABLE_DR in result.probabilities:
        referral_banner(loaded.card, result.probabilities[REFERABLE_DR])
    st.caption(f"{verbatim(file_name)} · {width} × {height} px · heatmap: {heatmap.method} of "
               f"“{LESION_LABELS[output]}”, {heatmap.duration_s:.2f} s on {heatmap.device}")
    figure_slot = st.container()
    if st.toggle("Draw missed lesions", key="drawing_on"):
        drawing_panel(sessions, user, image_id, result.photograph, (selected.x, selected.y) if selected else None)
    figure = overlay_figure(result.photograph, heatmap.values, opacity=opacity, colormap=colormap,
                            scale_title=heatmap.method.replace("_", " "),
                            threshold_quantile=1 - threshold / 100, smoothing_px=smoothing)
    for trace in annotation_traces(my_annotations(sessions, user, image_id)):
        figure.add_trace(trace)
    figure.add_trace(candidates.candidate_trace(markers(listed, my_decisions(sessions, user, image_id)),
                                                selected.rank if selected else None))
    figure.update_layout(showlegend=False)  # names show on hover; a legend would cover the colour bar
    focus = ((selected.x, selected.y) if selected else (target.x, target.y)
             if source == "Linked photograph" and target.x is not None else None)
    if focus:
        x_range, y_range = candidates.zoom_window(*focus, (width, height), max(160, min(width, height) / 4))
        figure.update_xaxes(range=x_range)
        figure.update_yaxes(range=y_range)
    figure_slot.plotly_chart(figure, width="stretch", theme=None, config={"scrollZoom": True, "displaylogo": False},
                             key="overlay")
    with st.expander("History of this photograph", icon=":material/history:"):
        history_panel(sessions, user, image_id)
