"""Queue views: the filters as a link (read back exactly, bad values dropped with a note) and saved views per
person in the database. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from desk.errors import InvalidInput, NotFound
from desk.queue import OPEN_STATUSES, QueueFilters
from desk.views import DEFAULT_VIEW, delete_view, filters_for, list_views, save_view, view_from_params, view_to_params
from tests.support.cases import user_id

A_VIEW = {
    "text": "quill",
    "types": ["subscription"],
    "reasons": ["our_error", "billing_error"],
    "status": "open",
    "assignee": "mine",
    "min": 10.5,
    "max": 200.0,
    "sort": "amount_desc",
}


def test_a_view_survives_the_round_trip_through_a_link():
    params = view_to_params(A_VIEW)
    assert params == {
        "q": "quill",
        "type": "subscription",
        "reason": "our_error,billing_error",
        "status": "open",
        "assignee": "mine",
        "min": "10.50",
        "max": "200.00",
        "sort": "amount_desc",
    }
    view, notes = view_from_params(params)
    assert notes == [] and view == A_VIEW
    assert view_to_params(DEFAULT_VIEW) == {}
    assert view_from_params({}) == (DEFAULT_VIEW, [])


def test_a_link_with_values_the_queue_does_not_know_is_read_with_notes_not_an_error():
    view, notes = view_from_params(
        {
            "sort": "DROP TABLE",
            "reason": "our_error,nonsense",
            "status": "closed",
            "assignee": "99",
            "min": "12.345",
            "max": "abc",
        },
        user_ids={1, 2},
    )
    assert view == {**DEFAULT_VIEW, "reasons": ["our_error"]}
    assert len(notes) == 6 and any("12.345" in n for n in notes)


def test_the_filters_of_a_view():
    filters, notes = filters_for({**A_VIEW, "min": 200.0, "max": 10.5})
    assert filters == QueueFilters(
        service_types=("subscription",),
        reasons=("our_error", "billing_error"),
        statuses=("open",),
        assignee="mine",
        amount_min_cents=1050,
        amount_max_cents=20000,
        text="quill",
        sort="amount_desc",
    )
    assert len(notes) == 1 and "from $10.50 to $200.00" in notes[0]
    assert filters_for(DEFAULT_VIEW) == (QueueFilters(statuses=OPEN_STATUSES), [])


def test_saved_views_in_the_database(demo_db):
    db = demo_db
    rita, omar = user_id(db, "rita"), user_id(db, "omar")
    saved = save_view(db, rita, "  Big   refunds ", A_VIEW)
    assert saved.name == "Big refunds"
    save_view(db, rita, "Billing", {**DEFAULT_VIEW, "reasons": ["billing_error"]})
    save_view(db, rita, "Big refunds", {**A_VIEW, "sort": "amount"})  # same name: replaced
    save_view(db, omar, "Big refunds", DEFAULT_VIEW)
    views = list_views(db, rita)
    assert [v.name for v in views] == ["Big refunds", "Billing"]
    assert view_from_params(views[0].params)[0] == {**A_VIEW, "sort": "amount"}
    assert [v.name for v in list_views(db, omar)] == ["Big refunds"]
    with pytest.raises(NotFound):
        delete_view(db, omar, views[0].id)  # not his
    delete_view(db, rita, views[0].id)
    assert [v.name for v in list_views(db, rita)] == ["Billing"]
    for bad in ("", "   ", "x" * 81):
        with pytest.raises(InvalidInput):
            save_view(db, rita, bad, DEFAULT_VIEW)
