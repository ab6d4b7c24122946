"""The import page in AppTest: an admin imports, a bad file gets its problems listed, others are refused."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data.db import open_database
from data.migrate import upgrade
from tests.support.intake import ROOT, add_demo_users, counts, example
from ui.nav import pages_for


@pytest.fixture
def desk_url(tmp_path):
    """A fresh SQLite desk with its staff and nothing else (the page writes to it)."""
    url = f"sqlite:///{tmp_path / 'import.db'}"
    db = open_database(url)
    upgrade(db.engine)
    add_demo_users(db)
    db.dispose()
    return url


def open_import(app, url, user="ada@refund-desk.example"):
    at = app(url)
    at.session_state["local_user_email"] = user
    at.run()
    at.switch_page("pages/import.py")
    return at.run()


def test_an_admin_imports_the_example_services_file(app, desk_url):
    at = open_import(app, desk_url)
    assert not at.exception
    assert at.title[0].value == "Import data"
    assert at.button[0].disabled  # nothing uploaded yet
    at.file_uploader[0].set_value(("services.csv", example("services.csv"), "text/csv"))
    at.run()
    at.button[0].click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Imported 8 services from 8 rows, 6 new customers; 0 were already present")
    db = open_database(desk_url)
    assert counts(db)["services"] == 8
    db.dispose()


def test_a_file_with_bad_rows_lists_them_writes_nothing_and_offers_the_list_as_csv(app, desk_url):
    at = open_import(app, desk_url)
    frame = pd.read_csv(io.BytesIO(example("services.csv")), dtype=str, keep_default_na=False)
    frame.loc[1, "price"] = "59,99"
    frame.loc[2, "scheduled_on"] = "tomorrow"
    at.file_uploader[0].set_value(("services.csv", frame.to_csv(index=False).encode(), "text/csv"))
    at.run()
    at.button[0].click().run()
    assert not at.exception
    assert at.error[0].value.startswith("2 problems in 8 rows; nothing was written.")
    table = at.dataframe[-1].value
    assert table[["row", "column"]].values.tolist() == [[3, "price"], [4, "scheduled_on"]]
    assert [b.label for b in at.get("download_button")][-1] == "Download the problems as CSV"
    db = open_database(desk_url)
    assert counts(db)["services"] == 0
    db.dispose()


def test_a_file_that_is_not_csv_gets_a_message_under_the_upload(app, desk_url):
    at = open_import(app, desk_url)
    at.radio(key="import_kind").set_value("cases").run()
    at.file_uploader[0].set_value(("cases.csv", b"\x00\x01\x02\x03", "text/csv"))
    at.run()
    at.button[0].click().run()
    assert not at.exception
    assert at.error[0].value == "cases.csv is not a CSV file (it holds binary data). Upload a .csv or .xlsx file."


def test_a_dry_run_reports_what_would_be_imported(app, desk_url):
    at = open_import(app, desk_url)
    at.checkbox(key="import_dry_run").check().run()
    at.file_uploader[0].set_value(("services.xlsx", example("services.xlsx"), "application/octet-stream"))
    at.run()
    at.button[0].click().run()
    assert at.info[-1].value.startswith("All 8 rows are valid: 8 services would be imported")


def test_the_page_is_for_admins_only_even_when_opened_directly(app, desk_url):
    app(desk_url)  # points the Streamlit layer at the desk
    assert [p.key for p in pages_for("admin")].count("import") == 1
    assert "import" not in [p.key for p in pages_for("manager")] + [p.key for p in pages_for("reviewer")]
    direct = AppTest.from_file(str(ROOT / "pages" / "import.py"), default_timeout=60)
    direct.session_state["local_user_email"] = "max@refund-desk.example"
    direct.run()
    assert not direct.exception
    assert [w.value for w in direct.warning] == ["This page is not available for your role."]
    assert not direct.title


def test_the_page_states_its_upload_limit_and_the_command_line_for_larger_files(app, desk_url):
    import tomllib

    limit = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    at = open_import(app, desk_url)
    assert not at.exception
    assert at.file_uploader[0].label == f"CSV or Excel (.xlsx) file, up to {limit} MB"
    assert any(
        f"Files up to {limit} MB upload here" in c.value and "python -m data.importer" in c.value for c in at.caption
    )


def test_a_utf16_file_from_excel_imports_like_its_utf8_original(app, desk_url):
    at = open_import(app, desk_url)
    at.file_uploader[0].set_value(("services.csv", example("services.csv").decode().encode("utf-16"), "text/csv"))
    at.run()
    at.button[0].click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Imported 8 services from 8 rows")
