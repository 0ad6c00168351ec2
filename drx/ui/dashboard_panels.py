"""Sections of the Dashboards page's Graders tab: agreement with the model, the candidate decisions, and the
share of each model's candidates graders confirmed."""

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from drcore.vocabulary import LESION_LABELS
from drx import dashboards as data
from drx.grader_statistics import GradeRecord, model_agreement
from drx.ui import dashboard_figures as figures
from drx.ui import resources
from drx.ui.image_list import selected_points, show_images
from drx.ui.model_scores import score_images


def model_agreement_panel(sessions: sessionmaker[Session], grades: list[GradeRecord], model_name: str) -> None:
    """ROC AUC of the model's score for each grader's referable calls, with a chart of scores against grades."""
    current = [grade for grade in grades if grade.current]
    st.subheader("Agreement with the model")
    outputs = list(resources.model(model_name).card.outputs)
    output = st.selectbox("Model output", outputs, format_func=lambda name: LESION_LABELS.get(name, name),
                          key="dash_output")
    graded_ids = {grade.image_id for grade in current if not grade.ungradable}
    if st.toggle(f"Score the {len(graded_ids)} graded photograph(s) with {model_name}", key="dash_score"):
        scored = score_images(data.image_paths(sessions, graded_ids), model_name, output)
        if scored.failures:
            st.warning(f"{len(scored.failures)} photograph(s) could not be scored: "
                       + "; ".join(sorted(scored.failures.values())[:5]), icon=":material/warning:")
        st.dataframe([{"grader": row.grader, "images": row.images, "referable": row.referable,
                       "AUC": row.auc, "note": row.note} for row in model_agreement(grades, scored.scores)],
                     hide_index=True, width="stretch", key="dash_model_table",
                     column_config={"AUC": st.column_config.NumberColumn(format="%.3f")})
        gradable = [grade for grade in current if not grade.ungradable]
        score_event = st.plotly_chart(
            figures.model_scores_figure(gradable, scored.scores, LESION_LABELS.get(output, output)),
            on_select="rerun", selection_mode=("points", "box"), key="dash_score_chart")
        points = {tuple(point["customdata"]) for point in selected_points(score_event) if point.get("customdata")}
        if points:
            show_images(data.grade_entries([grade for grade in gradable if (grade.image_id, grade.grader) in points],
                                           scored.scores), key="dash_score_images")
    else:
        st.caption("ROC AUC of the model's score for each grader's referable calls; scoring runs the model "
                   "over every graded photograph once (then cached).")


def decisions_panel(sessions: sessionmaker[Session]) -> None:
    """The graders' current decisions on each heatmap output's candidates."""
    st.subheader("Candidate decisions")
    rates = data.decision_rates(sessions)
    if not rates:
        st.caption("No candidate has been decided yet: graders confirm or reject hot spots on the Review page.")
    else:
        st.caption("Current decisions of every grader on the candidates of each heatmap output (edits replace, "
                   "reverts count as what they restore). Confirmed share = confirmed / (confirmed + rejected).")
        st.dataframe([{"heatmap of": LESION_LABELS.get(rate.output, rate.output), "confirmed": rate.confirmed,
                       "rejected": rate.rejected, "undecided": rate.undecided,
                       "confirmed share": rate.confirmed_share, "most given rejection reason": rate.top_reason}
                      for rate in rates],
                     hide_index=True, width="stretch", key="dash_decisions_table",
                     column_config={"confirmed share": st.column_config.NumberColumn(format="%.2f")})


def model_confirmations_panel(sessions: sessionmaker[Session]) -> None:
    """Which model produced which candidates, and the share of them graders confirmed."""
    st.subheader("Candidates confirmed, per model")
    rows = data.model_confirmations(sessions)
    if not rows:
        st.caption("No model has produced candidates yet: reviewing a photograph stores its hot spots.")
        return
    st.caption("Every model whose hot spots were stored as candidates (e.g. the model `drx train --corrections` "
               "started from and the one it made). Confirmed share = confirmed / (confirmed + rejected), each "
               "grader's current decision counted.")
    st.dataframe([{"model": row.model, "version": row.version, "weights (sha256)": row.sha256[:12],
                   "photographs": row.photographs, "candidates": row.candidates, "confirmed": row.confirmed,
                   "rejected": row.rejected, "confirmed share": row.confirmed_share} for row in rows],
                 hide_index=True, width="stretch", key="dash_model_confirmations",
                 column_config={"confirmed share": st.column_config.NumberColumn(format="%.2f")})
