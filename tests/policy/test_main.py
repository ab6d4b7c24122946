"""`python -m policy check`: JSON Lines of facts in, one verdict or error per line out, in order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from policy import DEFAULT_POLICY_DIR, evaluate, facts_from_dict, load_book
from tests.policy import test_facts

REPO = Path(__file__).resolve().parents[2]

# the facts tests' good facts, without a fix attempted
GOOD = {**test_facts.GOOD, "fix_attempted": False, "fix_succeeded": None}


def line(**changes) -> str:
    d = {k: v for k, v in {**GOOD, **changes}.items() if v is not ...}
    return json.dumps(d)


def run(stdin: str | bytes, *args: str) -> subprocess.CompletedProcess:
    """Run the command as a user would, from a directory that is not the repository."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "policy", *args],
        input=data,
        capture_output=True,
        cwd=REPO.parent,
        env=env,
        timeout=60,
        check=False,
    )


def answers(result: subprocess.CompletedProcess) -> list[dict]:
    text = result.stdout.decode()
    assert text == "" or text.endswith("\n")
    return [json.loads(ln) for ln in text.splitlines()]


def test_mixed_lines_are_all_answered_in_order_and_the_command_exits_2():
    lines = [
        line(),
        line(service_type="hosting"),
        line(service_date="2026-02-30"),
        line(reason=...),
        line(amount_paid=-5),
        line(service_date="2026-03-05"),
        "this is not JSON",
        "",
        "[1, 2]",
        line(service_date="2023-12-31", request_date="2024-01-02"),
        line(fix_attempted=True, fix_succeeded=False, request_date="2026-03-03"),
    ]
    result = run("\n".join(lines) + "\n", "check")
    assert result.returncode == 2
    out = answers(result)
    assert len(out) == len(lines)
    assert out[0]["recommended_outcome"] == "fix" and out[0]["rule"] == 7
    errors = [o.get("error", "") for o in out[1:10]]
    assert errors[0].startswith("service_type: unknown value 'hosting'")
    assert errors[1].startswith("service_date: '2026-02-30' is not a real date")
    assert errors[2] == "reason: missing"
    assert errors[3].startswith("amount_paid: must not be negative")
    assert errors[4].startswith("request_date: 2026-03-04 is before the service date 2026-03-05")
    assert errors[5].startswith("not JSON: Expecting value")
    assert errors[6] == "blank line: expected a JSON object with the facts"
    assert errors[7] == "facts: expected an object, got an array"
    assert errors[8].startswith("service_date: no policy version is in force on 2023-12-31")
    assert all(set(o) == {"error"} for o in out[1:10])
    assert out[10]["recommended_outcome"] == "partial_refund" and out[10]["days_used"] == 1


def test_all_good_lines_exit_0_with_the_verdicts_evaluate_gives():
    lines = [line(request_date=f"2026-03-{d:02d}") for d in range(2, 13)]
    result = run("\n".join(lines) + "\n", "check")
    assert result.returncode == 0, result.stderr
    book = load_book()
    assert answers(result) == [evaluate(facts_from_dict(json.loads(ln)), book).to_dict() for ln in lines]


def test_the_example_of_the_contract():
    (out,) = answers(run(line(service_date="2026-03-02", request_date="2026-03-04") + "\n", "check"))
    assert out["policy_version"] == "2024-01-01"
    assert out["contact_deadline"] == "2026-03-09"
    assert out["findings"][0] == {"rule": "contact_window", "ok": True, "message": "Request on day 2 of 7."}


def test_no_input_is_no_output_and_success():
    result = run("", "check")
    assert (result.returncode, result.stdout) == (0, b"")


def test_the_last_line_may_lack_its_newline_and_windows_line_ends_are_read():
    result = run(line() + "\r\n" + line(reason="user_error"), "check")
    assert result.returncode == 0
    assert [o["rule"] for o in answers(result)] == [7, 6]


def test_space_around_a_line_is_allowed():
    result = run("   " + line() + "   \n", "check")
    assert result.returncode == 0 and answers(result)[0]["rule"] == 7


def test_two_objects_on_one_line_are_an_error():
    (out,) = answers(run(line() + " " + line() + "\n", "check"))
    assert out["error"].startswith("not JSON: Extra data")


def test_bytes_that_are_not_utf8_spoil_only_their_own_line():
    data = line().encode() + b"\n" + line(reason="our_error\xff").encode("latin-1") + b"\n" + line().encode()
    result = run(data, "check")
    out = answers(result)
    assert result.returncode == 2 and len(out) == 3
    assert out[1]["error"].startswith("reason: unknown value")
    assert out[0]["rule"] == out[2]["rule"] == 7


def test_a_byte_order_mark_at_the_start_is_ignored():
    result = run(b"\xef\xbb\xbf" + line().encode() + b"\n", "check")
    assert result.returncode == 0


def test_policy_dir_chooses_the_versions(tmp_path):
    text = (DEFAULT_POLICY_DIR / "2024-01-01.toml").read_text()
    (tmp_path / "2024-01-01.toml").write_text(text)
    (tmp_path / "2026-03-01.toml").write_text(
        text.replace('version = "2024-01-01"', 'version = "spring"')
        .replace("effective_from = 2024-01-01", "effective_from = 2026-03-01")
        .replace("window_days = 7", "window_days = 30")
        .replace("within 7 days", "within 30 days")
    )
    late = line(request_date="2026-03-20")
    (default,) = answers(run(late + "\n", "check"))
    (spring,) = answers(run(late + "\n", "check", "--policy-dir", str(tmp_path)))
    assert (default["policy_version"], default["rule"]) == ("2024-01-01", 3)
    assert (spring["policy_version"], spring["rule"], spring["contact_deadline"]) == ("spring", 7, "2026-04-01")


def test_a_policy_dir_that_cannot_be_loaded_exits_1_with_the_reason(tmp_path):
    (tmp_path / "2024-01-01.toml").write_text("version = ")
    result = run(line() + "\n", "check", "--policy-dir", str(tmp_path))
    assert result.returncode == 1 and result.stdout == b""
    assert "2024-01-01.toml: not valid TOML" in result.stderr.decode()


def test_help_describes_the_command():
    result = run("", "--help")
    assert result.returncode == 0 and b"check" in result.stdout
    result = run("", "check", "--help")
    assert result.returncode == 0 and b"--policy-dir" in result.stdout and b"exits 2" in result.stdout


def test_no_command_is_a_usage_error():
    assert run("").returncode == 2


def test_a_subscription_cancelled_before_its_cycle_is_refunded():
    sub = {"cycle": "monthly", "cycle_start": "2026-03-01", "cycle_end": "2026-03-31", "cancelled_on": "2026-02-25"}
    text = line(service_type="subscription", service_date="2026-03-01", reason="dissatisfied", subscription=sub)
    (out,) = answers(run(text + "\n", "check"))
    assert (out["rule"], out["recommended_outcome"], out["clauses"]) == (5, "full_refund", ["2"])
    assert date.fromisoformat(out["contact_deadline"]) == date(2026, 3, 8)
