"""The desk's reporting currency: the analytics' default currency filter and the home page's money."""

from __future__ import annotations

import os

import streamlit as st

from desk.money import DEFAULT_CURRENCY, MoneyError, check_currency

REPORTING_CURRENCY_ENV = "REFUND_DESK_REPORTING_CURRENCY"


def reporting_currency() -> tuple[str, str | None]:
    """The desk's reporting currency — the analytics' default currency filter — and a warning if the
    configured one is not a currency. From $REFUND_DESK_REPORTING_CURRENCY, else `[desk] reporting_currency`
    in .streamlit/secrets.toml, else USD."""
    configured = os.environ.get(REPORTING_CURRENCY_ENV)
    if not configured:
        try:
            configured = st.secrets.get("desk", {}).get("reporting_currency")
        except Exception:  # no secrets.toml (or an unreadable one: the sign-in path reports that)
            configured = None
    if not configured:
        return DEFAULT_CURRENCY, None
    try:
        return check_currency(str(configured)), None
    except MoneyError as exc:
        return DEFAULT_CURRENCY, f"The configured reporting currency is not valid ({exc}); using {DEFAULT_CURRENCY}."
