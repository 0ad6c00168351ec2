"""Review: a photograph, where the model looked, and the grader's grade."""

import streamlit as st

from db import repository
from db.models import Image
from db.session import run_in_transaction
from drcore.errors import BadImage
from drcore.imaging import image_sha256
from drcore.lesions import LESION_LABELS
from drcore.models import DEFAULT_MODEL
from drx.records import register_model
from drx.ui import analysis, resources, storage
from drx.ui.overlay import COLORMAPS, overlay_figure

ICDR_GRADES = {
    0: "0 · No apparent retinopathy",
    1: "1 · Mild non-proliferative DR",
    2: "2 · Moderate non-proliferative DR",
    3: "3 · Severe non-proliferative DR",
    4: "4 · Proliferative DR",
}
UPLOAD_TYPES = ["jpg", "jpeg", "png", "tif", "tiff"]

settings = resources.settings()
sessions = resources.session_factory(settings.database_url)
model_name = st.session_state.get("model_name") or DEFAULT_MODEL
loaded = resources.model(model_name)

st.title("Review")
source = st.segmented_control("Photograph from", ["Demo images", "Upload"], default="Demo images", key="source")
if source == "Demo images":
    demos = resources.demo_images(settings.demo_dir)
    chosen_path = st.selectbox("Demo photograph", demos, format_func=lambda path: path.stem, key="demo")
    file_name, data, origin = chosen_path.name, chosen_path.read_bytes(), "demo"
else:
    uploads = st.file_uploader(
        "Fundus photographs (JPEG, PNG or TIFF)", type=UPLOAD_TYPES, accept_multiple_files=True, key="uploads"
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
    st.error(f"**{file_name}** cannot be reviewed. {error}", icon="🚫")
    st.stop()

height, width = result.photograph.shape[:2]
stored_path = storage.keep_upload(settings.upload_dir, sha256, file_name, data) if origin == "upload" else None

figure_column, side_column = st.columns([5, 2], gap="medium")
with side_column:
    st.subheader("Model scores")
    for name, probability in result.probabilities.items():
        st.progress(probability, text=f"{LESION_LABELS[name]}: **{probability:.2f}**")
    output = st.selectbox("Heatmap of", list(result.probabilities), format_func=LESION_LABELS.get, key="output")
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

heatmap = analysis.heatmap(sha256, result.prepared, model_name, output)
map_path, map_is_new = storage.store_heatmap(
    settings.heatmap_dir, f"{sha256[:16]}_{loaded.card.sha256[:12]}_{heatmap.method}_{output}", heatmap.values
)
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
    image_id = image_row.id

with figure_column:
    st.caption(f"{file_name} · {width} × {height} px · heatmap: {heatmap.method} of “{LESION_LABELS[output]}”, "
               f"{heatmap.duration_s:.2f} s on {heatmap.device}")
    st.plotly_chart(
        overlay_figure(result.photograph, heatmap.values, opacity=opacity, colormap=colormap,
                       threshold_quantile=1 - threshold / 100, smoothing_px=smoothing),
        width="stretch", theme=None, config={"scrollZoom": True, "displaylogo": False}, key="overlay",
    )

with side_column:
    st.subheader("Your grade")
    grader_name = (st.session_state.get("grader") or "").strip()
    with sessions() as session:
        image_row = session.get(Image, image_id)
        grader = repository.find_grader(session, grader_name) if grader_name else None
        current = repository.current_grade(session, image_row, grader) if grader else None
        versions = len(repository.grade_history(session, image_row, grader)) if grader else 0
    form_key = f"grade_{sha256[:16]}_{grader_name}"  # one form state per photograph and grader
    with st.form(form_key):
        grade = st.selectbox("ICDR grade", list(ICDR_GRADES), format_func=ICDR_GRADES.get, key=f"{form_key}_icdr",
                             index=current.icdr_grade if current and current.icdr_grade is not None else 0)
        referable = st.checkbox("Referable DR", value=bool(current and current.referable), key=f"{form_key}_referable")
        ungradable = st.checkbox("Ungradable (image quality too poor)", value=bool(current and current.ungradable),
                                 key=f"{form_key}_ungradable")
        note = st.text_area("Note", value=current.note if current else "", height=90, key=f"{form_key}_note")
        saved = st.form_submit_button("Save grade", type="primary", disabled=not grader_name)
    if not grader_name:
        st.caption("Enter your name in the sidebar to save a grade.")
    elif saved:
        # Retried on a busy database; a grader's own concurrent edit (two tabs) is superseded, never lost.
        supersedes = run_in_transaction(sessions, lambda session: repository.save_grade(
            session, image=session.get(Image, image_id),
            grader=repository.get_or_create_grader(session, grader_name),
            icdr_grade=None if ungradable else grade, referable=referable, ungradable=ungradable, note=note,
        ).supersedes_id)
        st.success("Grade saved" + (" (the earlier version is kept in the history)." if supersedes else "."))
    elif current:
        st.caption(f"Your current grade is version {versions} (saved {current.created_at:%Y-%m-%d %H:%M} UTC).")
