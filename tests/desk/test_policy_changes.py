"""Policy versions in the case database and the change of section 6: draft, compare, approve and publish,
withdraw -- with every refusal the issue names, on SQLite and PostgreSQL.

Max and Priya are managers, Ada an admin, Rita a reviewer (tests.support.intake). Today is 2026-11-26."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from data.db import open_database
from desk import book as desk_book
from desk import policy_changes as pc
from desk import policy_store
from desk.book import PolicyBookUnusable, current_book
from desk.cases import case_detail
from desk.errors import InvalidInput, NotAllowed
from desk.policy_changes import StaleDraft
from policy import load_book
from tests.support.cases import TODAY, add_case
from tests.support.intake import ADA, MAX, PRIYA, RITA, add_demo_users

EFFECTIVE = TODAY + timedelta(days=14)  # 2026-12-10


@pytest.fixture
def desk(db):
    add_demo_users(db)
    desk_book.forget()
    yield db
    desk_book.forget()


def ten_day_draft(db, author=MAX):
    """Max's draft: a 10-day window from EFFECTIVE, the text saying 10 days; returns the saved draft."""
    draft = pc.create_draft(db, author, TODAY)
    version = draft.version().with_window_days(10, version="2026-12-10", effective_from=EFFECTIVE)
    return pc.save_draft(db, author, draft.id, draft.revision, pc.form_of(version), TODAY)


def test_the_first_use_stores_the_shipped_version_and_builds_the_book_from_the_database(desk):
    assert [v.version for v in current_book(desk).versions] == ["2024-01-01"]
    (stored,) = policy_store.list_versions(desk)
    assert (stored.status, stored.origin) == ("published", "file")
    assert stored.toml == load_book().versions[0].to_toml_text()  # exports to the same TOML
    assert stored.version() == load_book().versions[0]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE policy_versions SET window_days = 14",
        "UPDATE policy_versions SET toml = 'x'",
        "UPDATE policy_versions SET status = 'draft'",
        "DELETE FROM policy_versions",
    ],
    ids=["window", "text", "unpublish", "delete"],
)
def test_the_database_refuses_to_change_a_published_version(desk, statement):
    current_book(desk)
    with pytest.raises(DBAPIError, match="published version never changes"), desk.write.begin() as s:
        s.execute(text(statement))
    assert policy_store.list_versions(desk)[0].window_days == 7


def test_a_file_that_disagrees_with_the_stored_version_of_its_name_is_refused(desk, tmp_path, monkeypatch):
    current_book(desk)
    desk_book.forget()
    changed = load_book().versions[0].with_window_days(14)
    (tmp_path / "2024-01-01.toml").write_text(changed.to_toml_text())
    monkeypatch.setenv(desk_book.POLICY_DIR_ENV, str(tmp_path))
    with pytest.raises(PolicyBookUnusable, match="'2024-01-01' differs from the version of that name stored"):
        current_book(desk)
    assert policy_store.list_versions(desk)[0].window_days == 7  # nothing was written


def test_two_managers_change_the_policy_and_cases_after_the_date_are_judged_by_the_new_version(desk):
    draft = ten_day_draft(desk)
    assert draft.status == "draft" and draft.window_days == 10
    comparison = pc.compare(pc.in_force(desk, TODAY), draft.version())
    assert ("Contact window (days)", "7", "10", True) in comparison.parameters
    assert comparison.changed_sections == ["1", "4"]
    published = pc.approve_and_publish(desk, PRIYA, draft.id, draft.content_hash, TODAY)
    assert (published.status, published.approved_by, published.created_by) == ("published", "Priya Nair", "Max Müller")
    assert pc.takes_effect(published, TODAY) == "2026-12-10 (takes effect on 2026-12-10)"
    assert [v.version for v in current_book(desk).versions] == ["2024-01-01", "2026-12-10"]

    # a technical issue reported on day 9: late under 7 days, within under 10
    after = add_case(desk, service_date=EFFECTIVE + timedelta(days=1), opened_on=EFFECTIVE + timedelta(days=10))
    before = add_case(desk, service_date=EFFECTIVE - timedelta(days=1), opened_on=EFFECTIVE + timedelta(days=8))
    later = EFFECTIVE + timedelta(days=12)
    assert (case_detail(desk, after, later).verdict.policy_version, case_detail(desk, after, later).verdict.rule) == (
        "2026-12-10",
        7,
    )
    assert (case_detail(desk, before, later).verdict.policy_version, case_detail(desk, before, later).verdict.rule) == (
        "2024-01-01",
        3,
    )
    with desk.read() as s:
        kinds = [k for (k,) in s.execute(text("SELECT kind FROM case_events WHERE kind LIKE 'policy%' ORDER BY id"))]
    assert kinds == ["policy_drafted", "policy_draft_saved", "policy_published"]


def test_the_author_cannot_approve_their_own_draft(desk):
    draft = ten_day_draft(desk)
    with pytest.raises(NotAllowed, match="a second person"):
        pc.approve_and_publish(desk, MAX, draft.id, draft.content_hash, TODAY)
    assert pc.drafts(desk)[0].status == "draft"


def test_content_changed_after_it_was_viewed_is_not_approved(desk):
    draft = ten_day_draft(desk)
    seen = draft.content_hash
    v = draft.version().with_window_days(12)
    pc.save_draft(desk, MAX, draft.id, draft.revision, pc.form_of(v), TODAY)
    with pytest.raises(StaleDraft, match="changed after you viewed it"):
        pc.approve_and_publish(desk, ADA, draft.id, seen, TODAY)
    assert [v.version for v in current_book(desk).versions] == ["2024-01-01"]


def test_a_reviewer_neither_drafts_nor_approves(desk):
    with pytest.raises(NotAllowed):
        pc.create_draft(desk, RITA, TODAY)
    draft = ten_day_draft(desk)
    with pytest.raises(NotAllowed):
        pc.approve_and_publish(desk, RITA, draft.id, draft.content_hash, TODAY)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda f: replace(f, effective_from=TODAY), "effective_from", "must be after today (2026-11-26)"),
        (lambda f: replace(f, effective_from=TODAY - timedelta(days=40)), "effective_from", "never retroactively"),
        (
            lambda f: replace(f, effective_from=load_book().versions[0].effective_from),
            "effective_from",
            "already takes effect on 2024-01-01",
        ),
        (
            lambda f: replace(f, clauses={k: v for k, v in f.clauses.items() if k != "5"}),
            "clauses",
            "missing section 5",
        ),
        (lambda f: replace(f, window_days=14), "clauses.1", "says '10 days'"),
        (lambda f: replace(f, name=""), "name", "Give the version a name"),
        (lambda f: replace(f, name="2024-01-01"), "name", "already exists"),
    ],
    ids=["today", "past", "same-day", "missing-clause", "number-disagrees", "no-name", "name-taken"],
)
def test_a_bad_draft_is_refused_and_nothing_is_saved(desk, change, field, message):
    draft = ten_day_draft(desk)
    form = change(pc.form_of(draft.version()))
    checked = pc.check_draft(desk, form, pc.in_force(desk, TODAY), TODAY, draft_id=draft.id)
    assert not checked.ok and any(f == field and message in m for f, m in checked.problems), checked.problems
    with pytest.raises(InvalidInput, match="The draft was not saved"):
        pc.save_draft(desk, MAX, draft.id, draft.revision, form, TODAY)
    assert policy_store.get_version(desk, draft.id).content_hash == draft.content_hash


def test_a_scheduled_version_is_withdrawn_before_its_date_and_one_in_force_never(desk):
    draft = ten_day_draft(desk)
    published = pc.approve_and_publish(desk, ADA, draft.id, draft.content_hash, TODAY)
    with pytest.raises(InvalidInput, match="never edited or withdrawn"):
        pc.withdraw(desk, ADA, published.id, EFFECTIVE)
    withdrawn = pc.withdraw(desk, PRIYA, published.id, TODAY, "Legal asked for more time.")
    assert (withdrawn.status, withdrawn.withdrawn_by) == ("withdrawn", "Priya Nair")
    assert [v.version for v in current_book(desk).versions] == ["2024-01-01"]
    with pytest.raises(DBAPIError, match="published version never changes"), desk.write.begin() as s:
        s.execute(text("UPDATE policy_versions SET status = 'published' WHERE id = :id"), {"id": published.id})
    (shipped,) = [v for v in pc.history(desk) if v.origin == "file"]
    with pytest.raises(InvalidInput, match="in force since 2024-01-01"):
        pc.withdraw(desk, ADA, shipped.id, TODAY)


def test_another_process_notices_a_published_version_without_a_restart(desk, monkeypatch):
    assert [v.version for v in current_book(desk).versions] == ["2024-01-01"]
    other = open_database(desk.url)  # another server: its own engine, the same database
    try:
        draft = ten_day_draft(other)
        with other.write.begin() as s:  # published there, by plain SQL: this process is not told
            s.execute(
                text(
                    "UPDATE policy_versions SET status = 'published', approved_by_id = :a, published_at = "
                    "updated_at WHERE id = :id"
                ),
                {"a": ADA, "id": draft.id},
            )
    finally:
        other.dispose()
    assert [v.version for v in current_book(desk).versions] == ["2024-01-01"]  # within the TTL: cached
    monkeypatch.setattr(desk_book, "BOOK_TTL_SECONDS", 0.0)
    assert [v.version for v in current_book(desk).versions] == ["2024-01-01", "2026-12-10"]


def _at_once(*calls):
    """Run the calls in threads released together; each result or the DeskError it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - the test looks at what each got
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_approvers_publishing_one_draft_at_once_publish_it_once(desk):
    draft = ten_day_draft(desk)
    dbs = [open_database(desk.url) for _ in range(2)]
    try:
        results = _at_once(
            *(
                lambda d=d, who=who: pc.approve_and_publish(d, who, draft.id, draft.content_hash, TODAY)
                for d, who in zip(dbs, (PRIYA, ADA), strict=True)
            )
        )
    finally:
        for d in dbs:
            d.dispose()
    published = [r for r in results if isinstance(r, policy_store.StoredVersion)]
    refused = [r for r in results if isinstance(r, StaleDraft | InvalidInput)]  # whichever check saw it first
    assert len(published) == 1 and len(refused) == 1, results
    assert "already" in str(refused[0]) or "a moment ago" in str(refused[0])
    with desk.read() as s:
        assert s.execute(text("SELECT count(*) FROM case_events WHERE kind = 'policy_published'")).scalar() == 1


def test_two_drafts_for_the_same_day_published_at_once_one_is_refused(desk):
    first = ten_day_draft(desk, MAX)
    second = pc.create_draft(desk, PRIYA, TODAY)
    v = second.version().with_window_days(12, version="twelve", effective_from=EFFECTIVE)
    second = pc.save_draft(desk, PRIYA, second.id, second.revision, pc.form_of(v), TODAY)
    dbs = [open_database(desk.url) for _ in range(2)]
    try:
        results = _at_once(
            lambda: pc.approve_and_publish(dbs[0], ADA, first.id, first.content_hash, TODAY),
            lambda: pc.approve_and_publish(dbs[1], MAX, second.id, second.content_hash, TODAY),
        )
    finally:
        for d in dbs:
            d.dispose()
    published = [r for r in results if isinstance(r, policy_store.StoredVersion)]
    refused = [r for r in results if isinstance(r, InvalidInput)]
    assert len(published) == 1 and len(refused) == 1, results
    assert "takes effect on 2026-12-10" in str(refused[0]) or "a moment ago" in str(refused[0])
    assert len([v for v in pc.history(desk) if v.effective_from == EFFECTIVE]) == 1


def test_the_demo_desk_has_a_second_demo_version_so_decisions_split_by_version(backend):
    """make run's demo (Plan(demo_policy=True)); the tests' demo data keep the shipped version alone."""
    from data.generate import Plan, generate
    from data.migrate import upgrade

    db = open_database(backend.new_url())
    try:
        upgrade(db.engine)
        generate(db, Plan(cases=300, seed=3, request_rate=0.05, today=TODAY, demo_policy=True), quiet=True)
        desk_book.forget()
        assert [v.version for v in current_book(db).versions] == ["2024-01-01", "2026-05-01 demo"]
        demo = [v for v in policy_store.list_versions(db) if v.origin == "demo"]
        assert [(v.name, v.window_days, v.status) for v in demo] == [("2026-05-01 demo", 10, "published")]
        with db.read() as s:
            versions = dict(
                s.execute(text("SELECT policy_version, count(*) FROM decisions GROUP BY policy_version")).all()
            )
        assert set(versions) == {"2024-01-01", "2026-05-01 demo"} and min(versions.values()) > 10
    finally:
        db.dispose()
        desk_book.forget()


def test_the_stored_versions_export_to_the_same_toml_and_the_public_text(desk, tmp_path):
    draft = ten_day_draft(desk)
    pc.approve_and_publish(desk, ADA, draft.id, draft.content_hash, TODAY)
    written = policy_store.export_files(desk, tmp_path)
    assert sorted(p.name for p in written) == ["2024-01-01.toml", "2026-12-10.toml"]
    assert load_book(tmp_path).versions == current_book(desk).versions
    md = pc.public_text(desk, TODAY)
    assert "version 2024-01-01, in force since 2024-01-01" in md
    assert "- **2026-12-10** (takes effect on 2026-12-10): Contact window 7 → 10 days" in md
