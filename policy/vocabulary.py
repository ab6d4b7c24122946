"""The words of the policy engine: the allowed values of each fact and outcome, with plain-English labels.

The tuples give the order in which a UI should list the choices.
"""

from __future__ import annotations

SERVICE_TYPES = ("technical_support", "software_update", "online_service", "subscription")
SERVICE_STATUSES = ("not_started", "in_progress", "completed")
REASONS = (
    "our_error",
    "technical_issue",
    "billing_error",
    "user_error",
    "changed_requirements",
    "usage_after_completion",
    "unused_subscription",
    "dissatisfied",
)
OUTCOMES = ("fix", "full_refund", "partial_refund", "credit", "deny")
MONEY_OUTCOMES = ("full_refund", "partial_refund", "credit")
CYCLES = ("monthly", "annual")

# One label per value, used on every screen, chart and export (the queue, the case page, the checker, the
# analytics page and its CSV files): a reason never reads "Our mistake" on one screen and "Our error" on
# another. Short enough for a narrow table column or a chart legend.
SERVICE_TYPE_LABELS = {
    "technical_support": "Technical support",
    "software_update": "Software update",
    "online_service": "Online service",
    "subscription": "Subscription",
}
STATUS_LABELS = {
    "not_started": "Not started yet",
    "in_progress": "In progress",
    "completed": "Rendered or completed",
}
REASON_LABELS = {
    "our_error": "Our mistake",
    "technical_issue": "Technical issue",
    "billing_error": "Billing error",
    "user_error": "User error",
    "changed_requirements": "Changed requirements",
    "usage_after_completion": "Use after completion",
    "unused_subscription": "Unused subscription",
    "dissatisfied": "Dissatisfied, no fault",
}
# What each reason means, in the policy's words (help texts next to a reason picker).
REASON_HELP = {
    "our_error": "A mistake on our side",
    "technical_issue": "A technical issue on our side",
    "billing_error": "An error in billing",
    "user_error": "An error by the user",
    "changed_requirements": "The customer's requirements changed",
    "usage_after_completion": "A problem from use after the service was completed",
    "unused_subscription": "An unused part of a subscription",
    "dissatisfied": "The customer is dissatisfied and no fault was identified",
}
OUTCOME_LABELS = {
    "fix": "Fix the issue",
    "full_refund": "Full refund",
    "partial_refund": "Partial refund",
    "credit": "Credit for future services",
    "deny": "Deny the refund",
}
CYCLE_LABELS = {"monthly": "Monthly", "annual": "Annual"}

# The analytics page's date presets (desk/periods.py), in the order the picker lists them.
PERIOD_PRESETS = (
    "this_month",
    "last_month",
    "this_quarter",
    "last_quarter",
    "year_to_date",
    "last_12_months",
    "custom",
)
PERIOD_PRESET_LABELS = {
    "this_month": "This month",
    "last_month": "Last month",
    "this_quarter": "This quarter",
    "last_quarter": "Last quarter",
    "year_to_date": "Year to date",
    "last_12_months": "Last 12 months",
    "custom": "Custom range",
}
