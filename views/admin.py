"""Admin: create, disable and enable accounts, change roles, assign photographs to graders' work queues."""

import streamlit as st
from sqlalchemy import select

from db.accounts import create_account, disable_account, enable_account, list_accounts, set_role
from db.models import ROLES, Image
from db.names import printable
from db.work_queue import assign, progress
from drcore.limits import MAX_NAME_CHARS, MAX_PASSWORD_CHARS
from drx.ui import auth, resources
from drx.ui.actions import write
from drx.ui.text import verbatim

sessions = resources.session_factory(resources.settings().database_url)
admin = auth.require(sessions, "admin")  # refused here too when the page is reached by its URL

st.title("Admin")
if "admin_done" in st.session_state:
    st.success(st.session_state.pop("admin_done"))


def done(message: str) -> None:
    st.session_state["admin_done"] = message
    st.rerun()


with sessions() as session:
    accounts = list_accounts(session)
    images = session.execute(select(Image.id, Image.file_name).order_by(Image.id)).all()
    progresses = {info.grader_id: progress(session, info.grader_id) for info in accounts}

accounts_tab, queue_tab = st.tabs(["Accounts", "Work queues"])
with accounts_tab:
    st.dataframe(  # cells are plain text: names show verbatim
        [{"name": printable(info.name), "role": info.role, "disabled": info.disabled,
          "must change password": info.must_change_password, "created": f"{info.created_at:%Y-%m-%d %H:%M}",
          "last change": f"{info.changed_at:%Y-%m-%d %H:%M}"} for info in accounts],
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
            if write(sessions, lambda session: create_account(session, name, password, role=role, by=admin,
                                                              must_change_password=True),
                     "The account was not created:"):
                done(f"Account {verbatim(name.strip())} created ({role}).")
    with change_column:
        st.markdown("**Change an account**")
        names = [info.name for info in accounts]
        target = st.selectbox("Account", names, key="target_account", format_func=printable)
        info = next((item for item in accounts if item.name == target), None)
        if info is not None:
            st.caption(f"Now: {info.role}, " + ("**disabled**" if info.disabled else "enabled"))
            new_role = st.selectbox("Role", ROLES, index=ROLES.index(info.role), key="target_role")
            role_button, state_button = st.columns(2)
            if role_button.button("Set role", key="set_role"):
                if write(sessions, lambda session: set_role(session, target, new_role, by=admin),
                         "The role was not changed:"):
                    done(f"{verbatim(printable(target))} is now a {new_role}.")
            if info.disabled:
                if state_button.button("Enable", key="enable_account"):
                    if write(sessions, lambda session: enable_account(session, target, by=admin),
                             "The account was not enabled:"):
                        done(f"{verbatim(printable(target))} can log in again.")
            elif state_button.button("Disable", key="disable_account", type="primary"):
                if write(sessions, lambda session: disable_account(session, target, by=admin),
                         "The account was not disabled:"):
                    done(f"{verbatim(printable(target))} can no longer log in.")

with queue_tab:
    st.dataframe(
        [{"name": printable(info.name), "role": info.role, "graded": progresses[info.grader_id].done,
          "assigned": progresses[info.grader_id].total, "left": progresses[info.grader_id].left}
         for info in accounts if not info.disabled],
        hide_index=True, width="stretch",
    )
    if not images:
        st.info("No photograph is known yet: review one, or run `drx import`.")
    else:
        graders = {info.grader_id: info.name for info in accounts if not info.disabled}
        with st.form("assign"):
            grader_id = st.selectbox("Grader", list(graders), format_func=lambda key: printable(graders[key]),
                                     key="assign_grader")
            labels = {image_id: f"{image_id} · {file_name}" for image_id, file_name in images}
            chosen = st.multiselect("Photographs to add to the queue", list(labels), format_func=labels.get,
                                    key="assign_images")
            if st.form_submit_button("Assign", type="primary", disabled=not graders):
                def assign_all(session) -> int:
                    for image_id in chosen:
                        assign(session, image_id, grader_id, by=admin)
                    return len(chosen)

                if write(sessions, assign_all, "Nothing was assigned:"):
                    done(f"{len(chosen)} photograph(s) assigned to {verbatim(printable(graders[grader_id]))}.")
