"""The Review page's own panels: where the photograph comes from, the heatmap's display settings, the grade form."""

from dataclasses import dataclass
from typing import Optional

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from db.accounts import User
from db.settings import Settings
from drcore.limits import MAX_NOTE_CHARS
from drcore.vocabulary import ICDR_GRADES, ICDR_LABELS, LESION_LABELS, UPLOAD_TYPES
from drx import grading, review
from drx.grading import GradeChoice
from drx.review import Photograph, PhotographUnavailable
from drx.ui import resources
from drx.ui.actions import attempt
from drx.ui.overlay import COLORMAPS, COLOUR, HEATMAP_MODES, OVERLAY, VIEWS
from drx.ui.queue_panel import queue_picker
from drx.ui.review_keys import MODE_KEY, next_photograph_key
from drx.ui.review_link import ReviewTarget
from drx.ui.text import verbatim
from drx.work_queue import has_queue

LINKED, QUEUE, DEMO, UPLOAD = "Linked photograph", "My queue", "Demo images", "Upload"
GRADE_FLASH = "grade_saved"
UNGRADABLE = "ungradable"
#: The grade form's choices: the ICDR grades, then Ungradable (which has no ICDR grade).
GRADE_OPTIONS: list[object] = [*ICDR_GRADES, UNGRADABLE]
GRADE_LABELS: dict[object, str] = {**ICDR_LABELS, UNGRADABLE: "Ungradable (image quality too poor)"}


def choose_photograph(sessions: sessionmaker[Session], user: User, settings: Settings,
                      target: Optional[ReviewTarget]) -> tuple[str, Photograph]:
    """The source chosen (a link, the user's queue, the demo images or uploads) and its photograph; stops the
    page with a message when there is none."""
    sources = [LINKED] * bool(target) + [QUEUE] * has_queue(sessions, user) + [DEMO, UPLOAD]
    source = st.segmented_control("Photograph from", sources, default=sources[0], key="source") or sources[0]
    if source in (QUEUE, LINKED):
        try:
            if source == QUEUE:
                return source, review.stored_photograph(sessions, image_id=queue_picker(sessions, user), origin="queue")
            return source, review.stored_photograph(sessions, sha256=target.image_sha256, origin="link")
        except PhotographUnavailable as error:
            st.error(f"This photograph cannot be opened: {verbatim(str(error))}.", icon=":material/block:")
            st.stop()
    if source == DEMO:
        paths = resources.demo_images(settings.demo_dir)
        choice, following = st.columns([4, 1], vertical_alignment="bottom")
        with following:
            next_photograph_key("demo", paths)
        path = choice.selectbox("Demo photograph", paths, format_func=lambda item: item.stem, key="demo")
        return source, Photograph(path.name, path.read_bytes(), "demo", path)
    uploads = st.file_uploader("Fundus photographs (JPEG, PNG or TIFF)", type=list(UPLOAD_TYPES),
                               accept_multiple_files=True, key="uploads")
    if not uploads:
        st.info("Upload one or more fundus photographs, or choose **Demo images** above.")
        st.stop()
    names = [upload.name for upload in uploads]
    if len(uploads) == 1:
        return source, Photograph(uploads[0].name, uploads[0].getvalue(), "upload")
    choice, following = st.columns([4, 1], vertical_alignment="bottom")
    with following:
        next_photograph_key("upload_choice", names)
    chosen = uploads[names.index(choice.selectbox("Photograph", names, key="upload_choice"))]
    return source, Photograph(chosen.name, chosen.getvalue(), "upload")


@dataclass(frozen=True)
class Display:
    """How the heatmap is shown and how many hot spots become candidates (smoothing and spacing at 1500 px)."""

    output: str
    opacity: float
    colormap: str
    top_share: float
    smoothing: float
    spot_count: int
    spot_smoothing: float
    spot_spacing: float
    #: leave the optic disc out of the candidates (it is detected, and outlined on the photograph)
    skip_optic_disc: bool


def display_settings(probabilities: dict[str, float], default_output: str) -> Display:
    """The output's probabilities as bars, then the heatmap and hot-spot settings."""
    for name, probability in probabilities.items():
        st.progress(probability, text=f"{LESION_LABELS[name]}: **{probability:.2f}**")
    outputs = list(probabilities)
    output = st.selectbox("Heatmap of", outputs, format_func=LESION_LABELS.get, key="output",
                          index=outputs.index(default_output))
    opacity = st.slider("Opacity", 0.0, 1.0, 0.5, 0.05, key="opacity",
                        help="At the map's maximum; the colour fades out towards the threshold.")
    colormap = st.selectbox("Colour map", COLORMAPS, key="colormap")
    top_share = st.slider(
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
    skip_optic_disc = st.checkbox(
        "Leave out the optic disc", value=True, key="skip_optic_disc",
        help="The optic disc is found as the brightest large blob of the retina and outlined (dashed); heatmaps "
             "often light up on it, but it holds no lesion. Off: candidates may lie on it.")
    return Display(output, opacity, colormap, top_share, smoothing, spot_count, spot_smoothing, spot_spacing,
                   skip_optic_disc)


@dataclass(frozen=True)
class Canvas:
    """How the photograph and its heatmap are drawn: the heatmap mode (Overlay, Contours, Off), the photograph's
    view (Colour, Enhanced, Red-free), brightness and contrast, and whether candidates are numbered."""

    mode: str
    view: str
    brightness: float
    contrast: float
    numbered: bool


def canvas_controls() -> Canvas:
    """The row of controls above the photograph."""
    mode_column, view_column, tune_column = st.columns([3, 4, 2], vertical_alignment="bottom")
    mode = mode_column.segmented_control("Heatmap", HEATMAP_MODES, default=OVERLAY, key=MODE_KEY,
                                         help="Off shows the photograph alone.") or OVERLAY
    view = view_column.segmented_control("Photograph", VIEWS, default=COLOUR, key="view",
                                         help="Enhanced stretches the contrast; Red-free is the green channel.") or COLOUR
    with tune_column.popover("Adjust", icon=":material/tune:"):
        brightness = st.slider("Brightness", 0.5, 2.5, 1.0, 0.1, key="brightness")
        contrast = st.slider("Contrast", 0.5, 2.5, 1.0, 0.1, key="contrast")
        numbered = st.toggle("Numbers on the candidates", value=True, key="numbered",
                             help="Off: unnumbered circles; the numbers are in the Candidates list. Numbers of "
                                  "candidates close together are merged into one label.")
    return Canvas(mode, view, brightness, contrast, numbered)


def grade_panel(sessions: sessionmaker[Session], user: User, image_id: int, sha256: str) -> None:
    """The user's grade of the photograph: a form with no default grade; an inconsistent combination is saved
    only after "Save anyway"; the message says whether a new version was written."""
    if GRADE_FLASH in st.session_state:
        st.success(st.session_state.pop(GRADE_FLASH))
    current = grading.current_grade(sessions, user, image_id)
    form_key = f"grade_{sha256[:16]}_{user.id}"  # one form state per photograph and user
    pending_key = f"{form_key}_pending"
    with st.form(form_key):
        shown = None if current is None else UNGRADABLE if current.ungradable else current.icdr_grade
        choice = st.selectbox("ICDR grade", GRADE_OPTIONS, format_func=GRADE_LABELS.get, key=f"{form_key}_icdr",
                              index=None if shown is None else GRADE_OPTIONS.index(shown), placeholder="Choose a grade")
        referable = st.checkbox("Referable DR", value=bool(current and current.referable), key=f"{form_key}_referable",
                                help="ICDR 2 or more, or macular oedema.")
        note = st.text_area("Note", value=current.note if current else "", height=90, key=f"{form_key}_note",
                            max_chars=MAX_NOTE_CHARS)
        saved = st.form_submit_button("Save grade", type="primary")
    if saved:
        st.session_state.pop(pending_key, None)
        _save(sessions, user, image_id, GradeChoice(None if choice in (None, UNGRADABLE) else choice, referable,
                                                    choice == UNGRADABLE, note), pending_key, confirmed=False)
    pending: Optional[GradeChoice] = st.session_state.get(pending_key)
    if pending is not None:
        st.warning("Nothing saved yet. " + " ".join(grading.inconsistencies(pending)), icon=":material/warning:")
        if st.button("Save anyway", key=f"{form_key}_confirm"):
            st.session_state.pop(pending_key)
            _save(sessions, user, image_id, pending, pending_key, confirmed=True)
    elif current and not saved:
        st.caption(f"Your current grade was saved {current.created_at:%Y-%m-%d %H:%M} UTC.")


def _save(sessions: sessionmaker[Session], user: User, image_id: int, choice: GradeChoice, pending_key: str, *,
          confirmed: bool) -> None:
    """Save ``choice``; keep it under ``pending_key`` when it needs a confirmation, else rerun with the message."""
    outcomes: list[grading.GradeOutcome] = []
    if not attempt(lambda: outcomes.append(grading.save_grade(sessions, user, image_id, choice, confirmed=confirmed)),
                   "The grade was not saved:"):
        return
    if outcomes[0].status == grading.CONFIRM:
        st.session_state[pending_key] = choice
        return
    # Rerun so that the queue's progress and the history include it; the message shows after the rerun.
    st.session_state[GRADE_FLASH] = outcomes[0].message
    st.rerun()
