"""The pages of the app and who sees them (by the desk's permissions). app.py builds st.navigation and the menu
from this per role."""

from __future__ import annotations

from dataclasses import dataclass

from desk.auth import PERMISSIONS

ALL_ROLES = PERMISSIONS["view_cases"]


@dataclass(frozen=True)
class PageSpec:
    key: str
    path: str
    title: str
    icon: str
    url_path: str
    roles: frozenset[str] = ALL_ROLES
    hidden: bool = False  # reachable by URL (deep links), not listed in the menu
    default: bool = False


# Register only pages that exist and work. Order is menu order.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("home", "pages/home.py", "Home", ":material/home:", "home", default=True),
    PageSpec("queue", "pages/queue.py", "Queue", ":material/inbox:", "queue"),
    PageSpec("case", "pages/case.py", "Case", ":material/description:", "case", hidden=True),
    PageSpec("checker", "pages/checker.py", "Policy checker", ":material/gavel:", "checker"),
    PageSpec(
        "replay",
        "pages/replay.py",
        "What-if replay",
        ":material/replay:",
        "replay",
        roles=PERMISSIONS["replay_policy"],
    ),
    PageSpec(
        "policy",
        "pages/policy.py",
        "Policy changes",
        ":material/policy:",
        "policy",
        roles=PERMISSIONS["draft_policy"] | PERMISSIONS["publish_policy"],
    ),
    PageSpec("analytics", "pages/analytics.py", "Analytics", ":material/monitoring:", "analytics"),
    PageSpec(
        "import", "pages/import.py", "Import data", ":material/upload_file:", "import", roles=PERMISSIONS["import_data"]
    ),
    PageSpec(
        "templates",
        "pages/templates.py",
        "Reply templates",
        ":material/mail:",
        "templates",
        roles=PERMISSIONS["edit_reply_templates"],
    ),
    PageSpec("outbox", "pages/outbox.py", "Outbox", ":material/outbox:", "outbox", roles=PERMISSIONS["manage_outbox"]),
    PageSpec(
        "users", "pages/users.py", "Users and roles", ":material/manage_accounts:", "users", PERMISSIONS["manage_users"]
    ),
)

BY_KEY = {p.key: p for p in PAGES}


def pages_for(role: str | None) -> list[PageSpec]:
    return [p for p in PAGES if role in p.roles]
