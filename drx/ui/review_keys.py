"""Keyboard shortcuts of the Review page's hot path and their legend.

Each shortcut is a button Streamlit binds to a key (``st.button(shortcut=...)``); Streamlit ignores a plain key
while the focus is in a text field or a list box, so typing a note never decides a candidate.
"""

from collections.abc import Sequence
from typing import Optional

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from db.accounts import User
from drx.candidates import ListedCandidate
from drx.ui.candidate_panel import PICK_KEY, save_decision
from drx.ui.overlay import HIDDEN, OVERLAY

#: The keys, by what they do.
NEXT_CANDIDATE, PREVIOUS_CANDIDATE, CONFIRM, REJECT, NEXT_PHOTOGRAPH, TOGGLE_HEATMAP = "J", "K", "A", "X", "N", "H"
LEGEND = (f"**Keys** · {NEXT_CANDIDATE} / {PREVIOUS_CANDIDATE} next / previous candidate · {CONFIRM} confirm "
          f"(as the form's lesion type) · {REJECT} reject (false positive, the form's reason) · {NEXT_PHOTOGRAPH} "
          f"next photograph · {TOGGLE_HEATMAP} heatmap on / off · none while typing in a field")
#: Session-state key of the heatmap mode control, and of the mode the heatmap key turns back on.
MODE_KEY, SHOWN_MODE_KEY = "heatmap_mode", "heatmap_mode_shown"


def _step(ranks: Sequence[int], step: int) -> None:
    position = ranks.index(st.session_state.get(PICK_KEY, 0)) if st.session_state.get(PICK_KEY, 0) in ranks else 0
    st.session_state[PICK_KEY] = ranks[min(max(position + step, 0), len(ranks) - 1)]


def _toggle_heatmap() -> None:
    mode = st.session_state.get(MODE_KEY) or OVERLAY
    if mode != HIDDEN:
        st.session_state[SHOWN_MODE_KEY] = mode
    st.session_state[MODE_KEY] = st.session_state.get(SHOWN_MODE_KEY, OVERLAY) if mode == HIDDEN else HIDDEN


def key_row(sessions: sessionmaker[Session], user: User, listed: list[ListedCandidate],
            selected: Optional[ListedCandidate]) -> None:
    """Previous and next candidate (from the whole photograph to the weakest), confirm and reject the selected,
    the heatmap off and back on in the mode it had."""
    ranks = [0] + [item.rank for item in listed]
    previous, following, confirm, reject, heatmap = st.columns(5)
    previous.button("Previous", key="key_previous", shortcut=PREVIOUS_CANDIDATE, icon=":material/arrow_upward:",
                    on_click=_step, args=(ranks, -1), disabled=not listed, width="stretch")
    following.button("Next", key="key_next", shortcut=NEXT_CANDIDATE, icon=":material/arrow_downward:",
                     on_click=_step, args=(ranks, 1), disabled=not listed, width="stretch")
    confirm.button("Confirm", key="key_confirm", shortcut=CONFIRM, icon=":material/check:",
                   on_click=save_decision, args=(sessions, user, selected, "confirmed"), disabled=selected is None,
                   width="stretch")
    reject.button("Reject", key="key_reject", shortcut=REJECT, icon=":material/close:",
                  on_click=save_decision, args=(sessions, user, selected, "rejected"), disabled=selected is None,
                  width="stretch")
    heatmap.button("Heatmap", key="key_heatmap", shortcut=TOGGLE_HEATMAP, icon=":material/layers:",
                   on_click=_toggle_heatmap, width="stretch")


def _next(state_key: str, options: Sequence[object]) -> None:
    current = st.session_state.get(state_key)
    position = options.index(current) if current in options else -1
    st.session_state[state_key] = options[(position + 1) % len(options)]


def next_photograph_key(state_key: str, options: Sequence[object]) -> None:
    """A button that chooses the photograph after the current one in the list under ``state_key`` (then the
    first again)."""
    st.button("Next photograph", key="key_next_photograph", shortcut=NEXT_PHOTOGRAPH,
              icon=":material/skip_next:", on_click=_next, args=(state_key, list(options)), width="stretch")
