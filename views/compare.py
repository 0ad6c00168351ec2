"""Compare: the model's heatmap of one photograph against its expert lesion masks (every method on one photograph is
the Heatmap methods page's job, the runs over a data set the Dashboards' Model quality tab's)."""

import streamlit as st

from drcore.datasets.base import Sample
from drcore.models import DEFAULT_MODEL
from drcore.vocabulary import LESION_COLOURS, LESION_LABELS, LESION_TYPES
from drx import review
from drx.ui import analysis, compare
from drx.ui.overlay import overlay_figure

model_name = st.session_state.get("model_name") or DEFAULT_MODEL
METHODS_PAGE = "views/methods.py"
st.title("Compare with experts")
chosen = compare.chosen_sample()
output = st.selectbox("Heatmap of", list(LESION_TYPES), format_func=LESION_LABELS.get, key="cmp_output",
                      index=LESION_TYPES.index("hard_exudate"))


def one_image(chosen: tuple[str, str, Sample] | None, output: str) -> None:
    """The photograph with its heatmap, the expert contours and the hot spots judged against them."""
    if chosen is None:
        st.info(compare.NO_PHOTOGRAPH, icon=":material/info:")
    else:
        dataset, split, sample = chosen
        data = sample.image_path.read_bytes()
        sha256 = review.Photograph(sample.image_id, data, "dataset").sha256
        result = analysis.analyse(sha256, data, model_name)
        field = compare.fov(dataset, sample.image_id)

        figure_column, side_column = st.columns([5, 2], gap="medium")
        with side_column:
            shown_types = st.multiselect("Expert contours", list(LESION_TYPES), default=list(LESION_TYPES),
                                         format_func=LESION_LABELS.get, key="cmp_types")
            if dataset == "diaretdb1":
                view = st.selectbox("Expert view", [compare.CONSENSUS] + [f"expert {n}" for n in range(1, 5)],
                                    key="cmp_view")
                threshold = st.slider("Consensus confidence ≥", 0.25, 1.0, 0.75, 1 / 12, format="%.2f",
                                      key="cmp_threshold", disabled=view != compare.CONSENSUS,
                                      help="Mean over the 4 experts of High = 1, Medium = 2/3, Low = 1/3.")
            else:
                view, threshold = compare.SINGLE_EXPERT, 0.75
            spot_count = st.slider("Hot spots", 0, 50, 15, key="cmp_spots")
            smoothing = st.slider("Smoothing before peaks (px at 1500 px width)", 0.0, 20.0, 10.0, 1.0,
                                  key="cmp_smoothing")
            opacity = st.slider("Heatmap opacity", 0.0, 1.0, 0.5, 0.05, key="cmp_opacity")

        heatmap = analysis.heatmap(sha256, result.prepared, model_name, output)
        masks = {name: compare.expert_mask(dataset, sample.image_id, name, view, threshold) for name in LESION_TYPES}
        spots = review.hot_spots(heatmap.values, field, spot_count, smoothing, 10.0) if spot_count else []
        judged = compare.judge_spots(spots, masks[output])

        with figure_column:
            st.caption(f"{sample.image_id} · {compare.DATASETS[dataset]} {split} · heatmap: {heatmap.describe(output)} "
                       f"(probability {result.probabilities[output]:.2f}) · "
                       f"contours: {view}" + (f" ≥ {threshold:.2f}" if view == compare.CONSENSUS else ""))
            figure = overlay_figure(result.photograph, heatmap.values, opacity=opacity, threshold_quantile=0.97,
                                    smoothing_px=4.0, scale_title=heatmap.method.replace("_", " "))
            for name in shown_types:
                figure.add_trace(compare.contour_trace(masks[name], LESION_LABELS[name], LESION_COLOURS[name]))
            for trace in compare.spot_traces(judged):
                figure.add_trace(trace)
            figure.update_layout(showlegend=True, legend={"orientation": "h", "y": -0.02, "x": 0})
            st.plotly_chart(figure, width="stretch", theme=None, key="cmp_figure",
                            config={"scrollZoom": True, "displaylogo": False})

        with side_column:
            st.subheader("This image")
            auc = compare.image_pixel_auc(masks[output], heatmap.values, field)
            st.metric("Pixel AUC", f"{auc:.3f}" if auc is not None else "n/a",
                      help="ROC AUC of the heatmap for lesion vs other pixels inside the field of view.")
            st.markdown(f"**{len(judged.hits)}** of {len(spots)} hot spots on a lesion · "
                        f"**{judged.lesions - len(judged.missed_centres)}** of {judged.lesions} lesions found")


one_image(chosen, output)
st.caption("Every heatmap method on one photograph: the Heatmap methods page. Over a whole data set: Dashboards, "
           "Model quality (the runs of `drx evaluate`).")
if chosen is not None and chosen[0] == "diaretdb1" and st.button("Every heatmap method for this photograph",
                                                                  icon=":material/grid_view:", key="cmp_methods_link"):
    st.switch_page(METHODS_PAGE, query_params={"source": "DiaretDB1", "image": chosen[2].image_id})
