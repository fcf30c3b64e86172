"""Import: a CRM, billing or activity export (CSV or Excel) into one contract table.

Upload, choose the table, check the suggested mapping, dry run, import; the
same steps as `refport import` (docs/import.md), with the same code.
"""

import hashlib

import pandas as pd
import streamlit as st

from dashboard import importer, state
from dashboard.contract import TABLE_NAMES, TABLES
from dashboard.import_mapping import MappingError, parse_mapping, to_toml
from dashboard.import_read import SUFFIXES
from dashboard.settings import SETTINGS

MONEY_COLUMNS = ("estimated_value", "amount", "expense", "cost_rate")

st.title("Import an export")
st.caption("CSV or Excel exports from a CRM, a billing system or a business-development log, "
           "turned into the data contract's tables. Nothing is written until you press Import.")
st.markdown(
    "Every row of the file ends up **accepted** (written to the table), **quarantined** (data that "
    "cannot be imported, with its row number and the reason, downloadable below) or **skipped** "
    "(titles, the header, blank rows, totals and footers), and the counts always add up to the "
    "rows read. Dates, amounts, durations and statuses are converted as the mapping says; "
    "nothing is guessed."
)

imports = state.edit_store().imports()
if not imports.empty:
    with st.expander(f"Imports made in the app ({len(imports):,})"):
        st.dataframe(pd.DataFrame({
            "When (UTC)": imports["changed_at"].dt.strftime("%d %b %Y %H:%M"), "By": imports["changed_by"],
            "Table": imports["table_name"], "File": imports["file_name"], "Into": imports["target"],
            "Accepted": imports["accepted"], "Quarantined": imports["quarantined"],
        }), hide_index=True, width="stretch", placeholder="—")
if not state.can_edit("import"):
    st.stop()  # viewers import nothing; the guard refuses an import regardless

uploaded = st.file_uploader(
    "Export file", type=[s.lstrip(".") for s in SUFFIXES], key="import_uploader",
    max_upload_size=importer.MAX_UPLOAD_BYTES // (1024 * 1024),  # MB; the server checks it again
    help=f"CSV (.csv, .txt, .tsv) or Excel (.xlsx, .xlsm), up to "
         f"{importer.MAX_UPLOAD_BYTES // (1024 * 1024)} MB",
)
if uploaded is not None:
    st.session_state["import_upload"] = {"name": uploaded.name, "data": uploaded.getvalue(),
                                         "uploader": True}
elif st.session_state.get("import_upload", {}).get("uploader"):
    del st.session_state["import_upload"]  # the file was removed from the uploader

upload = st.session_state.get("import_upload")
if upload is None:
    st.info("Upload an export to start: for instance a CRM opportunities report for **referrals**, a "
            "billing report for **fees** or an activity log for **activities**. Import the tables "
            "others refer to first (referrers, contacts and fee earners before referrals), so that "
            "references can be checked. On the command line: `refport import FILE --table T --out DIR`.")
    st.stop()

name, data = upload["name"], upload["data"]
digest = hashlib.sha256(name.encode() + b"\0" + data).hexdigest()[:16]
checked = st.session_state.setdefault("import_checked", {})
if digest not in checked:  # type, size and content, checked here on the server, once per file
    checked.clear()
    checked[digest] = (importer.check_upload(name, data), importer.sheet_names(data, name))
refused, sheets = checked[digest]
if refused:
    st.error(refused)
    st.stop()

left, middle, right = st.columns([2, 2, 3])
table = left.selectbox("Contract table", TABLE_NAMES, index=None, key="import_table",
                       placeholder="Choose the table this file fills",
                       format_func=lambda t: t.replace("_", " "))
sheet = middle.selectbox("Sheet", sheets, key="import_sheet") if len(sheets) > 1 else None
loaded = state.dataset().data_dir
target = right.text_input(
    "Import into the data directory", value=str(loaded.parent / "imported"), key="import_target",
    help="Created if it does not exist; only this table's file (and its quarantine) is replaced. "
         f"The data on screen is in {loaded}.",
)
if table is None:
    st.info(f"**{name}** ({len(data) / 1024:,.0f} KB) is ready. Choose the contract table it fills.")
    st.stop()
try:  # only inside the import root (importer.web_target): a web user cannot write anywhere else
    target_dir = importer.web_target(target, loaded)
except importer.ImportUsageError as err:
    st.error(str(err))
    st.stop()
if target_dir.resolve() == loaded.resolve():
    st.warning("This replaces the table in the data shown on every page.", icon=":material/warning:")

# The suggestion reads the whole file, so it is kept per file, table and sheet.
suggestions = st.session_state.setdefault("import_suggestions", {})
key = (digest, table, sheet)
if key not in suggestions:
    try:
        with st.spinner("Reading the file and suggesting a mapping…"):
            prep = importer.prepare(data, table, None, sheet, name)
    except importer.ImportUsageError as err:
        st.error(str(err))
        st.stop()
    suggestions.clear()
    suggestions[key] = to_toml(prep.mapping)

st.subheader("Mapping")
st.caption("Which column of the file feeds which column of the table, how its dates and amounts are "
           "written and how its statuses map. Suggested from the headers and values: check it, edit it, "
           "keep a copy for next time (`refport import --mapping FILE`). Format: docs/import.md.")
text = st.text_area("Mapping (TOML)", value=suggestions[key], height=360,
                    key=f"import_mapping_{digest}_{table}_{sheet}")
st.download_button("Download the mapping", data=text, file_name=f"{table}.toml", mime="application/toml",
                   on_click="ignore", key="import_mapping_download", icon=":material/download:")
try:
    mapping = parse_mapping(text, table)
except MappingError as err:
    st.error(str(err))
    st.stop()

run_key = (digest, table, sheet, text, str(target_dir))


def run(dry_run: bool) -> importer.ImportResult | None:
    bar = st.progress(0.0, text="Reading")

    def progress(done: int, total: int | None) -> None:
        fraction = min(done / total, 1.0) if total else 0.0
        bar.progress(fraction, text=f"{done:,} rows read")

    try:
        # through the guard: a real import needs the editor role (checked now) and is logged with who
        result = state.edit_store().import_file(data, table, target_dir, mapping, dry_run=dry_run, sheet=sheet,
                                                name=name, progress=progress)
    except (importer.ImportUsageError, OSError) as err:
        bar.empty()
        st.error(str(err))
        return None
    bar.empty()
    return result


one, two = st.columns([1, 3])
if one.button("Dry run", key="import_dry_run", type="primary",
              help="Convert every row and count; write nothing"):
    result = run(dry_run=True)
    if result is not None:
        st.session_state["import_result"] = {"key": run_key, "result": result}

shown = st.session_state.get("import_result")
if not shown or shown["key"] != run_key:
    st.info("Press **Dry run** to see what the import would do: the counts, the reasons for every "
            "quarantined row and a preview of the accepted rows.")
    st.stop()
result: importer.ImportResult = shown["result"]

st.subheader("Dry run" if result.dry_run else "Import")
if not result.dry_run:
    if result.written is not None:
        st.success(f"Imported {result.accepted:,} rows into `{result.written}`.", icon=":material/check_circle:")
    else:
        st.error("No row could be imported; the existing table (if any) is unchanged.")
    own = result.table_problems()
    if own:
        st.error(f"The contract check finds {len(own)} problem(s) in {TABLES[table].file_name}:")
        st.dataframe(pd.DataFrame([{"column": p.column, "row": p.row, "value": p.value, "problem": p.message}
                                   for p in own]), hide_index=True, width="stretch", placeholder="—")
    elif result.written is not None:
        missing = result.missing_tables()
        st.caption(f"Contract check: {table.replace('_', ' ')} follows the data contract."
                   + (f" Not yet in the directory: {', '.join(missing)}." if missing else ""))

cols = st.columns(4)
cols[0].metric("Rows read", f"{result.rows_read:,}")
cols[1].metric("Accepted", f"{result.accepted:,}")
cols[2].metric("Quarantined", f"{len(result.quarantined):,}")
cols[3].metric("Skipped (not data)", f"{len(result.skipped):,}")
st.caption(f"{result.rows_read:,} rows read = {result.accepted:,} accepted + "
           f"{len(result.quarantined):,} quarantined + {len(result.skipped):,} skipped "
           f"({result.source.describe()}, header on row {result.header_row}).")

if result.dry_run and result.accepted:
    if two.button(f"Import {result.accepted:,} rows into {target_dir / TABLES[table].file_name}",
                  key="import_go", help="Writes the table (replacing the old one) and the quarantine"):
        done = run(dry_run=False)
        if done is not None:
            st.session_state["import_result"] = {"key": run_key, "result": done}
            st.rerun()
elif result.dry_run:
    two.warning("No row can be imported with this mapping: see the reasons below.")

if result.quarantined:
    st.subheader("Quarantined rows")
    st.caption("Rows that are data but cannot be imported, with the row number the spreadsheet shows. "
               "Fix them in the source or in the mapping and import again.")
    st.dataframe(pd.DataFrame({"row": [q.row for q in result.quarantined[:500]],
                               "reason": [q.reason for q in result.quarantined[:500]]}),
                 hide_index=True, width="stretch", placeholder="—",
                 column_config={"row": st.column_config.NumberColumn(format="%d", width="small"),
                                "reason": st.column_config.TextColumn(width="large")})
    st.download_button(f"Download the {len(result.quarantined):,} quarantined rows (CSV)",
                       data=importer.quarantine_csv(result), file_name=f"{table}-quarantine.csv",
                       mime="text/csv", on_click="ignore", key="import_quarantine_download", icon=":material/download:")

if result.skipped:
    with st.expander(f"Skipped rows ({len(result.skipped):,})"):
        st.dataframe(pd.DataFrame(result.skipped, columns=["row", "why"]), hide_index=True, width="stretch", placeholder="—")

st.subheader("Preview of the accepted rows")
preview = result.preview(20)
if preview.empty:
    st.info("No accepted rows.")
else:
    money = st.column_config.NumberColumn(format=f"{SETTINGS.currency} %,.2f")
    st.dataframe(preview, hide_index=True, width="stretch", placeholder="—",
                 column_config={c: money for c in MONEY_COLUMNS if c in preview.columns}
                 | {"hours": st.column_config.NumberColumn(format="%.2f h")})
    st.caption("The first 20 accepted rows as they are written: dates as dates, amounts in the "
               "reporting currency (credit notes and refunds negative), durations in hours.")
