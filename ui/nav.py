"""The pages of the app and who sees them. app.py builds st.navigation from this per role."""

from __future__ import annotations

from dataclasses import dataclass

ALL_ROLES = frozenset({"reviewer", "manager", "admin"})


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
    PageSpec("analytics", "pages/analytics.py", "Analytics", ":material/monitoring:", "analytics"),
)

BY_KEY = {p.key: p for p in PAGES}


def pages_for(role: str | None) -> list[PageSpec]:
    return [p for p in PAGES if role in p.roles]
