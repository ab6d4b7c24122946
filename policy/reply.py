"""A plain-text reply to the customer for a decision: addressed by name, the amount in the case's currency, and
the sentences of the cited policy sections that apply (not whole sections).

Which sentences apply is data, not a guess: each version's ``[[quotes]]`` tag sentences of its clauses with the
rows of the rule table they support (``PolicyVersion.quoted_sentences``). policy/ knows no currencies: the
caller passes ``money``, which writes an amount (a number as in ``Verdict.amount_paid``) in the case's currency.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import PolicyError
from .verdict import Verdict, check_amount
from .vocabulary import OUTCOMES

if TYPE_CHECKING:
    from .book import PolicyBook

Money = Callable[[float], str]


def _decision_sentence(outcome: str, amount: float | None, paid: float, money: Money) -> str:
    if outcome == "fix":
        return (
            "We are sorry for the trouble. As our policy provides, we will first work to fix the issue, and "
            "we will be in touch as soon as it is resolved."
        )
    if outcome == "full_refund":
        return f"We will refund the full amount you paid, {money(paid)}."
    if outcome == "partial_refund":
        assert amount is not None
        return f"We will refund {money(amount)} of the {money(paid)} you paid."
    if outcome == "credit":
        assert amount is not None
        return f"We will give you a credit of {money(amount)} towards future services."
    return "We are sorry, but we are unable to offer a refund in this case."


def salutation(customer_name: str | None) -> str:
    """ "Dear <name>," with the name on one line (it is customer data: no line breaks or control characters
    may shape the reply), or "Dear customer," without one."""
    name = " ".join("".join(ch if ch.isprintable() else " " for ch in customer_name or "").split())
    return f"Dear {name}," if name else "Dear customer,"


def draft_reply(
    verdict: Verdict,
    outcome: str,
    amount: float | None,
    book: PolicyBook,
    *,
    customer_name: str | None,
    money: Money,
) -> str:
    """A draft reply for deciding ``outcome`` (with ``amount`` for a refund or credit) on ``verdict``.

    It quotes the sentences of the cited sections tagged for the verdict's rule, and section 5's when the
    decision is an exception. Raises PolicyError for an unknown outcome or an amount outside its bounds
    (see ``check_amount``).
    """
    if outcome not in OUTCOMES:
        raise PolicyError(f"outcome: unknown value {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    problem = check_amount(verdict, outcome, amount)
    if problem:
        raise PolicyError(problem)
    version = book.get(verdict.policy_version)
    exception = verdict.is_exception(outcome)
    paragraphs = [salutation(customer_name), "Thank you for contacting us about your refund request."]
    if verdict.rule == 3 and not exception:
        paragraphs.append(
            f"Our policy asks that issues be reported within {version.window_days} days of the service "
            f"date; your request reached us on day {verdict.days_used}, after the deadline of "
            f"{verdict.contact_deadline.isoformat()}."
        )
    sentence = _decision_sentence(outcome, amount, verdict.amount_paid, money)
    if exception:
        sentence = (
            "Although this falls outside the general terms of our policy, we have reviewed your case "
            "individually and made an exception. " + sentence
        )
    paragraphs.append(sentence)
    quoted = version.quoted_sentences(verdict.rule, verdict.clauses, exception)
    if quoted:
        paragraphs.append("The terms of our Refund and Returns Policy that apply:")
        for number, sentences in quoted:
            paragraphs.append(f"Section {number} ({version.heading(number)}): " + " ".join(f'"{s}"' for s in sentences))
    paragraphs += [
        "If you have any questions, please reply to this message; we are here to help.",
        "Kind regards,\nCustomer Support",
    ]
    return "\n\n".join(paragraphs) + "\n"
