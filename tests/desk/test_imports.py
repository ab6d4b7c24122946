"""desk.imports: the admin's import, all or nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import io
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import select, text

from data import importer
from data.models import Case, CaseEvent, Customer, SalesDaily, Service
from desk import audit
from desk.errors import InvalidInput, NotAllowed
from desk.imports import import_file
from tests.support.intake import ADA, RITA, counts, example


@pytest.fixture
def desk_db(staff_db):
    """An empty desk with its staff (Ada is the admin)."""
    return staff_db


def edited(name: str, row: int, **cells: str) -> bytes:
    """An example file with cells of one data row changed (data row 1 is the file's row 2)."""
    frame = pd.read_csv(io.BytesIO(example(name)), dtype=str, keep_default_na=False)
    for col, value in cells.items():
        frame.loc[row - 1, col] = value
    return frame.to_csv(index=False).encode()


def import_events(db):
    with db.read() as s:
        return s.scalars(select(CaseEvent).where(CaseEvent.kind == "import_completed").order_by(CaseEvent.id)).all()


def test_a_good_services_file_lands_whole_with_its_customers_rollup_and_audit_event(desk_db):
    steps = []
    report = import_file(
        desk_db, ADA, example("services.csv"), "services.csv", "services", progress=lambda f, label: steps.append(f)
    )
    assert (report.rows, report.inserted, report.skipped, report.customers, report.errors) == (8, 8, 0, 6, [])
    assert steps[0] == 0.0 and steps[-1] == 1.0 and steps == sorted(steps)
    with desk_db.read() as s:
        svc = s.scalar(select(Service).where(Service.external_id == "SRV-2026-0005"))
        assert (svc.service_type, svc.status, svc.price_cents, svc.cycle, svc.cycle_start, svc.cancelled_on) == (
            "subscription",
            "completed",
            49900,
            "annual",
            date(2025, 10, 15),
            date(2025, 10, 20),
        )
        owner = s.get(Customer, svc.customer_id)
        assert (owner.external_id, owner.name, owner.email) == ("CUS-0104", "Ravi Menon", "ravi.menon@example.com")
        rollup = {(r.day, r.service_type): (r.services_sold, r.revenue_cents) for r in s.scalars(select(SalesDaily))}
    assert counts(desk_db)["customers"] == 6
    assert sum(n for n, _ in rollup.values()) == 8
    assert rollup[(date(2026, 11, 2), "technical_support")] == (1, 12900)
    [event] = import_events(desk_db)
    assert (event.actor, event.actor_id) == ("ada@refund-desk.example", ADA)
    assert event.payload == {
        "file_name": "services.csv",
        "kind_of_rows": "services",
        "rows": 8,
        "inserted": 8,
        "skipped": 0,
    }


def test_imported_services_add_to_the_sales_already_counted_that_day(desk_db):
    with desk_db.write.begin() as s:
        s.add(SalesDaily(day=date(2026, 11, 2), service_type="technical_support", services_sold=5, revenue_cents=50000))
    import_file(desk_db, ADA, example("services.csv"), "services.csv", "services")
    with desk_db.read() as s:
        row = s.get(SalesDaily, (date(2026, 11, 2), "technical_support"))
    assert (row.services_sold, row.revenue_cents) == (6, 62900)


def test_a_good_cases_file_opens_every_case_against_its_service(desk_db):
    import_file(desk_db, ADA, example("services.csv"), "services.csv", "services")
    report = import_file(desk_db, ADA, example("cases.csv"), "cases.csv", "cases")
    assert (report.rows, report.inserted, report.errors) == (7, 7, [])
    with desk_db.read() as s:
        case = s.scalar(select(Case).where(Case.external_id == "TKT-88001"))
        svc = s.get(Service, case.service_id)
        opened = s.scalars(select(CaseEvent).where(CaseEvent.kind == "case_opened")).all()
    assert svc.external_id == "SRV-2026-0001"
    assert (case.customer_id, case.service_type) == (svc.customer_id, "technical_support")
    assert (case.status, case.opened_on, case.due_on, case.version) == (
        "open",
        date(2026, 11, 8),
        date(2026, 11, 22),
        1,
    )
    assert (case.channel, case.reason, case.amount_requested_cents) == ("email", "technical_issue", 12900)
    assert (case.fix_attempted, case.fix_succeeded) == (True, False)
    assert [d["kind"] for d in case.documentation] == ["screenshot", "other"]
    assert case.description.startswith("Since your session the printer driver crashes")
    assert len(opened) == 7 and {e.actor for e in opened} == {"ada@refund-desk.example"}
    assert [e.payload["kind_of_rows"] for e in import_events(desk_db)] == ["services", "cases"]


def test_one_bad_row_in_the_middle_writes_nothing_and_names_the_row(desk_db):
    before = counts(desk_db)
    report = import_file(desk_db, ADA, edited("services.csv", 4, purchased_on="2026-13-01"), "services.csv", "services")
    assert [(e.row, e.column) for e in report.errors] == [(5, "purchased_on")]
    assert "'2026-13-01' is not a date" in report.errors[0].message
    assert not report.written and report.inserted == 0
    assert counts(desk_db) == before  # not even an audit event
    assert report.errors_frame().to_dict("records") == [
        {"row": 5, "column": "purchased_on", "message": report.errors[0].message}
    ]
    assert report.errors_csv().decode().splitlines()[0] == "row,column,message"


def test_one_bad_case_writes_no_case(desk_db):
    import_file(desk_db, ADA, example("services.csv"), "services.csv", "services")
    before = counts(desk_db)
    report = import_file(desk_db, ADA, edited("cases.csv", 4, service_external_id="SRV-0000"), "cases.csv", "cases")
    assert [(e.row, e.column) for e in report.errors] == [(5, "service_external_id")]
    assert counts(desk_db) == before


def test_importing_the_same_files_again_changes_nothing_but_the_audit_trail(desk_db):
    import_file(desk_db, ADA, example("services.csv"), "services.csv", "services")
    import_file(desk_db, ADA, example("cases.csv"), "cases.csv", "cases")
    before = counts(desk_db)
    again = import_file(desk_db, ADA, example("services.xlsx"), "services.xlsx", "services")
    cases_again = import_file(desk_db, ADA, example("cases.csv"), "cases.csv", "cases")
    assert (again.inserted, again.skipped, cases_again.inserted, cases_again.skipped) == (0, 8, 0, 7)
    after = counts(desk_db)
    assert after == {**before, "case_events": before["case_events"] + 2}
    assert import_events(desk_db)[-1].payload["skipped"] == 7


def test_an_xlsx_file_imports_like_its_csv(desk_db):
    report = import_file(desk_db, ADA, example("services.xlsx"), "services.xlsx", "services")
    assert (report.inserted, report.customers, report.errors) == (8, 6, [])
    with desk_db.read() as s:
        assert s.scalar(select(Service.price_cents).where(Service.external_id == "SRV-2026-0002")) == 5999


@pytest.mark.parametrize(
    ("data", "name", "says"),
    [
        (b"", "services.csv", "services.csv is empty"),
        (b"%PDF-1.7\n\x00\x01\x02binary", "report.pdf", "is not a CSV file"),
        (example("cases.csv"), "cases.csv", "looks like a cases file, not a services file"),
        (b"id,name\n1,x\n", "other.csv", "missing required columns external_id, customer_external_id"),
    ],
)
def test_a_malformed_file_gets_a_clear_message_on_the_file_field(desk_db, data, name, says):
    with pytest.raises(InvalidInput) as exc:
        import_file(desk_db, ADA, data, name, "services")
    assert exc.value.field == "file" and says in exc.value.message
    assert counts(desk_db)["case_events"] == 0


def test_a_dry_run_checks_everything_and_writes_nothing(desk_db):
    report = import_file(desk_db, ADA, example("services.csv"), "services.csv", "services", dry_run=True)
    assert (report.dry_run, report.inserted, report.customers, report.written) == (True, 8, 6, False)
    assert counts(desk_db)["services"] == counts(desk_db)["case_events"] == 0


def test_only_an_admin_may_import_and_a_refusal_is_audited(desk_db):
    with pytest.raises(NotAllowed):
        import_file(desk_db, RITA, example("services.csv"), "services.csv", "services")
    with desk_db.read() as s:
        refusal = s.scalar(select(CaseEvent).where(CaseEvent.kind == "access_refused"))
    assert refusal.payload["action"] == "import_data" and counts(desk_db)["services"] == 0


def test_a_case_the_policy_cannot_judge_is_refused_with_its_row(desk_db):
    old = edited(
        "services.csv",
        1,
        purchased_on="2023-05-01",
        scheduled_on="2023-05-02",
        initiated_on="2023-05-02",
        completed_on="2023-05-03",
    )
    import_file(desk_db, ADA, old, "services.csv", "services")
    report = import_file(desk_db, ADA, edited("cases.csv", 1, opened_on="2023-05-04"), "cases.csv", "cases")
    assert [(e.row, e.column) for e in report.errors] == [(2, "service_external_id")]
    assert report.errors[0].message.startswith("no policy version is in force on 2023-05-03")
    assert counts(desk_db)["cases"] == 0


def test_the_command_line_refuses_a_case_the_policy_cannot_judge_like_the_page(desk_db, tmp_path, capsys):
    """python -m data.importer runs the page's use case: the policy's check of each case included."""
    old = edited(
        "services.csv",
        1,
        purchased_on="2023-05-01",
        scheduled_on="2023-05-02",
        initiated_on="2023-05-02",
        completed_on="2023-05-03",
    )
    import_file(desk_db, ADA, old, "services.csv", "services")
    path = tmp_path / "cases.csv"
    path.write_bytes(edited("cases.csv", 1, opened_on="2023-05-04"))
    assert importer.main([str(path), "--kind", "cases", "--db", desk_db.url]) == 2
    out = capsys.readouterr()
    assert '2,service_external_id,"no policy version is in force on 2023-05-03' in out.out
    assert counts(desk_db)["cases"] == 0


def test_the_command_line_records_the_same_event_as_the_page(desk_db, tmp_path):
    path = tmp_path / "services.csv"
    path.write_bytes(example("services.csv"))
    import_file(desk_db, ADA, example("services.csv"), "services.csv", "services")
    assert importer.main([str(path), "--kind", "services", "--db", desk_db.url, "--actor", "ops"]) == 0
    page, cli = import_events(desk_db)
    assert (page.actor, page.actor_id, cli.actor, cli.actor_id) == ("ada@refund-desk.example", ADA, "ops", None)
    assert cli.payload == {**page.payload, "inserted": 0, "skipped": 8}
    assert list(cli.payload) == [f.name for f in dataclasses.fields(audit.ImportCompleted)]


def test_rows_another_import_wrote_after_the_check_roll_the_whole_file_back_with_a_message(desk_db):
    """The check holds no lock, so a second import of the same file can land between this one's check and
    its write: the write then fails on a unique key, writes nothing, and says to import again."""
    landed = []

    def progress(fraction: float, label: str) -> None:
        if label.startswith("Checking") and not landed:  # the check is done with the file: the other import
            landed.append(import_file(desk_db, ADA, example("services.csv"), "services.csv", "services"))

    with pytest.raises(InvalidInput, match="imported by someone else while this import was being checked") as err:
        import_file(desk_db, ADA, example("services.csv"), "services.csv", "services", progress=progress)
    assert err.value.field == "file" and landed[0].inserted == 8
    assert counts(desk_db)["services"] == 8 and len(import_events(desk_db)) == 1
    again = import_file(desk_db, ADA, example("services.csv"), "services.csv", "services")
    assert (again.inserted, again.skipped) == (0, 8)


@pytest.mark.parametrize("pause_above", [20_000, 0], ids=["row-by-row", "paused-and-rebuilt"])
def test_imported_cases_reach_the_analytics_rollups_either_way(desk_db, monkeypatch, pause_above):
    """A small file keeps the rollups up to date row by row; a large one pauses them and rebuilds once on
    SQLite (PostgreSQL keeps its per-statement triggers on for imports, so decisions never wait on a rebuild)."""
    import data.importer
    from tests.data.test_rollups import snapshot

    monkeypatch.setattr(data.importer, "PAUSE_ROLLUPS_ABOVE", pause_above)
    import_file(desk_db, ADA, example("services.csv"), "services.csv", "services")
    import_file(desk_db, ADA, example("cases.csv"), "cases.csv", "cases")
    with desk_db.engine.connect() as c:
        opened = dict(c.execute(text("SELECT grain, SUM(opened) FROM case_rollup GROUP BY grain")).all())
    assert {g: int(v) for g, v in opened.items()} == {"day": 7, "week": 7, "month": 7}
    assert snapshot(desk_db)["case_rollup"]
