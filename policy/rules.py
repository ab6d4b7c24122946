"""The rule table and ``evaluate``: facts and a policy book in, a verdict out. Pure: no I/O, no clock.

Read it top down: ``RULES`` (what each row recommends, allows and cites), ``matching_row`` (the first row
that matches a request), ``evaluate`` (the row's verdict with its findings). Thresholds (the contact window)
come from the policy version in force on the service date (section 6). What does not depend on the request
is worked out once per version (``CompiledVersion``, made by ``PolicyBook``), so ``evaluate`` allocates
only the verdict and the findings that carry the request's own numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from .errors import InvalidFacts
from .facts import Facts, Subscription
from .verdict import Finding, Verdict, json_head, shared_finding, trusted_finding, trusted_verdict
from .vocabulary import MONEY_OUTCOMES

if TYPE_CHECKING:
    from .book import PolicyBook, PolicyVersion


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the rule table, as a reviewer would read it."""

    number: int
    when: str
    recommended: str | None
    allowed: tuple[str, ...]
    clauses: tuple[str, ...]
    note: str = ""


RULES: tuple[Rule, ...] = (
    Rule(
        1,
        "The service has not started (nothing initiated yet)",
        "full_refund",
        ("full_refund", "credit"),
        ("3",),
        "the contact window does not apply",
    ),
    Rule(2, "The request is dated before a service that has started", None, (), (), "an input error, not a verdict"),
    Rule(
        3,
        "The request came after the contact window (the last day of the window is still within)",
        "deny",
        ("deny",),
        ("4", "1"),
    ),
    Rule(
        4,
        "Error in billing",
        "full_refund",
        ("full_refund", "partial_refund", "credit"),
        ("2",),
        "a full refund of the amount billed in error",
    ),
    Rule(
        5,
        "Subscription cancelled before the charged cycle began, and charged anyway",
        "full_refund",
        ("full_refund", "credit"),
        ("2",),
    ),
    Rule(6, "User error, changed requirements, or usage after the service was completed", "deny", ("deny",), ("1",)),
    Rule(
        7,
        "Mistake or technical issue on our side; no fix attempted yet, or its result is pending",
        "fix",
        ("fix",),
        ("1",),
    ),
    Rule(8, "Mistake or technical issue on our side; a fix was attempted and succeeded", "fix", ("fix",), ("1",)),
    Rule(
        9,
        "Mistake or technical issue on our side; a fix was attempted and failed",
        "partial_refund",
        ("partial_refund", "credit"),
        ("1",),
        "cites section 2 as well for a subscription",
    ),
    Rule(
        10,
        "Subscription, any other reason (unused portion, dissatisfied)",
        "deny",
        ("deny",),
        ("2",),
        "access continues to the end of the billing cycle",
    ),
    Rule(
        11,
        "Anything else (dissatisfied with a started service)",
        "deny",
        ("deny",),
        ("1",),
        "cites section 3 instead while the service is in progress",
    ),
)
# Every section a version must have: the rows cite 1-4, an exception cites 5, choosing the version cites 6.
REQUIRED_CLAUSES = ("1", "2", "3", "4", "5", "6")
EXCEPTION_CLAUSE = "5"
# Two rows cite different sections depending on the request: (row, variant) -> the sections cited.
CITATION_VARIANTS: dict[tuple[int, str], tuple[str, ...]] = {
    (9, "subscription"): ("1", "2"),  # a subscription's failed fix cites section 2 as well
    (11, "completed"): ("1",),
    (11, "in_progress"): ("3",),
}
# Every set of sections a row's verdicts can cite (policy.book checks the quotes against them).
CITATION_SETS: dict[int, tuple[tuple[str, ...], ...]] = {
    **{r.number: (r.clauses,) for r in RULES if r.clauses},
    9: (("1",), CITATION_VARIANTS[9, "subscription"]),
    11: (CITATION_VARIANTS[11, "completed"], CITATION_VARIANTS[11, "in_progress"]),
}

# A row of the table is found by its number, or (number, variant) for the rows above.
RowKey = int | tuple[int, str]

NO_REFUND_REASONS = frozenset({"user_error", "changed_requirements", "usage_after_completion"})  # row 6
OUR_SIDE_REASONS = frozenset({"our_error", "technical_issue"})  # rows 7-9
DOCUMENTED_REASONS = frozenset({"our_error", "technical_issue", "billing_error"})  # section 4 asks for documents


def matching_row(facts: Facts, days: int, window_days: int) -> RowKey:  # noqa: C901 — one branch per row of the rule table, in the table's order
    """The first row of RULES that matches the request, ``days`` after its service date.

    Raises InvalidFacts (field ``request_date``) for row 2, a request dated before a service that started."""
    if facts.service_status == "not_started":  # row 1, before the window: nothing was initiated
        return 1
    if days < 0:  # row 2
        raise InvalidFacts(
            "request_date",
            f"{facts.request_date} is before the service date {facts.service_date} of a service that has started",
        )
    if days > window_days:  # row 3: day window_days is still within
        return 3
    reason = facts.reason
    sub = facts.subscription
    if reason == "billing_error":
        return 4
    if sub is not None and sub.cancelled_on is not None and sub.cancelled_on < sub.cycle_start:
        return 5  # cancelled before the charged cycle began
    if reason in NO_REFUND_REASONS:
        return 6
    if reason in OUR_SIDE_REASONS:
        if not facts.fix_attempted or facts.fix_succeeded is None:  # no fix yet, or its result is pending
            return 7
        if facts.fix_succeeded:
            return 8
        return 9 if sub is None else (9, "subscription")
    if sub is not None:
        return 10
    return (11, "completed") if facts.service_status == "completed" else (11, "in_progress")


# --- findings that many verdicts share (made once; see policy.verdict.shared_finding) ----------------------

DOCUMENTATION_MISSING = shared_finding(
    "documentation",
    False,
    "No documentation provided: section 4 asks for screenshots, emails or other documents supporting the request.",
)
DOCUMENTATION_PROVIDED = shared_finding("documentation", True, "Documentation provided (section 4).")
FIX_PENDING = shared_finding(
    "fix_pending",
    False,
    "A fix was attempted and its result is pending: the recommendation stays 'fix' until it is known to have failed.",
)
NO_AMOUNT = shared_finding(
    "amounts",
    True,
    "No refund or credit under the general terms; one would be a discretionary exception (section 5).",
)
_MONEY_PHRASES = {
    "full_refund": "a full refund is the amount paid",
    "partial_refund": "a partial refund is more than 0 and less than the amount paid",
    "credit": "a credit is more than 0",
}


@dataclass(frozen=True, slots=True)
class CompiledRow:
    """A row as it applies under one version: what its verdicts say (the row's recommendation, allowed
    outcomes and cited sections), the start of their JSON, and their amounts finding for something paid
    and for nothing paid. The numbers themselves are in ``Verdict.amount_bounds``."""

    rule: int
    recommended: str
    allowed: tuple[str, ...]
    clauses: tuple[str, ...]
    json_head: str
    amounts: Finding
    amounts_nothing_paid: Finding

    @classmethod
    def of(cls, version_name: str, rule: Rule, clauses: tuple[str, ...]) -> CompiledRow:
        assert rule.recommended is not None, "row 2 is an input error, not a verdict"
        head = json_head(version_name, rule.number, rule.recommended, rule.allowed, clauses)
        money = [_MONEY_PHRASES[o] for o in rule.allowed if o in MONEY_OUTCOMES]
        if not money:
            return cls(rule.number, rule.recommended, rule.allowed, clauses, head, NO_AMOUNT, NO_AMOUNT)
        prefix = "Refund what was billed in error: " if rule.number == 4 else "Amounts: "
        text = prefix + "; ".join(money) + "."
        paid = shared_finding("amounts", True, text)
        nothing_paid = shared_finding("amounts", False, text + " Nothing was paid.")
        return cls(rule.number, rule.recommended, rule.allowed, clauses, head, paid, nothing_paid)


class CompiledVersion:
    """Everything ``evaluate`` needs from one version that does not depend on the request: its contact
    window, the table's rows as they apply under it (``rows[matching_row(...)]``), and its window findings."""

    __slots__ = ("_window_findings", "name", "not_started", "rows", "version", "window", "window_days")

    def __init__(self, version: PolicyVersion) -> None:
        self.version = version
        self.name = version.version
        w = self.window_days = version.window_days
        self.window = timedelta(days=w)
        self.rows: dict[RowKey, CompiledRow] = {
            r.number: CompiledRow.of(self.name, r, r.clauses) for r in RULES if r.recommended is not None
        }
        by_number = {r.number: r for r in RULES}
        for (number, variant), clauses in CITATION_VARIANTS.items():
            self.rows[number, variant] = CompiledRow.of(self.name, by_number[number], clauses)
        self.not_started = shared_finding(
            "contact_window", True, f"Service not started: the {w}-day contact window does not apply."
        )
        self._window_findings = {
            d: shared_finding("contact_window", True, f"Request on day {d} of {w}.") for d in range(w + 1)
        }

    def window_finding(self, days: int) -> Finding:
        """'Request on day 3 of 7.' (or how many days late), made once per day count."""
        finding = self._window_findings.get(days)
        if finding is None:
            w = self.window_days
            late = days - w
            finding = shared_finding(
                "contact_window",
                False,
                f"Request on day {days} of {w}: {late} day{'s' if late != 1 else ''} after the contact deadline.",
            )
            if days < 4000:  # remember the common late days; the dict stays small
                self._window_findings[days] = finding
        return finding


def _subscription_finding(sub: Subscription) -> Finding:
    cancelled = sub.cancelled_on
    if cancelled is None:
        return trusted_finding(
            "subscription_access",
            True,
            f"Not cancelled. A cancellation takes effect at the end of the {sub.cycle} billing cycle: access "
            f"continues until {sub.cycle_end}.",
        )
    if cancelled < sub.cycle_start:
        return trusted_finding(
            "subscription_access",
            False,
            f"Cancelled on {cancelled}, before this billing cycle began on {sub.cycle_start}: the cycle "
            f"should not have been charged.",
        )
    return trusted_finding(
        "subscription_access",
        True,
        f"Cancelled on {cancelled}: the cancellation takes effect at the end of the {sub.cycle} billing "
        f"cycle, so access continues until {sub.cycle_end}.",
    )


def evaluate(facts: Facts, book: PolicyBook) -> Verdict:
    """Judge ``facts`` by the version of ``book`` in force on the service date: the first matching row of
    RULES gives the recommendation, the allowed outcomes and the cited sections; the findings say why.

    Raises NoPolicyInForce for a service date before every version, and InvalidFacts (field
    ``request_date``) for a request dated before a service that has started (row 2).
    """
    service_date = facts.service_date
    version = book.compiled_for(service_date)
    days = (facts.request_date - service_date).days
    row = version.rows[matching_row(facts, days, version.window_days)]
    try:
        deadline = service_date + version.window  # the last day of the contact window
    except OverflowError:
        deadline = date.max

    # the findings, in the order a reviewer reads them: the window, a pending fix, documents, the
    # subscription's access, the amounts
    findings = [version.not_started if row.rule == 1 else version.window_finding(days)]
    if row.rule == 7 and facts.fix_attempted:  # row 7 with a fix attempted: its result is pending
        findings.append(FIX_PENDING)
    if facts.reason in DOCUMENTED_REASONS:
        findings.append(DOCUMENTATION_PROVIDED if facts.documentation_provided else DOCUMENTATION_MISSING)
    if facts.subscription is not None:
        findings.append(_subscription_finding(facts.subscription))
    paid = facts.amount_paid
    findings.append(row.amounts if paid > 0.0 else row.amounts_nothing_paid)
    return trusted_verdict(
        version.name,
        row.rule,
        row.recommended,
        row.allowed,
        row.clauses,
        deadline,
        days,
        days <= version.window_days,
        tuple(findings),
        paid,
        row.json_head,
    )
