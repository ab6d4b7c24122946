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

SERVICE_TYPE_LABELS = {
    "technical_support": "Technical support",
    "software_update": "Software update",
    "online_service": "Other online service",
    "subscription": "Subscription (recurring payment)",
}
STATUS_LABELS = {
    "not_started": "Not started yet",
    "in_progress": "In progress",
    "completed": "Rendered or completed",
}
REASON_LABELS = {
    "our_error": "Mistake on our side",
    "technical_issue": "Technical issue on our side",
    "billing_error": "Error in billing",
    "user_error": "User error",
    "changed_requirements": "Customer's requirements changed",
    "usage_after_completion": "Problem from use after the service was completed",
    "unused_subscription": "Unused part of a subscription",
    "dissatisfied": "Dissatisfied, no fault identified",
}
OUTCOME_LABELS = {
    "fix": "Fix the issue",
    "full_refund": "Full refund",
    "partial_refund": "Partial refund",
    "credit": "Credit for future services",
    "deny": "Deny the refund",
}
CYCLE_LABELS = {"monthly": "Monthly", "annual": "Annual"}
