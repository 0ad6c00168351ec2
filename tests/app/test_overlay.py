"""The review canvas's pure functions: the photograph's views, the fading overlay, contours, merged labels;
the colours of judged hot spots on the Compare page."""

import numpy as np
import pytest
from plotly.colors import get_colorscale, sample_colorscale

from drcore.vocabulary import LESION_COLOURS, LESION_TYPES
from drx.ui.candidates import Marker, candidate_trace, merged_labels
from drx.ui.compare import JUDGEMENT_COLOURS
from drx.ui.overlay import (CONTOURS, ENHANCED, HIDDEN, OVERLAY, RED_FREE, colour_map, figure_height,
                            overlay_figure, shown_photograph)


def _photograph() -> np.ndarray:
    """A dark 'photograph': black surround, a disc whose channels run 20-60 (red), 10-30 (green), 0-10 (blue)."""
    rows, columns = np.mgrid[0:200, 0:300]
    inside = (rows - 100) ** 2 + (columns - 150) ** 2 < 90 ** 2
    ramp = columns / 299
    image = np.stack([20 + 40 * ramp, 10 + 20 * ramp, 10 * ramp], axis=2) * inside[..., None]
    return image.astype(np.uint8)


def test_enhanced_stretches_a_dark_photograph_and_red_free_is_grey() -> None:
    photograph = _photograph()
    enhanced = shown_photograph(photograph, ENHANCED)
    inside = photograph.max(axis=2) > 10
    assert photograph[inside].max() <= 60 and enhanced[inside][:, :2].max() == 255  # stretched to full scale
    assert enhanced[0, 0].tolist() == [0, 0, 0]  # the surround stays black
    red_free = shown_photograph(photograph, RED_FREE)
    assert (red_free[..., 0] == red_free[..., 1]).all() and (red_free[..., 1] == red_free[..., 2]).all()
    brighter = shown_photograph(photograph, brightness=2.0)
    assert brighter[100, 250].tolist() == (photograph[100, 250].astype(int) * 2).tolist()
    with pytest.raises(ValueError, match="unknown view"):
        shown_photograph(photograph, "Sepia")


def test_the_overlay_fades_towards_its_threshold_and_leaves_the_rest_transparent() -> None:
    values = np.array([[0.0, 0.5, 0.75, 1.0]])
    rgba = colour_map(values, 0.5, 1.0, "Inferno", 0.8, fade=True)
    assert rgba[0, :, 3].tolist() == [0, 51, 128, 204]  # 0.8 * (0.25 + 0.75 * position) * 255
    assert colour_map(values, 0.5, 1.0, "Inferno", 0.8)[0, :, 3].tolist() == [0, 204, 204, 204]


def test_contour_and_hidden_modes_draw_no_colour_layer() -> None:
    photograph = _photograph()
    heatmap = np.zeros(photograph.shape[:2], np.float32)
    heatmap[80:120, 130:170] = 1.0
    heatmap[100, 150] = 2.0
    names = {mode: [trace.name for trace in overlay_figure(photograph, heatmap, mode=mode).data]
             for mode in (OVERLAY, CONTOURS, HIDDEN)}
    assert names[OVERLAY][:2] == ["photograph", "heatmap"]
    assert "heatmap" not in names[CONTOURS] and names[CONTOURS].count("heatmap contour") == 2
    assert names[HIDDEN] == ["photograph"]
    contour = overlay_figure(photograph, heatmap, mode=CONTOURS).data[1]
    assert contour.line.color == sample_colorscale(get_colorscale("Inferno"), [0.5])[0]  # not the colour map's black
    xs = [x for x in contour.x if x is not None]
    assert 125 <= min(xs) and max(xs) <= 175  # around the hot square, in original pixels


def test_a_zoom_window_is_drawn_again_at_full_resolution() -> None:
    photograph = np.zeros((1200, 1800, 3), np.uint8)
    photograph[..., 1] = 90
    figure = overlay_figure(photograph, np.zeros((1200, 1800), np.float32), max_side=600, detail=(100, 200, 500, 600))
    detail = next(trace for trace in figure.data if trace.name == "detail")
    assert (detail.x0, detail.y0, detail.dx) == (100, 200, 1)
    assert figure_height((1200, 1800)) == 533 and figure_height((100, 1800)) == 420


def test_labels_of_close_candidates_are_merged_on_the_strongest() -> None:
    markers = [Marker(100, 100, 1, "undecided"), Marker(400, 100, 2, "confirmed"), Marker(110, 95, 3, "rejected"),
               Marker(104, 108, 4, "undecided")]
    assert merged_labels(markers, 30) == ["1·3·4", "2", "", ""]
    assert merged_labels(markers, 0) == ["1", "2", "3", "4"]
    assert list(candidate_trace(markers, None, numbered=False).text) == ["", "", "", ""]
    assert candidate_trace(markers, 2).marker.size == (14, 22, 14, 14)


def test_judged_hot_spots_never_share_a_lesion_type_colour() -> None:
    lesion_colours = {LESION_COLOURS[kind].lower() for kind in LESION_TYPES}
    assert len(set(JUDGEMENT_COLOURS.values())) == 3 and not lesion_colours & set(JUDGEMENT_COLOURS.values())
