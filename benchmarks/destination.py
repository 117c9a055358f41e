"""Benchmark destination-contacts: requests against the floor by input and account size, requests per input record
against a naive writer, the second run's writes, and wall time at the real rate limit.

Usage: .venv/bin/python benchmarks/destination.py [--real-time] [--rate]   (see benchmarks/README.md)
"""

import argparse
import datetime
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.run import API_KEY, NO_LIMIT_RPM, PY, rate_floor_s, table, walk_requests  # noqa: E402
from contacts_api.http import RATE_WINDOW_SECONDS  # noqa: E402
from integration_tests.connector import command, destination_catalog, record  # noqa: E402
from integration_tests.sandbox import SandboxAPI  # noqa: E402

ACCOUNT, CHANGED, NEW, UNCHANGED = 2_000, 500, 100, 100  # requests per record
AT_THE_LIMIT, RPM, LATENCY_MS = 2_000, 100, 150  # changed contacts at the real rate limit
# (records, account size, the most the server serves per page). 1,000,000 is the largest account the sandbox holds
# comfortably: built in 7 s, 0.97 GB of the harness's memory, a search scans it in 0.7 s: the accounts serve 100 a page; one serving
# 1,000 makes the walk ten times cheaper.
AGAINST_THE_FLOOR = [
    (7, 20_000, 100),
    (70, 20_000, 100),
    (700, 20_000, 100),
    (700, 2_000, 100),
    (7, 1_000_000, 100),
    (700, 1_000_000, 100),
    (7, 20_000, 1000),
    (70, 20_000, 1000),
    (700, 20_000, 1000),
    (700, 1_000_000, 1000),
]
REAL_TIME = [(7, 20_000, 100), (70, 20_000, 100)]  # the same syncs against a sandbox at 100 requests/min, in real time
MIX = {7: (5, 1, 1), 70: (50, 10, 10), 700: (500, 100, 100)}  # changed, new, unchanged


def input_records(changed, unchanged, new):
    """The writable fields of source-contacts' records. Of the `changed` contacts, half move to another stage (a
    segment update), half gain a tag (a campaign); `unchanged` are as the account holds them; `new` contacts were never
    seen, each with a tag (UK numbers: no run of their digits is in the sandbox's +9715 numbers, so none is found by
    chance). The writes they need: one per changed contact, two per new one (create, tag)."""
    records = []
    for n, contact in enumerate(changed):
        if n % 2:
            records.append({**contact, "tags": [*contact.get("tags", []), "benchmarked"]})
        else:
            records.append({**contact, "stage": "Customer" if contact.get("stage") != "Customer" else "Lead"})
    records += unchanged
    records += [{"name": f"New Contact {n}", "phoneNumber": f"+447700{n:06d}", "stage": "Lead", "tags": ["new"]} for n in range(new)]
    keep = ("id", "name", "phoneNumber", "stage", "notes", "location", "customFields", "tags")
    return [json.dumps(record({k: v for k, v in r.items() if k in keep and v is not None})) + "\n" for r in records]


def write(api, lines, rpm):
    """destination-contacts (append_dedup) over `lines`: exit code, wall seconds, the requests the sandbox saw."""
    with tempfile.TemporaryDirectory(prefix="bench-destination-") as tmp:
        config = {"api_key": API_KEY, "base_url": api.url, "requests_per_minute": rpm}
        return timed(
            api, command("destination-contacts", "write", Path(tmp), config, destination_catalog(("contacts", "append_dedup"))), lines
        )


def timed(api, args, lines):
    api.reset_requests()
    started = time.monotonic()
    proc = subprocess.run(list(map(str, args)), input="".join(lines), capture_output=True, text=True)
    return proc.returncode, time.monotonic() - started, api.requests


def counts(requests):
    kinds = Counter(
        "GET" if r.method == "GET" else r.method + (" " + r.path.rsplit("/", 1)[-1] if "/tags/" in r.path else "") for r in requests
    )
    return dict(sorted(kinds.items()))


def row(writer, records, code, wall, requests):
    return {
        "writer": writer,
        "records": records,
        "requests": len(requests),
        "writes": sum(1 for r in requests if r.method != "GET"),
        "per_record": round(len(requests) / records, 2),
        "detail": counts(requests),
        "wall_s": round(wall, 2),
        "exit": code,
    }


def increment(api, records):
    """A sync's input into `api`'s account, as issue 14 has it: changed, new and unchanged contacts, the existing ones
    picked anywhere in the account, all in a random order (seeded). Also the writes they need."""
    changed, new, unchanged = MIX[records]
    rng = random.Random(records)
    contacts = list(api.contacts.values())  # no snapshot: a deep copy of 1,000,000 contacts would cost gigabytes
    picked = [contacts[n] for n in rng.sample(range(len(contacts)), changed + unchanged)]
    lines = input_records(picked[:changed], picked[changed:], new)
    rng.shuffle(lines)
    return lines, changed + 2 * new


def budget_s(requests):
    """The wait the connector's rate budget sets for `requests` at 100 per minute: the first 100 at once, then 100 per
    61 s window (RATE_WINDOW_SECONDS: a second of slack per minute against network jitter)."""
    return rate_floor_s(requests, RPM, RATE_WINDOW_SECONDS)


def against_the_floor(records, size, cap):
    with SandboxAPI(contacts=size, seed=1, api_key=API_KEY, max_limit=cap) as api:
        lines, writes_needed = increment(api, records)
        code, wall, requests = write(api, lines, NO_LIMIT_RPM)
    pages = sum(1 for r in requests if r.method == "GET" and r.path == "/v1/contacts" and "searchText" not in r.query)
    writes = sum(1 for r in requests if r.method != "GET")
    floor = writes_needed + min(walk_requests(size, cap), records)
    walk_first = walk_requests(size, cap) + writes_needed  # read the whole account, then write: the destination before issue 14
    return {
        "records": records,
        "account": f"{size:,}",
        "per_page": cap,
        "requests": len(requests),
        "pages": pages,
        "look_ups": len(requests) - pages - writes,
        "writes": writes,
        "writes_needed": writes_needed,
        "floor": floor,
        "x_floor": round(len(requests) / floor, 2),
        "limit_wait_s": budget_s(len(requests)),
        "walk_first": walk_first,
        "walk_first_limit_wait_s": budget_s(walk_first),
        "wall_s": round(wall, 2),
        "exit": code,
    }


def in_real_time(records, size, cap):
    with SandboxAPI(contacts=size, seed=1, api_key=API_KEY, requests_per_minute=RPM, max_limit=cap) as api:
        lines, _ = increment(api, records)
        code, wall, requests = write(api, lines, RPM)
        return {
            "records": records,
            "account": f"{size:,}",
            "requests": len(requests),
            "computed_s": budget_s(len(requests)),
            "measured_s": round(wall, 1),
            "throttled": api.throttled,
            "exit": code,
        }


def requests_per_record():
    rows = []
    with SandboxAPI(contacts=ACCOUNT, seed=1, api_key=API_KEY) as api:
        account = api.snapshot()
        lines = input_records(account[:CHANGED], account[CHANGED : CHANGED + UNCHANGED], NEW)
        for run in ("first run", "second run"):
            rows.append(row(f"destination-contacts, {run}", len(lines), *write(api, lines, NO_LIMIT_RPM)))
        expected = len(api.snapshot())
    with SandboxAPI(contacts=ACCOUNT, seed=1, api_key=API_KEY) as api:
        naive = [PY, ROOT / "benchmarks/reference/naive_destination.py", api.url, API_KEY]
        rows.append(row("naive (PUT/POST + tags/add per record)", len(lines), *timed(api, naive, lines)))
        assert len(api.snapshot()) == expected, "both writers must end with the same number of contacts"
    return rows


def at_the_limit():
    with SandboxAPI(contacts=AT_THE_LIMIT, seed=1, api_key=API_KEY, requests_per_minute=RPM, latency_ms=LATENCY_MS) as api:
        lines = input_records(api.snapshot(), [], 0)
        code, wall, requests = write(api, lines, RPM)
        floor = rate_floor_s(len(requests), RPM)
        return {
            "records": len(lines),
            "requests": len(requests),
            "wall_s": round(wall, 1),
            "floor_s": floor,
            "over_floor_pct": round(100 * (wall - floor) / floor, 1) if floor else None,
            "throttled": api.throttled,
            "early_requests": int(api.early_requests),
            "exit": code,
        }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--real-time",
        action="store_true",
        help=f"also {' and '.join(f'{r} records into {s:,}' for r, s, _ in REAL_TIME)} at {RPM} requests/min, "
        "in real time (about a minute)",
    )
    parser.add_argument(
        "--rate", action="store_true", help=f"also {AT_THE_LIMIT:,} changed contacts at {RPM} requests/min (about 21 minutes)"
    )
    args = parser.parse_args()
    flags = "".join(f" --{name.replace('_', '-')}" for name in ("real_time", "rate") if getattr(args, name))
    report = [
        "# Destination benchmark",
        "",
        f"`.venv/bin/python benchmarks/destination.py{flags}`, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        "## Requests against the floor",
        "",
        "Records as issue 14 has them (5 changed, 1 new, 1 unchanged per 7), the existing contacts picked anywhere in the "
        "account and named by id, the new ones by phone, all in a random order; each changed contact needs one write, each "
        "new one two (create, tag). The floor is those writes plus the cheaper of one walk of the account (contacts ÷ "
        "`per_page` + 1 pages: the connector asks for 1,000 and takes what the server serves) and one look-up per record. `look_ups` are "
        "GETs by id and phone searches, the probe included (one "
        "search, when the first phone search misses before any has found a number). `walk_first` is what reading the "
        "whole account before writing costs (the destination before issue 14). `limit_wait_s` is the wait 100 "
        "requests/min adds, computed from the requests: the connector's budget sends the first 100 at once, then 100 per "
        "61 s; the wall time at 100/min lies between it and it + `wall_s`, the run measured without a limit, "
        "interpreter start included (benchmarks/README.md).",
        "",
        table(
            [against_the_floor(*scenario) for scenario in AGAINST_THE_FLOOR],
            [
                "records",
                "account",
                "per_page",
                "requests",
                "pages",
                "look_ups",
                "writes",
                "writes_needed",
                "floor",
                "x_floor",
                "limit_wait_s",
                "walk_first",
                "walk_first_limit_wait_s",
                "wall_s",
                "exit",
            ],
        ),
    ]
    if args.real_time:
        report += [
            "",
            f"## The same syncs at {RPM} requests/min, in real time",
            "",
            f"The sandbox allows {RPM} requests per 60 s window, the connector is configured with requests_per_minute {RPM}: "
            "the measured wall time against the wait computed above.",
            "",
            table(
                [in_real_time(*scenario) for scenario in REAL_TIME],
                ["records", "account", "requests", "computed_s", "measured_s", "throttled", "exit"],
            ),
        ]
    report += [
        "",
        f"## Requests for {CHANGED + NEW + UNCHANGED:,} records ({CHANGED} changed, {NEW} new, {UNCHANGED} unchanged) into an account of "
        f"{ACCOUNT:,}",
        "",
        table(requests_per_record(), ["writer", "records", "requests", "writes", "per_record", "detail", "wall_s", "exit"]),
    ]
    if args.rate:
        report += [
            "",
            f"## {AT_THE_LIMIT:,} changed contacts at {RPM} requests/min (sandbox latency {LATENCY_MS} ms)",
            "",
            "The floor is what the API's limit allows: the first 100 requests at once, then 100 per 60 s. The "
            "connector's budget counts 61 s windows on purpose (network jitter would otherwise cost a 429), which "
            "accounts for 1.6 % above it.",
            "",
            table([at_the_limit()], ["records", "requests", "wall_s", "floor_s", "over_floor_pct", "throttled", "early_requests", "exit"]),
        ]
    text = "\n".join(report) + "\n"
    print(text)
    (ROOT / "benchmarks" / "RESULTS-destination.md").write_text(text)


if __name__ == "__main__":
    main()
