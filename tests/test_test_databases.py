"""The test databases themselves (tests/support/databases.py): on PostgreSQL a schema a test has used comes back
to the next test exactly as a fresh copy of its template, whatever the test wrote, and a schema whose definitions
a test changed is never handed out again. The oracle is independent of how a spare is checked: every definition
of the schema (tables, columns, defaults, indexes, triggers, functions, constraints, policies, rules, rights)
and every row and sequence, compared with the template's."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from data.db import open_database
from data.generate import Plan, generate
from data.migrate import upgrade
from desk.cases import case_detail
from desk.decisions import decide
from tests.support.cases import TODAY, add_case, user_id, valid_choice
from tests.support.databases import Templates, pg_base_url

pytestmark = pytest.mark.skipif(not pg_base_url(), reason="PostgreSQL run skipped: set TEST_DATABASE_URL")

KEY = ("demo", 40, 5, 0.2)

# Every definition in schema :s, with the schema's own name taken out (index and trigger definitions name it)
DEFINITIONS = """
SELECT replace(x, :s || '.', '') FROM (
 SELECT concat_ws(':', 'class', c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relacl::text,
                  c.relowner) x
   FROM pg_class c WHERE c.relnamespace = CAST(:s AS regnamespace)
 UNION ALL SELECT concat_ws(':', 'column', c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(d.adbin, d.adrelid), a.attacl::text)
   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE c.relnamespace = CAST(:s AS regnamespace) AND a.attnum > 0 AND NOT a.attisdropped
 UNION ALL SELECT concat_ws(':', 'trigger', t.tgenabled, pg_get_triggerdef(t.oid))
   FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  WHERE c.relnamespace = CAST(:s AS regnamespace) AND NOT t.tgisinternal
 UNION ALL SELECT concat_ws(':', 'index', pg_get_indexdef(i.indexrelid))
   FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = CAST(:s AS regnamespace)
 UNION ALL SELECT concat_ws(':', 'function', p.proname, pg_get_functiondef(p.oid), p.proacl::text)
   FROM pg_proc p WHERE p.pronamespace = CAST(:s AS regnamespace)
 UNION ALL SELECT concat_ws(':', 'constraint', conname, pg_get_constraintdef(oid))
   FROM pg_constraint WHERE connamespace = CAST(:s AS regnamespace)
 UNION ALL SELECT concat_ws(':', 'policy', pl.polname, pl.polcmd, pg_get_expr(pl.polqual, pl.polrelid),
                  pg_get_expr(pl.polwithcheck, pl.polrelid))
   FROM pg_policy pl JOIN pg_class c ON c.oid = pl.polrelid WHERE c.relnamespace = CAST(:s AS regnamespace)
 UNION ALL SELECT concat_ws(':', 'sequence', c.relname, q.seqtypid, q.seqstart, q.seqincrement, q.seqmin, q.seqmax,
                  q.seqcache, q.seqcycle)
   FROM pg_sequence q JOIN pg_class c ON c.oid = q.seqrelid WHERE c.relnamespace = CAST(:s AS regnamespace)
 UNION ALL SELECT concat_ws(':', 'rule', r.rulename, pg_get_ruledef(r.oid))
   FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE c.relnamespace = CAST(:s AS regnamespace)
) q ORDER BY 1
"""


def _build(database) -> None:
    upgrade(database.engine)
    generate(database, Plan(cases=KEY[1], seed=KEY[2], request_rate=KEY[3], today=TODAY), quiet=True)


def _contents(engine, schema: str) -> dict:
    """Every definition, every table's rows and every sequence of `schema`."""
    with engine.connect() as c:
        c.exec_driver_sql(f'SET search_path TO "{schema}"')  # definitions print unqualified names
        definitions = c.execute(text(DEFINITIONS), {"s": schema}).scalars().all()
        tables = c.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY 1"), {"s": schema}
        ).scalars()
        rows = {
            t: c.exec_driver_sql(f'SELECT array_agg(r::text ORDER BY r::text) FROM "{schema}"."{t}" r').scalar()
            for t in list(tables)
        }
        sequences = {
            q: tuple(c.exec_driver_sql(f'SELECT last_value, is_called FROM "{schema}"."{q}"').one())
            for q in c.execute(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = :s ORDER BY 1"), {"s": schema}
            ).scalars()
        }
    return {"definitions": definitions, "rows": rows, "sequences": sequences}


@pytest.fixture(scope="module")
def _module_templates(tmp_path_factory):
    """A Templates of this module's own (its template is built once), finished afterwards."""
    t = Templates()
    t.use_dir(tmp_path_factory.mktemp("own-templates"))
    engine = create_engine(pg_base_url(), poolclass=NullPool)
    yield t, t.pg(), engine
    t.finish()
    engine.dispose()


@pytest.fixture
def templates(_module_templates):
    """The module's Templates with no spare left by an earlier test: each test's first copy is a clone."""
    _, pg, _ = _module_templates
    for spares in pg.spares.values():
        while spares:
            pg.drop(spares.pop())
    return _module_templates


def _copy(templates):
    t, pg, _ = templates
    name = pg.new_name()
    assert t.fill(pg.url(name), KEY, _build)
    return name


def _exists(engine, schema: str) -> bool:
    with engine.connect() as c:
        return c.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).first() is not None


def _decide_and_scribble(url: str) -> None:
    """What tests do: a decision (cases, decisions, events, rollups), a new case (customers, services, cases,
    sequences), a changed user, a deleted row."""
    db = open_database(url)
    try:
        cid = add_case(db, reason="technical_issue", fix_attempted=True, fix_succeeded=False)
        detail = case_detail(db, cid, TODAY)
        outcome, amount = valid_choice(detail.verdict)
        decide(
            db, user_id(db, "rita"), cid, outcome, amount, "Per policy.", detail.version, uuid.uuid4().hex, today=TODAY
        )
        with db.engine.begin() as c:
            c.exec_driver_sql("UPDATE users SET display_name = 'Someone else' WHERE id = 1")
            c.exec_driver_sql("DELETE FROM sales_daily WHERE ctid = (SELECT min(ctid) FROM sales_daily)")
    finally:
        db.dispose()


def test_a_schema_a_test_wrote_to_comes_back_as_a_fresh_copy_of_its_template(templates):
    _, pg, engine = templates
    first = _copy(templates)
    template = pg.templates[KEY]
    fresh = _contents(engine, template)
    assert _contents(engine, first) == fresh
    _decide_and_scribble(pg.url(first))
    assert _contents(engine, first) != fresh  # the writes happened
    pg.give_back(first)
    second = _copy(templates)
    assert not _exists(engine, first), "the spare was renamed for the next test"
    assert _contents(engine, second) == fresh
    pg.give_back(second)
    third = _copy(templates)  # a spare nobody wrote to comes back too
    assert not _exists(engine, second)
    assert _contents(engine, third) == fresh


CHANGES = {
    "a new index": "CREATE INDEX ix_extra ON cases (reason)",
    "a dropped index": "DROP INDEX ix_cases_customer",
    "a trigger disabled": "ALTER TABLE case_events DISABLE TRIGGER case_events_append_only",
    "a trigger dropped": "DROP TRIGGER case_events_append_only ON case_events",
    "a new column": "ALTER TABLE cases ADD COLUMN extra integer",
    "a default changed": "ALTER TABLE cases ALTER COLUMN status SET DEFAULT 'closed'",
    "a right granted": "GRANT SELECT ON cases TO PUBLIC",
    "a new table": "CREATE TABLE extra (id integer)",
    "a function replaced": (
        "CREATE OR REPLACE FUNCTION case_events_refuse_change() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN NEW; END $$"
    ),
    "row security off": "ALTER TABLE decisions DISABLE ROW LEVEL SECURITY",
    "a table truncated": "TRUNCATE sales_daily",
    "a sequence altered": "ALTER SEQUENCE cases_id_seq INCREMENT BY 7",
}


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_a_schema_whose_definitions_a_test_changed_is_never_handed_out_again(templates, change):
    _, pg, engine = templates
    first = _copy(templates)
    fresh = _contents(engine, pg.templates[KEY])
    with engine.begin() as c:
        c.exec_driver_sql(f'SET LOCAL search_path TO "{first}"')
        c.exec_driver_sql(CHANGES[change])
    assert _contents(engine, first) != fresh
    pg.give_back(first)
    second = _copy(templates)
    assert not _exists(engine, first), "dropped"
    assert _contents(engine, second) == fresh
