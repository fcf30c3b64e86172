"""refport dashboard: the entry script (`streamlit run dashboard/app.py`)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run` puts this file's folder, not the project, on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import state  # noqa: E402

PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="refport · referrer portfolio review", page_icon="📈", layout="wide")

overview = st.Page(PAGES / "overview.py", title="Overview", icon="📊", default=True, url_path="overview")
data = st.Page(PAGES / "data.py", title="Data", icon="🗂️", url_path="data")

# The sidebar is drawn before st.navigation: widgets drawn after it are
# dropped from the sidebar on reruns. Broken data gets no window or filters.
problems = state.problems()
if not problems:
    state.sidebar()

navigation = st.navigation({"Portfolio review": [overview], "Data": [data]})

if problems and navigation.url_path != "data":
    st.title(navigation.title)
    st.error(
        f"The data in `{state.dataset().data_dir}` fails the contract check "
        f"({len(problems)} problem(s)), so this page cannot be computed."
    )
    st.page_link(data, label="See the check report on the Data page", icon="🗂️")
    st.stop()

navigation.run()
