"""Money as the desk reads, shows and exports it: whole minor units (cents) with an ISO 4217 currency.

Every amount a user types, sees, exports or sums carries its currency. Formatting is Babel's
(`format_money`), so EUR shows as "€1,234.50" and CAD as "CA$1,234.50"; an amount typed with more
decimals than its currency has is refused (`parse_amount`), never rounded or truncated silently.
Amounts of different currencies are never added together (`add`).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import (
    format_compact_currency,
    format_currency,
    get_currency_precision,
    get_currency_symbol,
    is_currency,
)

LOCALE = "en_US"
DEFAULT_CURRENCY = "USD"


class MoneyError(ValueError):
    """An amount or currency a user gave that cannot be taken as it is (the message says why)."""


@lru_cache(maxsize=1024)  # Babel rebuilds its set of currencies on every is_currency call (~50 µs)
def check_currency(currency: str) -> str:
    code = (currency or "").strip().upper()
    if len(code) != 3 or not is_currency(code):
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency code (e.g. USD, EUR, GBP)")
    return code


def minor_digits(currency: str) -> int:
    """How many decimals the currency has (2 for USD and EUR, 0 for JPY)."""
    return get_currency_precision(check_currency(currency))


def to_major(minor: int | None, currency: str) -> Decimal:
    """Whole minor units -> a Decimal amount in the currency's major unit (1234 USD cents -> 12.34)."""
    return Decimal(minor or 0).scaleb(-minor_digits(currency))


def format_money(minor: int | None, currency: str, locale: str = LOCALE) -> str:
    """'€1,234.50' — the amount with its own currency's symbol and decimals."""
    return _formatted(minor, check_currency(currency), locale)


@lru_cache(maxsize=8192)  # a pure function of its arguments; amounts recur on every render (~0.1 ms each in Babel)
def _formatted(minor: int | None, code: str, locale: str) -> str:
    return format_currency(to_major(minor, code), code, locale=_locale(locale))


@lru_cache(maxsize=16)
def _locale(name: str) -> Locale:
    """The parsed locale (Babel parses a locale name again on every format call)."""
    return Locale.parse(name)


def parse_amount(value: str | float | int | Decimal, currency: str) -> int:
    """A typed amount -> whole minor units. Refuses more decimals than the currency has (12.345 USD),
    negative amounts and anything that is not a number, with a message that says so."""
    code = check_currency(currency)
    digits = minor_digits(code)
    text = str(value).strip().replace(",", "") if not isinstance(value, Decimal) else None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(text or "")
    except InvalidOperation:
        raise MoneyError(f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise MoneyError(f"{value!r} is not an amount")
    if amount < 0:
        raise MoneyError("an amount cannot be negative")
    scaled = amount.scaleb(digits)
    if scaled != scaled.to_integral_value():
        places = "no decimals" if digits == 0 else f"at most {digits} decimal{'s' if digits > 1 else ''}"
        raise MoneyError(f"{code} amounts have {places}; {value} has more")
    return int(scaled)


def add(amounts: Iterable[tuple[int, str]]) -> dict[str, int]:
    """Sum (minor units, currency) pairs per currency — never across currencies."""
    totals: dict[str, int] = {}
    for minor, currency in amounts:
        code = check_currency(currency)
        totals[code] = totals.get(code, 0) + int(minor or 0)
    return totals


def format_totals(totals: dict[str, int], locale: str = LOCALE) -> str:
    """'$1,200.00 · €80.00' — per-currency totals in a stable order (largest first), '—' when empty."""
    if not totals:
        return "—"
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return " · ".join(format_money(v, c, locale) for c, v in ordered)


def currency_symbol(currency: str, locale: str = LOCALE) -> str:
    """'€' for EUR, 'CA$' for CAD (in en_US): for chart axes and table headings."""
    return get_currency_symbol(check_currency(currency), locale=locale)


def format_money_short(minor: int | None, currency: str, locale: str = LOCALE) -> str:
    """A KPI tile's amount: '€1.23M', '£12.3K', or in full below 10,000 ('$999.50')."""
    code = check_currency(currency)
    major = to_major(minor, code)
    if abs(major) < 10_000:
        return format_money(minor, code, locale)
    digits = 2 if abs(major) >= 1_000_000 else 1
    return format_compact_currency(major, code, locale=locale, fraction_digits=digits)
