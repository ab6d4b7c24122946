"""The facts of a refund request, validated when they are made.

A ``Facts`` value that exists is one the rules can judge: its constructor checks every field and the
combinations between them, raising ``InvalidFacts`` naming the field. ``facts_from_dict`` is the strict
door for untrusted data (JSON Lines, form posts); ``facts_to_dict`` is its inverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .errors import InvalidFacts
from .vocabulary import CYCLES, REASONS, SERVICE_STATUSES, SERVICE_TYPES

_SERVICE_TYPES = frozenset(SERVICE_TYPES)
_STATUSES = frozenset(SERVICE_STATUSES)
_REASONS = frozenset(REASONS)
_CYCLES = frozenset(CYCLES)
_INF = float("inf")


def _show(value: object) -> str:
    """A short repr of a (possibly hostile) value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_date(value: object, field: str) -> None:
    # type() and not isinstance(): a datetime is a date subclass, and comparing one with a date raises.
    if type(value) is not date:
        raise InvalidFacts(field, f"expected a date, got {_show(value)}")


def _check_choice(value: object, choices: frozenset[str], ordered: tuple[str, ...], field: str) -> None:
    if type(value) is not str or value not in choices:
        raise InvalidFacts(field, f"unknown value {_show(value)}; expected one of {', '.join(ordered)}")


def _check_bool(value: object, field: str) -> None:
    if type(value) is not bool:
        raise InvalidFacts(field, f"expected true or false, got {_show(value)}")


@dataclass(frozen=True, slots=True)
class Subscription:
    """The billing cycle that was charged: ``cycle_start`` is the service date of a subscription request."""

    cycle: str
    cycle_start: date
    cycle_end: date
    cancelled_on: date | None = None

    def __post_init__(self) -> None:
        _validate_subscription(self.cycle, self.cycle_start, self.cycle_end, self.cancelled_on)


def _validate_subscription(cycle, cycle_start, cycle_end, cancelled_on) -> None:
    _check_choice(cycle, _CYCLES, CYCLES, "subscription.cycle")
    _check_date(cycle_start, "subscription.cycle_start")
    _check_date(cycle_end, "subscription.cycle_end")
    if cancelled_on is not None:
        _check_date(cancelled_on, "subscription.cancelled_on")
    if cycle_end < cycle_start:
        raise InvalidFacts("subscription.cycle_end", f"{cycle_end} is before subscription.cycle_start {cycle_start}")


@dataclass(frozen=True, slots=True)
class Facts:
    """What a reviewer knows about one refund request.

    ``service_date`` is the day the service was rendered or completed; for a service in progress, the day
    it was initiated; for one not started, the day it is scheduled; for a subscription, the start of the
    billing cycle that was charged (so it must equal ``subscription.cycle_start``).
    ``fix_succeeded`` is None while no fix was attempted or its result is still pending.
    """

    service_type: str
    service_status: str
    service_date: date
    request_date: date
    reason: str
    amount_paid: float
    fix_attempted: bool = False
    fix_succeeded: bool | None = None
    documentation_provided: bool = False
    subscription: Subscription | None = None

    def __post_init__(self) -> None:
        amount = _validate(
            self.service_type,
            self.service_status,
            self.service_date,
            self.request_date,
            self.reason,
            self.amount_paid,
            self.fix_attempted,
            self.fix_succeeded,
            self.documentation_provided,
            self.subscription,
        )
        if amount is not self.amount_paid:
            object.__setattr__(self, "amount_paid", amount)


def _validate(  # noqa: C901 — a checklist of the facts' fields, one test each, each naming its field
    st, status, service_date, request_date, reason, amount, fix_attempted, fix_succeeded, documentation, sub
) -> float:
    """Check the fields of a Facts; return amount_paid as a float. One test for the common valid case,
    then field by field (in declaration order) to name the first field that is wrong."""
    if (
        type(st) is str
        and st in _SERVICE_TYPES
        and type(status) is str
        and status in _STATUSES
        and type(service_date) is date
        and type(request_date) is date
        and type(reason) is str
        and reason in _REASONS
        and type(amount) is float
        and 0.0 <= amount < _INF
        and type(fix_attempted) is bool
        and type(documentation) is bool
        and (fix_succeeded is None or (type(fix_succeeded) is bool and fix_attempted))
        and (
            (sub is None and st != "subscription" and reason != "unused_subscription")
            or (st == "subscription" and type(sub) is Subscription and sub.cycle_start == service_date)
        )
    ):
        return amount
    _check_choice(st, _SERVICE_TYPES, SERVICE_TYPES, "service_type")
    _check_choice(status, _STATUSES, SERVICE_STATUSES, "service_status")
    _check_date(service_date, "service_date")
    _check_date(request_date, "request_date")
    _check_choice(reason, _REASONS, REASONS, "reason")
    kind = type(amount)
    if kind is int:
        try:
            amount = float(amount)
        except OverflowError:
            raise InvalidFacts("amount_paid", f"{_show(amount)} is too large") from None
    elif kind is not float:
        raise InvalidFacts("amount_paid", f"expected a number, got {_show(amount)}")
    if not 0.0 <= amount < _INF:
        if amount < 0.0:
            raise InvalidFacts("amount_paid", f"must not be negative, got {amount!r}")
        raise InvalidFacts("amount_paid", f"must be a finite number, got {amount!r}")
    _check_bool(fix_attempted, "fix_attempted")
    if fix_succeeded is not None:
        _check_bool(fix_succeeded, "fix_succeeded")
        if not fix_attempted:
            raise InvalidFacts("fix_succeeded", "must be null when fix_attempted is false")
    _check_bool(documentation, "documentation_provided")
    if st == "subscription":
        if sub is None:
            raise InvalidFacts("subscription", "required when service_type is subscription")
        if type(sub) is not Subscription:
            raise InvalidFacts("subscription", f"expected a Subscription, got {_show(sub)}")
        if sub.cycle_start != service_date:
            raise InvalidFacts(
                "service_date",
                f"for a subscription it is the start of the charged cycle, "
                f"subscription.cycle_start {sub.cycle_start}, not {service_date}",
            )
    else:
        if sub is not None:
            raise InvalidFacts("subscription", "must be null unless service_type is subscription")
        if reason == "unused_subscription":
            raise InvalidFacts("reason", "unused_subscription applies only to service_type subscription")
    return amount


_new = object.__new__
(
    _set_type,
    _set_status,
    _set_service_date,
    _set_request_date,
    _set_reason,
    _set_amount,
    _set_fix_attempted,
    _set_fix_succeeded,
    _set_documentation,
    _set_subscription,
) = (
    getattr(Facts, name).__set__
    for name in (
        "service_type",
        "service_status",
        "service_date",
        "request_date",
        "reason",
        "amount_paid",
        "fix_attempted",
        "fix_succeeded",
        "documentation_provided",
        "subscription",
    )
)

_set_cycle, _set_cycle_start, _set_cycle_end, _set_cancelled_on = (
    getattr(Subscription, name).__set__ for name in ("cycle", "cycle_start", "cycle_end", "cancelled_on")
)


def _trusted_facts(
    st, status, service_date, request_date, reason, amount, fix_attempted, fix_succeeded, documentation, sub
) -> Facts:
    """A Facts from values ``_validate`` has passed: fills the slots without running the (frozen, so slower)
    generated ``__init__`` and the validation a second time."""
    facts = _new(Facts)
    _set_type(facts, st)
    _set_status(facts, status)
    _set_service_date(facts, service_date)
    _set_request_date(facts, request_date)
    _set_reason(facts, reason)
    _set_amount(facts, amount)
    _set_fix_attempted(facts, fix_attempted)
    _set_fix_succeeded(facts, fix_succeeded)
    _set_documentation(facts, documentation)
    _set_subscription(facts, sub)
    return facts


# --- the strict door for untrusted dictionaries (parsed JSON) --------------------------------------------

_REQUIRED = ("service_type", "service_status", "service_date", "request_date", "reason", "amount_paid")
_KEYS = frozenset(_REQUIRED + ("fix_attempted", "fix_succeeded", "documentation_provided", "subscription"))
_SUB_REQUIRED = ("cycle", "cycle_start", "cycle_end")
_SUB_KEYS = frozenset(_SUB_REQUIRED + ("cancelled_on",))


def _json_type(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


_DATES: dict[str, date] = {}  # memo of parsed dates: a few years of requests use only a few thousand days
_DATES_MAX = 50_000


def _parse_date(value: object, field: str) -> date:
    """An ISO calendar date, exactly YYYY-MM-DD (3.11's fromisoformat also takes 20260101 and week dates)."""
    if type(value) is str:
        parsed = _DATES.get(value)
        if parsed is not None:
            return parsed
        if len(value) == 10 and value[4] == "-" and value[7] == "-" and value.isascii():
            try:
                parsed = date.fromisoformat(value)
            except ValueError as exc:
                raise InvalidFacts(field, f"{value!r} is not a real date ({exc})") from None
            if len(_DATES) < _DATES_MAX:
                _DATES[value] = parsed
            return parsed
    raise InvalidFacts(field, f"expected a date as YYYY-MM-DD, got {_show(value)}")


def _check_keys(d: dict, known: frozenset[str], required: tuple[str, ...], prefix: str) -> None:
    if not known.issuperset(d):
        unknown = sorted(str(k) for k in d if k not in known)
        raise InvalidFacts(prefix + unknown[0], "unknown field")
    for key in required:
        if key not in d:
            raise InvalidFacts(prefix + key, "missing")


def _subscription_from_dict(s: object) -> Subscription:
    if type(s) is not dict:
        raise InvalidFacts("subscription", f"expected an object or null, got {_json_type(s)}")
    _check_keys(s, _SUB_KEYS, _SUB_REQUIRED, "subscription.")
    cycle = s["cycle"]
    cycle_start = _parse_date(s["cycle_start"], "subscription.cycle_start")
    cycle_end = _parse_date(s["cycle_end"], "subscription.cycle_end")
    cancelled = s.get("cancelled_on")
    if cancelled is not None:
        cancelled = _parse_date(cancelled, "subscription.cancelled_on")
    _validate_subscription(cycle, cycle_start, cycle_end, cancelled)
    sub = _new(Subscription)
    _set_cycle(sub, cycle)
    _set_cycle_start(sub, cycle_start)
    _set_cycle_end(sub, cycle_end)
    _set_cancelled_on(sub, cancelled)
    return sub


def facts_from_dict(d: object) -> Facts:
    """Facts from a parsed JSON object, strictly: unknown or missing fields, wrong types, impossible dates
    and inconsistent combinations raise ``InvalidFacts`` naming the field. Optional fields: fix_attempted
    (default false), fix_succeeded (null), documentation_provided (false), subscription (null)."""
    if type(d) is not dict:
        raise InvalidFacts("facts", f"expected an object, got {_json_type(d)}")
    if len(d) < 6 or not _KEYS.issuperset(d):
        _check_keys(d, _KEYS, _REQUIRED, "")
    try:
        st, status, reason, amount = d["service_type"], d["service_status"], d["reason"], d["amount_paid"]
        service_date = _parse_date(d["service_date"], "service_date")
        request_date = _parse_date(d["request_date"], "request_date")
    except KeyError:
        _check_keys(d, _KEYS, _REQUIRED, "")
        raise
    fix_attempted = d.get("fix_attempted", False)
    fix_succeeded = d.get("fix_succeeded")
    documentation = d.get("documentation_provided", False)
    sub = d.get("subscription")
    if sub is not None:
        sub = _subscription_from_dict(sub)
    amount = _validate(
        st, status, service_date, request_date, reason, amount, fix_attempted, fix_succeeded, documentation, sub
    )
    return _trusted_facts(
        st, status, service_date, request_date, reason, amount, fix_attempted, fix_succeeded, documentation, sub
    )


def facts_to_dict(facts: Facts) -> dict:
    """The JSON-safe dictionary that ``facts_from_dict`` turns back into the same facts."""
    sub = facts.subscription
    return {
        "service_type": facts.service_type,
        "service_status": facts.service_status,
        "service_date": facts.service_date.isoformat(),
        "request_date": facts.request_date.isoformat(),
        "reason": facts.reason,
        "amount_paid": facts.amount_paid,
        "fix_attempted": facts.fix_attempted,
        "fix_succeeded": facts.fix_succeeded,
        "documentation_provided": facts.documentation_provided,
        "subscription": None
        if sub is None
        else {
            "cycle": sub.cycle,
            "cycle_start": sub.cycle_start.isoformat(),
            "cycle_end": sub.cycle_end.isoformat(),
            "cancelled_on": None if sub.cancelled_on is None else sub.cancelled_on.isoformat(),
        },
    }
