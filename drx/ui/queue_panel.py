"""A grader's work queue on the Review page: progress, the assigned photograph, previous and next."""

from typing import Optional

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from db.accounts import User
from drx import work_queue
from drx.ui.review_keys import NEXT_PHOTOGRAPH

PICK_KEY = "queue_pick"


def _step(sessions: sessionmaker[Session], user: User, forward: bool) -> None:
    target = work_queue.step(sessions, user, st.session_state.get(PICK_KEY), forward)
    if target is not None:
        st.session_state[PICK_KEY] = target


def queue_picker(sessions: sessionmaker[Session], user: User) -> Optional[int]:
    """Progress bar, the chosen queue image and previous/next buttons; the chosen image id (None: empty queue)."""
    queue = work_queue.queue_view(sessions, user)
    items, done, first_open = queue.items, queue.progress, queue.first_open
    if not items:
        st.info("No photograph is assigned to you. Choose **Demo images** or **Upload**.")
        return None
    st.progress(done.fraction, text=f"Your queue: **{done.done}** of {done.total} graded · {done.left} left")
    labels = {item.image_id: f"{item.position + 1}. {item.file_name}" + ("  ✓" if item.done else "")
              for item in items}
    if st.session_state.get(PICK_KEY) not in labels:
        st.session_state[PICK_KEY] = first_open if first_open is not None else items[0].image_id
    back, choice, forward = st.columns([1, 6, 1], vertical_alignment="bottom")
    back.button("Previous", key="queue_previous", on_click=_step, args=(sessions, user, False), width="stretch")
    chosen = choice.selectbox("Assigned photograph", list(labels), format_func=labels.get, key=PICK_KEY)
    forward.button("Next", key="queue_next", on_click=_step, args=(sessions, user, True), width="stretch",
                   shortcut=NEXT_PHOTOGRAPH)
    return chosen
