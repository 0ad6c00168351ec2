"""Admin: create, disable and enable accounts, change roles, assign photographs to graders' work queues."""

import streamlit as st

from drcore.limits import MAX_NAME_CHARS, MAX_PASSWORD_CHARS
from drcore.vocabulary import ROLES
from drx import accounts
from drx.ui import auth, resources
from drx.ui.actions import attempt
from drx.ui.text import verbatim

sessions = resources.session_factory(resources.settings().database_url)
admin = auth.require(sessions, "admin")  # refused here too when the page is reached by its URL

st.title("Admin")
if "admin_done" in st.session_state:
    st.success(st.session_state.pop("admin_done"))


def done(message: str) -> None:
    st.session_state["admin_done"] = message
    st.rerun()


overview = accounts.admin_overview(sessions)
accounts_tab, queue_tab = st.tabs(["Accounts", "Work queues"])
with accounts_tab:
    st.dataframe(  # cells are plain text: names show verbatim
        [{"name": info.shown, "role": info.role, "disabled": info.disabled,
          "must change password": info.must_change_password, "created": f"{info.created_at:%Y-%m-%d %H:%M}",
          "last change": f"{info.changed_at:%Y-%m-%d %H:%M}"} for info in overview.accounts],
        hide_index=True, width="stretch",
    )
    create_column, change_column = st.columns(2, gap="large")
    with create_column, st.form("create_account", clear_on_submit=True):
        st.markdown("**New account**")
        name = st.text_input("Name", key="new_name", max_chars=MAX_NAME_CHARS)
        password = st.text_input("Initial password", type="password", key="new_password", max_chars=MAX_PASSWORD_CHARS,
                                 help="The person must change it at their first login.")
        role = st.selectbox("Role", ROLES, key="new_role")
        if st.form_submit_button("Create account", type="primary"):
            if attempt(lambda: accounts.create_account(sessions, admin, name, password, role),
                       "The account was not created:"):
                done(f"Account {verbatim(name.strip())} created ({role}).")
    with change_column:
        st.markdown("**Change an account**")
        shown = {info.name: info.shown for info in overview.accounts}
        target = st.selectbox("Account", list(shown), key="target_account", format_func=shown.get)
        info = next((item for item in overview.accounts if item.name == target), None)
        if info is not None:
            st.caption(f"Now: {info.role}, " + ("**disabled**" if info.disabled else "enabled"))
            new_role = st.selectbox("Role", ROLES, index=ROLES.index(info.role), key="target_role")
            role_button, state_button = st.columns(2)
            if role_button.button("Set role", key="set_role"):
                if attempt(lambda: accounts.set_role(sessions, admin, target, new_role), "The role was not changed:"):
                    done(f"{verbatim(info.shown)} is now a {new_role}.")
            if info.disabled:
                if state_button.button("Enable", key="enable_account"):
                    if attempt(lambda: accounts.set_disabled(sessions, admin, target, False),
                               "The account was not enabled:"):
                        done(f"{verbatim(info.shown)} can log in again.")
            elif state_button.button("Disable", key="disable_account", icon=":material/block:"):
                if attempt(lambda: accounts.set_disabled(sessions, admin, target, True),
                           "The account was not disabled:"):
                    done(f"{verbatim(info.shown)} can no longer log in.")

with queue_tab:
    st.dataframe(
        [{"name": info.shown, "role": info.role, "photographs graded": info.graded, "in queue": info.queue.total,
          "queue done": info.queue.done, "queue left": info.queue.left}
         for info in overview.accounts if not info.disabled],
        hide_index=True, width="stretch",
    )
    if not overview.images:
        st.info("No photograph is known yet: review one, or run `drx import`.")
    else:
        graders = {info.grader_id: info.shown for info in overview.accounts if not info.disabled}
        with st.form("assign"):
            grader_id = st.selectbox("Grader", list(graders), format_func=graders.get, key="assign_grader")
            labels = {image_id: f"{image_id} · {file_name}" for image_id, file_name in overview.images}
            chosen = st.multiselect("Photographs to add to the queue", list(labels), format_func=labels.get,
                                    key="assign_images")
            if st.form_submit_button("Assign", type="primary", disabled=not graders):
                if attempt(lambda: accounts.assign_images(sessions, admin, grader_id, chosen), "Nothing was assigned:"):
                    done(f"{len(chosen)} photograph(s) assigned to {verbatim(graders[grader_id])}.")
