"""data.importer: reading CSV/XLSX exports, checking every row, and the command line."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from sqlalchemy import select

from data import importer
from data.importer import ImportFileError, RowError, read_table, validate
from data.models import CaseEvent, Service
from tests.support.intake import counts, example

SERVICES_CSV = example("services.csv").decode()
CASES_CSV = example("cases.csv").decode()


def services_with(row_changes: dict[int, dict[str, str]]) -> bytes:
    """The example services file with some cells changed (data row 1 is the file's row 2)."""
    frame = pd.read_csv(io.StringIO(SERVICES_CSV), dtype=str, keep_default_na=False)
    for data_row, changes in row_changes.items():
        for col, value in changes.items():
            frame.loc[data_row - 1, col] = value
    return frame.to_csv(index=False).encode()


def check(db, kind: str, data: bytes) -> importer.Validated:
    with db.read() as s:
        return validate(s.connection(), kind, read_table(data, f"{kind}.csv", kind))


# ---- the file as a whole --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "says"),
    [
        (b"", "s.csv", "s.csv is empty"),
        (b"  \n\n", "s.csv", "s.csv is empty"),
        (SERVICES_CSV.splitlines()[0].encode() + b"\n", "s.csv", "has a header row but no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "s.csv", "is not a CSV file (it holds binary data)"),
        ("external_id\nS1\n".encode("utf-16-le"), "s.csv", "looks like UTF-16 text without a byte-order mark"),
        ("external_id\nS1\n".encode("utf-16-le"), "s.csv", 'Save it as UTF-8: in Excel, File > Save As > "CSV UTF-8'),
        ("external_id,x\nSÄ1,1\n".encode("latin-1"), "s.csv", "is not UTF-8 text"),
        (b"PK\x03\x04 not really a workbook", "s.xlsx", "is not a readable Excel (.xlsx) file"),
        (b"\n\nexternal_id\n", "s.csv", "has no header row"),
    ],
)
def test_a_file_that_is_not_an_import_gets_a_clear_message(data, name, says):
    with pytest.raises(ImportFileError) as exc:
        read_table(data, name, "services")
    assert says in str(exc.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_a_utf16_or_bom_file_reads_like_utf8(encoding):
    """Excel's "Unicode Text" and some exports write UTF-16 with a byte-order mark: it is read as such."""
    data = SERVICES_CSV.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    pd.testing.assert_frame_equal(
        read_table(data, "s.csv", "services"), read_table(SERVICES_CSV.encode(), "s.csv", "services")
    )


def test_a_file_is_read_in_chunks_with_its_spreadsheet_row_numbers():
    frames = list(importer.iter_tables(SERVICES_CSV.encode(), "s.csv", "services", chunk_rows=3))
    assert [list(f.index + 2) for f in frames] == [[2, 3, 4], [5, 6, 7], [8, 9]]
    pd.testing.assert_frame_equal(pd.concat(frames), read_table(SERVICES_CSV.encode(), "s.csv", "services"))


def test_missing_and_unknown_columns_are_named_with_the_expected_layout():
    bad = SERVICES_CSV.replace("customer_email", "email").replace(",price,", ",amount,")
    with pytest.raises(ImportFileError) as exc:
        read_table(bad.encode(), "s.csv", "services")
    message = str(exc.value)
    assert "missing required columns customer_email, price" in message
    assert "unknown columns email, amount" in message
    assert "A services file has the columns external_id, customer_external_id" in message


def test_a_cases_file_offered_as_services_is_recognised():
    with pytest.raises(ImportFileError, match="looks like a cases file, not a services file"):
        read_table(CASES_CSV.encode(), "cases.csv", "services")


def test_a_repeated_column_is_refused():
    with pytest.raises(ImportFileError, match="column price appears more than once"):
        read_table(SERVICES_CSV.replace("currency", "price").encode(), "s.csv", "services")


def test_the_xlsx_example_reads_like_the_csv_example():
    from_xlsx = read_table(example("services.xlsx"), "services.xlsx", "services")
    from_csv = read_table(example("services.csv"), "services.csv", "services")
    pd.testing.assert_frame_equal(from_xlsx.reset_index(drop=True), from_csv, check_dtype=False)


def test_a_row_with_too_many_or_too_few_values_is_a_row_problem_not_a_shifted_row(db):
    lines = SERVICES_CSV.splitlines()
    lines[2] += ",surplus"
    lines[4] = lines[4].rsplit(",", 3)[0]
    checked = check(db, "services", ("\n".join(lines) + "\n").encode())
    assert [(e.row, e.column, e.message) for e in checked.errors] == [
        (3, "", "has 17 values; the header has 16 columns"),
        (5, "", "has 13 values; the header has 16 columns"),
        (5, "cycle_start", "required for a subscription"),
        (5, "cycle_end", "required for a subscription"),
    ]


def test_blank_lines_are_skipped_and_rows_keep_their_spreadsheet_numbers(db):
    lines = SERVICES_CSV.splitlines()
    lines.insert(3, "")
    lines[4] = lines[4].replace("39.99", "abc")
    checked = check(db, "services", ("\n".join(lines) + "\n").encode())
    assert [(e.row, e.column) for e in checked.errors] == [(5, "price")]


def test_header_names_are_trimmed_and_case_insensitive_and_optional_columns_may_be_left_out():
    minimal = (
        " External_ID ,customer_external_id,customer_name,customer_email,service_type,status,price,purchased_on,"
        "completed_on\nS1,C1,Ann,ann@example.com,technical_support,completed,10,2026-01-02,2026-01-03\n"
    )
    frame = read_table(minimal.encode(), "s.csv", "services")
    assert list(frame.columns)[0] == "external_id"


# ---- row by row -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"service_type": "hardware"}, ("service_type", "'hardware' is not one of technical_support")),
        ({"price": "12,50"}, ("price", "'12,50' is not an amount such as 129.99")),
        ({"price": "$12"}, ("price", "'$12' is not an amount")),
        ({"price": "-1"}, ("price", "'-1' is not an amount")),
        ({"purchased_on": "2026-02-30"}, ("purchased_on", "'2026-02-30' is not a date as YYYY-MM-DD")),
        ({"purchased_on": "03/11/2026"}, ("purchased_on", "'03/11/2026' is not a date")),
        ({"purchased_on": ""}, ("purchased_on", "required; the cell is empty")),
        ({"customer_email": "not-an-email"}, ("customer_email", "'not-an-email' is not an email address")),
        ({"external_id": "X" * 65}, ("external_id", "longer than 64 characters")),
        ({"completed_on": ""}, ("completed_on", "required when status is completed")),
        ({"cycle": "monthly"}, ("cycle", "only for subscriptions")),
        ({"currency": "dollars"}, ("currency", "'dollars' is not a 3-letter currency code")),
        ({"completed_on": "2026-11-01"}, ("completed_on", "before initiated_on")),
    ],
)
def test_each_bad_cell_is_reported_with_its_row_and_column(db, changes, expected):
    checked = check(db, "services", services_with({1: changes}))
    assert checked.errors == [RowError(2, expected[0], checked.errors[0].message)]
    assert checked.errors[0].message.startswith(expected[1])


def test_a_subscription_needs_its_billing_cycle(db):
    checked = check(db, "services", services_with({4: {"cycle": "", "cycle_end": ""}}))
    assert [(e.row, e.column, e.message) for e in checked.errors] == [
        (5, "cycle", "required for a subscription"),
        (5, "cycle_end", "required for a subscription"),
    ]


def test_a_repeated_external_id_names_the_row_it_first_appeared_on(db):
    checked = check(db, "services", services_with({6: {"external_id": "SRV-2026-0002"}}))
    assert checked.errors == [RowError(7, "external_id", "'SRV-2026-0002' appears again (first on row 3)")]


def test_every_problem_of_the_file_is_listed_before_anything_is_written(db):
    checked = check(db, "services", services_with({2: {"price": "x"}, 5: {"status": "done"}, 8: {"price": ""}}))
    assert [(e.row, e.column) for e in checked.errors] == [(3, "price"), (6, "status"), (9, "price")]
    assert counts(db)["services"] == 0


def import_services(db):
    with db.write.begin() as s:
        conn = s.connection()
        importer.write(conn, validate(conn, "services", read_table(example("services.csv"), "s.csv", "services")))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"service_external_id": "SRV-404"}, ("service_external_id", "no service with external_id 'SRV-404'")),
        ({"reason": "unused_subscription"}, ("reason", "unused_subscription applies only to subscriptions")),
        ({"opened_on": "2026-11-04"}, ("opened_on", "'2026-11-04' is before the service date")),
        ({"channel": "fax"}, ("channel", "'fax' is not one of email, phone")),
        ({"fix_attempted": "false", "fix_succeeded": "true"}, ("fix_succeeded", "must be empty unless fix_attempted")),
        ({"fix_attempted": "perhaps"}, ("fix_attempted", "'perhaps' is not true or false")),
        ({"amount_requested": ""}, ("amount_requested", "required; the cell is empty")),
    ],
)
def test_each_bad_case_cell_is_reported_with_its_row_and_column(db, changes, expected):
    import_services(db)
    frame = pd.read_csv(io.StringIO(CASES_CSV), dtype=str, keep_default_na=False)
    for col, value in changes.items():
        frame.loc[0, col] = value
    checked = check(db, "cases", frame.to_csv(index=False).encode())
    assert [(e.row, e.column) for e in checked.errors] == [(2, expected[0])]
    assert checked.errors[0].message.startswith(expected[1])


def test_documentation_names_become_the_documents_a_case_lists():
    assert json.loads(importer._documentation("error-dialog.png; Re: refund.eml ; notes")) == [
        {"kind": "screenshot", "name": "error-dialog.png", "note": ""},
        {"kind": "email", "name": "Re: refund.eml", "note": ""},
        {"kind": "other", "name": "notes", "note": ""},
    ]
    assert importer._documentation("") == "[]"


# ---- the command line -----------------------------------------------------------------------------------


def test_the_command_line_imports_a_file_once_and_records_the_import(db, tmp_path, capsys):
    path = tmp_path / "services.csv"
    path.write_bytes(example("services.csv"))
    assert importer.main([str(path), "--kind", "services", "--db", db.url, "--dry-run"]) == 0
    assert "8 would be imported" in capsys.readouterr().out
    assert counts(db)["services"] == 0
    assert importer.main([str(path), "--kind", "services", "--db", db.url, "--actor", "ops"]) == 0
    assert "8 new services, 0 already present, 6 new customers" in capsys.readouterr().out
    assert importer.main([str(path), "--kind", "services", "--db", db.url, "--actor", "ops"]) == 0
    assert "0 new services, 8 already present" in capsys.readouterr().out
    with db.read() as s:
        events = s.scalars(select(CaseEvent).where(CaseEvent.kind == "import_completed").order_by(CaseEvent.id)).all()
        assert s.scalar(select(Service.customer_id).where(Service.external_id == "SRV-2026-0004")) == s.scalar(
            select(Service.customer_id).where(Service.external_id == "SRV-2026-0001")
        )  # the same customer, created once
    assert [(e.actor, e.payload) for e in events] == [
        ("ops", {"file_name": "services.csv", "kind_of_rows": "services", "rows": 8, "inserted": 8, "skipped": 0}),
        ("ops", {"file_name": "services.csv", "kind_of_rows": "services", "rows": 8, "inserted": 0, "skipped": 8}),
    ]


def test_the_command_line_lists_the_problems_as_csv_and_writes_nothing(db, tmp_path, capsys):
    path = tmp_path / "services.csv"
    path.write_bytes(services_with({4: {"price": "abc"}}))
    assert importer.main([str(path), "--kind", "services", "--db", db.url]) == 2
    out = capsys.readouterr()
    assert list(csv.reader(io.StringIO(out.out))) == [
        ["row", "column", "message"],
        ["5", "price", "'abc' is not an amount such as 129.99 (0 or more, no currency sign or thousands separator)"],
    ]
    assert "nothing was written" in out.err
    assert counts(db)["services"] == counts(db)["case_events"] == 0
    path.write_bytes(b"")
    assert importer.main([str(path), "--kind", "services", "--db", db.url]) == 1
    assert "services.csv is empty" in capsys.readouterr().err


def test_a_failing_import_on_the_command_line_is_one_clear_line_not_a_traceback(tmp_path, capsys):
    path = tmp_path / "services.csv"
    path.write_bytes(example("services.csv"))
    bare = f"sqlite:///{tmp_path / 'not-migrated.db'}"
    assert importer.main([str(path), "--kind", "services", "--db", bare]) == 1
    err = capsys.readouterr().err
    assert "error: the import failed, nothing was written" in err and "alembic upgrade head" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", importer.KINDS)
def test_docs_import_md_documents_every_column_of_each_layout(kind):
    doc = (importer.Path(__file__).resolve().parents[2] / "docs" / "import.md").read_text()
    section = doc.split(f"(`--kind {kind}`)")[1].split("\n## ")[0]
    documented = [line.split("|")[1].strip().strip("`") for line in section.splitlines() if line.startswith("| `")]
    assert documented == [c.name for c in importer.LAYOUTS[kind]]


def test_checking_a_file_streams_it_so_memory_does_not_grow_with_the_file(tmp_path):
    """Issue 10 §4: checking a 200 MB file peaked at 13x the file. Read in chunks, a file four times as long
    needs about the same memory (what grows is 24 bytes an id for the duplicate check, and the new customers)."""
    import tracemalloc

    from benchmarks.import_rows import write_files
    from data.db import open_database
    from data.migrate import upgrade

    db = open_database(f"sqlite:///{tmp_path / 'memory.db'}")  # memory does not depend on the backend
    upgrade(db.engine)
    peaks = []
    for rows in (1_500, 6_000):
        services, _ = write_files(tmp_path, rows, cases_too=False)
        tracemalloc.start()
        with importer.check_file(db.engine, services, services.name, "services", chunk_rows=500) as checked:
            assert checked.ok and checked.new == rows
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    db.dispose()
    assert peaks[1] < 1.5 * peaks[0], peaks
