"""Log in (name and password, or single sign-on when configured); a one-time password is changed first."""

import streamlit as st

from drx.ui import auth, resources

sessions = resources.session_factory(resources.settings().database_url)
user = auth.current_user(sessions)
st.title("drx · DR heatmap review")
if user is None:
    st.caption("Graders, reviewers and admins log in with the account an admin made for them.")
    auth.login_form(sessions)
elif user.must_change_password:
    auth.password_change_form(sessions, user)
