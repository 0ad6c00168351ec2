"""The drawing panel of the Review page: draw missed lesions on a zoomed window, save them, edit or delete one's own."""

from typing import Optional

import numpy as np
import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from db.accounts import User
from db.models import Annotation
from drcore.vocabulary import ANNOTATION_TYPES, LESION_COLOURS, LESION_NAMES
from drx import drawings
from drx.ui import drawing
from drx.ui.actions import attempt
from drx.ui.candidates import outline_trace

CANVAS_WIDTH = 760
ROUND_KEY = "canvas_round"
FLASH_KEY = "drawing_saved"
ZOOMS = [1, 2, 4, 8]


def annotation_traces(annotations: list[Annotation]) -> list:
    """Outlines of drawn lesions for the figure, numbered as in the panel's list."""
    traces = []
    for number, row in enumerate(annotations, start=1):
        shape = drawings.outline(row)
        traces.append(outline_trace(shape.points, shape.closed, row.lesion_type,
                                    f"drawn {number}: {LESION_NAMES[row.lesion_type]}"))
    return traces


def _saved(message: str) -> None:
    st.session_state[FLASH_KEY] = message
    st.rerun()


def drawing_panel(sessions: sessionmaker[Session], user: User, image_id: int, photograph: np.ndarray,
                  centre: Optional[tuple[float, float]]) -> None:
    """Canvas over a window of the photograph (around ``centre``, a selected candidate, when given)."""
    height, width = photograph.shape[:2]
    if FLASH_KEY in st.session_state:
        message = st.session_state.pop(FLASH_KEY)
        st.success(message)
        st.toast(message)  # stays a few seconds: the new canvas reruns the page as it mounts
    tool_column, zoom_column = st.columns([3, 2])
    tool = tool_column.segmented_control("Tool", list(drawing.TOOLS), default="Polygon", key="draw_tool") or "Polygon"
    zoom = zoom_column.segmented_control("Zoom", ZOOMS, default=2, format_func=lambda z: f"{z}×", key="draw_zoom") or 1
    lesion_type = tool_column.selectbox("Lesion type", ANNOTATION_TYPES, format_func=LESION_NAMES.get, key="draw_type")
    around_candidate = centre is not None
    if centre is None and zoom > 1:
        x_column, y_column = st.columns(2)
        centre = (x_column.slider("Window centre x (px)", 0, width, width // 2, key="draw_centre_x"),
                  y_column.slider("Window centre y (px)", 0, height, height // 2, key="draw_centre_y"))
    view = drawing.canvas_view((width, height), zoom, centre or (width / 2, height / 2), CANVAS_WIDTH)
    st.caption(f"Photograph x {view.x0}–{view.x0 + view.width}, y {view.y0}–{view.y0 + view.height} at "
               f"{view.scale_x:.2f} screen px per photograph px"
               + (" (around the selected candidate)" if zoom > 1 and around_candidate else "")
               + ". " + drawing.TOOL_HINTS[tool])
    key = f"canvas_{image_id}_{view.x0}_{view.y0}_{view.width}_{st.session_state.setdefault(ROUND_KEY, 0)}"
    shapes, problems = drawing.shapes_from_canvas(
        drawing.read_canvas(photograph, view, tool, LESION_COLOURS[lesion_type], key), view, (width, height))
    for problem in problems:
        st.warning(problem)

    save_column, undo_column = st.columns(2)
    save_column.caption(f"{len(shapes)} shape(s) on the canvas, to be saved as {LESION_NAMES[lesion_type]}.")
    if save_column.button("Save the drawn shapes", type="primary", disabled=not shapes, key="save_drawn"):
        if attempt(lambda: drawings.save_shapes(sessions, user, image_id, shapes, lesion_type, (width, height)),
                   "The drawing was not saved:"):
            st.session_state[ROUND_KEY] += 1  # a new canvas: the saved shapes now show on the figure
            _saved(f"{len(shapes)} lesion(s) saved.")
    if undo_column.button("Undo my last action on this photograph", key="undo_last",
                          help="Takes back your last drawing or candidate decision here (the history keeps both)."):
        if attempt(lambda: drawings.undo_last_action(sessions, user, image_id), "Nothing was undone:"):
            _saved("Your last action was undone.")
    _edit_own(sessions, user, image_id, shapes, (width, height))


def _edit_own(sessions: sessionmaker[Session], user: User, image_id: int, shapes: list[drawings.DrawnShape],
              image_size: tuple[int, int]) -> None:
    """Change the type or outline of, or delete, one of the user's own drawn lesions."""
    mine = drawings.my_drawings(sessions, user, image_id)
    if not mine:
        return
    labels = {row.uid: f"{number}. {row.kind} · {LESION_NAMES[row.lesion_type]}"
              for number, row in enumerate(mine, start=1)}
    pick, new_type = st.columns([3, 2])
    uid = pick.selectbox("Your drawn lesions on this photograph", list(labels), format_func=labels.get, key="own_pick")
    lesion_type = new_type.selectbox("New lesion type", ANNOTATION_TYPES, format_func=LESION_NAMES.get, key="own_type")
    retype, reshape, remove = st.columns(3)
    if retype.button("Change its type", key="own_retype"):
        if attempt(lambda: drawings.change_type(sessions, user, uid, lesion_type), "The lesion was not changed:"):
            _saved(f"{labels[uid]}: now {LESION_NAMES[lesion_type]}.")
    if reshape.button("Replace its outline with the drawn shape", key="own_reshape", disabled=len(shapes) != 1,
                      help="Draw exactly one shape on the canvas first."):
        if attempt(lambda: drawings.replace_outline(sessions, user, uid, shapes[0], image_size),
                   "The outline was not replaced:"):
            st.session_state[ROUND_KEY] += 1
            _saved(f"{labels[uid]}: outline replaced.")
    if remove.button("Delete it", key="own_delete"):
        if attempt(lambda: drawings.delete_drawing(sessions, user, uid), "The lesion was not deleted:"):
            _saved(f"{labels[uid]} deleted (the history keeps it).")
