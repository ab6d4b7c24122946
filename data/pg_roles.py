"""PostgreSQL roles for a team deployment: an owner that runs the migrations, an app role that runs the desk.

    python -m data.pg_roles --admin-url postgresql+psycopg://postgres@db-host:5432/refund_desk
    make pg-roles ADMIN_URL=postgresql+psycopg://postgres@db-host:5432/refund_desk

The admin URL is a role that may create roles (a superuser or one with CREATEROLE that can also hand over
the schema). Idempotent: run it again after every migration, it resets the app role's rights to exactly:

- the schema: USAGE only (no CREATE, so no new tables, functions or triggers); nothing is owned by it;
- every table: SELECT, INSERT, UPDATE, DELETE — no TRUNCATE, REFERENCES or TRIGGER;
- `case_events` (the audit trail): INSERT and SELECT only;
- `decisions`: SELECT, INSERT, and UPDATE of the approval columns only; row-level security (migration
  0006) lets it settle only a pending exception and delete no decision;
- `alembic_version`: SELECT only (the app checks the schema's revision, the owner migrates);
- sequences: USAGE, SELECT and UPDATE (the importer moves them past explicit ids with setval);
- default privileges, so tables and sequences a later migration (run as the owner) adds are granted the
  same table rights at once (re-run this to narrow them, as for case_events).

Existing objects in the schema (e.g. a database first migrated by one all-powerful role) are handed to
the owner. Passwords, if your server asks for them, come from $REFUND_DESK_OWNER_PASSWORD and
$REFUND_DESK_APP_PASSWORD (never the command line). The two URLs to use are printed at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

APPEND_ONLY_TABLES = ("case_events",)
READ_ONLY_TABLES = ("alembic_version",)
# The only columns of a decision the desk ever updates: settling a pending exception (desk.decisions._settle).
DECISION_UPDATE_COLUMNS = ("approval_status", "approver_id", "approved_at", "approval_note", "superseded")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RolesError(Exception):
    """Bad arguments or a server that refuses: a message for the operator."""


@dataclass(frozen=True)
class Roles:
    owner: str = "refund_desk_owner"
    app: str = "refund_desk_app"
    schema: str = "public"

    def __post_init__(self) -> None:
        for what, name in (("owner role", self.owner), ("app role", self.app), ("schema", self.schema)):
            if not _NAME.match(name):
                raise RolesError(f"The {what} name {name!r} must be lower-case letters, digits and _ (max 63).")
        if self.owner == self.app:
            raise RolesError("The owner and the app role must be two different roles.")


def schema_of(url: str) -> str:
    """The schema a URL's `options=-csearch_path=...` names, else public."""
    options = make_url(url).query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    m = re.search(r"search_path=([A-Za-z0-9_]+)", options)
    return m.group(1) if m else "public"


def role_url(admin_url: str, role: str, password_env: str | None = None) -> URL:
    """The admin URL with another user (and its password from the environment, if set)."""
    password = os.environ.get(password_env) if password_env else None
    return make_url(admin_url).set(username=role, password=password or None)


def _role(c: Connection, name: str, password_env: str) -> None:
    if not c.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).scalar():
        c.exec_driver_sql(f'CREATE ROLE "{name}" LOGIN')
    c.exec_driver_sql(
        f'ALTER ROLE "{name}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT'
    )
    password = os.environ.get(password_env)
    if password:
        # ALTER ROLE takes no bind parameters; a standard-conforming string literal (quotes doubled).
        c.exec_driver_sql(f'ALTER ROLE "{name}" PASSWORD \'' + password.replace("'", "''") + "'")


def _objects(c: Connection, schema: str) -> list[tuple[str, str, str]]:
    """(kind, name, owner) of the tables, views, sequences and functions in the schema."""
    rows = c.execute(
        text(
            "SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, c.relname, "
            "pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relkind IN ('r', 'p', 'v', 'S') "
            # a serial column's sequence follows its table (ALTER SEQUENCE would refuse it)
            "AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid "
            "AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))) "
            "UNION ALL SELECT 'FUNCTION', p.oid::regprocedure::text, pg_get_userbyid(p.proowner) "
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s"
        ),
        {"s": schema},
    ).all()
    return [tuple(r) for r in rows]


def apply(admin_url: str, roles: Roles) -> list[str]:
    """Create or update both roles and the app role's rights; returns what was done, one line each.

    GRANT CONNECT ON DATABASE rewrites the database's catalog row, which autovacuum also updates in place;
    PostgreSQL then refuses one of the two with "tuple concurrently updated". Everything here is idempotent
    and in one transaction, so that refusal is simply tried again (a few times, briefly)."""
    for attempt in range(5):
        try:
            return _apply(admin_url, roles)
        except RolesError as exc:
            if "tuple concurrently updated" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _apply(admin_url: str, roles: Roles) -> list[str]:  # noqa: C901 — the roles and grants, one statement group per right
    done: list[str] = []
    database = make_url(admin_url).database
    if not database:
        raise RolesError(
            "The admin URL must name the database, e.g. postgresql+psycopg://postgres@host:5432/refund_desk"
        )
    engine = create_engine(admin_url)
    owner, app, schema = f'"{roles.owner}"', f'"{roles.app}"', f'"{roles.schema}"'
    try:
        with engine.begin() as c:
            # One operator at a time (CREATE ROLE races otherwise); released at commit.
            c.execute(text("SELECT pg_advisory_xact_lock(hashtext('refund_desk.pg_roles'))"))
            for name, env in ((roles.owner, "REFUND_DESK_OWNER_PASSWORD"), (roles.app, "REFUND_DESK_APP_PASSWORD")):
                _role(c, name, env)
            # The app role must not reach the owner's rights through membership.
            c.exec_driver_sql(f"REVOKE {owner} FROM {app}")
            c.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{database}" TO {owner}, {app}')
            c.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {owner}")
            c.exec_driver_sql(f"ALTER SCHEMA {schema} OWNER TO {owner}")
            c.exec_driver_sql(f"REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC")
            c.exec_driver_sql(f"REVOKE ALL ON SCHEMA {schema} FROM {app}")
            c.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {app}")
            # The queue's name search (migration 0009) needs pg_trgm; the owner may not create extensions.
            c.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
            done.append(f"roles {roles.owner} (owns schema {roles.schema}) and {roles.app} (uses it)")
            handed = 0
            for kind, name, current in _objects(c, roles.schema):
                if current != roles.owner:
                    target = name if kind == "FUNCTION" else f'{schema}."{name}"'
                    c.exec_driver_sql(f"ALTER {kind} {target} OWNER TO {owner}")
                    handed += 1
            if handed:
                done.append(f"{handed} existing objects handed to {roles.owner}")
            c.exec_driver_sql(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {app}")
            c.exec_driver_sql(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {app}")
            c.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}")
            c.exec_driver_sql(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {app}")
            tables = {name for kind, name, _ in _objects(c, roles.schema) if kind == "TABLE"}
            for t in APPEND_ONLY_TABLES:
                if t in tables:
                    c.exec_driver_sql(f'REVOKE UPDATE, DELETE ON {schema}."{t}" FROM {app}')
            for t in READ_ONLY_TABLES:
                if t in tables:
                    c.exec_driver_sql(f'REVOKE INSERT, UPDATE, DELETE ON {schema}."{t}" FROM {app}')
            if "decisions" in tables:
                c.exec_driver_sql(f'REVOKE UPDATE, DELETE ON {schema}."decisions" FROM {app}')
                c.exec_driver_sql(
                    f'GRANT UPDATE ({", ".join(DECISION_UPDATE_COLUMNS)}) ON {schema}."decisions" TO {app}'
                )
            for_owner = f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema}"
            c.exec_driver_sql(f"{for_owner} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}")
            c.exec_driver_sql(f"{for_owner} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {app}")
            done.append(
                f"{roles.app}: DML on {len(tables)} tables, case_events INSERT/SELECT only, decisions settle-only, "
                "no TRUNCATE/TRIGGER/DDL; default privileges for tables the owner adds later"
            )
            if roles.schema != "public":
                for name in (owner, app):
                    c.exec_driver_sql(f'ALTER ROLE {name} IN DATABASE "{database}" SET search_path = {schema}')
    except DBAPIError as exc:
        raise RolesError(f"PostgreSQL refused: {str(exc.orig).strip().splitlines()[0]}") from None
    finally:
        engine.dispose()
    return done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m data.pg_roles", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--admin-url",
        default=os.environ.get("ADMIN_URL"),
        help="a PostgreSQL URL of a role that may create roles (default: $ADMIN_URL)",
    )
    p.add_argument("--owner", default=Roles.owner, help="owner role (runs migrations; default %(default)s)")
    p.add_argument("--app", default=Roles.app, help="app role (runs the desk; default %(default)s)")
    p.add_argument("--schema", default=None, help="schema (default: the URL's search_path, else public)")
    args = p.parse_args(argv)
    if not args.admin_url:
        p.error("give --admin-url (or set ADMIN_URL), e.g. postgresql+psycopg://postgres@127.0.0.1:5432/refund_desk")
    if make_url(args.admin_url).get_backend_name() != "postgresql":
        p.error("roles exist on PostgreSQL only; SQLite is one file (protect it with file permissions)")
    try:
        roles = Roles(args.owner, args.app, args.schema or schema_of(args.admin_url))
        for line in apply(args.admin_url, roles):
            print(line)
    except RolesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    owner_url = role_url(args.admin_url, roles.owner).render_as_string(hide_password=True)
    app_url = role_url(args.admin_url, roles.app).render_as_string(hide_password=True)
    print("\nMigrate as the owner:   DATABASE_URL=" + owner_url + " .venv/bin/alembic upgrade head")
    print("Run the desk as the app: DATABASE_URL=" + app_url)
    print("(re-run this command after every migration)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
