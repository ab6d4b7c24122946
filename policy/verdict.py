"""What the engine says about a request: the ``Verdict``, its ``Finding``s and the amounts a decision may carry.

``Verdict.to_dict()`` is the JSON shape of the command line and of the snapshot stored with a decision;
``Verdict.from_dict()`` reads it back. ``Verdict.to_json()`` writes the same JSON as
``json.dumps(verdict.to_dict(), separators=(",", ":"))``, only several times faster (the CLI's hot path).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date
from json.encoder import encode_basestring_ascii as _json_str

from .errors import PolicyError
from .vocabulary import MONEY_OUTCOMES, OUTCOME_LABELS, OUTCOMES


@dataclass(frozen=True)
class Finding:
    """Something a reviewer must know. ``ok`` is False when it needs attention (late, missing documents...)."""

    rule: str
    ok: bool
    message: str
    # This finding's JSON, worked out once when many verdicts share it (shared_finding); not compared,
    # hashed or shown.
    _json: str | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict:
        return {"rule": self.rule, "ok": self.ok, "message": self.message}


# The fast constructors below (trusted_verdict, trusted_finding) fill an instance's __dict__ at once instead
# of calling the frozen dataclass's __init__, which sets each field through object.__setattr__: evaluate()
# makes a verdict per request, and that __init__ would be a third of its time. They check nothing, so only
# evaluate() uses them, with values it built.
_new = object.__new__
_setattr = object.__setattr__


def _finding_json(f: Finding) -> str:
    return f'{{"rule":{_json_str(f.rule)},"ok":{"true" if f.ok else "false"},"message":{_json_str(f.message)}}}'


def shared_finding(rule: str, ok: bool, message: str) -> Finding:
    """A Finding that many verdicts will share (made once per version): its JSON is worked out now and
    reused by Verdict.to_json()."""
    finding = Finding(rule, ok, message)
    return Finding(rule, ok, message, _json=_finding_json(finding))


# --- amounts ---------------------------------------------------------------------------------------------


def _cents(amount: float) -> int:
    """Amounts are compared in whole cents, so 0.1 + 0.2 and 0.3 are the same refund."""
    return round(amount * 100)


@dataclass(frozen=True, slots=True)
class Bound:
    """An interval of amounts: ``low``..``high`` (``high`` None: no upper limit), each end in or out."""

    low: float
    low_inclusive: bool
    high: float | None
    high_inclusive: bool

    def admits(self, amount: float) -> bool:
        return self.violation(amount) is None

    def violation(self, amount: float) -> str | None:
        """None if the amount is inside, else which end it breaks, e.g. 'must be less than 120.00'."""
        cents, low = _cents(amount), _cents(self.low)
        if self.high is not None and self.low_inclusive and self.high_inclusive and self.low == self.high:
            return None if cents == low else f"must be exactly {self.low:.2f}"
        if cents < low or (cents == low and not self.low_inclusive):
            return f"must be {'at least' if self.low_inclusive else 'more than'} {self.low:.2f}"
        if self.high is not None:
            high = _cents(self.high)
            if cents > high or (cents == high and not self.high_inclusive):
                return f"must be {'at most' if self.high_inclusive else 'less than'} {self.high:.2f}"
        return None

    def describe(self) -> str:
        if self.high is not None and self.low == self.high and self.low_inclusive and self.high_inclusive:
            return f"exactly {self.low:.2f}"
        low = f"{'at least' if self.low_inclusive else 'more than'} {self.low:.2f}"
        if self.high is None:
            return low
        return f"{low} and {'at most' if self.high_inclusive else 'less than'} {self.high:.2f}"

    def to_dict(self) -> dict:
        """{"min": x} / {"above": x} for the low end, {"max": y} / {"below": y} for the high end, if any."""
        d = {("min" if self.low_inclusive else "above"): self.low}
        if self.high is not None:
            d["max" if self.high_inclusive else "below"] = self.high
        return d


@dataclass(frozen=True, slots=True)
class AmountBounds:
    """The amount each money outcome may carry, given what was paid: a full refund is the amount paid,
    a partial refund is more than 0 and less than it, a credit is more than 0 (no upper limit in the
    policy). Fix and deny carry no amount."""

    amount_paid: float

    @property
    def full_refund(self) -> Bound:
        return Bound(self.amount_paid, True, self.amount_paid, True)

    @property
    def partial_refund(self) -> Bound:
        return Bound(0.0, False, self.amount_paid, False)

    @property
    def credit(self) -> Bound:
        return Bound(0.0, False, None, False)

    def for_outcome(self, outcome: str) -> Bound | None:
        """The bound of a money outcome; None for fix and deny."""
        if outcome not in OUTCOMES:
            raise PolicyError(f"outcome: unknown value {outcome!r}; expected one of {', '.join(OUTCOMES)}")
        return getattr(self, outcome) if outcome in MONEY_OUTCOMES else None

    def check(self, outcome: str, amount: float | None) -> str | None:  # noqa: C901 — one message per way an amount can break its outcome's bound
        """None if ``amount`` fits ``outcome``, else a message naming the outcome and the broken bound."""
        if outcome not in OUTCOMES:
            return f"outcome: unknown value {outcome!r}; expected one of {', '.join(OUTCOMES)}"
        label = OUTCOME_LABELS[outcome].lower()
        if amount is not None:
            try:
                finite = type(amount) in (int, float) and math.isfinite(amount)
            except OverflowError:  # an int too large for a float
                finite = False
            if not finite:
                return f"amount: expected a finite number, got {str(amount)[:40]!r}"
        if outcome not in MONEY_OUTCOMES:
            if amount:
                return f"amount: '{label}' carries no amount, got {amount:.2f}"
            return None
        if amount is None:
            return f"amount: '{label}' needs an amount"
        problem = getattr(self, outcome).violation(amount)
        if problem is None:
            return None
        if outcome == "full_refund":
            return f"amount: a full refund is the amount paid, {self.amount_paid:.2f}; got {amount:.2f}"
        if outcome == "partial_refund" and problem.startswith("must be less"):
            problem += " (the amount paid; for all of it choose a full refund)"
        return f"amount: a {label} {problem}; got {amount:.2f}"

    def to_dict(self) -> dict:
        return {o: getattr(self, o).to_dict() for o in MONEY_OUTCOMES}


def _bounds_json(p: str) -> str:
    """``AmountBounds(paid).to_dict()`` as JSON, given ``repr(paid)``."""
    return (
        f'{{"full_refund":{{"min":{p},"max":{p}}},"partial_refund":{{"above":0.0,"below":{p}}},'
        f'"credit":{{"above":0.0}}}}'
    )


# --- the verdict -----------------------------------------------------------------------------------------


def json_head(policy_version: str, rule: int, recommended: str, allowed: tuple, clauses: tuple) -> str:
    """The start of ``Verdict.to_json()``, the same for every verdict of one row under one version."""
    return (
        f'{{"policy_version":{_json_str(policy_version)},"rule":{rule!r},'
        f'"recommended_outcome":{_json_str(recommended)},'
        f'"allowed_outcomes":[{",".join(map(_json_str, allowed))}],'
        f'"clauses":[{",".join(map(_json_str, clauses))}],"contact_deadline":"'
    )


@dataclass(frozen=True)
class Verdict:
    """The engine's judgement of one request under the policy version in force on its service date.

    ``rule`` is the row of the rule table that matched; ``clauses`` the sections it cites;
    ``days_used`` is request_date - service_date (negative for a request before a scheduled service);
    ``within_window`` is ``days_used <= window_days`` (reported even for a service not started, where the
    window does not apply). An outcome outside ``allowed_outcomes`` is a discretionary exception (section 5).
    """

    policy_version: str
    rule: int
    recommended_outcome: str
    allowed_outcomes: tuple[str, ...]
    clauses: tuple[str, ...]
    contact_deadline: date
    days_used: int
    within_window: bool
    findings: tuple[Finding, ...]
    amount_paid: float
    # The start of to_json(), the same for every verdict of one row under one version: evaluate() passes
    # its row's (json_head); a verdict read back from a snapshot works it out. Not compared, hashed or shown.
    _head: str = field(default="", compare=False, repr=False)

    @property
    def amount_bounds(self) -> AmountBounds:
        return AmountBounds(self.amount_paid)

    def is_exception(self, outcome: str) -> bool:
        """True when deciding ``outcome`` goes outside the general terms (section 5: at our discretion)."""
        return outcome not in self.allowed_outcomes

    def to_dict(self) -> dict:
        return {
            "policy_version": self.policy_version,
            "rule": self.rule,
            "recommended_outcome": self.recommended_outcome,
            "allowed_outcomes": list(self.allowed_outcomes),
            "clauses": list(self.clauses),
            "contact_deadline": self.contact_deadline.isoformat(),
            "days_used": self.days_used,
            "within_window": self.within_window,
            "amount_paid": self.amount_paid,
            "amount_bounds": self.amount_bounds.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self) -> str:
        """``json.dumps(self.to_dict(), separators=(",", ":"))``, fast."""
        head = self._head or json_head(
            self.policy_version, self.rule, self.recommended_outcome, self.allowed_outcomes, self.clauses
        )
        findings = ",".join([f._json or _finding_json(f) for f in self.findings])
        paid = repr(self.amount_paid)
        return (
            f'{head}{self.contact_deadline.isoformat()}","days_used":{self.days_used!r},'
            f'"within_window":{"true" if self.within_window else "false"},'
            f'"amount_paid":{paid},"amount_bounds":{_bounds_json(paid)},'
            f'"findings":[{findings}]}}'
        )

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        """Read back a ``to_dict()`` snapshot (``amount_bounds`` is derived and ignored)."""
        try:
            verdict = cls(
                policy_version=d["policy_version"],
                rule=d["rule"],
                recommended_outcome=d["recommended_outcome"],
                allowed_outcomes=tuple(d["allowed_outcomes"]),
                clauses=tuple(d["clauses"]),
                contact_deadline=date.fromisoformat(d["contact_deadline"]),
                days_used=d["days_used"],
                within_window=d["within_window"],
                findings=tuple(Finding(f["rule"], f["ok"], f["message"]) for f in d["findings"]),
                amount_paid=d["amount_paid"],
            )
        except KeyError as exc:
            raise PolicyError(f"verdict snapshot: missing {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"verdict snapshot: {exc}") from None
        problems = [
            name
            for name, ok in (
                ("policy_version", type(verdict.policy_version) is str),
                ("rule", type(verdict.rule) is int),
                ("recommended_outcome", verdict.recommended_outcome in OUTCOMES),
                ("allowed_outcomes", all(o in OUTCOMES for o in verdict.allowed_outcomes)),
                ("clauses", all(type(c) is str for c in verdict.clauses)),
                ("days_used", type(verdict.days_used) is int),
                ("within_window", type(verdict.within_window) is bool),
                (
                    "findings",
                    all(
                        type(f.rule) is str and type(f.ok) is bool and type(f.message) is str for f in verdict.findings
                    ),
                ),
                (
                    "amount_paid",
                    type(verdict.amount_paid) in (int, float)
                    and math.isfinite(verdict.amount_paid)
                    and verdict.amount_paid >= 0,
                ),
            )
            if not ok
        ]
        if problems:
            raise PolicyError(f"verdict snapshot: bad {problems[0]}")
        if type(verdict.amount_paid) is int:
            return replace(verdict, amount_paid=float(verdict.amount_paid))
        return verdict


def trusted_verdict(
    policy_version,
    rule,
    recommended_outcome,
    allowed_outcomes,
    clauses,
    contact_deadline,
    days_used,
    within_window,
    findings,
    amount_paid,
    head,
) -> Verdict:
    """A Verdict made by evaluate() without the frozen dataclass's slower ``__init__`` (see above); ``head``
    is the precomputed ``json_head`` of its row."""
    verdict = _new(Verdict)
    _setattr(
        verdict,
        "__dict__",
        {
            "policy_version": policy_version,
            "rule": rule,
            "recommended_outcome": recommended_outcome,
            "allowed_outcomes": allowed_outcomes,
            "clauses": clauses,
            "contact_deadline": contact_deadline,
            "days_used": days_used,
            "within_window": within_window,
            "findings": findings,
            "amount_paid": amount_paid,
            "_head": head,
        },
    )
    return verdict


def trusted_finding(rule: str, ok: bool, message: str) -> Finding:
    """A Finding made without the frozen dataclass's slower ``__init__``."""
    finding = _new(Finding)
    _setattr(finding, "__dict__", {"rule": rule, "ok": ok, "message": message})
    return finding


def check_amount(verdict: Verdict, outcome: str, amount: float | None) -> str | None:
    """None if ``amount`` may go with ``outcome`` for this verdict's request, else a message naming the
    bound it breaks. Whether the outcome itself is allowed is a separate question: ``is_exception``."""
    return AmountBounds(verdict.amount_paid).check(outcome, amount)
