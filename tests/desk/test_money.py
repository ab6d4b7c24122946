"""desk.money: amounts carry their currency; typed amounts are refused rather than rounded."""

from decimal import Decimal

import pytest

from desk.money import MoneyError, add, format_money, format_totals, parse_amount, to_major


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (123456789, "EUR", "€1,234,567.89"),
        (123456789, "USD", "$1,234,567.89"),
        (50, "GBP", "£0.50"),
        (1234, "JPY", "¥1,234"),
        (None, "USD", "$0.00"),
        (199, "CAD", "CA$1.99"),
    ],
)
def test_each_amount_shows_its_own_currency(minor, currency, shown):
    assert format_money(minor, currency) == shown


def test_minor_units_convert_to_major_by_the_currency_digits():
    assert to_major(1234, "USD") == Decimal("12.34")
    assert to_major(1234, "JPY") == Decimal("1234")


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [("12.34", "USD", 1234), ("12.3", "EUR", 1230), ("1,234.5", "GBP", 123450), (12, "USD", 1200), ("500", "JPY", 500)],
)
def test_a_typed_amount_becomes_minor_units(typed, currency, minor):
    assert parse_amount(typed, currency) == minor


@pytest.mark.parametrize(
    ("typed", "currency", "message"),
    [
        ("12.345", "USD", "at most 2 decimals"),
        (12.345, "EUR", "at most 2 decimals"),
        ("5.5", "JPY", "no decimals"),
        ("-1", "USD", "negative"),
        ("abc", "USD", "not an amount"),
        ("nan", "USD", "not an amount"),
        ("1", "XYZ", "ISO 4217"),
    ],
)
def test_an_amount_with_more_decimals_than_its_currency_is_refused(typed, currency, message):
    with pytest.raises(MoneyError, match=message):
        parse_amount(typed, currency)


def test_amounts_are_summed_per_currency_never_across():
    totals = add([(100, "USD"), (250, "EUR"), (1, "usd")])
    assert totals == {"USD": 101, "EUR": 250}
    assert format_totals(totals) == "€2.50 · $1.01"
    assert format_totals({}) == "—"


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (123456789, "EUR", "€1.23M"),
        (1234567, "GBP", "£12.3K"),
        (99950, "USD", "$999.50"),
        (0, "EUR", "€0.00"),
    ],
)
def test_a_tile_amount_is_short_and_keeps_its_currency(minor, currency, shown):
    from desk.money import format_money_short

    assert format_money_short(minor, currency) == shown


def test_currency_symbols_for_headings():
    from desk.money import currency_symbol

    assert (currency_symbol("EUR"), currency_symbol("GBP"), currency_symbol("USD")) == ("€", "£", "$")
