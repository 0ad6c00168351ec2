"""Dashboards: model quality from stored evaluations, graders' work and agreement, discovery sessions.

Every chart is selectable: the images behind the selected points are listed
below it and open on the Review page.
"""

import streamlit as st

from drcore.errors import DrxError
from drcore.vocabulary import LESION_LABELS
from drcore.models import DEFAULT_MODEL
from drx.ui import dashboard_data as data
from drx.ui import dashboard_figures as figures
from drx.ui import resources
from drx.ui.evaluation_history import METRICS, history_table, run_label
from drx.ui.figures import evaluation_title
from drx.ui.grader_statistics import graded_on, graded_per_day, grade_pairs, model_agreement, pairwise_agreement
from drx.ui.image_list import selected_points, show_images
from drx.ui.model_scores import score_images

sessions = resources.session_factory(resources.settings().database_url)
model_name = st.session_state.get("model_name") or DEFAULT_MODEL
with sessions() as session:
    evaluations = data.stored_evaluations(session)
    grades = data.grade_records(session)
    discovery_groups = data.discovery_overview(session)

st.title("Dashboards")
model_tab, graders_tab, discovery_tab = st.tabs(["Model quality", "Graders", "Discovery"])

with model_tab:
    if not evaluations:
        st.info("No evaluation has been stored yet. `drx evaluate --dataset diaretdb1 --split test` adds one.")
    else:
        choice = st.columns(3)
        scopes = sorted({(run.dataset, run.split) for run in evaluations})
        dataset, split = choice[0].selectbox("Data set", scopes, format_func=" · ".join, key="dash_scope")
        in_scope = [run for run in evaluations if (run.dataset, run.split) == (dataset, split)]
        methods = sorted({run.method for run in in_scope})
        method = choice[1].selectbox("Heatmap method", methods, key="dash_method")
        metric = choice[2].selectbox("Metric", list(METRICS), format_func=METRICS.get, key="dash_metric")
        chosen = [run for run in in_scope if run.method == method]

        st.caption("Every stored run, newest first; Δ is the change since the previous model evaluated with the "
                   "same method on the same data set and split.")
        st.dataframe(history_table(evaluations), hide_index=True, width="stretch", key="dash_runs",
                     column_config={"date": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
        history_event = st.plotly_chart(figures.metric_history_figure(chosen, metric), on_select="rerun",
                                        selection_mode=("points", "box"), key="dash_metric_chart")
        labels = {run.run_id: run_label(run) for run in chosen}
        froc_run_id = st.selectbox("FROC curves of run", list(labels), format_func=labels.get, key="dash_froc_run")
        froc_run = next(run for run in chosen if run.run_id == froc_run_id)
        froc_event = st.plotly_chart(
            figures.clickable_froc_figure(froc_run, evaluation_title(froc_run.model, method, dataset, split)),
            on_select="rerun", selection_mode=("points", "box"), key="dash_froc_chart")

        picked = {tuple(point["customdata"]) for point in selected_points(history_event) + selected_points(froc_event)
                  if point.get("customdata")}
        st.subheader("Images behind the selection")
        if not picked:
            st.caption("Click a point (or draw a box) on either chart to list the photographs it was measured on.")
        references = None
        if picked:
            try:
                references = data.split_references(dataset, split)
            except DrxError as error:
                st.warning(f"{dataset} cannot be read here ({error}), so its split is unknown: photographs of "
                           "every split are listed.", icon="⚠️")
        for lesion_type in sorted({lesion_type for _, lesion_type in picked}):
            st.markdown(f"**{LESION_LABELS.get(lesion_type, lesion_type)}** · {dataset} {split}, most lesions first")
            with sessions() as session:
                entries = data.dataset_images(session, dataset, lesion_type, references)
            show_images(entries, key=f"dash_eval_images_{lesion_type}",
                        empty=f"No {dataset} {split} photograph with expert ground truth of this type is in the "
                        f"database: `drx import {dataset}` registers them.")

with graders_tab:
    if not grades:
        st.info("No grade has been saved yet. Graders grade photographs on the Review page.")
    else:
        current = [grade for grade in grades if grade.current]
        counters = st.columns(3)
        counters[0].metric("Graders", len({grade.grader for grade in grades}))
        counters[1].metric("Images graded", len({grade.image_id for grade in grades}))
        counters[2].metric("Grades saved (all versions)", len(grades))

        day_event = st.plotly_chart(figures.daily_counts_figure(graded_per_day(grades)), on_select="rerun",
                                    selection_mode=("points", "box"), key="dash_days_chart")
        days = {tuple(point["customdata"]) for point in selected_points(day_event) if point.get("customdata")}
        if days:
            show_images(data.grade_entries(graded_on(grades, days)), key="dash_day_images")

        st.subheader("Agreement between graders")
        st.caption("Current grades of images both graders found gradable. ICDR grade: Cohen's kappa, quadratic "
                   "weights; referable DR: Cohen's kappa.")
        pairs = pairwise_agreement(grades)
        if not pairs:
            st.caption("Agreement needs at least two graders.")
        else:
            st.dataframe([{"grader A": pair.grader_a, "grader B": pair.grader_b, "images both graded": pair.images,
                           "κ ICDR (quadratic)": pair.kappa_icdr, "κ referable": pair.kappa_referable,
                           "note": pair.note} for pair in pairs],
                         hide_index=True, width="stretch", key="dash_kappa_table",
                         column_config={"κ ICDR (quadratic)": st.column_config.NumberColumn(format="%.3f"),
                                        "κ referable": st.column_config.NumberColumn(format="%.3f")})
            pair_names = [(pair.grader_a, pair.grader_b) for pair in pairs if pair.images]
            if pair_names:
                grader_a, grader_b = st.selectbox("Graders compared", pair_names, format_func=" vs ".join,
                                                  key="dash_pair")
                both = grade_pairs(grades, grader_a, grader_b)
                cell_event = st.plotly_chart(figures.grade_agreement_figure(both, grader_a, grader_b),
                                             on_select="rerun", selection_mode=("points", "box"),
                                             key="dash_pair_chart")
                cells = {tuple(point["customdata"]) for point in selected_points(cell_event) if point.get("customdata")}
                if cells:
                    chosen_pairs = [(a, b) for a, b in both if (a.icdr_grade, b.icdr_grade) in cells]
                    show_images(data.grade_entries([grade for pair in chosen_pairs for grade in pair]),
                                key="dash_pair_images")

        st.subheader("Agreement with the model")
        outputs = list(resources.model(model_name).card.outputs)
        output = st.selectbox("Model output", outputs, format_func=lambda name: LESION_LABELS.get(name, name),
                              key="dash_output")
        graded_ids = {grade.image_id for grade in current if not grade.ungradable}
        if st.toggle(f"Score the {len(graded_ids)} graded photograph(s) with {model_name}", key="dash_score"):
            with sessions() as session:
                scored = score_images(data.image_paths(session, graded_ids), model_name, output)
            if scored.failures:
                st.warning(f"{len(scored.failures)} photograph(s) could not be scored: "
                           + "; ".join(sorted(scored.failures.values())[:5]), icon="⚠️")
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

    st.subheader("Candidate decisions")
    with sessions() as session:
        rates = data.decision_rates(session)
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

with discovery_tab:
    if not discovery_groups:
        st.info("No discovery session yet: start one on the Discovery page or with `drx discover ... --store`.")
    else:
        st.dataframe([{"session": f"#{group.session_id} {group.session}", "group": f"G{group.number}",
                       "name": group.name or "", "hot spots": group.hot_spots, "images": group.images,
                       "AUC (referable)": group.auc,
                       "unexplained": {True: "⚑ yes", False: "no"}.get(group.unexplained, "unknown")}
                      for group in discovery_groups if group.name],
                     hide_index=True, width="stretch", key="dash_named_groups",
                     column_config={"AUC (referable)": st.column_config.NumberColumn(format="%.2f")})
        st.caption(f"Named groups above; {len(discovery_groups)} groups in "
                   f"{len({group.session_id for group in discovery_groups})} session(s) on the chart.")
        group_event = st.plotly_chart(figures.discovery_groups_figure(discovery_groups), on_select="rerun",
                                      selection_mode=("points", "box"), key="dash_discovery_chart")
        numbers = {(group.session_id, group.group_id): group.number for group in discovery_groups}
        for session_id, group_id in sorted({tuple(point["customdata"]) for point in selected_points(group_event)
                                            if point.get("customdata")}):
            with sessions() as session:
                entries, missing = data.group_spot_entries(session, session_id, group_id)
            st.markdown(f"**Session #{session_id}, group G{numbers.get((session_id, group_id), '?')}** · its hot "
                        "spots, strongest first"
                        + (f" ({missing} on photographs that are not files, e.g. synthetic, are not listed)"
                           if missing else ""))
            show_images(entries, key=f"dash_group_images_{session_id}_{group_id}")
