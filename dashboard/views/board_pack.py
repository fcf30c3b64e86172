"""Board pack: the portfolio review document for the window and filters in the sidebar,
as PDF, PowerPoint or HTML, with the same numbers as these pages (`refport report` on the command line)."""

import streamlit as st

from dashboard import pack, state
from dashboard.pack import sections

FORMATS = {
    "PDF (A4 landscape, for print and tablets)": "pdf",
    "PowerPoint (16:9 slides, to paste into a deck)": "pptx",
    "HTML (one self-contained file)": "html",
}

st.title("Board pack")
st.caption(state.context_caption())
st.markdown(
    "The management board reads a pack, not the app. This builds it for the window and filters in the "
    "sidebar: every figure is the one these pages show, each section carries a plain-English reading of "
    "its numbers, and the last page lists the parameters and a content hash of the data so the pack can "
    "be rebuilt and checked (`refport report --out pack.pdf` does the same unattended)."
)

kept, left_out = sections.plan()
models = sections.model_choices()
default = sections.default_model()

left, right = st.columns([3, 2])
choice = left.radio("Format", list(FORMATS), key="pack_format")
fmt = FORMATS[choice]
if models:
    model = right.selectbox("Attribution model for per-referrer credit", models,
                            index=models.index(default) if default in models else 0, key="pack_model",
                            format_func=lambda m: m.replace("_", " "),
                            help="the model behind 'attributed value' in the return-on-relationships table; "
                                 "the attribution section compares all models whatever is chosen here")
else:
    model = default

with st.container(border=True):
    st.markdown("**In this pack:** cover, " + ", ".join(spec.title.lower() for spec in kept)
                + ", and the parameters and data hash on the last page.")
    if left_out:
        st.caption("Left out until their feature is built: "
                   + "; ".join(f"{title} ({why})" for title, why in left_out) + ".")

window, filters = state.current_window(), state.current_filters()
dataset = state.dataset()
key = (dataset.fingerprint, window, filters, model, fmt)
name = f"board-pack-{window.start:%Y%m%d}-{window.end:%Y%m%d}{pack.EXTENSIONS[fmt]}"

if st.button("Build the pack", type="primary", key="pack_build"):
    with st.status("Building the board pack…", expanded=True) as status:
        bar = st.progress(0.0, text="Starting")

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

        built = sections.build_pack(
            lambda query, period, params=None: state.query(query, params, window=period, filters=filters),
            dataset.data_dir, window, filters, model, progress=progress,
            store_label=sections.store_label(state.state_url()),
        )
        bar.progress(1.0, text=f"Writing the {fmt.upper()}")
        content = pack.render(built, fmt)
        status.update(label=f"The board pack is ready: {len(built.sections)} sections, "
                            f"data hash {built.provenance.content_hash[:12]}", state="complete", expanded=False)
    st.session_state["board_pack"] = {"key": key, "data": content, "name": name}

ready = st.session_state.get("board_pack")
if ready and ready["key"] == key:
    st.download_button(f"Download {ready['name']}", data=ready["data"], file_name=ready["name"],
                       mime=pack.MIME_TYPES[fmt], type="primary", icon=":material/download:", on_click="ignore",
                       key="pack_download")
    st.caption(f"{len(ready['data']) / 1e6:,.1f} MB · built for {window.label()} · {filters.describe()}.")
else:
    st.info("Choose a format and press **Build the pack**; the download appears here when it is ready. "
            "Change the window or filters in the sidebar first to build the pack for another period.")
