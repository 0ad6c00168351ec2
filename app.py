"""drx: the Streamlit entry point. Navigation and the sidebar shared by every page."""

import streamlit as st

from drcore.device import default_device
from drcore.models import DEFAULT_MODEL, bundled_models
from drx.ui import resources

st.set_page_config(page_title="drx · DR heatmap review", page_icon=":material/visibility:", layout="wide")

with st.sidebar:
    st.markdown("### drx")
    st.text_input("Grader name", key="grader", placeholder="e.g. Dr A. Smith", help="Saved with every grade you make.")
    models = list(bundled_models())
    st.selectbox(
        "Model", models, index=models.index(DEFAULT_MODEL) if DEFAULT_MODEL in models else 0, key="model_name"
    )
    card = resources.model(st.session_state["model_name"]).card
    st.caption(f"{card.architecture}, {card.input_size} px input · computing on **{default_device()}**")
    if card.limitations:
        st.warning(card.limitations, icon="⚠️")

page = st.navigation([
    st.Page("views/review.py", title="Review", icon=":material/visibility:", default=True),
    st.Page("views/compare.py", title="Compare with experts", icon=":material/compare:"),
    st.Page("views/methods.py", title="Heatmap methods", icon=":material/grid_view:"),
])
page.run()
