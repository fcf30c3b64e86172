"""Users and roles: who may change what once sign-in is configured (admins only)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, state
from dashboard.formatting import count
from dashboard.store import ROLES, StoreConflict, check_email

FLASH, ERROR = "users_flash", "users_error"
ROLE_TEXT = {
    "viewer": "Viewer: reads only",
    "editor": "Editor: changes edits, imports",
    "admin": "Admin: also gives roles",
}

who = state.identity()
store = state.edit_store()

st.title("Users and roles")
st.caption("Who may change what when people sign in with the firm's identity provider.")
st.markdown(
    "Everyone who signs in sees every page. What they may **change** depends on their role: "
    "**viewers** change nothing, **editors** change programme levels, the target mix, referrer plans, KPIs "
    "and “told on” marks and import data, **admins** also give roles here. People not listed are viewers. "
    "The first admins are named in the server's configuration (`[refport] admins` in secrets.toml). Every "
    "role change is kept with who made it, when and why; nothing is overwritten."
)

roles = store.roles()
admins = sorted(auth.configured_admins())

if who.mode == auth.LOCAL:
    st.info(
        "**Local mode**: sign-in is not configured, so there are no users or roles: whoever runs the app "
        "on this machine can change everything, under the name typed in “Editing as”. Roles apply once "
        "sign-in is configured (`[auth]` in `.streamlit/secrets.toml`; see the README's Security section).",
        icon=":material/info:",
    )
    if not roles.empty:
        st.caption(f"{count(len(roles))} role(s) are already kept in the store and will apply then.")
    st.stop()

if who.role != "admin":
    st.warning(f"Only admins can see and change roles; you ({who.email or who.name}) have the "
               f"**{who.role or 'no'}** role.", icon=":material/lock:")
    st.stop()

# --- who has which role -----------------------------------------------------------------------------
people = pd.DataFrame({
    "E-mail": admins, "Role": "admin", "From": "configuration", "Version": 0,
    "Last change": "", "Reason": "named in [refport] admins",
})
if not roles.empty:
    stored = roles[~roles["email"].isin(admins)]
    people = pd.concat([people, pd.DataFrame({
        "E-mail": stored["email"], "Role": stored["role"], "From": "given here",
        "Version": stored["version"].astype(int),
        "Last change": [f"{b}, {a:%d %b %Y %H:%M} UTC" for b, a in zip(stored["changed_by"], stored["changed_at"])],
        "Reason": stored["reason"],
    })], ignore_index=True)
versions = {} if roles.empty else dict(zip(roles["email"], roles["version"].astype(int)))

tiles = st.columns(3)
for tile, role in zip(tiles, ("admin", "editor", "viewer")):
    tile.metric(f"{role.capitalize()}s listed", count((people["Role"] == role).sum()))
st.dataframe(people, hide_index=True, width="stretch", placeholder="—",
             column_config={"Version": st.column_config.NumberColumn(format="%d", width="small")})
st.caption("Admins from configuration are changed in secrets.toml, not here. Anyone else who signs in and "
           "is not listed is a viewer.")

# --- give a role ---------------------------------------------------------------------------------------
st.subheader("Add a person or change a role")
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH), icon=":material/check_circle:")


def _save() -> None:
    try:
        email = check_email(st.session_state.get("users_email"))
    except ValueError as error:
        st.session_state[ERROR] = f"Not saved: {error}."
        return
    role = st.session_state.get("users_role")
    try:
        saved = store.set_role(email, role, state.editor_name(), st.session_state.get("users_reason"),
                               expected_version=versions.get(email, 0))
    except (StoreConflict, ValueError) as error:
        st.session_state[ERROR] = str(error)
        return
    st.session_state.pop(ERROR, None)
    st.session_state[FLASH] = (f"{email} is now {role} (version {saved})." if saved
                               else f"{email} already had the {role} role; nothing was recorded.")
    st.session_state["users_email"] = ""
    st.session_state["users_reason"] = ""


with st.container(border=True):
    email_col, role_col = st.columns([3, 2])
    email_col.text_input("Sign-in e-mail", key="users_email", placeholder="e.g. ann.smith@firm.com")
    role_col.selectbox("Role", ROLES, index=1, key="users_role", format_func=ROLE_TEXT.get)
    st.text_input("Reason (kept in the history)", key="users_reason",
                  placeholder="e.g. joins the BD team; runs the quarterly board review")
    st.button("Save the role", type="primary", key="users_save", on_click=_save)
    st.caption(f"Saving as **{who.email}**. Nobody can change their own role: another admin does.")
if st.session_state.get(ERROR):
    st.error(st.session_state[ERROR])

# --- history ---------------------------------------------------------------------------------------------
st.subheader("History")
history = store.role_history()
if history.empty:
    st.caption("No role has been given yet.")
else:
    history = history.sort_values(["changed_at", "version"], ascending=False)
    st.dataframe(pd.DataFrame({
        "When (UTC)": history["changed_at"].dt.strftime("%d %b %Y %H:%M:%S"),
        "E-mail": history["email"], "Role": history["role"], "By": history["changed_by"],
        "Reason": history["reason"], "Version": history["version"],
    }), hide_index=True, width="stretch", placeholder="—")
    st.caption("Every role change, newest first; nothing is ever overwritten.")
