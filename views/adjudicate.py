"""Adjudicate: the graders' versions of one photograph side by side; a reviewer accepts one as the consensus."""

import streamlit as st
from sqlalchemy import select

from db.adjudication import adjudicate, current_adjudication
from db.annotations import current_annotations
from db.decisions import current_decisions
from db.models import Annotation, Candidate, CandidateDecision, Grade, Grader, Image
from db.repository import current_grades_for_image
from drcore.errors import BadImage
from drcore.imaging import load_image
from drcore.limits import MAX_NOTE_CHARS
from drx.ui import auth, resources
from drx.ui.actions import write
from drx.ui.candidate_panel import ListedCandidate, markers
from drcore.vocabulary import LESION_NAMES
from drx.ui.candidates import candidate_trace, photograph_figure
from drx.ui.drawing_panel import annotation_traces
from drx.ui.text import verbatim

sessions = resources.session_factory(resources.settings().database_url)
reviewer = auth.require(sessions, "reviewer")


@st.cache_data(max_entries=8, show_spinner="Reading the photograph…")
def photograph(sha256: str, path: str):
    """The stored photograph's pixels (cached per content hash)."""
    return load_image(path)


st.title("Adjudicate")
if "adjudicated" in st.session_state:
    st.success(st.session_state.pop("adjudicated"))
with sessions() as session:
    worked = session.execute(
        select(Image.id, Image.file_name).where(Image.id.in_(
            select(Grade.image_id).union(select(Annotation.image_id),
                                         select(Candidate.image_id).join(CandidateDecision)))).order_by(Image.id)
    ).all()
if not worked:
    st.info("No grader has graded, decided or drawn anything yet.")
    st.stop()
labels = {image_id: f"{image_id} · {file_name}" for image_id, file_name in worked}
image_id = st.selectbox("Photograph", list(labels), format_func=labels.get, key="adjudicate_image")

with sessions() as session:
    image = session.get(Image, image_id)
    sha256, stored_path = image.content_sha256, image.stored_path
    names = dict(session.execute(select(Grader.id, Grader.name)).all())
    grades = {row.grader_id: row for row in current_grades_for_image(session, image)}
    annotations: dict[int, list[Annotation]] = {}
    for row in current_annotations(session, image_id):
        annotations.setdefault(row.grader_id, []).append(row)
    decisions: dict[int, dict[int, CandidateDecision]] = {}
    for row in current_decisions(session, image_id):
        decisions.setdefault(row.grader_id, {})[row.candidate_id] = row
    places = {row.id: row for row in session.scalars(select(Candidate).where(Candidate.image_id == image_id))}
    consensus = current_adjudication(session, image_id)
graders = sorted(set(grades) | set(annotations) | set(decisions), key=lambda grader_id: names[grader_id].lower())

if consensus is not None and consensus.accepted_grader_id is not None:
    st.info(f"Consensus now: the version of {verbatim(names[consensus.accepted_grader_id])}, accepted by "
            f"{verbatim(names[consensus.reviewer_id])} on {consensus.created_at:%Y-%m-%d %H:%M} UTC.")
else:
    st.caption("No consensus yet: accept one grader's version below.")
try:
    pixels = photograph(sha256, stored_path)
except (BadImage, OSError, TypeError) as error:
    pixels = None
    st.warning(f"The photograph cannot be shown ({verbatim(str(error))}); the versions are listed without it.")

note = st.text_input("Adjudication note (optional)", key="adjudication_note", max_chars=MAX_NOTE_CHARS)
for start in range(0, len(graders), 3):
    for column, grader_id in zip(st.columns(3, gap="medium"), graders[start:start + 3]):
        with column, st.container(border=True):
            st.text(names[grader_id])
            grade = grades.get(grader_id)
            if grade is None:
                st.caption("no grade")
            else:
                st.text("ungradable" if grade.ungradable else
                        f"ICDR {grade.icdr_grade} · {'referable' if grade.referable else 'not referable'}")
                if grade.note:
                    st.text(f"Note: {grade.note}")
            mine = decisions.get(grader_id, {})
            counts = {kind: sum(row.decision == kind for row in mine.values()) for kind in ("confirmed", "rejected")}
            drawn = annotations.get(grader_id, [])
            st.caption(f"{counts['confirmed']} candidates confirmed · {counts['rejected']} rejected · "
                       f"{len(drawn)} lesions drawn ("
                       + (", ".join(LESION_NAMES[row.lesion_type] for row in drawn) or "none") + ")")
            if pixels is not None:
                figure = photograph_figure(pixels, height=300)
                for trace in annotation_traces(drawn):
                    figure.add_trace(trace)
                decided = [places[candidate_id] for candidate_id in mine]
                listed = [ListedCandidate(row.id, rank, row.x, row.y, row.score)
                          for rank, row in enumerate(decided, start=1)]
                figure.add_trace(candidate_trace(markers(listed, mine), None))
                st.plotly_chart(figure, width="stretch", theme=None, key=f"version_{grader_id}",
                                config={"scrollZoom": True, "displaylogo": False})
            accepted = consensus is not None and consensus.accepted_grader_id == grader_id
            if st.button("Accepted as consensus" if accepted else "Accept this version", key=f"accept_{grader_id}",
                         disabled=accepted, type="primary"):
                if write(sessions, lambda session, chosen=grader_id: adjudicate(session, reviewer, image_id, chosen, note),
                         "The consensus was not saved:"):
                    st.session_state["adjudicated"] = f"Consensus: the version of {verbatim(names[grader_id])}."
                    st.rerun()
