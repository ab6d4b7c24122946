"""How many verdicts per second `python -m policy check` gives, end to end, and evaluate() alone.

    python benchmarks/policy_cli.py [--lines 200000] [--runs 3]

Generates a deterministic JSONL file of valid facts (every service type, status and reason; service dates
over the two demo years, requests from day 0 to day 12), runs the CLI on it once to check that every line
gets a verdict, then ``--runs`` times with stdout to /dev/null, and prints the median rate (the whole
process: start-up, reading, writing). Then times ``evaluate()`` alone on the same facts, in process.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy import (
    REASONS,
    SERVICE_STATUSES,
    SERVICE_TYPES,
    Facts,
    Subscription,
    evaluate,
    facts_to_dict,
    load_book,
)

TODAY = date(2026, 11, 26)


def generate(n: int, seed: int = 20261126) -> list[Facts]:
    rng = random.Random(seed)
    facts = []
    for _ in range(n):
        service_type = rng.choice(SERVICE_TYPES)
        status = rng.choice(SERVICE_STATUSES)
        service_date = TODAY - timedelta(days=rng.randrange(730))
        request_date = service_date + timedelta(days=rng.randrange(13))
        reasons = REASONS if service_type == "subscription" else REASONS[:-2] + REASONS[-1:]
        fix_attempted = rng.random() < 0.5
        subscription = None
        if service_type == "subscription":
            cycle = rng.choice(("monthly", "annual"))
            end = service_date + timedelta(days=30 if cycle == "monthly" else 365)
            cancelled = rng.choice((None, service_date - timedelta(days=3), service_date + timedelta(days=5)))
            subscription = Subscription(cycle, service_date, end, cancelled)
        facts.append(
            Facts(
                service_type,
                status,
                service_date,
                request_date,
                rng.choice(reasons),
                round(rng.uniform(0, 500), 2),
                fix_attempted,
                rng.choice((True, False, None)) if fix_attempted else None,
                rng.random() < 0.7,
                subscription,
            )
        )
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    facts = generate(args.lines)
    command = [sys.executable, "-m", "policy", "check"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "facts.jsonl"
        path.write_text("".join(json.dumps(facts_to_dict(f)) + "\n" for f in facts))
        with path.open("rb") as stdin:  # once to check every line gets a verdict
            result = subprocess.run(command, stdin=stdin, stdout=subprocess.PIPE, cwd=ROOT, check=False)
        answered = result.stdout.count(b"\n")
        if result.returncode != 0 or answered != args.lines or b'"error"' in result.stdout:
            sys.exit(f"CLI exited {result.returncode} and answered {answered} of {args.lines} lines")
        seconds = []
        for _ in range(args.runs):  # then timed, like `time python -m policy check < file > /dev/null`
            with path.open("rb") as stdin:
                start = time.perf_counter()
                subprocess.run(command, stdin=stdin, stdout=subprocess.DEVNULL, cwd=ROOT, check=True)
                seconds.append(time.perf_counter() - start)
    cli = statistics.median(seconds)
    print(f"CLI: {args.lines} lines, median of {args.runs} runs {cli:.3f} s -> {args.lines / cli:,.0f} verdicts/s")

    book = load_book()
    seconds = []
    for _ in range(args.runs):
        start = time.perf_counter()
        for f in facts:
            evaluate(f, book)
        seconds.append(time.perf_counter() - start)
    alone = statistics.median(seconds)
    print(f"evaluate(): median of {args.runs} runs {alone:.3f} s -> {args.lines / alone:,.0f} verdicts/s")


if __name__ == "__main__":
    main()
