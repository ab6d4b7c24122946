"""`python -m policy export --as-of DATE`: the public text in force on a date and the history of changes, as
Markdown or HTML (pure: a book and a date in, text out)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from policy import PolicyBook, load_book
from policy.export import render

REPO = Path(__file__).resolve().parents[2]
SHIPPED = load_book().versions[0]
LATER = SHIPPED.with_window_days(10, version="2027-01-01", effective_from=date(2027, 1, 1))
BOOK = PolicyBook([SHIPPED, LATER])


def test_the_text_is_the_version_in_force_on_the_day_and_a_later_one_is_announced():
    md = render(BOOK, date(2026, 12, 31))
    assert "As of 2026-12-31 · version 2024-01-01, in force since 2024-01-01." in md
    assert "within 7 days of the service date" in md and "within 10 days" not in md
    assert "## 6. Changes to This Policy" in md
    assert "- **2027-01-01** (takes effect on 2027-01-01): Contact window 7 → 10 days; sections 1, 4 changed." in md
    assert "- **2024-01-01** (in force from 2024-01-01): First version of this policy." in md


def test_on_the_effective_date_the_new_text_applies():
    md = render(BOOK, date(2027, 1, 1))
    assert "version 2027-01-01, in force since 2027-01-01" in md and "within 10 days of the service date" in md
    assert "(in force from 2027-01-01)" in md


def test_html_escapes_the_text_and_lists_the_history():
    page = render(BOOK.with_version(LATER), date(2027, 1, 2), "html")
    assert page.startswith("<!doctype html>") and "<h2>History of changes</h2>" in page
    assert "<li>Contact Us: Reach out to our customer support team by email or phone within 10 days" in page
    assert "(e.g., monthly or annual support packages)" in page and "<script" not in page


def test_an_unknown_format_and_a_day_before_every_version_are_refused():
    with pytest.raises(ValueError, match="format"):
        render(BOOK, date(2027, 1, 1), "pdf")
    with pytest.raises(Exception, match="no policy version is in force as of 2020-01-01"):
        render(BOOK, date(2020, 1, 1))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "policy", "export", *args], cwd=REPO, capture_output=True, text=True)


def test_the_command_prints_markdown_or_html_and_refuses_a_bad_date(tmp_path):
    for v in BOOK.versions:
        (tmp_path / f"{v.effective_from}.toml").write_text(v.to_toml_text())
    done = run("--as-of", "2027-02-01", "--policy-dir", str(tmp_path))
    assert done.returncode == 0 and "version 2027-01-01, in force since 2027-01-01" in done.stdout
    done = run("--as-of", "2027-02-01", "--format", "html", "--policy-dir", str(tmp_path))
    assert done.returncode == 0 and "<h1>Refund and Returns Policy</h1>" in done.stdout
    done = run("--as-of", "01/02/2027")
    assert done.returncode == 1 and "expected a date YYYY-MM-DD" in done.stderr
    done = run("--as-of", "2020-01-01")
    assert done.returncode == 1 and "no policy version is in force as of 2020-01-01" in done.stderr
