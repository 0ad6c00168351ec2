"""The History panel of one image: every change (who, when, what), each with a Revert button."""

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from db.accounts import User
from drx import history
from drx.ui.actions import attempt

KIND_NAMES = {"grade": "grade", "decision": "candidate", "annotation": "drawing", "adjudication": "consensus",
              "assignment": "work queue"}


def history_panel(sessions: sessionmaker[Session], user: User, image_id: int) -> None:
    """The timeline of ``image_id``, oldest first; a revert adds a row (it never removes one).

    Names and notes are shown with ``st.text``: verbatim, never Markdown or HTML.
    """
    steps = history.timeline(sessions, image_id)
    if not steps:
        st.caption("Nothing has been recorded for this photograph yet.")
        return
    st.caption(f"{len(steps)} changes, oldest first. Revert takes a change back by adding a new version; "
               "you can revert your own changes (reviewers: consensus changes too).")
    for number, step in enumerate(steps, start=1):
        when, who, what, button = st.columns([2.2, 1.8, 6, 2.2], vertical_alignment="center")
        when.text(f"{number}. {step.at:%Y-%m-%d %H:%M:%S}")
        who.text(step.actor)
        what.text(f"{KIND_NAMES[step.kind]} · {step.action} · {step.summary}")
        if step.revertible and button.button("Revert", key=f"revert_{step.kind}_{step.row.id}", width="stretch"):
            if attempt(lambda step=step: history.revert_change(sessions, user, step), "Nothing was reverted:"):
                st.rerun()
