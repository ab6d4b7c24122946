"""The sign-in decisions that need no Streamlit: when local mode is safe, what a usable [auth] looks like,
which email claim is trusted. And the repository's hardening settings."""

import tomllib
from pathlib import Path

import pytest

from ui.access import auth_config_problems, auth_providers, email_from_claims, is_loopback, local_mode_problem

ROOT = Path(__file__).resolve().parents[2]
GOOD_AUTH = {
    "redirect_uri": "https://desk.example.com/oauth2callback",
    "cookie_secret": "s" * 48,
    "client_id": "id",
    "client_secret": "secret",
    "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration",
}


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "::1", "[::1]", "app.localhost"])
def test_loopback_addresses(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", [None, "", "0.0.0.0", "::", "10.0.0.5", "desk.example.com", "localhost.evil.example"])
def test_addresses_that_reach_beyond_this_computer(host):
    assert not is_loopback(host)


def test_local_mode_is_allowed_on_loopback_for_a_direct_request():
    assert local_mode_problem("127.0.0.1", {"Host": "127.0.0.1:8501"}) is None
    assert local_mode_problem("localhost", {"host": "localhost:8501"}) is None
    assert local_mode_problem("::1", {"Host": "[::1]:8501"}) is None
    assert local_mode_problem("127.0.0.1", {}) is None  # AppTest: no request headers


@pytest.mark.parametrize("address", [None, "0.0.0.0", "::", "192.168.1.20"])
def test_local_mode_is_refused_when_the_server_listens_beyond_loopback(address):
    problem = local_mode_problem(address, {"Host": "127.0.0.1:8501"})
    assert problem and "no sign-in is configured" in problem


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host"])
def test_local_mode_is_refused_behind_a_reverse_proxy_on_the_same_machine(header):
    assert "proxy" in local_mode_problem("127.0.0.1", {"Host": "127.0.0.1:8501", header: "203.0.113.9"})


def test_local_mode_is_refused_for_a_foreign_host_header_dns_rebinding():
    assert "attacker.example" in local_mode_problem("127.0.0.1", {"Host": "attacker.example:8501"})


def test_local_mode_is_refused_for_a_remote_client_address():
    assert "203.0.113.9" in local_mode_problem("127.0.0.1", {"Host": "localhost"}, client_ip="203.0.113.9")


def test_a_complete_auth_section_has_no_problems_and_one_default_provider():
    assert auth_config_problems(GOOD_AUTH) == []
    assert auth_providers(GOOD_AUTH) == ["default"]


def test_named_providers_are_found_in_their_subsections():
    creds = {k: GOOD_AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}
    auth = {"redirect_uri": GOOD_AUTH["redirect_uri"], "cookie_secret": "s" * 40, "okta": creds, "entra": creds}
    assert auth_config_problems(auth) == []
    assert sorted(auth_providers(auth)) == ["entra", "okta"]


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"cookie_secret": ""}, "`cookie_secret` is missing"),
        ({"cookie_secret": "short"}, "too short"),
        ({"redirect_uri": "https://desk.example.com/"}, "/oauth2callback"),
        ({"redirect_uri": "desk.example.com/oauth2callback"}, "absolute"),
        ({"client_id": None}, "no provider"),
    ],
)
def test_an_incomplete_auth_section_says_what_is_wrong(change, expected):
    auth = {k: v for k, v in {**GOOD_AUTH, **change}.items() if v is not None}
    assert any(expected in p for p in auth_config_problems(auth))


def test_the_email_claim_is_trusted_unless_the_provider_says_it_is_unverified():
    assert email_from_claims({"email": " Rita@Refund-Desk.example", "email_verified": True}) == (
        "rita@refund-desk.example",
        None,
    )
    assert email_from_claims({"email": "rita@refund-desk.example"})[1] is None  # Entra sends no email_verified
    assert email_from_claims({"email": "rita@refund-desk.example", "email_verified": False})[1]
    assert email_from_claims({"preferred_username": "rita@refund-desk.example"})[0] is None
    assert email_from_claims({"email": "not an email"})[0] is None


# ---- the repository's settings ------------------------------------------------------------------------------


def test_config_toml_hardens_the_server():
    from streamlit.config import ShowErrorDetailsConfigOptions

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["server"]["enableXsrfProtection"] is True
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == ShowErrorDetailsConfigOptions.NONE.value
    assert "allowedHosts" in (ROOT / ".streamlit" / "config.toml").read_text()  # documented for deployments


def test_the_secrets_example_is_valid_toml_and_refuses_to_work_until_filled_in():
    example = tomllib.loads((ROOT / ".streamlit" / "secrets.toml.example").read_text())
    assert example["auth"]["redirect_uri"].endswith("/oauth2callback")
    assert auth_config_problems(example["auth"]) == ["`cookie_secret` is missing"]


def test_real_secrets_are_ignored_by_git():
    assert ".streamlit/secrets.toml" in (ROOT / ".gitignore").read_text().splitlines()
