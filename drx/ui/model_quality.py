"""The Dashboards page's Model quality tab: the stored runs of ``drx evaluate`` (the table of every run, a
metric over the runs, one run's per-lesion-type table with intervals and its FROC curves) and the photographs
behind the points a user selects."""

from collections.abc import Sequence

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from drcore.errors import DrxError
from drcore.vocabulary import LESION_LABELS
from drx import dashboards as data
from drx.dashboards import StoredEvaluation
from drx.evaluation_figures import evaluation_title
from drx.ui import dashboard_figures as figures
from drx.ui import resources
from drx.ui.evaluation_history import METRICS, evaluation_table, history_table, run_label
from drx.ui.image_list import selected_points, show_images


def model_quality_panel(sessions: sessionmaker[Session], evaluations: Sequence[StoredEvaluation]) -> None:
    """Everything the Model quality tab shows; one message when no evaluation is stored."""
    if not evaluations:
        st.info("No evaluation has been stored yet. `drx evaluate --dataset diaretdb1 --split test` adds one.")
        return
    choice = st.columns(3)
    scopes = sorted({(run.dataset, run.split) for run in evaluations})
    dataset, split = choice[0].selectbox("Data set", scopes, format_func=" · ".join, key="dash_scope")
    in_scope = [run for run in evaluations if (run.dataset, run.split) == (dataset, split)]
    method = choice[1].selectbox("Heatmap method", sorted({run.method for run in in_scope}), key="dash_method")
    metric = choice[2].selectbox("Metric", list(METRICS), format_func=METRICS.get, key="dash_metric")
    chosen = [run for run in in_scope if run.method == method]

    st.caption("Every stored run, newest first; Δ is the change since the previous model evaluated with the "
               "same method on the same data set and split.")
    st.dataframe(history_table(evaluations), hide_index=True, width="stretch", key="dash_runs",
                 column_config={"date": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
    history_event = st.plotly_chart(figures.metric_history_figure(chosen, metric), on_select="rerun",
                                    selection_mode=("points", "box"), key="dash_metric_chart")
    labels = {run.run_id: run_label(run) for run in chosen}
    run_id = st.selectbox("One run: its table and FROC curves", list(labels), format_func=labels.get,
                          key="dash_froc_run")
    run = next(run for run in chosen if run.run_id == run_id)
    st.dataframe(evaluation_table(run.rows), hide_index=True, width="stretch")
    froc_event = st.plotly_chart(figures.clickable_froc_figure(run, evaluation_title(run.model, method, dataset, split)),
                                 on_select="rerun", selection_mode=("points", "box"), key="dash_froc_chart")

    picked = {tuple(point["customdata"]) for point in selected_points(history_event) + selected_points(froc_event)
              if point.get("customdata")}
    st.subheader("Images behind the selection")
    if not picked:
        st.caption("Click a point (or draw a box) on either chart to list the photographs it was measured on.")
        return
    try:
        references = resources.split_references(dataset, split)
    except DrxError as error:
        references = None
        st.warning(f"{dataset} cannot be read here ({error}), so its split is unknown: photographs of "
                   "every split are listed.", icon=":material/warning:")
    for lesion_type in sorted({lesion_type for _, lesion_type in picked}):
        st.markdown(f"**{LESION_LABELS.get(lesion_type, lesion_type)}** · {dataset} {split}, most lesions first")
        show_images(data.dataset_images(sessions, dataset, lesion_type, references),
                    key=f"dash_eval_images_{lesion_type}",
                    empty=f"No {dataset} {split} photograph with expert ground truth of this type is in the "
                    f"database: `drx import {dataset}` registers them.")
