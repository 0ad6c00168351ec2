"""Adjudicate: the graders' versions of one photograph side by side; a reviewer accepts one as the consensus."""

import streamlit as st

from drcore.errors import BadImage
from drcore.limits import MAX_NOTE_CHARS
from drcore.vocabulary import LESION_NAMES
from drx.adjudication import accept_version, adjudication_case, worked_images
from drx.ui import analysis, auth, resources
from drx.ui.actions import attempt
from drx.ui.candidate_panel import markers
from drx.ui.candidates import candidate_trace, photograph_figure
from drx.ui.drawing_panel import annotation_traces
from drx.ui.text import verbatim

sessions = resources.session_factory(resources.settings().database_url)
reviewer = auth.require(sessions, "reviewer")

st.title("Adjudicate")
if "adjudicated" in st.session_state:
    st.success(st.session_state.pop("adjudicated"))
worked = worked_images(sessions)
if not worked:
    st.info("No grader has graded, decided or drawn anything yet.")
    st.stop()
labels = {image_id: f"{image_id} · {file_name}" for image_id, file_name in worked}
image_id = st.selectbox("Photograph", list(labels), format_func=labels.get, key="adjudicate_image")
case = adjudication_case(sessions, image_id)

if case.consensus is not None:
    st.info(f"Consensus now: the version of {verbatim(case.consensus.grader)}, accepted by "
            f"{verbatim(case.consensus.reviewer)} on {case.consensus.created_at:%Y-%m-%d %H:%M} UTC.")
else:
    st.caption("No consensus yet: accept one grader's version below.")
try:
    pixels = analysis.stored_photograph(case.sha256, case.stored_path)
except (BadImage, OSError, TypeError) as error:
    pixels = None
    st.warning(f"The photograph cannot be shown ({verbatim(str(error))}); the versions are listed without it.")

note = st.text_input("Adjudication note (optional)", key="adjudication_note", max_chars=MAX_NOTE_CHARS)
for start in range(0, len(case.versions), 3):
    for column, version in zip(st.columns(3, gap="medium"), case.versions[start:start + 3]):
        with column, st.container(border=True):
            st.text(version.name)
            grade = version.grade
            if grade is None:
                st.caption("no grade")
            else:
                st.text("ungradable" if grade.ungradable else
                        f"ICDR {grade.icdr_grade} · {'referable' if grade.referable else 'not referable'}")
                if grade.note:
                    st.text(f"Note: {grade.note}")
            st.caption(f"{version.count('confirmed')} candidates confirmed · {version.count('rejected')} rejected · "
                       f"{len(version.drawn)} lesions drawn ("
                       + (", ".join(LESION_NAMES[row.lesion_type] for row in version.drawn) or "none") + ")")
            if pixels is not None:
                figure = photograph_figure(pixels, height=300)
                for trace in annotation_traces(version.drawn):
                    figure.add_trace(trace)
                figure.add_trace(candidate_trace(markers(version.decided, version.decisions), None))
                st.plotly_chart(figure, width="stretch", theme=None, key=f"version_{version.grader_id}",
                                config={"scrollZoom": True, "displaylogo": False})
            accepted = case.accepted_grader_id == version.grader_id
            if st.button("Accepted as consensus" if accepted else "Accept this version",
                         key=f"accept_{version.grader_id}", disabled=accepted, type="primary"):
                if attempt(lambda chosen=version.grader_id: accept_version(sessions, reviewer, image_id, chosen, note),
                           "The consensus was not saved:"):
                    st.session_state["adjudicated"] = f"Consensus: the version of {verbatim(version.name)}."
                    st.rerun()
