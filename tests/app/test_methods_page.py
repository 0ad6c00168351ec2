"""The Methods page through AppTest: one tile per method on one scale, DiaretDB1 photographs, bad input."""

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from db.settings import Settings
from drcore.heatmaps import METHODS, compute_heatmaps
from drcore.imaging import load_image, prepare
from drcore.inference import batch_from_prepared
from drcore.vocabulary import OUTPUTS
from drcore.models import DEFAULT_MODEL, load_model
from drcore.synthetic import demo_image_name
from drcore.vocabulary import SLOW_METHOD_CPU_SECONDS

METHODS_PAGE = str(Path(__file__).resolve().parents[2] / "views" / "methods.py")


def tile_captions(app: AppTest) -> list[str]:
    return [image.proto.imgs[0].caption for image in app.get("image")][1:]  # the first image is the colour scale


#: Every method but ``local_map`` can explain this small network (LRP has rules for all its layers; it has no
#: local head).
SMALL = "drx-synthetic-v1"


def test_every_method_gets_a_tile_on_the_shared_scale(diaretdb1_root, monkeypatch) -> None:
    monkeypatch.setenv("DRX_DIARETDB1_ROOT", str(diaretdb1_root))
    app = AppTest.from_file(METHODS_PAGE, default_timeout=300)
    app.session_state["model_name"] = SMALL
    app.session_state["methods_demo"] = Settings.from_env().demo_dir / demo_image_name(0)  # the healthy synthetic one
    app.run()
    assert not app.exception, app.exception
    assert set(app.multiselect(key="methods_chosen").value) == set(METHODS) - set(SLOW_METHOD_CPU_SECONDS)  # on a CPU
    app.multiselect(key="methods_chosen").set_value(list(METHODS)).run()
    assert not app.exception, app.exception
    shown = [caption.split(" ·")[0] for caption in tile_captions(app)]  # tiles come column by column
    # grad_cam and the logit map's sensitivities keep only positive evidence: on the healthy demo photograph the
    # small model's logit map is negative everywhere, their maps are zero, and their tiles say so
    positive_only = ["grad_cam", "logit_map_sensitivity", "logit_map_x_sensitivity"]
    zero = [message.value.replace("\\", "") for message in app.info if "zero everywhere" in message.value]
    assert sorted(zero) == [f"**{name}** is zero everywhere in the field of view: it finds no evidence for this output in "
                    "this photograph" for name in positive_only]
    unavailable = [message.value.replace("\\", "") for message in app.info if "is not available" in message.value]
    assert unavailable == ["**local_map** is not available for this model: SmallFundusNet has no local head: "
                           "local_map needs a model with one"]
    assert sorted(shown + positive_only + ["local_map"]) == sorted(METHODS) and len(shown) == len(METHODS) - 4
    app.segmented_control(key="methods_source").set_value("DiaretDB1").run()
    assert not app.exception, app.exception
    assert app.selectbox(key="methods_ddb1").value == "diaretdb1_image002"
    app.selectbox(key="methods_output").set_value("hard_exudate")
    app.multiselect(key="methods_chosen").set_value(["sensitivity", "grad_cam"]).run()
    assert not app.exception, app.exception
    captions = tile_captions(app)
    assert [caption.split(" ·")[0] for caption in captions] == ["sensitivity", "grad_cam"]  # columns 1 and 2
    # "1 = peak": the 99.5th percentile of |map| in the field of view, computed here independently
    loaded = load_model(SMALL)
    prepared = prepare(load_image(diaretdb1_root / "images" / "diaretdb1_image002.png"), loaded.card.input_size)
    raw = compute_heatmaps(loaded.model, batch_from_prepared([prepared]), OUTPUTS.index("hard_exudate"))[0].numpy()
    expected = np.percentile(np.abs(raw[prepared.fov]), 99.5)
    assert captions[0] == f"sensitivity · full colour at |value| ≥ {expected:.3g}"


def test_the_upload_source_asks_for_a_photograph_and_a_link_preselects_it() -> None:
    app = AppTest.from_file(METHODS_PAGE, default_timeout=60)
    app.query_params["source"] = "Upload"
    app.run()
    assert not app.exception, app.exception
    assert app.segmented_control(key="methods_source").value == "Upload"
    assert app.info and "Upload a fundus photograph" in app.info[0].value
    assert not tile_captions(app)


def test_a_method_that_cannot_explain_the_default_says_so_and_the_others_still_show() -> None:
    app = AppTest.from_file(METHODS_PAGE, default_timeout=300)
    app.run()
    # the default model's own method (its card's logit_map) and sensitivity are chosen from the start
    assert load_model(DEFAULT_MODEL).card.heatmap["method"] == "logit_map"
    assert {"logit_map", "sensitivity"} <= set(app.multiselect(key="methods_chosen").value)
    app.multiselect(key="methods_chosen").set_value(["lrp_epsilon", "logit_map"]).run()
    assert not app.exception, app.exception
    assert [caption.split(" ·")[0] for caption in tile_captions(app)] == ["logit_map"]
    (note,) = [message.value.replace("\\", "") for message in app.info if "not available" in message.value]
    assert note.startswith("**lrp_epsilon** is not available for this model: LRP has no rule for")


def test_a_lesion_type_is_shown_on_the_map_the_card_reads_it_on_unless_turned_off() -> None:
    """The default's card reads microaneurysms on the any-lesion map (as the Review page does); the toggle shows
    the output's own map instead. Each tile's scale is checked against the map computed here."""
    loaded = load_model(DEFAULT_MODEL)
    assert loaded.card.heatmap["map_outputs"]["microaneurysm"] == "any_lesion"
    app = AppTest.from_file(METHODS_PAGE, default_timeout=300)
    app.session_state["methods_output"] = "microaneurysm"
    app.session_state["methods_chosen"] = ["logit_map"]
    app.run()
    assert not app.exception, app.exception
    assert app.toggle(key="methods_card_map").value is True
    prepared = prepare(load_image(app.selectbox(key="methods_demo").value), loaded.card.input_size)
    batch = batch_from_prepared([prepared])

    def peak(output: str) -> str:
        raw = compute_heatmaps(loaded.model, batch, loaded.card.outputs.index(output), "logit_map")[0].numpy()
        return f"logit_map · full colour at |value| ≥ {np.percentile(np.abs(raw[prepared.fov]), 99.5):.3g}"

    assert tile_captions(app) == [peak("any_lesion")]
    assert "output “Microaneurysms” on the “Any lesion” map" in app.caption[-1].value
    app.toggle(key="methods_card_map").set_value(False).run()
    assert not app.exception, app.exception
    assert tile_captions(app) == [peak("microaneurysm")] != [peak("any_lesion")]
    assert "on the “Any lesion” map" not in app.caption[-1].value
    app.selectbox(key="methods_output").set_value("any_lesion").run()  # read on its own map: no toggle
    assert not app.exception, app.exception
    assert not app.get("toggle")

