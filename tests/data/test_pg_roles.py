"""PostgreSQL owner and app roles (data.pg_roles): the app role cannot rewrite the audit trail or a settled
decision by any route, while every path of the desk works as it. PostgreSQL only (roles do not exist on
SQLite); each test makes its own roles and schema and drops them afterwards."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InternalError

from data.db import open_database
from data.migrate import upgrade
from data.models import CaseEvent, Decision
from data.pg_roles import Roles, RolesError, apply, main, role_url
from desk import analytics
from desk.auth import authorize
from desk.cases import add_note
from desk.decisions import approve_exception, decide
from desk.imports import import_file
from tests.conftest import _pg_schema_url, pg_base_url
from tests.support.cases import TODAY, add_case, user_id
from tests.support.intake import ADA, add_demo_users, example

pytestmark = [
    pytest.mark.skipif(not pg_base_url(), reason="PostgreSQL run skipped: set TEST_DATABASE_URL"),
    # Roles are the cluster's, not a schema's: two workers granting and dropping at once in one database fail
    # with "tuple concurrently updated". One xdist worker runs these (make test uses --dist loadgroup).
    pytest.mark.xdist_group("pg_roles"),
]

LATE = dict(opened_on=TODAY - timedelta(days=1), service_date=TODAY - timedelta(days=20))  # deny only
WHY = "Long-standing customer; our outage overlapped the window, goodwill credit agreed with the lead."


def drop_roles(conn, *roles: str) -> None:
    """Drop test roles. Their privileges sit in shared catalog rows (the database's ACL) that another test
    process may be updating at the same moment ("tuple concurrently updated"): try again a few times."""
    for role in roles:
        for attempt in range(20):
            try:
                conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
                conn.exec_driver_sql(f'DROP ROLE "{role}"')
                break
            except InternalError:
                if attempt == 19:
                    raise
                time.sleep(0.1 * (attempt + 1))


class Team:
    """A schema with its owner and app roles, migrated by the owner; `owner`/`app` are Databases."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:10]
        self.roles = Roles(owner=f"rd_owner_{tag}", app=f"rd_app_{tag}", schema=f"t_roles_{tag}")
        self.admin_url = _pg_schema_url(pg_base_url(), self.roles.schema)
        apply(self.admin_url, self.roles)
        self.owner_url = role_url(self.admin_url, self.roles.owner).render_as_string(hide_password=False)
        self.app_url = role_url(self.admin_url, self.roles.app).render_as_string(hide_password=False)
        self.owner = open_database(self.owner_url)
        upgrade(self.owner.engine)
        apply(self.admin_url, self.roles)  # after the migrations, as the README says
        add_demo_users(self.owner)
        self.app = open_database(self.app_url)

    def drop(self) -> None:
        self.app.dispose()
        self.owner.dispose()
        eng = create_engine(pg_base_url(), isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.roles.schema}" CASCADE')
            drop_roles(c, self.roles.app, self.roles.owner)
        eng.dispose()


@pytest.fixture
def team():
    """Owner and app roles on a fresh schema with the demo staff; everything dropped afterwards."""
    t = Team()
    yield t
    t.drop()


@pytest.fixture(scope="module")
def refusing_team():
    """One team for the tests where the app role tries a change and PostgreSQL refuses it (~1 s a team saved
    per test): each test decides its own case and checks the audit trail or its decision before and after its
    attempt, so an attempt that got through fails that test, whatever ran before it."""
    t = Team()
    yield t
    t.drop()


def _audit_checksum(db) -> tuple[int, str]:
    with db.read() as s:
        return tuple(
            s.execute(
                text("SELECT count(*), md5(coalesce(string_agg(e::text, '|' ORDER BY e.id), '')) FROM case_events e")
            ).one()
        )


def _decided_case(team) -> tuple[int, int]:
    """A case decided (as the app role) with an exception that Max approved: (case id, decision id)."""
    cid = add_case(team.owner, **LATE)
    omar = user_id(team.owner, "omar")
    pending = decide(team.app, omar, cid, "credit", 2_500, WHY, 1, uuid.uuid4().hex, today=TODAY)
    approved = approve_exception(team.app, user_id(team.owner, "max"), pending.decision_id, "Agreed.", today=TODAY)
    assert approved.approval_status == "approved"
    return cid, pending.decision_id


def test_the_desk_works_as_the_app_role_decide_approve_note_import_analytics(team):
    cid, did = _decided_case(team)
    note = add_note(team.app, user_id(team.owner, "omar"), cid, "Called the customer back.")
    assert note.case_id == cid
    rita = user_id(team.owner, "rita")
    other = add_case(team.owner, reason="billing_error")
    assert decide(team.app, rita, other, "full_refund", 12_000, "Per policy.", 1, uuid.uuid4().hex, today=TODAY)
    services = import_file(team.app, ADA, example("services.csv"), "services.csv", "services")
    cases = import_file(team.app, ADA, example("cases.csv"), "cases.csv", "cases")
    assert services.inserted > 0 and cases.inserted > 0 and not services.errors and not cases.errors
    manager = authorize(team.app, user_id(team.owner, "max"), "view_analytics")
    report = analytics.report(team.app, analytics.default_filters(TODAY), manager, TODAY)
    assert report is not None
    with team.app.read() as s:
        kinds = set(s.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == cid)))
    assert {"decision_recorded", "exception_approved", "note_added"} <= kinds


# Every route we know of to change the audit trail, each as the app role, each refused by PostgreSQL itself.
ATTACKS = {
    "update": ("UPDATE case_events SET actor = 'mallory'", "permission denied"),
    "delete": ("DELETE FROM case_events", "permission denied"),
    "truncate": ("TRUNCATE case_events", "permission denied"),
    "disable trigger": ("ALTER TABLE case_events DISABLE TRIGGER ALL", "must be owner"),
    "disable user trigger": ("ALTER TABLE case_events DISABLE TRIGGER case_events_append_only", "must be owner"),
    "drop trigger": ("DROP TRIGGER case_events_append_only ON case_events", "must be owner"),
    "drop table": ("DROP TABLE case_events", "must be owner"),
    "rename table": ("ALTER TABLE case_events RENAME TO old_events", "must be owner"),
    "own trigger": (
        "CREATE TRIGGER sneak BEFORE INSERT ON case_events FOR EACH ROW EXECUTE FUNCTION case_events_refuse_change()",
        "permission denied",
    ),
    "rule": ("CREATE RULE sneak AS ON INSERT TO case_events DO INSTEAD NOTHING", "must be owner"),
    "replace function": (
        "CREATE OR REPLACE FUNCTION case_events_refuse_change() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN NEW; END $$",
        "permission denied for schema",
    ),
    "new function": (
        "CREATE FUNCTION wipe() RETURNS void LANGUAGE sql AS $$ DELETE FROM case_events $$",
        "permission denied",
    ),
    "new table": ("CREATE TABLE copy_of_events AS SELECT * FROM case_events", "permission denied"),
    "replication role (skips triggers)": ("SET session_replication_role = replica", "permission denied"),
    "become the owner": ("SET ROLE {owner}", "permission denied"),
    "copy from program": ("COPY case_events FROM PROGRAM 'true'", "pg_execute_server_program"),
    "copy from server file": ("COPY case_events FROM '/etc/hostname'", "pg_read_server_files"),
    "disable row security": ("ALTER TABLE decisions DISABLE ROW LEVEL SECURITY", "must be owner"),
    "drop policy": ("DROP POLICY decisions_settle_pending ON decisions", "must be owner"),
    # GRANT without the grant option only warns ("no privileges were granted"); the UPDATE after it fails.
    "grant itself": (
        ("GRANT UPDATE, DELETE, TRUNCATE ON case_events TO CURRENT_USER", "UPDATE case_events SET actor = 'mallory'"),
        "permission denied",
    ),
}


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_the_app_role_cannot_change_the_audit_trail(refusing_team, attack):
    _decided_case(refusing_team)
    before = _audit_checksum(refusing_team.owner)
    assert before[0] >= 2
    statement, refusal = ATTACKS[attack]
    with pytest.raises(DBAPIError, match=refusal), refusing_team.app.engine.begin() as c:
        for one in (statement,) if isinstance(statement, str) else statement:
            c.exec_driver_sql(one.format(owner=refusing_team.roles.owner))
    assert _audit_checksum(refusing_team.owner) == before


def test_a_sql_function_of_its_own_in_pg_temp_runs_with_its_own_rights_only(refusing_team):
    """The one schema the app role may create functions in is its session's pg_temp; such a function has
    no more rights than the role itself."""
    _decided_case(refusing_team)
    before = _audit_checksum(refusing_team.owner)
    with pytest.raises(DBAPIError, match="permission denied"), refusing_team.app.engine.begin() as c:
        c.exec_driver_sql("CREATE FUNCTION pg_temp.wipe() RETURNS void LANGUAGE sql AS $$ DELETE FROM case_events $$")
        c.exec_driver_sql("SELECT pg_temp.wipe()")
    assert _audit_checksum(refusing_team.owner) == before


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE decisions SET approval_status = 'rejected', superseded = true WHERE id = :id",
        "UPDATE decisions SET approval_note = 'never mind' WHERE id = :id",
        "UPDATE decisions SET approval_status = 'pending' WHERE id = :id",
    ],
    ids=["reject after approval", "rewrite the note", "back to pending"],
)
def test_the_app_role_cannot_change_a_published_decisions_approval(refusing_team, statement):
    _, did = _decided_case(refusing_team)
    with refusing_team.app.write.begin() as s:
        assert s.execute(text(statement), {"id": did}).rowcount == 0  # row-level security: not a pending row
    with refusing_team.owner.read() as s:
        d = s.get(Decision, did)
        assert (d.approval_status, d.approval_note, d.superseded) == ("approved", "Agreed.", False)


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("UPDATE decisions SET outcome = 'full_refund', amount_cents = 999999 WHERE id = :id", "permission denied"),
        ("DELETE FROM decisions WHERE id = :id", "permission denied"),
    ],
    ids=["change outcome and amount", "delete"],
)
def test_the_app_role_cannot_rewrite_or_delete_a_decision(refusing_team, statement, refusal):
    _, did = _decided_case(refusing_team)
    with pytest.raises(DBAPIError, match=refusal), refusing_team.app.write.begin() as s:
        s.execute(text(statement), {"id": did})
    with refusing_team.owner.read() as s:
        assert s.get(Decision, did).amount_cents == 2_500


def test_a_table_a_later_migration_adds_is_granted_to_the_app_role_but_not_truncate(team):
    with team.owner.engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE later_table (id serial PRIMARY KEY, note text)")
    with team.app.engine.begin() as c:
        c.exec_driver_sql("INSERT INTO later_table (note) VALUES ('x')")
        assert c.exec_driver_sql("SELECT count(*) FROM later_table").scalar() == 1
    with pytest.raises(DBAPIError, match="permission denied"), team.app.engine.begin() as c:
        c.exec_driver_sql("TRUNCATE later_table")


def test_running_it_again_changes_nothing_and_keeps_the_rights_exact(team):
    def rights():
        with team.owner.engine.connect() as c:
            return c.execute(
                text(
                    "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
                    "WHERE grantee = :app ORDER BY 1, 2"
                ),
                {"app": team.roles.app},
            ).all()

    first = rights()
    apply(team.admin_url, team.roles)
    assert rights() == first
    assert {p for t, p in first if t == "case_events"} == {"INSERT", "SELECT"}
    assert {p for t, p in first if t == "alembic_version"} == {"SELECT"}
    assert not {p for _t, p in first} & {"TRUNCATE", "TRIGGER", "REFERENCES"}


def test_the_command_prints_both_urls_and_refuses_bad_names(team, capsys):
    assert main(["--admin-url", team.admin_url, "--owner", team.roles.owner, "--app", team.roles.app]) == 0
    out = capsys.readouterr().out
    assert f"{team.roles.owner}@" in out and f"{team.roles.app}@" in out and "alembic upgrade head" in out
    with pytest.raises(RolesError, match="lower-case"):
        Roles(owner="Robert'); DROP TABLE", app="x")
    assert main(["--admin-url", team.admin_url, "--owner", "same", "--app", "same"]) == 2
    assert "two different roles" in capsys.readouterr().err


def test_a_schema_first_migrated_by_one_all_powerful_role_is_handed_to_the_owner(tmp_path):
    """The issue's starting point: every table owned by the role that ran the migrations (here the superuser)."""
    from tests.conftest import Backend

    backend = Backend("postgresql", tmp_path)
    url = backend.new_url()
    schema = make_url(url).query["options"].split("search_path=")[1]
    tag = uuid.uuid4().hex[:10]
    roles = Roles(owner=f"rd_owner_{tag}", app=f"rd_app_{tag}", schema=schema)
    legacy = open_database(url)
    upgrade(legacy.engine)
    add_demo_users(legacy)
    legacy.dispose()
    try:
        apply(url, roles)
        with create_engine(url).connect() as c:
            owners = set(
                c.execute(
                    text(
                        "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n "
                        "ON n.oid = c.relnamespace WHERE n.nspname = :s"
                    ),
                    {"s": schema},
                ).scalars()
            )
        assert owners == {roles.owner}
        app = open_database(role_url(url, roles.app).render_as_string(hide_password=False))
        cid = add_case(app, reason="billing_error")  # the app role inserts with the handed-over sequences
        assert decide(
            app, user_id(app, "rita"), cid, "full_refund", 12_000, "Per policy.", 1, uuid.uuid4().hex, today=TODAY
        )
        with pytest.raises(DBAPIError, match="must be owner"), app.engine.begin() as c:
            c.exec_driver_sql("ALTER TABLE case_events DISABLE TRIGGER ALL")
        app.dispose()
    finally:
        backend.cleanup()
        eng = create_engine(pg_base_url(), isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            drop_roles(c, roles.app, roles.owner)
        eng.dispose()
