"""Dashboards: model quality from stored evaluations (the one place for ``drx evaluate``'s runs), graders' work
and agreement, discovery sessions.

Every chart is selectable: the images behind the selected points are listed
below it and open on the Review page.
"""

import streamlit as st

from drcore.models import DEFAULT_MODEL
from drx import dashboards as data
from drx.grader_statistics import graded_on, graded_per_day, grade_pairs, pairwise_agreement
from drx.ui import dashboard_figures as figures
from drx.ui import resources
from drx.ui.dashboard_panels import decisions_panel, model_agreement_panel, model_confirmations_panel
from drx.ui.image_list import selected_points, show_images
from drx.ui.model_quality import model_quality_panel

sessions = resources.session_factory(resources.settings().database_url)
model_name = st.session_state.get("model_name") or DEFAULT_MODEL
evaluations = data.stored_evaluations(sessions)
grades = data.grade_records(sessions)
discovery_groups = data.discovery_overview(sessions)

st.title("Dashboards")
model_tab, graders_tab, discovery_tab = st.tabs(["Model quality", "Graders", "Discovery"])

with model_tab:
    model_quality_panel(sessions, evaluations)

with graders_tab:
    if not grades:
        st.info("No grade has been saved yet. Graders grade photographs on the Review page.")
    else:
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

        model_agreement_panel(sessions, grades, model_name)

    decisions_panel(sessions)

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
            entries, missing = data.group_spot_entries(sessions, session_id, group_id)
            st.markdown(f"**Session #{session_id}, group G{numbers.get((session_id, group_id), '?')}** · its hot "
                        "spots, strongest first"
                        + (f" ({missing} on photographs that are not files, e.g. synthetic, are not listed)"
                           if missing else ""))
            show_images(entries, key=f"dash_group_images_{session_id}_{group_id}")

with graders_tab:
    model_confirmations_panel(sessions)
