"""The rule table and ``evaluate``: facts and a policy book in, a verdict out. Pure: no I/O, no clock.

The first matching row wins. Thresholds (the contact window) come from the policy version in force on the
service date (section 6); what each row recommends, allows and cites is the table below. Everything that
does not depend on the request is worked out once per version by ``compile_version``, so ``evaluate``
allocates only the verdict and the findings that carry the request's own numbers.
"""

from __future__ import annotations

from bisect import bisect_right
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
# Every set of sections a row's verdicts can cite: the row's own, and for rows 9 and 11 a second one.
CITATION_SETS: dict[int, tuple[tuple[str, ...], ...]] = {
    **{r.number: (r.clauses,) for r in RULES if r.clauses},
    9: (("1",), ("1", "2")),  # a subscription's failed fix cites section 2 as well
    11: (("1",), ("3",)),  # completed: section 1; in progress: section 3
}

_NO_REFUND_REASONS = frozenset({"user_error", "changed_requirements", "usage_after_completion"})
_OUR_SIDE_REASONS = frozenset({"our_error", "technical_issue"})
_DOCUMENTED_REASONS = frozenset({"our_error", "technical_issue", "billing_error"})

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


class _Entry:
    """A row as it applies under one version: what its verdicts say, and their amounts findings (for
    something paid, for nothing paid). The numbers themselves are in ``Verdict.amount_bounds``."""

    __slots__ = ("allowed", "amounts", "amounts_nothing_paid", "clauses", "head", "recommended", "rule")

    def __init__(self, version_name: str, rule: Rule, clauses: tuple[str, ...] | None = None) -> None:
        self.rule = rule.number
        self.recommended = rule.recommended
        self.allowed = rule.allowed
        self.clauses = rule.clauses if clauses is None else clauses
        self.head = json_head(version_name, self.rule, self.recommended, self.allowed, self.clauses)
        money = [_MONEY_PHRASES[o] for o in rule.allowed if o in MONEY_OUTCOMES]
        if not money:
            self.amounts = self.amounts_nothing_paid = NO_AMOUNT
        else:
            prefix = "Refund what was billed in error: " if rule.number == 4 else "Amounts: "
            text = prefix + "; ".join(money) + "."
            self.amounts = shared_finding("amounts", True, text)
            self.amounts_nothing_paid = shared_finding("amounts", False, text + " Nothing was paid.")


class CompiledVersion:
    """Everything ``evaluate`` needs from one version that does not depend on the request."""

    __slots__ = (
        "_window_findings",
        "name",
        "not_started",
        "r1",
        "r3",
        "r4",
        "r5",
        "r6",
        "r7",
        "r8",
        "r9",
        "r9_subscription",
        "r10",
        "r11_completed",
        "r11_in_progress",
        "version",
        "window",
        "window_days",
    )

    def __init__(self, version: PolicyVersion) -> None:
        rows = {r.number: r for r in RULES}
        self.version = version
        self.name = version.version
        w = self.window_days = version.window_days
        self.window = timedelta(days=w)
        self.not_started = shared_finding(
            "contact_window", True, f"Service not started: the {w}-day contact window does not apply."
        )
        self._window_findings = {
            d: shared_finding("contact_window", True, f"Request on day {d} of {w}.") for d in range(w + 1)
        }
        name = self.name
        self.r1, self.r3, self.r4, self.r5, self.r6, self.r7, self.r8, self.r9, self.r10 = (
            _Entry(name, rows[n]) for n in (1, 3, 4, 5, 6, 7, 8, 9, 10)
        )
        self.r9_subscription = _Entry(name, rows[9], CITATION_SETS[9][1])
        self.r11_completed = _Entry(name, rows[11], CITATION_SETS[11][0])
        self.r11_in_progress = _Entry(name, rows[11], CITATION_SETS[11][1])

    def window_finding(self, days: int) -> Finding:
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
    """Judge ``facts`` by the version of ``book`` in force on the service date.

    Raises NoPolicyInForce for a service date before every version, and InvalidFacts (field
    ``request_date``) for a request dated before a service that has started (row 2).
    """
    service_date = facts.service_date
    i = bisect_right(book._starts, service_date) - 1
    if i < 0:
        raise book._no_policy_in_force(service_date)
    c: CompiledVersion = book._compiled[i]
    days = (facts.request_date - service_date).days
    try:
        deadline = service_date + c.window
    except OverflowError:
        deadline = date.max
    reason = facts.reason
    sub = facts.subscription
    pending = False
    if facts.service_status == "not_started":  # row 1, before the window: nothing was initiated
        e = c.r1
        window = c.not_started
    else:
        if days < 0:  # row 2
            raise InvalidFacts(
                "request_date",
                f"{facts.request_date} is before the service date {service_date} of a service that has started",
            )
        window = c.window_finding(days)
        if days > c.window_days:  # row 3: day window_days is still within
            e = c.r3
        elif reason == "billing_error":  # row 4
            e = c.r4
        elif sub is not None and sub.cancelled_on is not None and sub.cancelled_on < sub.cycle_start:
            e = c.r5  # row 5: cancelled before the charged cycle began
        elif reason in _NO_REFUND_REASONS:  # row 6
            e = c.r6
        elif reason in _OUR_SIDE_REASONS:
            if not facts.fix_attempted:  # row 7
                e = c.r7
            elif facts.fix_succeeded is None:  # row 7 too: the fix's result is pending
                e = c.r7
                pending = True
            elif facts.fix_succeeded:  # row 8
                e = c.r8
            else:  # row 9
                e = c.r9 if sub is None else c.r9_subscription
        elif sub is not None:  # row 10
            e = c.r10
        elif facts.service_status == "completed":  # row 11
            e = c.r11_completed
        else:
            e = c.r11_in_progress

    findings = [window]
    if pending:
        findings.append(FIX_PENDING)
    if reason in _DOCUMENTED_REASONS:
        findings.append(DOCUMENTATION_PROVIDED if facts.documentation_provided else DOCUMENTATION_MISSING)
    if sub is not None:
        findings.append(_subscription_finding(sub))
    paid = facts.amount_paid
    findings.append(e.amounts if paid > 0.0 else e.amounts_nothing_paid)
    return trusted_verdict(
        c.name,
        e.rule,
        e.recommended,
        e.allowed,
        e.clauses,
        deadline,
        days,
        days <= c.window_days,
        tuple(findings),
        paid,
        e.head,
    )
