"""The analysis window and filters in one place: sidebar widgets, session state, URL.

Every page reads ``current()``; the values survive page changes (the
sidebar lives in the entry script) and travel in the URL so a view can be
shared.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from dashboard import attribution, auth, facts, levels, registry
from dashboard import store as edits
from dashboard.check import Problem, check_remembered
from dashboard.data import Dataset, shared_dataset
from dashboard.window import Filters, Window, WindowError, default_start

# The date pickers' range: any plausible history, not Streamlit's ten years.
EARLIEST, LATEST = date(1990, 1, 1), date(2100, 12, 31)

FILTER_LABELS = {
    "team": "Team",
    "office": "Office",
    "work_type": "Work type",
    "referrer_type": "Referrer type",
    "region": "Region",
}


def dataset() -> Dataset:
    opened = shared_dataset(os.environ.get("REFPORT_DATA"), opening=_preparing)
    _prepare_journeys(opened)
    return opened


_journeys_prepared: set[tuple[str, str]] = set()
_journeys_lock = threading.Lock()


def _prepare_journeys(opened: Dataset) -> None:
    """The first time this process uses a version of the data, before any page is drawn: keep the
    default view's attribution journeys and the ten models' comparison on them on disk if they are not
    kept yet (attribution.keep_default_view; once per version of the data and of the code that builds
    them, as its facts; 2-3 s at 10 million referrals), so that no visit to Attribution or Return on
    relationships waits for them (Attribution's first render about 0.2 s at that size instead of 1.4 s;
    2.5-3.5 s before the journeys were kept). Sessions opening meanwhile wait for it."""
    key = (str(opened.data_dir), opened.fingerprint)
    if key in _journeys_prepared:
        return
    with (st.spinner("Preparing the attribution journeys (once per version of the data)…", show_time=True),
          _journeys_lock):
        if key in _journeys_prepared:
            return
        try:
            kept = attribution.default_view_kept(opened)
        except (registry.QueryError, duckdb.Error):
            kept = True  # data the contract check refuses, or without dates: the pages say so themselves
        try:
            if not kept:
                attribution.keep_default_view(opened)
        except Exception:  # a page builds them itself then; the log says why
            logging.getLogger("refport").exception("keeping the default view's journeys failed")
        _journeys_prepared.add(key)


def _preparing(path: Path, stamp: str) -> AbstractContextManager:
    """While the data is opened: a spinner when its facts must be built first (once per version of
    the data: about a second at 100,000 referrals, a minute or two at 10 million)."""
    if path.is_dir() and facts.facts_dir_if_built(path, stamp) is None:
        return st.spinner("Preparing this data for analysis (once per version of the data: referrals, "
                          "matters and fees are joined and stored beside it)…", show_time=True)
    return nullcontext()


@st.cache_data(max_entries=8, show_spinner="Checking the data against the contract (once per version of the data)…")
def _problems(data_dir: str, fingerprint: str) -> list[Problem]:
    return check_remembered(data_dir)


def problems() -> list[Problem]:
    ds = dataset()
    return _problems(str(ds.data_dir), ds.fingerprint)


@st.cache_data(max_entries=256, ttl=3600, show_spinner=False)
def _run(fingerprint: str, name: str, window: Window, filters: Filters,
         params: tuple[tuple[str, object], ...], side: tuple | None = None) -> pd.DataFrame:
    tables = edits.tables_at(side[0], side[1]) if side else None
    return registry.run(name, dataset(), window, filters, dict(params), extra_tables=tables)


def forget_query_results() -> None:
    """Drop every cached query result and every figure kept from it (the benchmark's first renders)."""
    _run.clear()
    st.cache_resource.clear()


def state_url() -> str:
    """Where edits are kept: REFPORT_STATE (`refport run --state`), else beside the data directory."""
    return edits.state_url(None, dataset().data_dir)


def _store() -> edits.Store:
    return edits.shared_store(state_url())


def identity() -> auth.Identity:
    """Who is using the app, read afresh on every call: the sign-in (st.user) and their role from the
    store; in local mode the name typed in "Editing as" (dashboard/auth.py)."""
    return auth.current_identity(_store, st.session_state.get("editor_name"))


def edit_store() -> auth.GuardedStore:
    """The edit store for the data on screen (created and migrated on first use), as pages may use it:
    every write checks the role of the person using the app at that moment and records who it was."""
    return auth.GuardedStore(_store(), identity)


def can_edit(action: str, show: bool = True) -> bool:
    """Whether this person may make this kind of change (auth.NEEDS); when not, a read-only notice says
    why. Pages disable their edit widgets with it; the guard refuses the write regardless."""
    return auth.can_edit(identity(), action, show)


def programme() -> levels.Programme:
    """The programme levels (dashboard/levels.toml, or the firm's file in REFPORT_LEVELS)."""
    return levels.load()


def _side_key(name: str) -> tuple | None:
    """For queries reading the store or the levels: what they read, so a save or an edited levels
    file is seen at once (store URL, its revision, the levels file and its mtime)."""
    if not registry.side_tables(name):
        return None
    url, path = state_url(), levels.levels_path()
    return (url, edits.revision_at(url), str(path), path.stat().st_mtime_ns if path.exists() else 0)


def query(name: str, params: dict[str, object] | None = None,
          window: Window | None = None, filters: Filters | None = None) -> pd.DataFrame:
    """A named query for the current window and filters, cached per data fingerprint
    (and per store revision for queries that read the edit store)."""
    return _run(*result_key(name, params, window, filters))


def result_key(name: str, params: dict[str, object] | None = None,
               window: Window | None = None, filters: Filters | None = None) -> tuple:
    """What query() would return, named: equal keys, equal results. A figure kept per result
    (st.cache_resource) takes this, not the frame, whose hashing cost a third of a rerun at 20,000 rows."""
    return (dataset().fingerprint, name, window or current_window(), filters or current_filters(),
            tuple(sorted((params or {}).items())), _side_key(name))


def editor_name() -> str:
    """Who is editing, as the audit trail records it: the signed-in e-mail in sign-in mode, else the
    sidebar's "Editing as" box ("" when nobody has said)."""
    return identity().by


@st.cache_data(max_entries=8, show_spinner=False)
def _data_end(fingerprint: str) -> date:
    return registry.data_end(dataset())


@st.cache_data(max_entries=8, show_spinner=False)
def _filter_options(fingerprint: str) -> dict[str, list[str]]:
    frame = registry.run_sql(dataset(), "filter_options", {})
    return {dim: sorted(frame.loc[frame["dimension"] == dim, "value"].tolist()) for dim in FILTER_LABELS}


def _url_date(key: str) -> date | None:
    """?start= / ?end= as a date the pickers accept; anything else in the URL is ignored."""
    text = st.query_params.get(key)
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    return day if day is not None and EARLIEST <= day <= LATEST else None


def sidebar() -> None:
    """Draw the window and filter widgets (from the entry script, so every page shares them)."""
    ds = dataset()
    data_end = _data_end(ds.fingerprint)
    if "window_end" not in st.session_state:
        end = _url_date("end") or data_end
        st.session_state["window_end"] = end
        st.session_state["window_start"] = _url_date("start") or max(default_start(end), EARLIEST)
        for dim in FILTER_LABELS:
            st.session_state[f"filter_{dim}"] = st.query_params.get_all(dim)

    options = _filter_options(ds.fingerprint)
    with st.sidebar:
        st.markdown("### Analysis window")
        st.date_input("From", key="window_start", format="YYYY-MM-DD", min_value=EARLIEST, max_value=LATEST)
        st.date_input("To", key="window_end", format="YYYY-MM-DD", min_value=EARLIEST, max_value=LATEST)
        if st.button("Default window (24 months)", width="stretch"):
            st.session_state["window_end"] = data_end
            st.session_state["window_start"] = default_start(data_end)
            st.rerun()
        st.markdown("### Filters")
        for dim, label in FILTER_LABELS.items():
            key = f"filter_{dim}"
            # a value shared in a URL that the data no longer has is dropped, not an error
            st.session_state[key] = [v for v in st.session_state.get(key, []) if v in options[dim]]
            st.multiselect(label, options[dim], key=key, placeholder="All")
        if st.session_state["window_start"] > st.session_state["window_end"]:
            st.error("The window's start is after its end: the default 24-month window is shown.")
        st.caption(f"Data: `{ds.data_dir.name}` · up to {data_end:%d %b %Y}")
        auth.sidebar_box(identity())
    _write_url()


def _write_url() -> None:
    params: dict[str, object] = {
        "start": st.session_state["window_start"].isoformat(),
        "end": st.session_state["window_end"].isoformat(),
    }
    for dim in FILTER_LABELS:
        values = st.session_state.get(f"filter_{dim}") or []
        if values:
            params[dim] = values
    st.query_params.from_dict(params)


def current_window() -> Window:
    start, end = st.session_state.get("window_start"), st.session_state.get("window_end")
    if start is None or end is None:
        return registry.default_window(dataset())
    try:
        return Window(start, end)
    except WindowError:
        return registry.default_window(dataset())


def current_filters() -> Filters:
    return Filters(**{dim: tuple(st.session_state.get(f"filter_{dim}") or ()) for dim in FILTER_LABELS})


def context_caption() -> str:
    window = current_window()
    return f"Window {window.label()} · {current_filters().describe()}"


# wide enough for "Open profile" (the grid sizes a link column by its URL, and "small" clipped it)
PROFILE_COLUMN = st.column_config.LinkColumn(
    "Profile", display_text="Open profile", width=110,
    help="The referrer's profile and plan (opens in a new tab)",
)


def profile_links(referrer_ids) -> list[str]:
    """Links to the Referrer profile page, for a table's "profile" column (PROFILE_COLUMN)."""
    return [f"profile?referrer={rid}" for rid in referrer_ids]
