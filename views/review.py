"""Review: a photograph, where the model looked, candidate lesions to decide, missed lesions to draw, the grade."""

import streamlit as st

from drcore.errors import BadImage
from drcore.models import DEFAULT_MODEL
from drcore.vocabulary import LESION_LABELS, REFERABLE_DR
from drx import drawings, review
from drx.candidates import my_decisions
from drx.ui import analysis, auth, candidates, resources
from drx.ui.candidate_panel import candidate_panel, markers
from drx.ui.drawing_panel import annotation_traces, drawing_panel
from drx.ui.history_panel import history_panel
from drx.ui.overlay import overlay_figure
from drx.ui.referral import referral_banner
from drx.ui.review_keys import LEGEND, key_row
from drx.ui.review_link import InvalidReviewLink, read_review_target
from drx.ui.review_panels import LINKED, canvas_controls, choose_photograph, display_settings, grade_panel
from drx.ui.text import verbatim

#: Below this output probability the candidates of its map are shown with a warning that the map is weak.
WEAK_MAP_SCORE = 0.5

settings = resources.settings()
sessions = resources.session_factory(settings.database_url)
user = auth.require(sessions)
model_name = st.session_state.get("model_name") or DEFAULT_MODEL
loaded = resources.model(model_name)

st.title("Review")
try:
    target = read_review_target(st.query_params)  # a link from Discovery or Dashboards: one photograph, one spot
except InvalidReviewLink as error:
    st.warning(f"The link's photograph cannot be opened: {error}", icon=":material/warning:")
    target = None
source, photograph = choose_photograph(sessions, user, settings, target)
sha256 = photograph.sha256
linked = target.output if source == LINKED and target.output in loaded.card.outputs else None
first_output = linked or loaded.card.default_output()  # its heatmap comes from the pass that scores the photograph
try:
    result, first_heatmap = analysis.analyse_and_explain(sha256, photograph.data, model_name, first_output)
except BadImage as error:
    st.error(f"**{verbatim(photograph.file_name)}** cannot be reviewed. {error}", icon=":material/block:")
    st.stop()
height, width = result.photograph.shape[:2]

figure_column, side_column = st.columns([3, 1], gap="medium")
with side_column:
    candidates_tab, grade_tab, display_tab = st.tabs(["Candidates", "Grade", "Heatmap"])
with display_tab:
    shown = display_settings(result.probabilities, first_output)
output = shown.output
heatmap = first_heatmap if output == first_output else analysis.heatmap(sha256, result.prepared, model_name, output)
disc = analysis.optic_disc(sha256, result.photograph, result.field) if shown.skip_optic_disc else None
spots = analysis.hot_spots(f"{sha256}_{loaded.card.sha256}_{heatmap.method}_{output}", heatmap.values,
                           heatmap.fov, shown.spot_count, shown.spot_smoothing, shown.spot_spacing, disc)
record = review.record_review(sessions, settings, loaded, photograph, result, heatmap, output, spots)

with candidates_tab:
    score = result.probabilities[output]
    if score < WEAK_MAP_SCORE:
        st.info(f"The model scores this photograph **{score:.2f}** for {LESION_LABELS[output].lower()} (below "
                f"{WEAK_MAP_SCORE}): these candidates are only the strongest spots of a weak map, most likely not "
                "lesions. Reject them, or draw what the model missed.", icon=":material/info:")
    selected = candidate_panel(sessions, user, record.image_id, record.candidates, output)
with grade_tab:
    grade_panel(sessions, user, record.image_id, sha256)

with figure_column:
    if REFERABLE_DR in result.probabilities:
        referral_banner(loaded.card, result.probabilities[REFERABLE_DR])
    st.caption(f"{verbatim(photograph.file_name)} · {width} × {height} px · heatmap: {heatmap.describe(output)}, "
               f"{heatmap.duration_s:.2f} s on {heatmap.device}")
    canvas = canvas_controls()
    key_row(sessions, user, record.candidates, selected)
    figure_slot = st.container()
    st.caption(LEGEND)
    if st.toggle("Draw missed lesions", key="drawing_on"):
        drawing_panel(sessions, user, record.image_id, result.photograph,
                      (selected.x, selected.y) if selected else None)
    focus = ((selected.x, selected.y) if selected else (target.x, target.y)
             if source == LINKED and target.x is not None else None)
    window = candidates.zoom_window(*focus, (width, height), max(160, min(width, height) / 4)) if focus else None
    figure = overlay_figure(result.photograph, heatmap.values, opacity=shown.opacity, colormap=shown.colormap,
                            scale_title=heatmap.method.replace("_", " "),
                            threshold_quantile=1 - shown.top_share / 100, smoothing_px=shown.smoothing,
                            mode=canvas.mode, view=canvas.view, brightness=canvas.brightness,
                            contrast=canvas.contrast,
                            detail=(window[0][0], window[1][1], window[0][1], window[1][0]) if window else None)
    if disc is not None:
        figure.add_trace(candidates.optic_disc_trace(disc))
    for trace in annotation_traces(drawings.my_drawings(sessions, user, record.image_id)):
        figure.add_trace(trace)
    figure.add_trace(candidates.candidate_trace(markers(record.candidates, my_decisions(sessions, user, record.image_id)),
                                                selected.rank if selected else None,
                                                candidates.LABEL_MERGE_SHARE * (window[0][1] - window[0][0] if window else width), canvas.numbered))
    figure.update_layout(showlegend=False)  # names show on hover; a legend would cover the colour bar
    if window:
        figure.update_xaxes(range=window[0])
        figure.update_yaxes(range=window[1])
    figure_slot.plotly_chart(figure, width="stretch", theme=None, config={"scrollZoom": True, "displaylogo": False},
                             key="overlay")
    with st.expander("History of this photograph", icon=":material/history:"):
        history_panel(sessions, user, record.image_id)
