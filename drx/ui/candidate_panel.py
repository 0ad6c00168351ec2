"""The candidate list beside the photograph: pick one (the figure zooms to it), confirm, reject or leave it undecided.

Decisions are saved by the widgets' callbacks, before the page's next run: one run shows them saved.
"""

from typing import Optional

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from db.accounts import User
from db.errors import DbError
from db.models import CandidateDecision
from drcore.limits import MAX_NOTE_CHARS
from drcore.vocabulary import ANNOTATION_TYPES, LESION_NAMES, REASON_LABELS, REJECTION_REASONS
from drx.candidates import ListedCandidate, decide, my_decisions
from drx.ui.candidates import Marker
from drx.ui.text import verbatim

PICK_KEY = "candidate_pick"
#: the photograph (database id) the pick was made in
PICKED_IN_KEY = "candidate_pick_image"
FLASH_KEY = "candidate_saved"
DECISION_NAMES = {"confirmed": "confirm", "rejected": "reject (false positive)", "undecided": "undecided"}


def _detail(decision: Optional[CandidateDecision]) -> str:
    if decision is None or decision.decision == "undecided":
        return ""
    return LESION_NAMES[decision.lesion_type] if decision.decision == "confirmed" else REASON_LABELS[decision.reason]


def markers(listed: list[ListedCandidate], decisions: dict[int, CandidateDecision]) -> list[Marker]:
    """The figure's markers: every candidate with its current decision (none yet: undecided)."""
    return [Marker(item.x, item.y, item.rank, decisions[item.id].decision if item.id in decisions else "undecided",
                   _detail(decisions.get(item.id))) for item in listed]


def save_decision(sessions: sessionmaker[Session], user: User, chosen: ListedCandidate, decision: str) -> None:
    """Save ``decision`` on ``chosen`` with the lesion type, reason and note of its form (a widget's callback);
    the outcome is the panel's next message."""
    state = st.session_state
    try:
        decide(sessions, user, chosen.id, decision, lesion_type=state.get(f"lesion_{chosen.id}"),
               reason=state.get(f"reason_{chosen.id}", REJECTION_REASONS[0]),
               note=state.get(f"decision_note_{chosen.id}", ""))
    except DbError as error:
        state[FLASH_KEY] = (False, f"The decision was not saved: {verbatim(str(error))}")
        return
    state.pop(f"decision_{chosen.id}", None)  # the form shows the saved decision (a key's too)
    state[FLASH_KEY] = (True, f"Candidate {chosen.rank}: {DECISION_NAMES[decision]} saved.")


def _submit(sessions: sessionmaker[Session], user: User, chosen: ListedCandidate) -> None:
    save_decision(sessions, user, chosen, st.session_state[f"decision_{chosen.id}"])


def candidate_panel(sessions: sessionmaker[Session], user: User, image_id: int, listed: list[ListedCandidate],
                    output: str) -> Optional[ListedCandidate]:
    """The list (strongest first) and the decision form of the selected candidate; returns the selected one.
    A candidate not confirmed yet has the heatmap's ``output`` as its form's lesion type, where it is one."""
    if FLASH_KEY in st.session_state:
        saved, message = st.session_state.pop(FLASH_KEY)
        (st.success if saved else st.error)(message)
    if not listed:
        st.caption("No hot spot in this heatmap with these settings.")
        return None
    decisions = my_decisions(sessions, user, image_id)
    by_rank = {item.rank: item for item in listed}

    def label(rank: int) -> str:  # stable: a label that changes makes the browser forget the selection
        return "Whole photograph" if rank == 0 else f"{rank} · score {by_rank[rank].score:.3g}"

    def caption(rank: int) -> str:
        decision = decisions.get(by_rank[rank].id)
        if decision is None:
            return "no decision"
        detail = _detail(decision)
        colour = {"confirmed": "green", "rejected": "red"}.get(decision.decision, "gray")
        return f":{colour}[{decision.decision}" + (f": {detail}]" if detail else "]")

    ranks = [0] + list(by_rank)
    if st.session_state.get(PICK_KEY) not in ranks or st.session_state.get(PICKED_IN_KEY) != image_id:
        st.session_state[PICK_KEY] = 0  # another photograph starts from the whole photograph
    st.session_state[PICKED_IN_KEY] = image_id
    rank = st.radio("Candidates, strongest first (choose one to zoom to it)", ranks, format_func=label, key=PICK_KEY,
                    captions=["the figure shows all candidates"] + [caption(rank) for rank in by_rank])
    if rank == 0:
        return None
    chosen = by_rank[rank]
    current = decisions.get(chosen.id)
    with st.form(f"decide_{chosen.id}"):
        st.markdown(f"**Candidate {rank}** at x {chosen.x:.0f}, y {chosen.y:.0f}")
        options = list(DECISION_NAMES)
        st.radio("Decision", options, format_func=DECISION_NAMES.get, horizontal=True,
                 index=options.index(current.decision) if current else 2, key=f"decision_{chosen.id}")
        st.selectbox("Lesion type (when confirmed)", ANNOTATION_TYPES, format_func=LESION_NAMES.get,
                     key=f"lesion_{chosen.id}", index=ANNOTATION_TYPES.index(
                         current.lesion_type if current and current.lesion_type
                         else output if output in ANNOTATION_TYPES else ANNOTATION_TYPES[0]))
        st.selectbox("Reason (when rejected)", REJECTION_REASONS, format_func=REASON_LABELS.get,
                     key=f"reason_{chosen.id}",
                     index=REJECTION_REASONS.index(current.reason) if current and current.reason else 0)
        st.text_input("Note", value=current.note if current else "", key=f"decision_note_{chosen.id}",
                      max_chars=MAX_NOTE_CHARS)
        st.form_submit_button("Save decision", type="primary", on_click=_submit, args=(sessions, user, chosen))
    return chosen
