"""Import data (admins): services sold and refund cases from CSV or Excel, every row checked first, all or
nothing, recorded in the audit trail."""

import streamlit as st

from desk import imports
from desk.errors import DeskError, InvalidInput
from ui.cache import clear_analytics_cache
from ui.export import download_file, download_prepared_csv
from ui.guard import guard

ctx = guard("import")

st.title("Import data")
st.caption(
    "Bring in services sold (from billing) and refund cases (from the helpdesk). Every row is checked before "
    "anything is written; a file with any bad row writes nothing. Rows already imported (same external_id) "
    "are skipped, so importing a file twice is harmless. Import services before the cases about them."
)

kind = st.radio(
    "What does the file hold?",
    imports.KINDS,
    format_func=imports.KIND_LABELS.get,
    horizontal=True,
    key="import_kind",
)
with st.expander(f"Column layout of a {kind} file", icon=":material/table_chart:"):
    st.dataframe(imports.layout(kind), hide_index=True, width="stretch")
    st.caption(
        "Dates as YYYY-MM-DD, amounts like 129.99, true/false for yes/no. The first row holds the column "
        "names. Full description: docs/import.md."
    )
    name, content = imports.example_file(kind)
    download_file(f"Download the example {name}", content, file_name=name, mime="text/csv", icon=":material/download:")

limit_mb = st.get_option("server.maxUploadSize")  # .streamlit/config.toml
uploaded = st.file_uploader(
    f"CSV or Excel (.xlsx) file, up to {limit_mb:,} MB",
    type=["csv", "xlsx"],
    key=f"import_file_{kind}",
    help="UTF-8 (or UTF-16) CSV with a header row, or the first sheet of an .xlsx workbook.",
)
st.caption(
    f"Files up to {limit_mb:,} MB upload here. Larger files: `python -m data.importer FILE --kind {kind}` on the "
    "server (the same checks, any size). While a file is checked nobody waits; reviewers' work waits only while "
    "it is saved (about a second per 10,000 rows)."
)
file_message = st.empty()
dry_run = st.checkbox("Check only (dry run): check every row and report, write nothing", key="import_dry_run")

if st.button(
    "Check and import" if not dry_run else "Check the file",
    type="primary",
    disabled=uploaded is None,
    icon=":material/upload:",
):
    bar = st.progress(0.0, text="Starting")
    try:
        report = imports.import_file(
            ctx.db,
            ctx.actor.id,
            uploaded,
            uploaded.name,
            kind,
            dry_run=dry_run,
            progress=lambda fraction, label: bar.progress(min(1.0, fraction), text=label),
        )
    except InvalidInput as exc:
        bar.empty()
        file_message.error(exc.message, icon=":material/error:")
        st.session_state.pop("import_report", None)
    except DeskError as exc:
        bar.empty()
        st.error(str(exc))
        st.session_state.pop("import_report", None)
    else:
        bar.empty()
        st.session_state["import_report"] = report
        if not report.dry_run and report.inserted:
            clear_analytics_cache()  # new services and cases count on home and analytics at once

report = st.session_state.get("import_report")
if report is not None and report.kind == kind:
    st.subheader(f"Result: {report.file_name}")
    if report.errors:
        st.error(
            f"{len(report.errors):,} problem{'s' if len(report.errors) != 1 else ''} in {report.rows:,} rows; "
            "nothing was written. Fix these rows (row 1 is the header) and import the file again.",
            icon=":material/block:",
        )
        st.dataframe(
            report.errors_frame(),
            hide_index=True,
            width="stretch",
            column_config={
                "row": st.column_config.NumberColumn("Row", format="%d", width="small"),
                "column": st.column_config.TextColumn("Column", width="medium"),
                "message": st.column_config.TextColumn("Problem", width="large"),
            },
        )
        download_prepared_csv(
            "Download the problems as CSV",
            report.errors_csv(),
            file_name=f"{report.file_name}-problems.csv",
            icon=":material/download:",
        )
    elif report.dry_run:
        st.info(
            f"All {report.rows:,} rows are valid: {report.inserted:,} {report.kind} would be imported, "
            f"{report.skipped:,} are already present. Nothing was written.",
            icon=":material/fact_check:",
        )
    else:
        extra = f", {report.customers:,} new customers" if report.kind == "services" else ""
        st.success(
            f"Imported {report.inserted:,} {report.kind} from {report.rows:,} rows{extra}; "
            f"{report.skipped:,} were already present and left unchanged. Took {report.seconds:.1f} s. "
            "The import is recorded in the audit trail.",
            icon=":material/check_circle:",
        )
