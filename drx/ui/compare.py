"""The Compare page's panels: the data-set photograph chosen, expert masks beside a heatmap (contours, hot spots
judged against lesions, one image's metrics)."""

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from skimage.measure import find_contours, regionprops

from drcore.candidates import HotSpot
from drcore.errors import DrxError
from drcore.datasets import diaretdb1, read
from drcore.datasets.base import Sample
from drcore.metrics import UndefinedMetric, label_instances, pixel_auc
from drcore.vocabulary import LESION_LABELS, LESION_TYPES

#: The data sets offered, the bundled demo photographs first (they need nothing beside the checkout).
DATASETS = {"demo": "Demo photographs (IDRiD, bundled)", "diaretdb1": "DiaretDB1 v2.1",
            "idrid_segmentation": "IDRiD segmentation (training part)"}
NO_PHOTOGRAPH = "Choose a data set that can be read above."
CONSENSUS = "consensus of the 4 experts"
#: The expert view of a data set with one mask per lesion type (IDRiD).
SINGLE_EXPERT = "the expert's masks"


@st.cache_resource
def samples(dataset: str) -> list[Sample]:
    """Every sample of a data set that has lesion masks (read once per process)."""
    return [sample for sample in read(dataset) if sample.has_masks]


@st.cache_data(max_entries=64)
def expert_mask(dataset: str, image_id: str, lesion_type: str, view: str, threshold: float) -> np.ndarray:
    """The mask shown for one type: the consensus at ``threshold``, or one expert's marks (DiaretDB1)."""
    sample = next(sample for sample in samples(dataset) if sample.image_id == image_id)
    if dataset != "diaretdb1":
        return sample.masks()[lesion_type]
    if view == CONSENSUS:
        return diaretdb1.consensus_mask(sample, lesion_type, threshold)
    return diaretdb1.expert_masks(sample, lesion_type)[int(view.split()[-1]) - 1]


@st.cache_data(max_entries=64)
def fov(dataset: str, image_id: str) -> np.ndarray:
    """The field of view of a data-set photograph."""
    return next(sample for sample in samples(dataset) if sample.image_id == image_id).fov()


def contour_trace(mask: np.ndarray, name: str, colour: str, step: int = 2) -> go.Scatter:
    """Outlines of a mask as one line trace (segments separated by gaps), in original pixels."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for contour in find_contours(np.pad(mask, 1).astype(np.float32), 0.5):
        points = np.vstack([contour[::step], contour[-1:]]) - 1
        xs += points[:, 1].tolist() + [None]
        ys += points[:, 0].tolist() + [None]
    return go.Scatter(x=xs, y=ys, mode="lines", line={"color": colour, "width": 1.5}, name=name, hoverinfo="name")


@dataclass(frozen=True)
class JudgedSpots:
    """Hot spots of one image against the lesions of one type."""

    hits: list[HotSpot]
    false_positives: list[HotSpot]
    missed_centres: list[tuple[float, float]]
    lesions: int


def judge_spots(spots: list[HotSpot], mask: np.ndarray) -> JudgedSpots:
    """A spot inside a lesion is a hit, elsewhere a false positive; lesions with no spot are missed."""
    instances = label_instances(mask)
    hit_labels = {int(instances[spot.row, spot.col]) for spot in spots} - {0}
    regions = regionprops(instances)
    return JudgedSpots(
        hits=[spot for spot in spots if instances[spot.row, spot.col]],
        false_positives=[spot for spot in spots if not instances[spot.row, spot.col]],
        missed_centres=[region.centroid for region in regions if region.label not in hit_labels],
        lesions=len(regions),
    )


#: Colours of judged hot spots, none of them a lesion type's colour (the contours beside them use those).
JUDGEMENT_COLOURS = {"hit": "#3d5afe", "false_positive": "#ff1744", "missed": "#ffffff"}


def spot_traces(judged: JudgedSpots) -> list[go.Scatter]:
    """Markers: hits (blue circles), false positives (red crosses), missed lesions (small white squares, thin so
    that many of them do not bury the photograph)."""
    def marker(points: list[tuple[float, float]], name: str, symbol: str, colour: str, size: int,
               width: float) -> go.Scatter:
        return go.Scatter(
            x=[col for _, col in points], y=[row for row, _ in points], mode="markers", name=name,
            marker={"symbol": symbol, "size": size, "color": colour, "line": {"color": colour, "width": width}},
            hovertemplate=f"{name}<br>x %{{x:.0f}}, y %{{y:.0f}}<extra></extra>",
        )

    return [
        marker([(spot.row, spot.col) for spot in judged.hits], f"hit ({len(judged.hits)})", "circle-open",
               JUDGEMENT_COLOURS["hit"], 13, 2.5),
        marker([(spot.row, spot.col) for spot in judged.false_positives],
               f"false positive ({len(judged.false_positives)})", "x-thin-open", JUDGEMENT_COLOURS["false_positive"],
               11, 2),
        marker(judged.missed_centres, f"missed lesion ({len(judged.missed_centres)})", "square-open",
               JUDGEMENT_COLOURS["missed"], 6, 1),
    ]


def image_pixel_auc(mask: np.ndarray, heatmap: np.ndarray, field: np.ndarray) -> float | None:
    """Pixel AUC of one image inside its field of view; None when the mask is empty."""
    try:
        return pixel_auc(mask[::2, ::2], heatmap[::2, ::2], field[::2, ::2])
    except UndefinedMetric:
        return None


def chosen_sample() -> tuple[str, str, Sample] | None:
    """The data set, split and photograph chosen at the top of the page (None, with a message, when it cannot be read)."""
    chooser = st.columns([2, 1, 3])
    dataset = chooser[0].selectbox("Data set", list(DATASETS), format_func=DATASETS.get, key="cmp_dataset")
    try:
        available = samples(dataset)
    except DrxError as error:
        st.error(f"{DATASETS[dataset]} cannot be read: {error}", icon=":material/block:")
        return None
    splits = sorted({sample.split for sample in available})
    split = chooser[1].selectbox("Split", splits, index=splits.index("test") if "test" in splits else 0, key="cmp_split")
    by_id = {item.image_id: item for item in available if item.split == split}
    image_id = chooser[2].selectbox(
        "Photograph", list(by_id), key="cmp_image",
        format_func=lambda name: f"{name} · " + (", ".join(
            LESION_LABELS[kind] for kind in LESION_TYPES if by_id[name].labels.get(kind)) or "no lesion"),
    )
    return dataset, split, by_id[image_id]

