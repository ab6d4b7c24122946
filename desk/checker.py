"""The policy checker: a reviewer's form values in, the verdict in words out. Read-only, no database.

The page keeps its widgets' values in a plain dict named like the policy's facts (``FIELDS``), so a case
page can link to it with the same names as query parameters. This module turns query parameters into form
values (``form_from_query``), form values into facts and a verdict (``check``), and names which form field
an error belongs to, so the page can show it next to that field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from desk.book import POLICY_DIR_ENV, current_book  # noqa: F401 - the checker page and the import use them here
from policy import (
    CYCLES,
    MONEY_OUTCOMES,
    OUTCOME_LABELS,
    REASONS,
    RULES,
    SERVICE_STATUSES,
    SERVICE_TYPES,
    Finding,
    InvalidFacts,
    NoPolicyInForce,
    PolicyBook,
    PolicyError,
    PolicyVersion,
    Rule,
    Verdict,
    diff_versions,
    evaluate,
    facts_from_dict,
)

# The form's fields, named exactly like the facts (and the query parameters that pre-fill them).
DATE_FIELDS = ("service_date", "request_date", "cycle_start", "cycle_end", "cancelled_on")
FIELDS = (
    "service_type",
    "service_status",
    "service_date",
    "request_date",
    "reason",
    "amount_paid",
    "fix_attempted",
    "fix_succeeded",
    "documentation_provided",
    "cycle",
    "cycle_start",
    "cycle_end",
    "cancelled_on",
)
# The fields with a widget of their own (fix_attempted + fix_succeeded share one; cancelled_on has two).
WIDGET_FIELDS = tuple(f for f in FIELDS if f not in ("fix_attempted", "fix_succeeded", "cancelled_on"))
SUBSCRIPTION_FIELDS = ("cycle", "cycle_start", "cycle_end", "cancelled_on")
EARLIEST_DATE = date(2000, 1, 1)
YEARS_AHEAD = 5  # a scheduled service or a billing cycle may lie this far ahead of today, not further
# The date widgets take any four-digit year, so a date typed outside the accepted range reaches
# ``check`` and gets a message next to its field (a widget's own limits drop a typed date silently).
WIDGET_DATE_LIMITS = {"min_value": date(1000, 1, 1), "max_value": date(9999, 12, 31)}


def latest_date(today: date) -> date:
    """The last day the checker accepts in any date field (today + five years)."""
    return today + timedelta(days=YEARS_AHEAD * 365)


def date_problem(day: date, today: date) -> str | None:
    """Why ``day`` cannot be in a date field of the checker (None if it can): it must lie between 2000-01-01
    and today + five years."""
    if day < EARLIEST_DATE:
        return f"dates before {EARLIEST_DATE} are not accepted"
    if day > latest_date(today):
        return f"dates after {latest_date(today)} (five years from today) are not accepted"
    return None


def future_request_note(form: Mapping[str, object], today: date) -> str | None:
    """A word for a request date after today: the checker still judges it (a what-if, e.g. under a version
    that takes effect later), but no customer can have contacted us on that day yet."""
    day = form.get("request_date")
    if isinstance(day, date) and today < day <= latest_date(today):
        return f"{day} is after today ({today}): this checks a request not made yet."
    return None


# What the fix widget offers: (fix_attempted, fix_succeeded) in words.
FIX_CHOICES: dict[str, tuple[bool, bool | None]] = {
    "none": (False, None),
    "pending": (True, None),
    "succeeded": (True, True),
    "failed": (True, False),
}
FIX_LABELS = {
    "none": "No fix attempted yet",
    "pending": "Fix attempted, result pending",
    "succeeded": "Fix attempted and it worked",
    "failed": "Fix attempted and it failed",
}
FIELD_LABELS = {
    "service_type": "Service type",
    "service_status": "Service status",
    "service_date": "Service date",
    "request_date": "Request date",
    "reason": "Reason",
    "amount_paid": "Amount paid",
    "fix_attempted": "Fix",
    "fix_succeeded": "Fix",
    "documentation_provided": "Documentation provided",
    "cycle": "Billing cycle",
    "cycle_start": "Start of the charged billing cycle",
    "cycle_end": "End of the billing cycle",
    "cancelled_on": "Cancelled on",
}
_TRUE = frozenset({"true", "1", "yes", "y", "t", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "f", "off"})
_NULL = frozenset({"", "null", "none", "pending"})


def fix_choice(fix_attempted: bool, fix_succeeded: bool | None) -> str:
    """The fix widget's choice for a pair of facts."""
    if not fix_attempted:
        return "none"
    return "pending" if fix_succeeded is None else ("succeeded" if fix_succeeded else "failed")


def default_form(today: date) -> dict:
    """A plausible request to start from: a completed technical support session three days ago."""
    cycle_start = today - timedelta(days=3)
    return {
        "service_type": "technical_support",
        "service_status": "completed",
        "service_date": today - timedelta(days=3),
        "request_date": today,
        "reason": "technical_issue",
        "amount_paid": 100.0,
        "fix_attempted": False,
        "fix_succeeded": None,
        "documentation_provided": False,
        "cycle": "monthly",
        "cycle_start": cycle_start,
        "cycle_end": cycle_end_for(cycle_start, "monthly"),
        "cancelled_on": None,
    }


def cycle_end_for(cycle_start: date, cycle: str) -> date:
    """The last day of a billing cycle starting on ``cycle_start`` (30 days monthly, 365 annual)."""
    return cycle_start + timedelta(days=(365 if cycle == "annual" else 30) - 1)


# --- query parameters -> form values ---------------------------------------------------------------------


def _one(value: object) -> str:
    if isinstance(value, list | tuple):
        value = value[-1] if value else ""
    return str(value).strip()


def _parse_param(name: str, text: str, today: date) -> object:  # noqa: C901 — one branch per kind of query parameter, each with its own message
    """One query parameter's value for the form; ValueError with a plain message if it is not one."""
    low = text.lower()
    if name == "service_type":
        if text not in SERVICE_TYPES:
            raise ValueError(f"expected one of {', '.join(SERVICE_TYPES)}")
        return text
    if name == "service_status":
        if text not in SERVICE_STATUSES:
            raise ValueError(f"expected one of {', '.join(SERVICE_STATUSES)}")
        return text
    if name == "reason":
        if text not in REASONS:
            raise ValueError(f"expected one of {', '.join(REASONS)}")
        return text
    if name == "cycle":
        if text not in CYCLES:
            raise ValueError(f"expected one of {', '.join(CYCLES)}")
        return text
    if name in DATE_FIELDS:
        if name == "cancelled_on" and low in _NULL:
            return None
        try:
            if len(text) != 10:
                raise ValueError
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError("expected a date as YYYY-MM-DD") from None
        problem = date_problem(day, today)
        if problem:
            raise ValueError(problem)
        return day
    if name == "amount_paid":
        try:
            amount = float(text)
        except ValueError:
            raise ValueError("expected an amount such as 120.00") from None
        if not 0 <= amount < 1e12:
            raise ValueError("expected an amount of 0 or more")
        return round(amount, 2)
    if name == "fix_succeeded" and low in _NULL:
        return None
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError("expected true or false")


def form_from_query(params: Mapping[str, object], today: date) -> tuple[dict, list[str]]:
    """Form values pre-filled from query parameters named like the facts, and a message for each parameter
    that could not be used (that field keeps its default). Unknown parameters are ignored."""
    form = default_form(today)
    problems: list[str] = []
    given: dict[str, object] = {}
    for name in FIELDS:
        if name not in params:
            continue
        text = _one(params[name])
        try:
            given[name] = _parse_param(name, text, today)
        except ValueError as exc:
            problems.append(f"Link parameter {name}={text!r} is not valid ({exc}); using the default instead.")
    form.update(given)
    if form["service_type"] == "subscription":
        if "cycle_start" not in given and "service_date" in given:
            form["cycle_start"] = given["service_date"]  # for a subscription they are the same day
        elif "cycle_start" in given and "service_date" in given and given["service_date"] != given["cycle_start"]:
            problems.append(
                f"Link parameters service_date={given['service_date']} and cycle_start={given['cycle_start']} "
                "differ; for a subscription the service date is the start of the charged cycle, so using "
                "cycle_start."
            )
        if "cycle_end" not in given:
            form["cycle_end"] = cycle_end_for(form["cycle_start"], form["cycle"])
        form["service_date"] = form["cycle_start"]
    elif form["reason"] == "unused_subscription":
        problems.append(
            "Link parameter reason='unused_subscription' applies only to subscriptions; using the default reason."
        )
        form["reason"] = default_form(today)["reason"]
    if not form["fix_attempted"] and form["fix_succeeded"] is not None:
        problems.append(
            "Link parameter fix_succeeded is set but fix_attempted is not true; treating the fix as not attempted."
        )
        form["fix_succeeded"] = None
    return form, problems


def form_to_query(form: Mapping[str, object]) -> dict[str, str]:
    """Query parameters that pre-fill the checker with ``form`` (what a case page links with)."""
    out: dict[str, str] = {}
    for name in FIELDS:
        value = form.get(name)
        if name in SUBSCRIPTION_FIELDS and form.get("service_type") != "subscription":
            continue
        if value is None:
            continue
        out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


# --- form values -> verdict ------------------------------------------------------------------------------


def facts_dict(form: Mapping[str, object]) -> dict:
    """The facts object (as ``policy.facts_from_dict`` reads it) for the form's values."""

    def iso(value: object) -> object:
        return value.isoformat() if isinstance(value, date) else value

    is_sub = form["service_type"] == "subscription"
    return {
        "service_type": form["service_type"],
        "service_status": form["service_status"],
        "service_date": iso(form["cycle_start"] if is_sub else form["service_date"]),
        "request_date": iso(form["request_date"]),
        "reason": form["reason"],
        "amount_paid": float(form["amount_paid"]) if form["amount_paid"] is not None else None,  # type: ignore[arg-type]
        "fix_attempted": bool(form["fix_attempted"]),
        "fix_succeeded": form["fix_succeeded"] if form["fix_attempted"] else None,
        "documentation_provided": bool(form["documentation_provided"]),
        "subscription": {
            "cycle": form["cycle"],
            "cycle_start": iso(form["cycle_start"]),
            "cycle_end": iso(form["cycle_end"]),
            "cancelled_on": iso(form["cancelled_on"]),
        }
        if is_sub
        else None,
    }


@dataclass(frozen=True)
class FieldError:
    """Facts the policy cannot judge: ``field`` is the form field to show ``message`` next to."""

    field: str
    message: str


@dataclass(frozen=True)
class CheckResult:
    """The verdict and everything the page shows beside the form."""

    verdict: Verdict
    rule: Rule
    version: PolicyVersion
    cited: list[tuple[str, str]]

    @property
    def recommended_label(self) -> str:
        return OUTCOME_LABELS[self.verdict.recommended_outcome]

    @property
    def allowed_labels(self) -> list[str]:
        return [OUTCOME_LABELS[o] for o in self.verdict.allowed_outcomes]

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.verdict.findings

    @property
    def why(self) -> str:
        """Why the policy says so, and what else it allows, in sentences."""
        when = self.rule.when[0].lower() + self.rule.when[1:]
        note = self.rule.note if self.rule.note and not self.rule.note.startswith("cites") else ""
        text = f"Why: {when} (rule {self.rule.number}" + (f"; {note})." if note else ").")
        others = [o.lower() for o in self.allowed_labels if o != self.recommended_label]
        if others:
            text += f" The general terms also allow: {', '.join(others)}."
        return text + " Any other outcome is a discretionary exception (section 5)."

    @property
    def in_words(self) -> str:
        """The recommendation as sentences a reviewer can read out."""
        return f"{self.recommended_label}. {self.why}"

    @property
    def amount_limits(self) -> list[tuple[str, str]]:
        """(outcome label, the amounts it may carry) for each allowed money outcome."""
        bounds = self.verdict.amount_bounds
        return [
            (OUTCOME_LABELS[o], getattr(bounds, o).describe())
            for o in self.verdict.allowed_outcomes
            if o in MONEY_OUTCOMES
        ]


def _form_field(facts_field: str, is_subscription: bool) -> str:
    """The form field an engine error names (``subscription.cycle_end`` -> ``cycle_end``)."""
    name = facts_field.removeprefix("subscription.")
    if name == "service_date" and is_subscription:
        return "cycle_start"
    if name in ("fix_attempted", "fix_succeeded"):
        return "fix"
    if name == "subscription":
        return "cycle_start"
    return name if name in FIELDS else "form"


def _plain(message: str) -> str:
    """An engine message without its leading ``field:`` (the page shows it next to that field)."""
    head, sep, rest = message.partition(": ")
    if sep and " " not in head:
        message = rest
    return message[:1].upper() + message[1:]


def check(form: Mapping[str, object], book: PolicyBook, today: date | None = None) -> CheckResult | FieldError:
    """Judge the form's request; a ``FieldError`` names the field that makes it unjudgeable. With ``today``,
    a date outside the accepted range (``date_problem``) is refused next to its field."""
    is_sub = form.get("service_type") == "subscription"
    if today is not None:
        for name in DATE_FIELDS:
            if name == "service_date" and is_sub:
                continue  # a subscription's service date is its cycle start
            if name in SUBSCRIPTION_FIELDS and not is_sub:
                continue
            day = form.get(name)
            problem = date_problem(day, today) if isinstance(day, date) else None
            if problem:
                return FieldError(name, problem[:1].upper() + problem[1:] + ".")
    try:
        facts = facts_from_dict(facts_dict(form))
        verdict = evaluate(facts, book)
    except InvalidFacts as exc:
        field = _form_field(exc.field, is_sub)
        return FieldError(field, _plain(exc.message))
    except NoPolicyInForce as exc:
        return FieldError("cycle_start" if is_sub else "service_date", _plain(str(exc)))
    except PolicyError as exc:  # pragma: no cover - any other engine refusal, shown for the whole form
        return FieldError("form", str(exc))
    version = book.get(verdict.policy_version)
    rule = next(r for r in RULES if r.number == verdict.rule)
    return CheckResult(verdict, rule, version, version.cited_texts(verdict.clauses))


# --- reading and comparing versions ----------------------------------------------------------------------


def version_names(book: PolicyBook) -> list[str]:
    """Version names, newest first."""
    return [v.version for v in reversed(book.versions)]


def effective_words(version: PolicyVersion, today: date) -> str:
    """ "takes effect on D" for a scheduled version, "effective from D" for one in force or superseded."""
    if version.effective_from > today:
        return f"takes effect on {version.effective_from:%Y-%m-%d}"
    return f"effective from {version.effective_from:%Y-%m-%d}"


def version_in_force(book: PolicyBook, day: date) -> str | None:
    try:
        return book.version_for(day).version
    except NoPolicyInForce:
        return None


def compare_versions(book: PolicyBook, older: str, newer: str) -> str:
    """A unified diff from ``older`` to ``newer`` ("" when they are the same)."""
    return diff_versions(book.get(older), book.get(newer))


def compare_versions_of(older: PolicyVersion, newer: PolicyVersion) -> str:
    return diff_versions(older, newer)


def version_file_name(version: PolicyVersion) -> str:
    return f"{version.effective_from.isoformat()}.toml"


def reason_options(service_type: str) -> list[str]:
    """Reasons the form offers for a service type (an unused subscription only for subscriptions)."""
    return [r for r in REASONS if service_type == "subscription" or r != "unused_subscription"]
