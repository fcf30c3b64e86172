"""refport dashboard: the entry script (`streamlit run dashboard/app.py`)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run` puts this file's folder, not the project, on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import auth, errors, heap, state

# Not "pages/": Streamlit treats a pages/ folder beside the entry script as a
# legacy multipage app and then skips this script (no sidebar) on deep links.
PAGES = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="refport · referrer portfolio review", page_icon=":material/insights:", layout="wide")

overview = st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:", default=True)
data = st.Page(PAGES / "data.py", title="Data", icon=":material/dataset:", url_path="data")
import_data = st.Page(PAGES / "import_data.py", title="Import", icon=":material/upload_file:", url_path="import")
concentration = st.Page(PAGES / "concentration.py", title="Concentration", icon=":material/pie_chart:", url_path="concentration")
drift = st.Page(PAGES / "drift.py", title="Strategic drift", icon=":material/explore:", url_path="drift")
flows = st.Page(PAGES / "flows.py", title="Cross-selling and reciprocity", icon=":material/sync_alt:", url_path="flows")
relationships = st.Page(PAGES / "relationships.py", title="Who knows who", icon=":material/hub:", url_path="relationships")
tiering = st.Page(PAGES / "tiering.py", title="Programme levels", icon=":material/military_tech:", url_path="tiering")
matrix = st.Page(PAGES / "matrix.py", title="Prioritisation matrix", icon=":material/grid_view:", url_path="matrix")
attribution = st.Page(PAGES / "attribution.py", title="Attribution", icon=":material/account_tree:", url_path="attribution")
ror = st.Page(PAGES / "ror.py", title="Return on relationships", icon=":material/savings:", url_path="ror")
profile = st.Page(PAGES / "profile.py", title="Referrer profile", icon=":material/badge:", url_path="profile")
pipeline = st.Page(PAGES / "pipeline.py", title="Development pipeline", icon=":material/stairs:", url_path="pipeline")
kpis = st.Page(PAGES / "kpis.py", title="KPIs and closing the loop", icon=":material/flag:", url_path="kpis")
board_pack = st.Page(PAGES / "board_pack.py", title="Board pack", icon=":material/picture_as_pdf:", url_path="board-pack")
users = st.Page(PAGES / "users.py", title="Users and roles", icon=":material/manage_accounts:", url_path="users")

# Sign-in (dashboard/auth.py): with [auth] in secrets.toml nobody sees anything but the sign-in
# screen until signed in; without it the app runs in local mode (single user, no sign-in).
if auth.needs_sign_in():
    st.navigation([overview, data, import_data, concentration, drift, flows, relationships, tiering, matrix,
                   attribution, ror, profile, pipeline, kpis, board_pack, users], position="hidden")
    auth.sign_in_screen()
    st.stop()
who = state.identity()

# The window and filters are shared by every page. Broken data gets none:
# only the Data and Import pages can be used until it is fixed.
# ?referrer=R0001 opens that referrer's profile; the sidebar rewrites the URL, so keep it first
if "referrer" in st.query_params:
    st.session_state["profile_referrer_url"] = st.query_params["referrer"]

problems = state.problems()
if not problems:
    state.sidebar()
else:
    with st.sidebar:
        auth.sidebar_box(who)

navigation = st.navigation(expanded=True, pages={
    "Portfolio review": [overview, concentration, drift, tiering, matrix],
    "Relationships": [flows, relationships, attribution, ror, profile, pipeline],
    "Board": [kpis, board_pack],
    "Data": [data, import_data],
    # admins give roles; in local mode the page explains that roles need sign-in
    **({"Admin": [users]} if who.mode == auth.LOCAL or who.role == "admin" else {}),
})

if problems and navigation.url_path not in ("data", "import", "users"):  # importing fixes broken data
    st.title(navigation.title)
    st.error(
        f"The data in `{state.dataset().data_dir}` fails the contract check "
        f"({len(problems)} problem(s)), so this page cannot be computed."
    )
    st.page_link(data, label="See the check report on the Data page", icon=":material/dataset:")
    st.stop()

# a failing page shows a short message with a reference; the traceback goes to the server log
with errors.friendly_errors(navigation.url_path or "overview"):
    navigation.run()
heap.freeze_what_is_loaded()  # once per process: see dashboard/heap.py
