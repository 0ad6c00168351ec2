"""Methods: one photograph explained by every heatmap method, side by side on one colour scale (the one page for
this; Compare links here with its DiaretDB1 photograph)."""

import streamlit as st

from drcore.errors import BadImage, DrxError
from drcore.heatmaps import METHODS
from drcore.models import DEFAULT_MODEL
from drcore.vocabulary import LESION_LABELS, OCCLUSION_WINDOWS, SLOW_METHOD_CPU_SECONDS, UPLOAD_TYPES
from drx import review
from drx.ui import analysis, compare, resources
from drx.ui.methods import colour_scale_strip, method_tiles
from drx.ui.text import verbatim

COLUMNS = 4

settings = resources.settings()
model_name = st.session_state.get("model_name") or DEFAULT_MODEL

st.title("Heatmap methods")
st.caption(
    "One photograph and one model output explained by every heatmap method, in the model's input frame. "
    "Each map's absolute value is divided by its 99.5th percentile inside the field of view, so all tiles share "
    "one 0-1 colour scale whatever the method's units (the strongest 0.5 % saturate; signed methods are shown "
    "by magnitude). Maps are cached: changing the output or the methods recomputes only what is new."
)

SOURCES = ["Demo images", "DiaretDB1", "Upload"]
# A link can preselect the photograph: ?source=DiaretDB1&image=diaretdb1_image005
linked = st.query_params.get("source")
source = st.segmented_control("Photograph from", SOURCES, default=linked if linked in SOURCES else SOURCES[0],
                              key="methods_source")
if source == "DiaretDB1":
    try:
        available = [sample for sample in compare.samples("diaretdb1") if sample.split == "test"]
    except DrxError as error:
        st.error(f"DiaretDB1 cannot be read: {error}. Choose Demo images or Upload.", icon=":material/block:")
        st.stop()
    by_id = {sample.image_id: sample for sample in available}
    names = list(by_id)
    linked_image = st.query_params.get("image")
    image_id = st.selectbox("DiaretDB1 test photograph", names, key="methods_ddb1",
                            index=names.index(linked_image) if linked_image in names else 0)
    file_name, data = image_id, by_id[image_id].image_path.read_bytes()
elif source == "Upload":
    upload = st.file_uploader("A fundus photograph (JPEG, PNG or TIFF)", type=list(UPLOAD_TYPES), key="methods_upload")
    if upload is None:
        st.info("Upload a fundus photograph, or choose Demo images or DiaretDB1 above.")
        st.stop()
    file_name, data = upload.name, upload.getvalue()
else:
    demos = resources.demo_images(settings.demo_dir)
    path = st.selectbox("Demo photograph", demos, format_func=lambda item: item.stem, key="methods_demo")
    file_name, data = path.name, path.read_bytes()

sha256 = review.Photograph(file_name, data, source).sha256
try:
    result = analysis.analyse(sha256, data, model_name)
except BadImage as error:
    st.error(f"**{verbatim(file_name)}** cannot be explained. {verbatim(str(error))}", icon=":material/block:")
    st.stop()

controls = st.columns([2, 4, 2])
output = controls[0].selectbox("Output", list(result.probabilities), key="methods_output",
                               format_func=lambda name: f"{LESION_LABELS[name]} ({result.probabilities[name]:.2f})")
on_cpu = resources.device().type == "cpu"
card_map, own_method = resources.card_reading_of(model_name, output)
map_output = output
if card_map != output and controls[0].toggle(
        f"On the “{LESION_LABELS[card_map]}” map", value=True, key="methods_card_map",
        help=f"The model card reads “{LESION_LABELS[output]}” on the “{LESION_LABELS[card_map]}” output's heatmap "
             "(chosen on DiaretDB1's train split), as the Review page does; off: on the output's own heatmap."):
    map_output = card_map
methods = controls[1].multiselect(
    "Methods", list(METHODS), key="methods_chosen",
    default=[name for name in METHODS if name not in SLOW_METHOD_CPU_SECONDS or name == own_method or not on_cpu],
    help="The model card's method for the output always; on a CPU the other slow methods are left out until you add them. "
         "Seconds per photograph on one CPU thread "
         "with the 512 px small network (about ten times more at the default's 768 px): "
         + ", ".join(f"{name} ~{seconds:g}" for name, seconds in SLOW_METHOD_CPU_SECONDS.items()) + " (occlusion at 32/16).",
)
window = controls[2].selectbox("Occlusion window", list(OCCLUSION_WINDOWS), key="methods_occlusion",
                               index=0 if on_cpu else 2,
                               help="Patch side and stride in model-input pixels; smaller strides are finer and "
                               "slower (64, 256, 961 forward passes).")

progress = st.progress(0.0, text="Computing heatmaps…")
tiles = method_tiles(sha256, result.prepared, model_name, map_output, methods, window,
                     on_progress=lambda done, method: progress.progress(
                         done / max(len(methods), 1), text=f"Computing {method} ({done + 1} of {len(methods)})…"))
progress.empty()

st.image(colour_scale_strip(), caption="Colour scale of every tile: from 0 (the photograph alone) to full colour at "
         "the |value| under the tile (its map's 99.5th percentile of |value| in the field of view)", width=400)
columns = st.columns(COLUMNS)
for index, tile in enumerate(tiles):
    if tile.tile is None:
        columns[index % COLUMNS].info(f"**{tile.method}** {verbatim(tile.note)}", icon=":material/block:")
    else:
        columns[index % COLUMNS].image(tile.tile, caption=tile.caption, width="stretch")
read_on = "" if map_output == output else f" on the “{LESION_LABELS[map_output]}” map"
st.caption(f"{verbatim(file_name)} · model {model_name} · output “{LESION_LABELS[output]}”{read_on} · "
           f"computed on {resources.device()}")
