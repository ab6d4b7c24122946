"""A plain-text reply to the customer for a decision, quoting the policy sections it rests on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import PolicyError
from .verdict import Verdict, check_amount
from .vocabulary import OUTCOMES

if TYPE_CHECKING:
    from .book import PolicyBook

_EXCEPTION_CLAUSE = "5"


def _decision_sentence(outcome: str, amount: float | None, paid: float) -> str:
    if outcome == "fix":
        return (
            "We are sorry for the trouble. As our policy provides, we will first work to fix the issue, and "
            "we will be in touch as soon as it is resolved."
        )
    if outcome == "full_refund":
        return f"We will refund the full amount you paid, {paid:.2f}."
    if outcome == "partial_refund":
        return f"We will refund {amount:.2f} of the {paid:.2f} you paid."
    if outcome == "credit":
        return f"We will give you a credit of {amount:.2f} towards future services."
    return "We are sorry, but we are unable to offer a refund in this case."


def draft_reply(verdict: Verdict, outcome: str, amount: float | None, book: PolicyBook) -> str:
    """A draft reply for deciding ``outcome`` (with ``amount`` for a refund or credit) on ``verdict``.

    It quotes the sections the verdict cites, and section 5 when the decision is an exception. Raises
    PolicyError for an unknown outcome or an amount outside its bounds (see ``check_amount``).
    """
    if outcome not in OUTCOMES:
        raise PolicyError(f"outcome: unknown value {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    problem = check_amount(verdict, outcome, amount)
    if problem:
        raise PolicyError(problem)
    version = book.get(verdict.policy_version)
    exception = verdict.is_exception(outcome)
    paragraphs = ["Dear customer,", "Thank you for contacting us about your refund request."]
    if verdict.rule == 3 and not exception:
        paragraphs.append(
            f"Our policy asks that issues be reported within {version.window_days} days of the service "
            f"date; your request reached us on day {verdict.days_used}, after the deadline of "
            f"{verdict.contact_deadline.isoformat()}."
        )
    sentence = _decision_sentence(outcome, amount, verdict.amount_paid)
    if exception:
        sentence = (
            "Although this falls outside the general terms of our policy, we have reviewed your case "
            "individually and made an exception. " + sentence
        )
    paragraphs.append(sentence)
    clauses = list(verdict.clauses)
    if exception and _EXCEPTION_CLAUSE not in clauses:
        clauses.append(_EXCEPTION_CLAUSE)
    quoted = version.cited_texts(clauses)
    if quoted:
        paragraphs.append("The relevant terms of our Refund and Returns Policy:")
        for number, text in quoted:
            paragraphs.append(f"{number}. {text}")
    paragraphs += [
        "If you have any questions, please reply to this message; we are here to help.",
        "Kind regards,\nCustomer Support",
    ]
    return "\n\n".join(paragraphs) + "\n"
