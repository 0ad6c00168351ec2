"""drx: the Streamlit entry point. Login gate, navigation by role and the sidebar shared by every page."""

import streamlit as st

from drcore.models import DEFAULT_MODEL
from drx.ui import auth, resources

st.set_page_config(page_title="drx · DR heatmap review", page_icon=":material/visibility:", layout="wide")

settings = resources.settings()
sessions = resources.session_factory(settings.database_url)
auth.first_start(settings.database_url, sessions)  # first start: an admin with a one-time password, on the console
user = auth.current_user(sessions)

with st.sidebar:
    st.markdown("### drx")
    if user is not None:
        st.text(f"Logged in as {user.name}")
        st.caption(f"Role: **{user.role}**")
        st.button("Log out", on_click=auth.logout, key="logout", icon=":material/logout:")
    models = resources.model_names()
    st.selectbox(
        "Model", models, index=models.index(DEFAULT_MODEL) if DEFAULT_MODEL in models else 0, key="model_name"
    )
    card = resources.model(st.session_state["model_name"]).card
    st.caption(f"{card.architecture}, {card.input_size} px input · computing on **{resources.device()}**")
    if card.limitations:
        st.warning(card.limitations, icon=":material/warning:")

if user is None or user.must_change_password:
    pages = [st.Page("views/login.py", title="Log in", icon=":material/login:", default=True)]
else:
    pages = [
        st.Page("views/review.py", title="Review", icon=":material/visibility:", default=True),
        st.Page("views/compare.py", title="Compare with experts", icon=":material/compare:"),
        st.Page("views/methods.py", title="Heatmap methods", icon=":material/grid_view:"),
        st.Page("views/discovery.py", title="Discovery", icon=":material/scatter_plot:"),
        st.Page("views/dashboards.py", title="Dashboards", icon=":material/monitoring:"),
    ]
    if auth.may(user, "reviewer"):
        pages.append(st.Page("views/adjudicate.py", title="Adjudicate", icon=":material/gavel:"))
        pages.append(st.Page("views/export.py", title="Export", icon=":material/download:"))
    if auth.may(user, "admin"):
        pages.append(st.Page("views/admin.py", title="Admin", icon=":material/admin_panel_settings:"))
page = st.navigation(pages)
page.run()
