"""Every metric of docs/metrics.md against values worked out by hand on a tiny desk, on both backends.

The fixture is written row by row with plain inserts (so the rollup triggers keep the analytics tables),
and each expected value is computed in a comment from the rows below — not by the code under test.

The desk, March 2026 (the period) and February (the previous period):

    sales_daily   2026-02-10 technical_support  80 sold  $8,000      (previous period)
                  2026-03-02 technical_support 100 sold $10,000
                  2026-03-16 subscription       50 sold  $2,500
                  2026-04-05 technical_support 999 sold  $9,990      (after the period: ignored)

    case opened      type          reason               status             due     assignee
    c1   03-01  technical_support  our_error            closed             03-15   Rita
    c2   03-03  technical_support  technical_issue      closed             03-17   Rita
    c3   03-05  subscription       billing_error        closed             03-19   Omar
    c4   03-10  technical_support  dissatisfied         closed             03-24   Omar
    c5   03-12  subscription       unused_subscription  awaiting_approval  03-26   Rita
    c6   03-20  technical_support  our_error            closed             04-03   Omar
    c7   03-25  technical_support  user_error           open               04-08   —
    c8   02-15  technical_support  our_error            closed             03-01   Rita
    c9   02-20  technical_support  technical_issue      open               03-06   Rita
    c10  03-08  subscription       changed_requirements closed             03-22   Max

    decision case outcome         recommended     amount  by    on     exception approval     superseded version
    d1   c1   full_refund     full_refund     120.00  Rita  03-04  no        not_required no         2024-01-01
    d2   c2   credit          partial_refund   30.00  Rita  03-06  no        not_required no         2024-01-01
    d3   c3   partial_refund  partial_refund   25.00  Omar  03-05  no        not_required no         2025-06-01
    d4   c4   deny            deny              0     Omar  03-25  no        not_required no         2025-06-01
    d5   c5   full_refund     deny             49.00  Rita  03-14  yes       pending      no         2025-06-01
    d6   c6   full_refund     fix              80.00  Omar  03-21  yes       rejected     yes        2025-06-01
    d7   c6   fix             fix               0     Omar  03-22  no        not_required no         2025-06-01
    d8   c8   partial_refund  full_refund      50.00  Rita  02-20  no        not_required no         2024-01-01
    d9   c10  credit          deny             15.00  Max   03-09  yes       approved(Omar) no       2025-06-01
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest
from sqlalchemy import delete, insert, update

from data.models import Case, Customer, Decision, SalesDaily, Service, User, sales_by_currency
from desk import analytics
from desk.analytics import Filters, cover
from desk.auth import Actor
from desk.errors import InvalidInput
from desk.home import headline

RITA, OMAR, MAX, ADA = 1, 2, 3, 4
MANAGER = Actor(MAX, "max@example.test", "Max", "manager")
ADMIN = Actor(ADA, "ada@example.test", "Ada", "admin")
REVIEWER = Actor(RITA, "rita@example.test", "Rita", "reviewer")
MARCH = Filters(date(2026, 3, 1), date(2026, 3, 31))
TODAY = date(2026, 3, 31)

CASES = [
    # id, opened, type, reason, status, due, assignee
    (1, "03-01", "technical_support", "our_error", "closed", "03-15", RITA),
    (2, "03-03", "technical_support", "technical_issue", "closed", "03-17", RITA),
    (3, "03-05", "subscription", "billing_error", "closed", "03-19", OMAR),
    (4, "03-10", "technical_support", "dissatisfied", "closed", "03-24", OMAR),
    (5, "03-12", "subscription", "unused_subscription", "awaiting_approval", "03-26", RITA),
    (6, "03-20", "technical_support", "our_error", "closed", "04-03", OMAR),
    (7, "03-25", "technical_support", "user_error", "open", "04-08", None),
    (8, "02-15", "technical_support", "our_error", "closed", "03-01", RITA),
    (9, "02-20", "technical_support", "technical_issue", "open", "03-06", RITA),
    (10, "03-08", "subscription", "changed_requirements", "closed", "03-22", MAX),
]
DECISIONS = [
    # id, case, outcome, recommended, cents, by, on, exception, approval, approver, superseded, version
    (1, 1, "full_refund", "full_refund", 12000, RITA, "03-04", False, "not_required", None, False, "2024-01-01"),
    (2, 2, "credit", "partial_refund", 3000, RITA, "03-06", False, "not_required", None, False, "2024-01-01"),
    (3, 3, "partial_refund", "partial_refund", 2500, OMAR, "03-05", False, "not_required", None, False, "2025-06-01"),
    (4, 4, "deny", "deny", 0, OMAR, "03-25", False, "not_required", None, False, "2025-06-01"),
    (5, 5, "full_refund", "deny", 4900, RITA, "03-14", True, "pending", None, False, "2025-06-01"),
    (6, 6, "full_refund", "fix", 8000, OMAR, "03-21", True, "rejected", MAX, True, "2025-06-01"),
    (7, 6, "fix", "fix", 0, OMAR, "03-22", False, "not_required", None, False, "2025-06-01"),
    (8, 8, "partial_refund", "full_refund", 5000, RITA, "02-20", False, "not_required", None, False, "2024-01-01"),
    (9, 10, "credit", "deny", 1500, MAX, "03-09", True, "approved", OMAR, False, "2025-06-01"),
]


def d(mm_dd: str) -> date:
    return date.fromisoformat(f"2026-{mm_dd}")


@pytest.fixture
def desk(db):
    """The hand-built desk above, written with plain inserts on a migrated database (each backend)."""
    at = datetime(2026, 1, 1, 9, 0)
    with db.write.begin() as s:
        s.execute(
            insert(User),
            [
                {
                    "id": RITA,
                    "email": "rita@example.test",
                    "display_name": "Rita",
                    "role": "reviewer",
                    "created_at": at,
                },
                {
                    "id": OMAR,
                    "email": "omar@example.test",
                    "display_name": "Omar",
                    "role": "reviewer",
                    "created_at": at,
                },
                {"id": MAX, "email": "max@example.test", "display_name": "Max", "role": "manager", "created_at": at},
                {"id": ADA, "email": "ada@example.test", "display_name": "Ada", "role": "admin", "created_at": at},
            ],
        )
        s.execute(insert(Customer), [{"id": 1, "name": "C", "email": "c@example.test", "created_at": at}])
        s.execute(
            insert(Service),
            [
                {
                    "id": 1,
                    "customer_id": 1,
                    "service_type": "technical_support",
                    "price_cents": 10000,
                    "status": "completed",
                    "purchased_on": date(2026, 2, 1),
                }
            ],
        )
        sold = [
            {
                "day": date(2026, 2, 10),
                "service_type": "technical_support",
                "services_sold": 80,
                "revenue_cents": 800_000,
            },
            {
                "day": date(2026, 3, 2),
                "service_type": "technical_support",
                "services_sold": 100,
                "revenue_cents": 1_000_000,
            },
            {"day": date(2026, 3, 16), "service_type": "subscription", "services_sold": 50, "revenue_cents": 250_000},
            {
                "day": date(2026, 4, 5),
                "service_type": "technical_support",
                "services_sold": 999,
                "revenue_cents": 999_000,
            },
        ]
        s.execute(insert(SalesDaily), sold)
        # the per-currency sales rollup (migration 0004) by hand too: all of the above in USD (and not the one
        # service row the cases need, which its trigger added)
        s.execute(delete(sales_by_currency))
        s.execute(insert(sales_by_currency), [{**row, "currency": "USD"} for row in sold])
        for cid, opened, stype, reason, status, due, assignee in CASES:
            s.execute(
                insert(Case).values(
                    id=cid,
                    service_id=1,
                    customer_id=1,
                    service_type=stype,
                    opened_on=d(opened),
                    channel="email",
                    reason=reason,
                    description="",
                    amount_requested_cents=10000,
                    documentation=[],
                    fix_attempted=False,
                    status=status,
                    assignee_id=assignee,
                    due_on=d(due),
                    decided_on=None,
                    version=1,
                    created_at=at,
                )
            )
        for did, cid, outcome, rec, cents, by, on, exc, approval, approver, sup, version in DECISIONS:
            s.execute(
                insert(Decision).values(
                    id=did,
                    case_id=cid,
                    outcome=outcome,
                    recommended_outcome=rec,
                    amount_cents=cents,
                    rationale=f"rationale {did}",
                    decided_by_id=by,
                    decided_at=datetime.combine(d(on), datetime.min.time()),
                    decided_on=d(on),
                    service_type=next(c[2] for c in CASES if c[0] == cid),
                    reason=next(c[3] for c in CASES if c[0] == cid),
                    policy_version=version,
                    verdict={},
                    is_exception=exc,
                    approval_status=approval,
                    approver_id=approver,
                    superseded=sup,
                )
            )
    return db


def run(db, filters=MARCH, actor=MANAGER, today=TODAY) -> analytics.Report:
    return analytics.report(db, filters, actor, today)


# ---- refund rates ------------------------------------------------------------------------------------


def test_refund_rates_count_money_decisions_over_services_sold(desk):
    k = run(desk).kpis
    # services sold in March: 100 (03-02) + 50 (03-16) = 150; revenue $10,000 + $2,500 = 1,250,000 cents
    assert (k.sold, k.revenue_cents) == (150, 1_250_000)
    # effective money decisions: d1 full 12000, d2 credit 3000, d3 partial 2500, d9 credit 1500 (approved)
    # not d5 (pending), not d6 (rejected and superseded), not d4/d7 (deny, fix)
    assert (k.money, k.money_cents) == (4, 19000)
    assert k.refund_rate == pytest.approx(4 / 150)  # 2.67 %
    assert k.refund_value_rate == pytest.approx(19000 / 1_250_000)  # 1.52 %


def test_credits_are_in_the_refund_rate_and_also_shown_alone(desk):
    k = run(desk).kpis
    # credits: d2 3000 + d9 1500
    assert (k.credits, k.credit_cents) == (2, 4500)
    assert k.credit_rate == pytest.approx(2 / 150)
    assert k.credit_value_rate == pytest.approx(4500 / 1_250_000)


def test_request_rate_is_cases_opened_over_services_sold(desk):
    k = run(desk).kpis
    # opened in March: c1 c2 c3 c4 c5 c6 c7 c10 = 8 (c8, c9 opened in February)
    assert k.opened == 8
    assert k.request_rate == pytest.approx(8 / 150)


def test_previous_period_is_the_equal_length_range_just_before(desk):
    r = run(desk)
    assert (r.previous.start, r.previous.end) == (date(2026, 1, 29), date(2026, 2, 28))  # 31 days
    p = r.kpis_previous
    # February: 80 sold; d8 partial refund 5000; opened c8, c9
    assert (p.sold, p.money, p.money_cents, p.opened) == (80, 1, 5000, 2)
    assert p.refund_rate == pytest.approx(1 / 80)
    assert p.request_rate == pytest.approx(2 / 80)


def test_refund_trend_by_week_splits_by_service_type(desk):
    r = run(desk, replace(MARCH, granularity="week"))
    t = r.trend.set_index(["bucket", "service_type"])
    # week of Monday 03-02: d1 (03-04) and d2 (03-06) for technical support; its 100 sales were on 03-02
    assert t.loc[(date(2026, 3, 2), "technical_support"), "money"] == 2
    assert t.loc[(date(2026, 3, 2), "technical_support"), "sold"] == 100
    # subscription: d3 (03-05) in the week of 03-02, d9 (03-09) in the week of 03-09; its sales on 03-16
    assert t.loc[(date(2026, 3, 2), "subscription"), "money"] == 1
    assert t.loc[(date(2026, 3, 9), "subscription"), "money_cents"] == 1500
    assert t.loc[(date(2026, 3, 16), "subscription"), "sold"] == 50
    # March 1 is a Sunday: its case c1 sits in the week of Monday 02-23
    assert t.loc[(date(2026, 2, 23), "technical_support"), "opened"] == 1


def test_a_service_type_filter_changes_numerators_and_denominators(desk):
    k = run(desk, replace(MARCH, service_types=("subscription",))).kpis
    # subscription: 50 sold, $2,500; money d3 2500 + d9 1500; opened c3 c5 c10
    assert (k.sold, k.money, k.money_cents, k.opened) == (50, 2, 4000, 3)
    assert k.refund_rate == pytest.approx(2 / 50)
    assert k.refund_value_rate == pytest.approx(4000 / 250_000)


def test_a_reason_filter_keeps_the_denominator(desk):
    k = run(desk, replace(MARCH, reasons=("our_error",))).kpis
    # our_error decisions: d1 (full refund), d6 (rejected), d7 (fix) -> 1 money decision; sold stays 150
    assert (k.decisions, k.money, k.sold, k.opened) == (3, 1, 150, 2)
    assert k.refund_rate == pytest.approx(1 / 150)


def test_a_range_of_whole_weeks_and_loose_days_counts_the_same_facts(desk):
    # 03-02 .. 03-30 is read from the week grain (four weeks) and one day; it drops 03-01 (c1 opened) and
    # 03-31 (nothing): all 8 decisions (03-04 .. 03-25), both sales days, 7 of the 8 March cases
    k = run(desk, Filters(date(2026, 3, 2), date(2026, 3, 30))).kpis
    assert (k.decisions, k.money, k.money_cents, k.sold, k.opened) == (8, 4, 19000, 150, 7)
    assert (k.lead_median, k.lead_p90, k.within_due) == (2, 15, 5)


def test_home_page_refund_rate_matches_the_analytics_definition(desk):
    h = headline(desk, TODAY)  # last 30 days: 03-02 .. 03-31
    k = run(desk, Filters(date(2026, 3, 2), TODAY)).kpis
    assert h.refund_rate_30d == pytest.approx(k.refund_rate)
    assert h.refund_value_rate_30d == pytest.approx(k.refund_value_rate)


# ---- reasons -----------------------------------------------------------------------------------------


def test_reasons_share_of_cases_and_money_rate(desk):
    b = run(desk).by_reason.set_index("reason")
    # opened: our_error c1 c6 = 2 of 8 cases
    assert b.loc["our_error", "opened"] == 2
    assert b.loc["our_error", "share_of_cases"] == pytest.approx(2 / 8)
    assert b["opened"].sum() == 8
    # money rate = effective money decisions / effective decisions
    assert b.loc["our_error", "money_share"] == pytest.approx(1 / 2)  # d1 full refund, d7 fix
    assert b.loc["technical_issue", "money_share"] == pytest.approx(1.0)  # d2 credit
    assert b.loc["dissatisfied", "money_share"] == pytest.approx(0.0)  # d4 deny
    assert b.loc["unused_subscription", "effective"] == 0  # d5 waits for approval


def test_a_reason_filter_keeps_the_share_of_cases_over_all_reasons(desk):
    """With a reason filter the share is still of every case opened (docs/metrics.md), not 100 %."""
    b = run(desk, replace(MARCH, reasons=("our_error",))).by_reason.set_index("reason")
    assert b.loc["our_error", "opened"] == 2
    assert b.loc["our_error", "share_of_cases"] == pytest.approx(2 / 8)


def test_reason_by_service_type_and_trend(desk):
    r = run(desk)
    rt = r.by_reason_type.set_index(["reason", "service_type"])
    assert rt.loc[("our_error", "technical_support"), "opened"] == 2
    assert rt.loc[("billing_error", "subscription"), "opened"] == 1
    trend = r.reason_trend.set_index(["bucket", "reason"])
    assert trend.loc[(date(2026, 3, 1), "our_error"), "opened"] == 2


# ---- exceptions --------------------------------------------------------------------------------------


def test_exceptions_count_share_money_and_approval_states(desk):
    r = run(desk)
    k = r.kpis
    # exceptions recorded in March: d5 (pending), d6 (rejected), d9 (approved) of 8 decisions (d1-d7, d9)
    assert (k.exceptions, k.decisions) == (3, 8)
    assert k.exception_share == pytest.approx(3 / 8)
    # money through exceptions: only the approved, effective d9 credit
    assert k.exception_money_cents == 1500
    e = r.exceptions_by_bucket.iloc[0]
    assert (e.exceptions_approved, e.exceptions_pending, e.exceptions_rejected) == (1, 1, 1)
    by_rev = r.by_reviewer.set_index("reviewer")
    assert by_rev.loc["Rita", "exceptions"] == 1 and by_rev.loc["Omar", "exceptions"] == 1
    assert by_rev.loc["Max", "exceptions_approved"] == 1


def test_pending_approvals_is_a_snapshot_of_waiting_exceptions(desk):
    assert run(desk).pending_approvals == 1  # d5; d6 was rejected
    # not limited to the date range
    assert run(desk, Filters(date(2025, 1, 1), date(2025, 1, 31))).pending_approvals == 1


def test_exception_list_has_rationale_approver_and_case(desk):
    rows = run(desk).exception_list
    # newest first: d6 (03-21), d5 (03-14), d9 (03-09)
    assert list(rows["case_id"]) == [6, 5, 10]
    d9 = rows.iloc[2]
    assert (d9.decided_by, d9.approver, d9.rationale, d9.approval_status) == ("Max", "Omar", "rationale 9", "approved")


# ---- overrides ---------------------------------------------------------------------------------------


def test_override_rate_and_direction_per_reviewer(desk):
    r = run(desk)
    k = r.kpis
    # overrides: d2 credit<partial (less), d5 full>deny, d6 full>fix, d9 credit>deny (more) = 4 of 8
    assert k.overrides == 4
    assert k.override_rate == pytest.approx(0.5)
    rev = r.by_reviewer.set_index("reviewer")
    # Rita: d1 d2 d5 -> overrides d2 (less), d5 (more)
    assert tuple(rev.loc["Rita", ["decisions", "overrides", "more_generous", "less_generous"]]) == (3, 2, 1, 1)
    assert rev.loc["Rita", "override_rate"] == pytest.approx(2 / 3)
    # Omar: d3 d4 d6 d7 -> d6 (more)
    assert tuple(rev.loc["Omar", ["decisions", "overrides", "more_generous", "less_generous"]]) == (4, 1, 1, 0)
    # Max: d9 (more)
    assert rev.loc["Max", "override_rate"] == pytest.approx(1.0)


# ---- desk health -------------------------------------------------------------------------------------


def test_time_to_decision_median_p90_and_within_due(desk):
    r = run(desk)
    k = r.kpis
    # effective decisions and days from opening: d1 3, d2 3, d3 0, d4 15, d7 2, d9 1 -> 0 1 2 3 3 15
    # median (nearest rank, >= 3 of 6): 2; p90 (>= 5.4 of 6): 15
    assert (k.lead_median, k.lead_p90) == (2, 15)
    # within due: all but d4 (decided 03-25, due 03-24) -> 5 of 6
    assert k.within_due == 5
    assert k.within_due_share == pytest.approx(5 / 6)
    hist = r.lead_histogram.set_index("days")["decisions"]
    assert (hist[0], hist[1], hist[2], hist[3], hist[15], hist.sum()) == (1, 1, 1, 2, 1, 6)
    rev = r.by_reviewer.set_index("reviewer")
    # Omar: d3 0, d4 15, d7 2 -> median 2, p90 15, within due 2 of 3
    assert (rev.loc["Omar", "lead_median"], rev.loc["Omar", "lead_p90"]) == (2, 15)
    assert rev.loc["Omar", "within_due_share"] == pytest.approx(2 / 3)
    # previous period: d8 5 days, within due (02-20 <= 03-01)
    assert (r.kpis_previous.lead_median, r.kpis_previous.within_due_share) == (5, 1.0)


def test_backlog_by_age_as_of_today(desk):
    b = run(desk).backlog.set_index("age")
    # not closed on 03-31: c5 (opened 03-12: 19 days, due 03-26: overdue), c7 (03-25: 6 days),
    # c9 (02-20: 39 days, due 03-06: overdue)
    assert dict(b["cases"]) == {"0–2 days": 0, "3–7 days": 1, "8–14 days": 0, "15–30 days": 1, "31+ days": 1}
    assert b["overdue"].sum() == 2


def test_decisions_per_reviewer(desk):
    rev = run(desk).by_reviewer.set_index("reviewer")
    assert dict(rev["decisions"]) == {"Rita": 3, "Omar": 4, "Max": 1}
    assert dict(rev["effective"]) == {"Rita": 2, "Omar": 3, "Max": 1}


# ---- by policy version -------------------------------------------------------------------------------


def test_headline_numbers_by_policy_version(desk):
    v = run(desk).by_version.set_index("policy_version")
    # 2024-01-01: d1 d2 -> 2 decisions, both effective money (12000 + 3000), override d2
    assert tuple(v.loc["2024-01-01", ["decisions", "effective", "money", "money_cents", "overrides"]]) == (
        2,
        2,
        2,
        15000,
        1,
    )
    # 2025-06-01: d3 d4 d5 d6 d7 d9 -> effective d3 d4 d7 d9; money d3 2500 + d9 1500; exceptions d5 d6 d9;
    # overrides d5 d6 d9
    row = v.loc["2025-06-01"]
    assert (row.decisions, row.effective, row.money, row.money_cents) == (6, 4, 2, 4000)
    assert (row.exceptions, row.overrides) == (3, 3)
    assert row.money_share == pytest.approx(2 / 4)
    assert row.exception_share == pytest.approx(3 / 6)


# ---- scope and filters -------------------------------------------------------------------------------


def test_a_reviewer_sees_only_their_own_numbers_whatever_they_ask_for(desk):
    r = run(desk, replace(MARCH, reviewers=(OMAR,)), actor=REVIEWER)
    assert r.filters.reviewers == (RITA,) and r.own_numbers_only
    k = r.kpis
    # Rita: d1 d2 d5 recorded; effective money d1 12000 + d2 3000
    assert (k.decisions, k.money, k.money_cents) == (3, 2, 15000)
    assert k.opened is None and k.request_rate is None  # opened cases are nobody's
    assert set(r.by_reviewer["reviewer"]) == {"Rita"}
    assert list(r.exception_list["case_id"]) == [5]
    assert r.pending_approvals == 1
    # backlog: the cases assigned to Rita: c5 (19 days), c9 (39 days)
    assert r.backlog["cases"].sum() == 2
    assert [p.name for p in analytics.people(desk, REVIEWER)] == ["Rita"]


def test_managers_and_admins_see_the_whole_desk(desk):
    for actor in (MANAGER, ADMIN):
        assert run(desk, actor=actor).kpis.decisions == 8
    assert {p.name for p in analytics.people(desk, MANAGER)} == {"Rita", "Omar", "Max"}


def test_a_reviewer_filter_hides_opened_case_metrics(desk):
    r = run(desk, replace(MARCH, reviewers=(OMAR,)))
    assert not r.cases_attributable and r.kpis.opened is None
    assert r.kpis.decisions == 4


def test_a_filter_matching_nothing_gives_zeros_not_errors(desk):
    r = run(desk, Filters(date(2030, 1, 1), date(2030, 1, 31)))
    k = r.kpis
    assert (k.decisions, k.sold, k.opened) == (0, 0, 0)
    assert k.refund_rate is None and k.lead_median is None
    assert r.trend.empty and r.exception_list.empty and r.by_reviewer.empty


def test_bad_filters_are_refused_with_the_field_named(desk):
    with pytest.raises(InvalidInput) as exc:
        run(desk, Filters(date(2026, 3, 31), date(2026, 3, 1)))
    assert exc.value.field == "dates"
    with pytest.raises(InvalidInput):
        run(desk, replace(MARCH, reasons=("bribery",)))


def test_default_filters_are_the_last_twelve_months_ending_today():
    f = analytics.default_filters(date(2026, 11, 26))
    assert (f.start, f.end, f.days) == (date(2025, 11, 27), date(2026, 11, 26), 365)
    assert analytics.default_filters(date(2028, 2, 29)).start == date(2027, 3, 1)


@pytest.mark.parametrize(
    ("start", "end", "unit", "pieces"),
    [
        # the default view: loose days, eleven whole months, then November 2026 as a day, three weeks, days
        (
            "2025-11-27",
            "2026-11-26",
            "month",
            [
                ("day", "2025-11-27", "2025-11-30"),
                ("month", "2025-12-01", "2026-10-01"),
                ("day", "2026-11-01", "2026-11-01"),
                ("week", "2026-11-02", "2026-11-16"),
                ("day", "2026-11-23", "2026-11-26"),
            ],
        ),
        ("2026-03-01", "2026-03-31", "month", [("month", "2026-03-01", "2026-03-01")]),
        (
            "2026-03-02",
            "2026-03-30",
            "month",
            [("week", "2026-03-02", "2026-03-23"), ("day", "2026-03-30", "2026-03-30")],
        ),
        # no whole month: each month's part on its own, so no week straddles two months
        (
            "2026-03-15",
            "2026-04-20",
            "month",
            [
                ("day", "2026-03-15", "2026-03-15"),
                ("week", "2026-03-16", "2026-03-23"),
                ("day", "2026-03-30", "2026-03-31"),
                ("day", "2026-04-01", "2026-04-05"),
                ("week", "2026-04-06", "2026-04-13"),
                ("day", "2026-04-20", "2026-04-20"),
            ],
        ),
        # March 2026 in weeks: Sunday 1st alone, four whole weeks from Monday 2nd, then the 30th and 31st
        (
            "2026-03-01",
            "2026-03-31",
            "week",
            [
                ("day", "2026-03-01", "2026-03-01"),
                ("week", "2026-03-02", "2026-03-23"),
                ("day", "2026-03-30", "2026-03-31"),
            ],
        ),
        ("2026-12-01", "2027-01-31", "month", [("month", "2026-12-01", "2027-01-01")]),
    ],
)
def test_a_date_range_is_covered_by_whole_units_and_loose_days(start, end, unit, pieces):
    got = cover(date.fromisoformat(start), date.fromisoformat(end), unit)
    assert got == [(g, date.fromisoformat(a), date.fromisoformat(b)) for g, a, b in pieces]


# ---- currencies (docs/metrics.md, "Currencies") -------------------------------------------------------


@pytest.fixture
def desk_in_two_currencies(desk):
    """The desk above plus a EUR sale: 20 technical-support services sold for €1,000 on 03-02, and case c11
    (opened 03-09 about a EUR service) decided d10 full refund €40.00 by Omar on 03-10."""
    at = datetime(2026, 1, 1, 9, 0)
    with desk.write.begin() as s:
        s.execute(
            insert(Service).values(
                id=2,
                customer_id=1,
                service_type="technical_support",
                price_cents=4000,
                currency="EUR",
                status="completed",
                purchased_on=date(2026, 3, 2),
            )
        )
        # the trigger counted the one EUR service; the hand-written figure is 20 sold for €1,000 (and sales_daily,
        # which every writer of services keeps too, counts them with the day's USD sales)
        s.execute(
            update(SalesDaily)
            .where(SalesDaily.day == date(2026, 3, 2), SalesDaily.service_type == "technical_support")
            .values(services_sold=SalesDaily.services_sold + 20, revenue_cents=SalesDaily.revenue_cents + 100_000)
        )
        s.execute(delete(sales_by_currency).where(sales_by_currency.c.currency == "EUR"))
        s.execute(
            insert(sales_by_currency).values(
                day=date(2026, 3, 2),
                service_type="technical_support",
                currency="EUR",
                services_sold=20,
                revenue_cents=100_000,
            )
        )
        s.execute(
            insert(Case).values(
                id=11,
                service_id=2,
                customer_id=1,
                service_type="technical_support",
                opened_on=d("03-09"),
                channel="email",
                reason="our_error",
                description="",
                amount_requested_cents=4000,
                documentation=[],
                fix_attempted=False,
                status="closed",
                assignee_id=OMAR,
                due_on=d("03-23"),
                decided_on=d("03-10"),
                version=2,
                created_at=at,
            )
        )
        s.execute(
            insert(Decision).values(
                id=10,
                case_id=11,
                outcome="full_refund",
                recommended_outcome="full_refund",
                amount_cents=4000,
                rationale="",
                decided_by_id=OMAR,
                decided_at=datetime(2026, 3, 10, 10, 0),
                decided_on=d("03-10"),
                service_type="technical_support",
                reason="our_error",
                policy_version="2025-06-01",
                verdict={},
                is_exception=False,
                approval_status="not_required",
                superseded=False,
            )
        )
    return desk


def test_money_is_of_the_chosen_currency_and_counts_are_of_all(desk_in_two_currencies):
    usd = run(desk_in_two_currencies).kpis  # the default: USD
    # counts take every currency: money outcomes 4 + d10 = 5; services sold 150 + 20 = 170
    assert (usd.money, usd.sold, usd.decisions) == (5, 170, 9)
    # money and revenue in USD only: d1 12000 + d2 3000 + d3 2500 + d9 1500 = 19000 of $12,500 revenue
    assert (usd.money_cents, usd.revenue_cents) == (19000, 1_250_000)
    assert usd.refund_value_rate == pytest.approx(19000 / 1_250_000)
    eur = run(desk_in_two_currencies, replace(MARCH, currency="eur")).kpis
    # the same counts; money d10 €40.00 of €1,000 revenue
    assert (eur.money, eur.sold, eur.decisions) == (5, 170, 9)
    assert (eur.money_cents, eur.revenue_cents) == (4000, 100_000)
    assert eur.refund_value_rate == pytest.approx(4000 / 100_000)
    assert eur.credit_cents == 0 and eur.exception_money_cents == 0


def test_money_per_currency_is_shown_side_by_side_never_summed(desk_in_two_currencies):
    r = run(desk_in_two_currencies)
    assert r.money_by_currency == {"USD": 19000, "EUR": 4000}
    assert r.filters.currency == "USD"
    by_type = r.trend.groupby("service_type")["money_cents"].sum()
    assert by_type["technical_support"] == 12000 + 3000  # d1 + d2, not d10's €40
    exc = r.exception_list.set_index("case_id")
    assert exc.loc[10, "currency"] == "USD"


def test_the_currency_filter_lists_what_the_desk_sells_in_reporting_currency_first(desk_in_two_currencies):
    assert analytics.currencies(desk_in_two_currencies, MANAGER, "EUR") == ["EUR", "USD"]
    assert analytics.currencies(desk_in_two_currencies, MANAGER) == ["USD", "EUR"]
    assert analytics.currencies(desk_in_two_currencies, MANAGER, "GBP") == ["GBP", "EUR", "USD"]


def test_an_unknown_currency_is_refused_with_the_field_named(desk):
    with pytest.raises(InvalidInput) as exc:
        run(desk, replace(MARCH, currency="XYZ"))
    assert exc.value.field == "currency"


def test_the_home_page_value_rate_is_per_currency_like_the_analytics(desk_in_two_currencies):
    db = desk_in_two_currencies
    for currency in ("USD", "EUR"):
        h = headline(db, TODAY, currency)
        k = run(db, Filters(date(2026, 3, 2), TODAY, currency=currency)).kpis
        assert (h.refund_rate_30d, h.refund_value_rate_30d) == (
            pytest.approx(k.refund_rate),
            pytest.approx(k.refund_value_rate),
        )
    # EUR: d10 €40.00 of €1,000 revenue
    assert headline(db, TODAY, "EUR").refund_value_rate_30d == pytest.approx(4000 / 100_000)


# ---- the monthly review: cash-only rate, granted against requested, approvals ------------------------------


def test_the_cash_refund_rate_leaves_credits_out(desk):
    k = run(desk).kpis
    # cash refunds: d1 full $120 + d3 partial $25 = 2 of 150 sold, $145 of $12,500; with credits (d2, d9): 4
    assert (k.refunds, k.refund_cents) == (2, 14500)
    assert k.cash_refund_rate == pytest.approx(2 / 150)
    assert k.cash_refund_value_rate == pytest.approx(14500 / 1_250_000)
    assert k.refund_rate == pytest.approx(4 / 150)


def test_amount_granted_against_amount_requested_per_currency(desk_in_two_currencies):
    g = run(desk_in_two_currencies).granted.set_index("currency")
    # USD effective decisions in March: d1 d2 d3 d4 d7 d9, each case asked $100 → $600 asked;
    # granted d1 120 + d2 30 + d3 25 + d9 15 = $190, cash (d1 + d3) $145. d5 pending, d6 superseded: out.
    assert g.loc["USD"].to_dict() == {
        "decisions": 6,
        "requested_cents": 60000,
        "granted_cents": 19000,
        "cash_cents": 14500,
    }
    # EUR: d10 asked €40, granted €40 in full — its own row, never added to the dollars
    assert g.loc["EUR"].to_dict() == {
        "decisions": 1,
        "requested_cents": 4000,
        "granted_cents": 4000,
        "cash_cents": 4000,
    }


def test_money_awaiting_approval_and_how_long_it_has_waited(desk):
    a = run(desk).awaiting
    # d5: Rita's full refund of $49.00, pending since 03-14; as of 03-31 it has waited 17 days
    assert a.to_dict("records") == [
        {"currency": "USD", "pending": 1, "amount_cents": 4900, "median_wait_days": 17, "oldest_wait_days": 17}
    ]
    assert run(desk, replace(MARCH, reviewers=(OMAR,))).awaiting.empty  # Omar has nothing waiting


@pytest.fixture
def answered(desk):
    """The desk with the times the managers answered: d6 rejected by Max 6 hours after Omar recorded it
    (03-21 06:00), d9 approved by Omar two days after Max recorded it (03-11 00:00)."""
    with desk.write.begin() as s:
        s.execute(update(Decision).where(Decision.id == 6).values(approved_at=datetime(2026, 3, 21, 6, 0)))
        s.execute(update(Decision).where(Decision.id == 9).values(approved_at=datetime(2026, 3, 11, 0, 0)))
    return desk


def test_approvals_and_rejections_per_manager(answered):
    a = run(answered).approvals
    assert a[["manager", "approvals", "rejections", "median_wait_hours"]].to_dict("records") == [
        {"manager": "Omar", "approvals": 1, "rejections": 0, "median_wait_hours": 48.0},
        {"manager": "Max", "approvals": 0, "rejections": 1, "median_wait_hours": 6.0},
    ]
    # with a reviewer filter: the exceptions that reviewer recorded (Omar's d6, rejected by Max)
    omar = run(answered, replace(MARCH, reviewers=(OMAR,))).approvals
    assert omar[["manager", "approvals", "rejections"]].to_dict("records") == [
        {"manager": "Max", "approvals": 0, "rejections": 1}
    ]
    assert run(answered, replace(MARCH, start=date(2026, 2, 1), end=date(2026, 2, 28))).approvals.empty


FEB_MAR = replace(MARCH, start=date(2026, 2, 1))


def test_refund_rate_by_sale_month_beside_decision_month(desk):
    rows = {r["month"]: r for r in run(desk, FEB_MAR).sale_months.to_dict("records")}
    # every case is about service 1, sold 2026-02-01: the February cohort holds every effective money
    # decision whenever decided — d8 (02-20) and d1 d2 d3 d9 (March) = 5, $50 + $120 + $30 + $25 + $15,
    # cash (d1 d3 d8) 3 — over February's 80 services sold; March's cohort has none of 150
    feb, mar = rows[date(2026, 2, 1)], rows[date(2026, 3, 1)]
    assert (feb["sold"], feb["by_sale_money"], feb["by_sale_money_cents"], feb["by_sale_refunds"]) == (80, 5, 24000, 3)
    assert (mar["sold"], mar["by_sale_money"], mar["by_sale_money_cents"]) == (150, 0, 0)
    # by decision month: February d8 ($50), March d1 d2 d3 d9 ($190)
    assert (feb["by_decision_money"], feb["by_decision_money_cents"]) == (1, 5000)
    assert (mar["by_decision_money"], mar["by_decision_money_cents"]) == (4, 19000)


def test_a_late_approval_moves_into_its_sale_month_and_a_rebuild_agrees(desk):
    from data.bulk import rollups_paused

    with desk.write.begin() as s:  # d5 (pending, $49, service sold in February) is approved
        s.execute(update(Decision).where(Decision.id == 5).values(approval_status="approved", approver_id=MAX))
    feb = run(desk, FEB_MAR).sale_months.set_index("month").loc[date(2026, 2, 1)]
    assert (feb["by_sale_money"], feb["by_sale_money_cents"]) == (6, 24000 + 4900)
    # and it is granted in March, the month it was recorded: $190 + $49 of $600 + $100 asked
    usd = run(desk).granted.set_index("currency").loc["USD"]
    assert (usd["decisions"], usd["requested_cents"], usd["granted_cents"]) == (7, 70000, 23900)
    before = run(desk, FEB_MAR)
    with desk.write.begin() as s, rollups_paused(s.connection(), "test: rebuild"):
        pass
    after = run(desk, FEB_MAR)
    assert after.sale_months.equals(before.sale_months) and after.granted.equals(before.granted)


def test_the_sale_month_rate_is_per_currency_for_money(desk_in_two_currencies):
    mar = run(desk_in_two_currencies).sale_months.set_index("month").loc[date(2026, 3, 1)]
    # d10 (EUR service sold 03-02, €40 full refund): counted in March's cohort; its euros only in EUR
    assert (mar["by_sale_money"], mar["by_sale_money_cents"], mar["sold"]) == (1, 0, 170)
    eur = run(desk_in_two_currencies, replace(MARCH, currency="EUR")).sale_months.set_index("month")
    assert eur.loc[date(2026, 3, 1), "by_sale_money_cents"] == 4000


# ---- drill-down: the cases behind a number -------------------------------------------------------------


def test_the_cases_behind_a_period_s_refund_count(desk):
    rows, total = analytics.drill_cases(desk, MARCH, MANAGER, analytics.Drill("decided", d("03-01"), d("03-31")))
    # the 4 money outcomes of March (refund_count): d1 c1, d2 c2, d3 c3, d9 c10 — newest first
    # decided 03-09 (c10), 03-06 (c2), 03-05 (c3), 03-04 (c1)
    assert total == 4 and list(rows["case_id"]) == [10, 2, 3, 1]
    sub = analytics.Drill("decided", d("03-01"), d("03-31"), "subscription")
    assert set(analytics.drill_cases(desk, MARCH, MANAGER, sub)[0]["case_id"]) == {3, 10}


def test_the_cases_behind_a_sale_month_cohort(desk):
    rows, total = analytics.drill_cases(desk, FEB_MAR, MANAGER, analytics.Drill("sale_month", d("02-01"), d("02-28")))
    assert total == 5 and set(rows["case_id"]) == {1, 2, 3, 8, 10}  # the February cohort (see above)


def test_a_reviewer_s_drill_down_lists_only_their_cases(desk):
    rows, total = analytics.drill_cases(desk, MARCH, REVIEWER, analytics.Drill("decided", d("03-01"), d("03-31")))
    assert total == 2 and set(rows["case_id"]) == {1, 2}  # Rita's d1 and d2


def test_an_unknown_drill_down_is_refused(desk):
    with pytest.raises(InvalidInput):
        analytics.drill_cases(desk, MARCH, MANAGER, analytics.Drill("everything", d("03-01"), d("03-31")))
