"""Syncs against a slow server at the rate limit, in real time: how far above the floor the limit and latency allow.

Usage: .venv/bin/python benchmarks/latency.py [--tree PATH] [--rows source,destination] [--latencies 0,0.5,1.5,3]
       [--ms-per-contact MS] [--beside FILE] [--out FILE]

Each row starts a fresh sandbox (integration_tests/sandbox.py, from this checkout) that allows 100 requests per 60 s
and sleeps `latency_s` before each answer; the connector, configured with requests_per_minute 100, runs as a process:
- source: `source-contacts read`, 100,000 contacts served at most 1,000 a page, page_size unset, `contacts` in full
  refresh;
- destination: `destination-contacts write` of the account's 3,000 contacts (served at most 100 a page) exactly as
  the account holds them, `overwrite` with delete_absent_contacts and a stream status COMPLETE: a mirror sync, which
  walks the whole account first, then finds nothing to change and nothing to delete. Only the walk's GETs may reach
  the sandbox.
The floor is 60 s × floor((R − 1) / 100) + L for R requests at latency L: the API's limit, plus one answer's wait.
`--ms-per-contact MS` makes each list answer MS ms longer per contact it holds (left out of the floor).
`--tree PATH` runs the connector code of another checkout (its .venv's console scripts if it has them, else this
checkout's Python with PYTHONPATH=PATH); the sandbox is always this checkout's.
"""

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.run import API_KEY, PY, rate_floor_s, table  # noqa: E402
from integration_tests.sandbox import SandboxAPI  # noqa: E402

RPM = 100
SOURCE_CONTACTS, SOURCE_CAP = 100_000, 1000
DESTINATION_CONTACTS, DESTINATION_CAP = 3_000, 100
SERVER_FIELDS = ("createdAt", "updatedAt")
COLUMNS = ["scenario", "latency_s", "requests", "wall_s", "floor_s", "x_floor", "throttled", "exit"]


def executable(tree, script):
    """The console script of `tree` and the environment to run it in (PYTHONPATH=tree either way, so that a
    PYTHONPATH given to this harness never brings this checkout's code in instead)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    installed = tree / ".venv" / "bin" / script
    if installed.exists():
        return [str(installed)], env
    module = script.replace("-", "_") + ".run"
    return [PY, "-c", f"from {module} import run; run()"], env


def feed(pipe, data):
    """The input on a thread of its own, so that neither pipe can fill while the other waits."""
    try:
        pipe.write(data)
        pipe.close()
    except BrokenPipeError:
        pass  # the connector exited without reading it all: its exit code tells


def run(tree, script, verb, config, catalog, stdin=None):
    """One connector process: exit code, wall seconds (start to exit), RECORD count, ERROR trace messages."""
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        program, env = executable(tree, script)
        args = [*program, verb]
        for name, value in (("config", config), ("catalog", catalog)):
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps(value))
            args += [f"--{name}", str(path)]
        records, errors = 0, []
        with open(Path(tmp) / "stderr", "wb") as err:
            started = time.monotonic()
            proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env)
            feeding = threading.Thread(target=feed, args=(proc.stdin, stdin or b""), daemon=True)
            feeding.start()
            for line in proc.stdout:
                if line.startswith(b'{"type":"RECORD"') or line.startswith(b'{"type": "RECORD"'):
                    records += 1
                elif line.startswith(b"{"):
                    msg = orjson.loads(line)
                    if msg.get("type") == "RECORD":
                        records += 1
                    elif msg.get("type") == "TRACE" and msg["trace"].get("type") == "ERROR":
                        errors.append(msg["trace"]["error"].get("message", "")[:300])
            code = proc.wait()
            wall = time.monotonic() - started
            feeding.join()
        if code:
            errors.append("stderr tail: " + (Path(tmp) / "stderr").read_text(errors="replace")[-500:])
        return code, wall, records, errors


def sandbox(contacts, cap, latency, ms_per_contact):
    """`ms_per_contact`: more latency for each contact a page lists (a heavy page takes longer)."""
    return SandboxAPI(
        contacts=contacts,
        api_key=API_KEY,
        max_limit=cap,
        requests_per_minute=RPM,
        latency_ms=latency * 1000,
        latency_ms_per_contact=ms_per_contact,
    )


def source_row(tree, latency, ms_per_contact):
    with sandbox(SOURCE_CONTACTS, SOURCE_CAP, latency, ms_per_contact) as api:
        config = {"api_key": API_KEY, "base_url": api.url, "requests_per_minute": RPM}
        stream = {
            "name": "contacts",
            "json_schema": {},
            "supported_sync_modes": ["full_refresh", "incremental"],
            "source_defined_cursor": True,
            "default_cursor_field": ["updatedAt"],
            "source_defined_primary_key": [["id"]],
        }
        configured = {"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite", "primary_key": [["id"]]}
        code, wall, records, errors = run(tree, "source-contacts", "read", config, {"streams": [configured]})
        notes = [] if records == SOURCE_CONTACTS else [f"{records:,} records, not {SOURCE_CONTACTS:,}"]
        return row("source", latency, api, code, wall, notes + errors)


def destination_row(tree, latency, ms_per_contact):
    with sandbox(DESTINATION_CONTACTS, DESTINATION_CAP, latency, ms_per_contact) as api:
        config = {"api_key": API_KEY, "base_url": api.url, "requests_per_minute": RPM, "delete_absent_contacts": True}
        stream = {"name": "contacts", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]}
        catalog = {"streams": [{"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}
        data = [{k: v for k, v in contact.items() if k not in SERVER_FIELDS} for contact in api.snapshot()]
        lines = [{"type": "RECORD", "record": {"stream": "contacts", "data": d, "emitted_at": 1}} for d in data]
        complete = {"stream_descriptor": {"name": "contacts"}, "status": "COMPLETE"}
        lines.append({"type": "TRACE", "trace": {"type": "STREAM_STATUS", "emitted_at": 1.0, "stream_status": complete}})
        before = api.snapshot()
        given = b"".join(orjson.dumps(m) + b"\n" for m in lines)
        code, wall, _, errors = run(tree, "destination-contacts", "write", config, catalog, given)
        requests = api.requests
        walk = [r for r in requests if r.method == "GET" and r.path == "/v1/contacts" and "searchText" not in r.query]
        kinds = Counter(f"{r.method} {r.path if r in walk else r.path.rsplit('/', 1)[0] + '/…'}" for r in requests)
        pages = sorted({int(r.query.get("page", 0)) for r in walk})
        limits = sorted({r.query.get("limit") for r in walk}, key=lambda x: -int(x or 0))
        notes = [f"requests: {', '.join(f'{n} {k}' for k, n in kinds.items())}"]
        if walk:
            notes[0] += f" (pages {pages[0]}-{pages[-1]}, limit {' then '.join(limits)})"
        if len(walk) != len(requests):
            notes.append(f"NOT ONLY THE WALK: {len(requests) - len(walk)} other requests")
        if api.snapshot() != before:
            notes.append("THE ACCOUNT CHANGED")
        return row("destination walk", latency, api, code, wall, notes + errors)


def row(scenario, latency, api, code, wall, notes):
    requests = len(api.requests)
    floor = rate_floor_s(requests, RPM) + latency
    return {
        "scenario": scenario,
        "latency_s": latency,
        "requests": requests,
        "wall_s": round(wall, 1),
        "floor_s": floor,
        "x_floor": round(wall / floor, 2) if floor else None,
        "throttled": api.throttled,
        "exit": code if code == 0 else f"**{code} FAILED**",
        "notes": notes,
    }


def beside(path):
    """(requests, wall_s, x_floor) by (scenario, latency_s), from the table of an earlier output of this script."""
    found = {}
    for line in path.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == len(COLUMNS) and cells[0] != "scenario" and not cells[0].startswith("---"):
            found[(cells[0], cells[1])] = (cells[2], cells[3], cells[5])
    return found


def beside_source(path):
    """What the earlier output says it ran: its 'Connector code' line."""
    lines = [line for line in path.read_text().splitlines() if "Connector code: " in line]
    return lines[0].split("Connector code: ")[1].split(";")[0] if lines else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose connector code runs (default: this one)")
    parser.add_argument("--rows", default="source,destination", help="source, destination or both (default: both)")
    parser.add_argument("--latencies", default="0,0.5,1.5,3", help="sandbox seconds per request (default: 0,0.5,1.5,3)")
    parser.add_argument("--ms-per-contact", type=float, default=0.0, help="sandbox milliseconds more per contact listed (default 0)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS-latency.md")
    parser.add_argument("--beside", type=Path, help="an earlier output (another tree's): its requests and wall_s beside these")
    args = parser.parse_args()
    tree = args.tree.resolve()
    kinds = {"source": source_row, "destination": destination_row}
    wanted = [name.strip() for name in args.rows.split(",") if name.strip()]
    if unknown := [name for name in wanted if name not in kinds]:
        parser.error(f"unknown rows {unknown}; use {', '.join(kinds)}")
    latencies = [float(x) for x in args.latencies.split(",")]
    rows = []
    for name in wanted:
        for latency in latencies:
            rows.append(kinds[name](tree, latency if latency % 1 else int(latency), args.ms_per_contact))
            done = rows[-1]
            print(f"  {name} at {latency} s: {done['wall_s']} s, {done['requests']} requests, exit {done['exit']}", file=sys.stderr)
    columns = COLUMNS
    if args.beside:
        earlier = beside(args.beside)
        for r in rows:
            r["before_requests"], r["before_wall_s"], r["before_x_floor"] = earlier.get((r["scenario"], str(r["latency_s"])), ("",) * 3)
        columns = COLUMNS[:-2] + ["before_requests", "before_wall_s", "before_x_floor"] + COLUMNS[-2:]
    commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    how = "its .venv" if (tree / ".venv" / "bin" / "source-contacts").exists() else f"PYTHONPATH with {PY}"
    notes = [f"- {r['scenario']} at {r['latency_s']} s: {note}" for r in rows for note in r["notes"]]
    text = "\n".join(
        [
            "# Syncs against a slow server at the rate limit (real time)",
            "",
            f"`{shlex.join(['.venv/bin/python', 'benchmarks/latency.py', *sys.argv[1:]])}`",
            "",
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs. Connector code: {tree} "
            f"({commit or 'no git'}, run from {how}); sandbox: {ROOT}.",
            "",
            f"Sandbox and connector at {RPM} requests/min; the sandbox sleeps `latency_s` before each answer. source: "
            f"{SOURCE_CONTACTS:,} contacts, at most {SOURCE_CAP:,} a page, page_size unset, `contacts` full refresh. destination "
            f"walk: a mirror sync (`overwrite`, delete_absent_contacts, COMPLETE) of the {DESTINATION_CONTACTS:,} contacts exactly "
            f"as the account holds them, served at most {DESTINATION_CAP} a page: the walk, no write. wall_s: process start to exit. "
            "floor_s: 60 × floor((requests − 1) / 100) + latency_s. x_floor: wall_s / floor_s.",
            "",
            table(rows, columns),
            *([f"before_*: `{args.beside.name}` ({beside_source(args.beside)})."] if args.beside else []),
            "",
            *notes,
        ]
    )
    print(text)
    args.out.write_text(text + "\n")
    sys.exit(1 if any(r["exit"] != 0 for r in rows) else 0)


if __name__ == "__main__":
    main()
