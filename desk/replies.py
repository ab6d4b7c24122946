"""The reply to the customer: per-outcome templates managers edit (versioned, audited), rendered in Jinja2's
sandbox with only the fields below, edited by the reviewer and sent (through the outbox, see desk.outbox).

Fields a template may use (nothing else is reachable: a SandboxedEnvironment, StrictUndefined, no globals):

    draft            the policy's draft reply (policy.reply.draft_reply): salutation, outcome, amount in the
                     case's currency, the tagged sentences of the cited clauses of the version that judged it
    salutation       "Dear <name>," (or "Dear customer,")
    customer_name    the customer's name as recorded
    outcome          the outcome's label, e.g. "Partial refund"
    amount           the decided amount in the case's currency ("" for fix and deny), e.g. "€40.00"
    case_id, decision_id, policy_version

The default template of every outcome is ``{{ draft }}``: the policy draft is the default, and a manager's
template can wrap it, or replace it with their own wording built from the other fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.db import Database
from data.models import Case, Customer, Decision, ReplyTemplate, Service
from desk import audit
from desk.auth import authorize
from desk.changes import event_at
from desk.errors import InvalidInput, NotFound
from desk.money import DEFAULT_CURRENCY, format_money
from desk.rows import must_get
from policy import MONEY_OUTCOMES, OUTCOME_LABELS, OUTCOMES

DEFAULT_TEMPLATE = "{{ draft }}"
MAX_TEMPLATE = 20_000
MAX_REPLY = 20_000
MAX_SUBJECT = 200
FIELDS = ("draft", "salutation", "customer_name", "outcome", "amount", "case_id", "decision_id", "policy_version")
SAMPLE = {
    "draft": "Dear Ada Customer,\n\n(the policy draft)\n",
    "salutation": "Dear Ada Customer,",
    "customer_name": "Ada Customer",
    "outcome": "Partial refund",
    "amount": "$40.00",
    "case_id": 1,
    "decision_id": 1,
    "policy_version": "2026-01",
}


def _env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals.clear()  # no range/dict/lipsum/cycler...: the fields are all a template sees
    return env


def render(body: str, fields: dict) -> str:
    """Render a template with exactly these fields; InvalidInput on a syntax error or an unknown field."""
    try:
        return _env().from_string(body).render(**{k: fields[k] for k in FIELDS if k in fields})
    except TemplateError as exc:
        raise InvalidInput(f"The template cannot be used: {exc.message or exc}", field="template") from None


@dataclass(frozen=True)
class TemplateView:
    outcome: str
    version: int  # 0: the built-in default
    body: str
    created_by: str | None
    created_at: datetime | None


def current_template(s: Session, outcome: str) -> TemplateView:
    row = s.scalar(
        select(ReplyTemplate).where(ReplyTemplate.outcome == outcome).order_by(ReplyTemplate.version.desc()).limit(1)
    )
    if row is None:
        return TemplateView(outcome, 0, DEFAULT_TEMPLATE, None, None)
    return TemplateView(outcome, row.version, row.body, row.created_by, row.created_at)


def templates(db: Database) -> list[TemplateView]:
    with db.read() as s:
        return [current_template(s, o) for o in OUTCOMES]


def template_history(db: Database, outcome: str) -> list[TemplateView]:
    with db.read() as s:
        rows = s.scalars(
            select(ReplyTemplate).where(ReplyTemplate.outcome == outcome).order_by(ReplyTemplate.version.desc())
        )
        return [TemplateView(r.outcome, r.version, r.body, r.created_by, r.created_at) for r in rows]


def save_template(db: Database, manager_id: int, outcome: str, body: str, *, now: datetime | None = None) -> int:
    """A manager saves a new version of an outcome's template (checked by rendering it); returns the version."""
    actor = authorize(db, manager_id, "edit_reply_templates")
    if outcome not in OUTCOMES:
        raise InvalidInput(f"Choose an outcome ({', '.join(OUTCOMES)}).", field="outcome")
    body = (body or "").replace("\r\n", "\n")
    if not body.strip():
        raise InvalidInput("The template is empty.", field="template")
    if len(body) > MAX_TEMPLATE:
        raise InvalidInput(f"Keep the template under {MAX_TEMPLATE:,} characters.", field="template")
    render(body, SAMPLE)
    at = event_at(now) or audit.utcnow()
    with db.write.begin() as s:
        version = (s.scalar(select(func.max(ReplyTemplate.version)).where(ReplyTemplate.outcome == outcome)) or 0) + 1
        s.add(ReplyTemplate(outcome=outcome, version=version, body=body, created_by=actor.email, created_at=at))
        audit.record(
            s,
            audit.ReplyTemplateSaved(outcome=outcome, version=version, body=body),
            actor=actor.email,
            actor_id=actor.id,
            at=at,
        )
    return version


@dataclass(frozen=True)
class ReplyDraft:
    case_id: int
    decision_id: int
    to: str
    subject: str
    body: str
    template_version: int


def reply_fields(s: Session, decision: Decision, draft: str) -> dict:
    case = must_get(s, Case, decision.case_id)
    customer = s.get(Customer, case.customer_id)
    currency = s.scalar(select(Service.currency).where(Service.id == case.service_id))
    from policy.reply import salutation

    return {
        "draft": draft,
        "salutation": salutation(customer.name if customer else None),
        "customer_name": customer.name if customer else "",
        "outcome": OUTCOME_LABELS[decision.outcome],
        "amount": format_money(decision.amount_cents, currency or DEFAULT_CURRENCY)
        if decision.outcome in MONEY_OUTCOMES
        else "",
        "case_id": case.id,
        "decision_id": decision.id,
        "policy_version": decision.policy_version,
    }


def reply_draft(db: Database, case_id: int, decision_id: int, policy_draft: str) -> ReplyDraft:
    """The reply the reviewer starts from: the outcome's template in force, rendered for this decision."""
    with db.read() as s:
        d = s.get(Decision, decision_id)
        if d is None or d.case_id != case_id:
            raise NotFound(f"Decision #{decision_id} is not on case #{case_id}.")
        fields = reply_fields(s, d, policy_draft)
        tpl = current_template(s, d.outcome)
        to = s.scalar(select(Customer.email).join(Case, Case.customer_id == Customer.id).where(Case.id == case_id))
    subject = f"Your refund request (case #{case_id})"
    return ReplyDraft(case_id, decision_id, to or "", subject, render(tpl.body, fields), tpl.version)
