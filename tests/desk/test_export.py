"""desk.export: CSV a spreadsheet opens as text (the OWASP CSV-injection rule), numbers left as numbers."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from desk.export import csv_bytes, csv_rows_bytes, neutralise, neutralise_frame, writer


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("https://evil.example","Click")', '\'=HYPERLINK("https://evil.example","Click")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Ada Lovelace", "Ada Lovelace"),
        ("a=b", "a=b"),
        ("", ""),
        ("-12.50", "-12.50"),  # a plain number written as text stays a number
        ("+15", "+15"),
    ],
)
def test_a_text_cell_that_starts_like_a_formula_gets_a_leading_quote(cell, written):
    assert neutralise(cell) == written


@pytest.mark.parametrize("value", [-5, -12.5, 0, None, True])
def test_values_that_are_not_text_are_left_alone(value):
    assert neutralise(value) is value


def test_a_frame_keeps_its_number_columns_and_neutralises_its_text_columns():
    frame = pd.DataFrame(
        {"Customer": ['=HYPERLINK("x")', "Bo"], "Days left": [-3, 4], "Amount": [-1.5, 2.0], "=Head": ["a", "b"]}
    )
    out = neutralise_frame(frame)
    assert out["Customer"].tolist() == ['\'=HYPERLINK("x")', "Bo"]
    assert out["Days left"].tolist() == [-3, 4] and pd.api.types.is_integer_dtype(out["Days left"])
    assert list(out.columns)[-1] == "'=Head"
    assert frame["Customer"][0].startswith("=")  # the caller's frame is not changed
    rows = list(csv.reader(io.StringIO(csv_bytes(frame).decode())))
    assert rows[1] == ['\'=HYPERLINK("x")', "-3", "-1.5", "a"]


def test_rows_and_the_writer_neutralise_every_cell():
    data = csv_rows_bytes(["case", "note"], [(1, "=1+1"), (2, "fine"), (-3, "-x")])
    assert list(csv.reader(io.StringIO(data.decode()))) == [
        ["case", "note"],
        ["1", "'=1+1"],
        ["2", "fine"],
        ["-3", "'-x"],
    ]
    out = io.StringIO()
    writer(out).writerow(["@x", 5])
    assert out.getvalue().strip() == "'@x,5"
