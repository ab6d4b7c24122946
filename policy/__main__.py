"""The command line: ``python -m policy check [--policy-dir DIR] < facts.jsonl > verdicts.jsonl``, and
``python -m policy export --as-of DATE [--format markdown|html] [--policy-dir DIR]`` (the public text).

Reads JSON Lines on stdin, one facts object per line, and writes one compact JSON object per line, in
order: the verdict (``Verdict.to_dict()``) or ``{"error": "<field>: <what is wrong>"}``. A blank line is
answered with an error too, so output line N always answers input line N. Exit status: 0 when every line
was valid, 2 when any line got an error (every line is still answered), 1 when the policy versions cannot
be loaded.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterable

from .book import DEFAULT_POLICY_DIR, PolicyBook, load_book
from .errors import PolicyError
from .facts import facts_from_dict
from .rules import evaluate

_CHUNK_CHARS = 1 << 20  # read about a megabyte of lines at a time
_JSON_SPACE = " \t\n\r"
_decoder = json.JSONDecoder()
_scan_once = _decoder.scan_once  # type: ignore[attr-defined]  # the C scanner json.loads uses


def _parse(line: str) -> object:
    """``json.loads(line)``, only faster: the C scanner straight away; json.loads itself for anything
    unusual (leading space, invalid JSON), so the result and the error messages are json.loads's own."""
    try:
        value, end = _scan_once(line, 0)
    except (StopIteration, ValueError):
        return json.loads(line)
    if end != len(line) and line[end:].strip(_JSON_SPACE):
        return json.loads(line)  # raises "Extra data"
    return value


def _error(message: str) -> str:
    return json.dumps({"error": message})


def answer_lines(lines: Iterable[str], book: PolicyBook) -> tuple[list[str], int]:
    """The JSON answer to each line, in order, and how many of them are errors."""
    answers: list[str] = []
    append = answers.append
    errors = 0
    for line in lines:
        try:
            verdict = evaluate(facts_from_dict(_parse(line)), book)
        except PolicyError as exc:
            append(_error(str(exc)))
            errors += 1
        except ValueError as exc:  # json.JSONDecodeError, or a number with too many digits
            if line.strip(_JSON_SPACE):
                append(_error(f"not JSON: {exc}"))
            else:
                append(_error("blank line: expected a JSON object with the facts"))
            errors += 1
        except RecursionError:
            append(_error("not JSON: nested too deeply"))
            errors += 1
        else:
            append(verdict.to_json())
    return answers, errors


def _check(args: argparse.Namespace) -> int:
    try:
        book = load_book(args.policy_dir)
    except PolicyError as exc:
        print(f"policy: {exc}", file=sys.stderr)
        return 1
    # Bytes that are not UTF-8 become lone surrogates: such a line cannot be valid facts, and the other lines
    # are still answered. Only "\n" ends a line ("\r\n" works too: "\r" is JSON whitespace).
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="surrogateescape", newline="\n")
    stdout = sys.stdout.buffer
    errors = 0
    while lines := stdin.readlines(_CHUNK_CHARS):
        answers, bad = answer_lines(lines, book)
        errors += bad
        answers.append("")
        stdout.write("\n".join(answers).encode("utf-8", "surrogateescape"))
    stdout.flush()
    return 2 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m policy", description="Refund Desk policy engine: judge refund requests."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="judge JSON Lines of facts on stdin, one verdict per line on stdout",
        description=(
            "Read one facts object per line on stdin and write one JSON verdict per line on stdout, in "
            'order. An invalid line (or a blank one) is answered with {"error": "<field>: <problem>"} and '
            "the command exits 2 once every line is answered; 0 when all lines were valid; 1 when the "
            "policy versions cannot be loaded."
        ),
    )
    check.add_argument(
        "--policy-dir",
        metavar="DIR",
        default=None,
        help=f"directory of policy version TOML files (default: {DEFAULT_POLICY_DIR})",
    )
    export = commands.add_parser(
        "export",
        help="the public policy text in force on a date, with the history of changes (Markdown or HTML)",
        description=(
            "Print the policy version in force on --as-of with the history of changes, as Markdown or HTML. "
            "The stored versions of a desk database are exported to TOML files first with "
            "`python -m desk.policy_store export DIR`."
        ),
    )
    export.add_argument("--as-of", required=True, metavar="YYYY-MM-DD", help="the day whose policy to print")
    export.add_argument("--format", choices=("markdown", "html"), default="markdown")
    export.add_argument(
        "--policy-dir",
        metavar="DIR",
        default=None,
        help=f"directory of policy version TOML files (default: {DEFAULT_POLICY_DIR})",
    )
    args = parser.parse_args(argv)
    if args.command == "export":
        return _export(args)
    return _check(args)


def _export(args: argparse.Namespace) -> int:
    from datetime import date

    from .export import render

    try:
        as_of = date.fromisoformat(args.as_of)
    except ValueError:
        print(f"policy: --as-of: expected a date YYYY-MM-DD, got {args.as_of!r}", file=sys.stderr)
        return 1
    try:
        book = load_book(args.policy_dir)
        text = render(book, as_of, args.format)
    except PolicyError as exc:
        print(f"policy: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
