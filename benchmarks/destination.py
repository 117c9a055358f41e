"""Benchmark destination-contacts: requests per input record against a naive writer, the second run's writes, and
wall time at the real rate limit.

Usage: .venv/bin/python benchmarks/destination.py [--rate]   (see benchmarks/README.md)
"""

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from integration_tests.sandbox import SandboxAPI  # noqa: E402

BIN = ROOT / ".venv" / "bin"
API_KEY = "sandbox-key"
NO_LIMIT_RPM = 10_000


def input_records(account, changed, new, unchanged):
    """Records as source-contacts emits them. Of the `changed`, half move to another stage (a segment update), half gain
    a tag (a campaign); `new` were never seen; `unchanged` are as the account holds them."""
    records = []
    for n, contact in enumerate(account[:changed]):
        if n % 2:
            records.append({**contact, "tags": [*contact.get("tags", []), "benchmarked"]})
        else:
            records.append({**contact, "stage": "Customer" if contact.get("stage") != "Customer" else "Lead"})
    records += account[changed:changed + unchanged]
    records += [{"name": f"New Contact {n}", "phoneNumber": f"+9715599{n:05d}", "stage": "Lead", "tags": ["new"]} for n in range(new)]
    keep = ("id", "name", "phoneNumber", "stage", "notes", "location", "customFields", "tags")
    return "".join(
        json.dumps({"type": "RECORD", "record": {"stream": "contacts", "emitted_at": 0, "data": {k: v for k, v in r.items() if k in keep and v is not None}}}) + "\n"
        for r in records
    )


def write(api, lines, rpm):
    tmp = Path(tempfile.mkdtemp(prefix="bench-destination-"))
    (tmp / "config.json").write_text(json.dumps({"api_key": API_KEY, "base_url": api.url, "requests_per_minute": rpm}))
    (tmp / "catalog.json").write_text(json.dumps({"streams": [{
        "stream": {"name": "contacts", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
        "sync_mode": "full_refresh", "destination_sync_mode": "append_dedup", "primary_key": [["id"]]}]}))
    api.reset_requests()
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "destination-contacts"), "write", "--config", str(tmp / "config.json"), "--catalog", str(tmp / "catalog.json")],
                          input=lines, capture_output=True, text=True)
    return proc.returncode, time.monotonic() - started, api.requests


def counts(requests):
    kinds = Counter("GET" if r.method == "GET" else r.method + (" " + r.path.rsplit("/", 1)[-1] if "/tags/" in r.path else "") for r in requests)
    return dict(sorted(kinds.items()))


def requests_per_record():
    rows = []
    with SandboxAPI(contacts=2000, seed=1, api_key=API_KEY) as api:
        lines = input_records(api.snapshot(), changed=500, new=100, unchanged=100)
        for run in ("first run", "second run"):
            code, wall, requests = write(api, lines, NO_LIMIT_RPM)
            writes = sum(1 for r in requests if r.method != "GET")
            rows.append({"writer": f"destination-contacts, {run}", "records": 700, "requests": len(requests), "writes": writes,
                         "per_record": round(len(requests) / 700, 2), "detail": counts(requests), "wall_s": round(wall, 2), "exit": code})
        final = {c["id"]: c for c in api.snapshot()}
    with SandboxAPI(contacts=2000, seed=1, api_key=API_KEY) as api:
        started = time.monotonic()
        proc = subprocess.run([str(BIN / "python"), str(ROOT / "benchmarks/reference/naive_destination.py"), api.url, API_KEY], input=lines, text=True)
        requests = api.requests
        rows.append({"writer": "naive (PUT/POST + tags/add per record)", "records": 700, "requests": len(requests),
                     "writes": sum(1 for r in requests if r.method != "GET"), "per_record": round(len(requests) / 700, 2),
                     "detail": counts(requests), "wall_s": round(time.monotonic() - started, 2), "exit": proc.returncode})
        assert len(api.snapshot()) == len(final), "both writers must end with the same number of contacts"
    return rows


def at_the_limit(changed=2000, rpm=100):
    with SandboxAPI(contacts=changed, seed=1, api_key=API_KEY, requests_per_minute=rpm, latency_ms=150) as api:
        lines = input_records(api.snapshot(), changed=changed, new=0, unchanged=0)
        code, wall, requests = write(api, lines, rpm)
        # The floor: the first `rpm` requests at once, then `rpm` per (61 s) window of the connector's budget.
        floor = 61 * ((len(requests) - 1) // rpm)
        return {"records": changed, "requests": len(requests), "wall_s": round(wall, 1), "floor_s": floor,
                "over_floor_pct": round(100 * (wall - floor) / floor, 1) if floor else None,
                "throttled": api.throttled, "early_requests": int(api.early_requests), "exit": code}


def table(rows, columns):
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", action="store_true", help="also 2,000 changed contacts at 100 requests/min (about 20 minutes)")
    args = parser.parse_args()
    report = ["# Destination benchmark", "", f"`.venv/bin/python benchmarks/destination.py{' --rate' if args.rate else ''}`, "
              f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC", "",
              "## Requests for 700 records (500 changed, 100 new, 100 unchanged) into an account of 2,000", "",
              table(requests_per_record(), ["writer", "records", "requests", "writes", "per_record", "detail", "wall_s", "exit"])]
    if args.rate:
        report += ["", "## 2,000 changed contacts at 100 requests/min (sandbox latency 150 ms)", "",
                   table([at_the_limit()], ["records", "requests", "wall_s", "floor_s", "over_floor_pct", "throttled", "early_requests", "exit"])]
    text = "\n".join(report) + "\n"
    print(text)
    (ROOT / "benchmarks" / "RESULTS-destination.md").write_text(text)


if __name__ == "__main__":
    main()
