"""Benchmark source-contacts against the reference Builder manifest on the sandbox API.

Usage: .venv/bin/python benchmarks/run.py [--quick] [--rate] [--memory-flat]   (see benchmarks/README.md)
"""

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from integration_tests.sandbox import SandboxAPI  # noqa: E402

BIN = ROOT / ".venv" / "bin"
PY = str(BIN / "python")
SOURCE_BIN = BIN / "source-contacts"
CONNECTORS = {
    "source-contacts": [str(SOURCE_BIN)],
    "reference": [PY, str(ROOT / "benchmarks" / "reference" / "run_reference.py")],
}
API_KEY = "sandbox-key"
NO_LIMIT_RPM = 10_000  # spec maximum; a 60 s moving window of 10,000 never binds below 10,000 requests

# The connector runs under a fresh, small helper that reaps it with os.wait4, which returns the kernel's
# ru_maxrss (high-water mark, no sampling gaps) and CPU time of that one process. Not spawned from this
# process directly because exec carries the parent's peak RSS (here: the whole sandbox) into the child's.
RSS_HELPER = (
    "import os,sys;pid=os.posix_spawnp(sys.argv[2],sys.argv[2:],os.environ);"
    "_,st,ru=os.wait4(pid,0);open(sys.argv[1],'w').write(f'{ru.ru_maxrss} {ru.ru_utime+ru.ru_stime}');"
    "sys.exit(os.waitstatus_to_exitcode(st))"
)


def measured(command, tmp):
    """`command` run under RSS_HELPER, which leaves its figures in `tmp` for `usage`."""
    return [PY, "-c", RSS_HELPER, str(tmp / "rss"), *map(str, command)]


def usage(tmp):
    """(peak RSS in MB, CPU seconds) of the process a `measured` command ran."""
    maxrss_kb, cpu = (tmp / "rss").read_text().split()
    return round(int(maxrss_kb) / 1024, 1), round(float(cpu), 2)


def walk_requests(contacts, cap):
    """Requests of one walk of a list: its pages of `cap` (the last one maybe short), then the empty one that ends it."""
    return math.ceil(contacts / cap) + 1


def rate_floor_s(requests, rpm, window_s=60):
    """The least wall time the API's limit allows for `requests`: the first `rpm` at once, then `rpm` per window."""
    return window_s * ((requests - 1) // rpm)


def discover(connector, config_path):
    proc = subprocess.run(CONNECTORS[connector] + ["discover", "--config", config_path], capture_output=True)
    out = proc.stdout
    for line in out.splitlines():
        if line.startswith(b"{") and b"CATALOG" in line:
            msg = orjson.loads(line)
            if msg.get("type") == "CATALOG":
                return msg["catalog"]["streams"]
    raise RuntimeError(f"discover gave no catalog: {(out + proc.stderr)[-1000:].decode(errors='replace')}")


def run(connector, api, streams=("contacts",), rpm=NO_LIMIT_RPM, page_size=100, check_first=False, sync_mode="full_refresh"):
    """One read by `connector` against `api` (page_size None: left unset). `check_first`: `check` runs right before,
    with the same key, as Airbyte does after a failed attempt; its time counts in wall_s."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        config = tmp / "config.json"
        config.write_text(
            json.dumps(
                {"api_key": API_KEY, "base_url": api.url, "requests_per_minute": rpm, **({"page_size": page_size} if page_size else {})}
            )
        )
        try:
            found = {s["name"]: s for s in discover(connector, str(config))}
        except RuntimeError as e:
            return {
                "connector": connector,
                "streams": list(streams),
                "records": {},
                "requests": 0,
                "wall_s": 0,
                "peak_rss_mb": None,
                "exit_code": -1,
                "errors": [str(e)],
            }
        catalog = tmp / "catalog.json"
        catalog.write_text(
            json.dumps(
                {
                    "streams": [
                        {
                            "stream": found[name],
                            "sync_mode": sync_mode,
                            "destination_sync_mode": "overwrite" if sync_mode == "full_refresh" else "append_dedup",
                        }
                        for name in streams
                    ]
                }
            )
        )
        before = len(api.requests), api.throttled, len(api.early_requests)
        checked = time.perf_counter()
        if check_first:
            subprocess.run(CONNECTORS[connector] + ["check", "--config", str(config)], capture_output=True, check=True)
        counts, ids, states, errors, first, last = {}, set(), 0, [], None, None
        cmd = measured(CONNECTORS[connector] + ["read", "--config", config, "--catalog", catalog], tmp)
        with open(tmp / "stderr", "wb") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, bufsize=1 << 20)
            for line in proc.stdout:
                if not line.startswith(b"{"):
                    continue
                msg = orjson.loads(line)
                kind = msg.get("type")
                if kind == "RECORD":
                    rec = msg["record"]
                    counts[rec["stream"]] = counts.get(rec["stream"], 0) + 1
                    if rec["stream"] == "contacts":
                        ids.add(rec["data"].get("id"))
                    last = time.perf_counter() - start
                    first = first or last
                elif kind == "STATE":
                    states += 1
                elif kind == "TRACE" and msg["trace"].get("type") == "ERROR":
                    errors.append(msg["trace"]["error"].get("message", "")[:300])
            rc = proc.wait()
            wall = time.perf_counter() - (checked if check_first else start)
        if rc != 0 or errors:
            errors.append(f"exit {rc}; stderr tail: {(tmp / 'stderr').read_text()[-1000:]}")
        records = sum(counts.values())
        peak_rss_mb, cpu_s = usage(tmp)
        return {
            "connector": connector,
            "streams": list(streams),
            "records": counts,
            "unique_contact_ids": len(ids),
            "state_messages": states,
            "requests": len(api.requests) - before[0],
            "throttled": api.throttled - before[1],
            "early_requests": len(api.early_requests) - before[2],
            "wall_s": round(wall, 2),
            "first_record_s": round(first or 0, 2),
            "records_per_s": round(records / wall),
            # excludes start-up and CDK import; under 0.5 s it only measures how output bursts arrive
            "records_per_s_after_first": round(records / (last - first)) if last and last - first > 0.5 else None,
            "cpu_s": cpu_s,
            "peak_rss_mb": peak_rss_mb,
            "exit_code": rc,
            "errors": errors,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pkg(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def table(rows, cols):
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join("" if r.get(c) is None else str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes; skip the rate-limit scenario")
    ap.add_argument("--rate", action="store_true", help="run the rate-limit scenario even with --quick")
    ap.add_argument("--memory-flat", action="store_true", help="also measure source peak RSS at 10k vs 500k")
    args = ap.parse_args()
    have_source = SOURCE_BIN.exists()
    connectors = [c for c in CONNECTORS if have_source or c != "source-contacts"]
    results, md = {}, []
    if not have_source:
        md.append("**source-contacts is not installed (`pip install -e .`); reference only.**\n")

    rows = []
    for n in (2_000, 20_000) if args.quick else (10_000, 200_000):
        with SandboxAPI(contacts=n) as api:
            for c in connectors:
                rows.append({**run(c, api), "contacts": n})
                print(f"  throughput {c} {n}: {rows[-1]['wall_s']} s", file=sys.stderr)
    results["throughput"] = rows
    md += [
        "### a. Throughput, no rate limit, page_size 100, `contacts` full refresh\n",
        table(
            [{**r, "records": r["records"].get("contacts", 0)} for r in rows],
            [
                "connector",
                "contacts",
                "records",
                "unique_contact_ids",
                "requests",
                "wall_s",
                "first_record_s",
                "records_per_s",
                "records_per_s_after_first",
                "cpu_s",
                "peak_rss_mb",
                "exit_code",
            ],
        ),
        "",
    ]

    if have_source:
        rows = []
        with SandboxAPI(contacts=10_000) as api:
            for streams in (("contacts",), ("contacts", "contact_tags")):
                r = run("source-contacts", api, streams)
                rows.append({**r, "streams": " + ".join(streams), "records": ", ".join(f"{k} {v}" for k, v in r["records"].items())})
        results["requests"] = rows
        md += [
            "### b. Requests: both streams vs `contacts` alone (10,000 contacts)\n",
            table(rows, ["streams", "records", "requests", "wall_s", "cpu_s", "exit_code"]),
            "",
        ]

    if have_source and (args.rate or not args.quick):
        with SandboxAPI(contacts=15_000, requests_per_minute=100, window_seconds=60) as api:
            r = {**run("source-contacts", api, rpm=100), "contacts": 15_000}
        r["floor_s"] = rate_floor_s(r["requests"], 100)
        r["over_floor_s"] = round(r["wall_s"] - r["floor_s"], 2)
        r["records"] = r["records"].get("contacts", 0)
        results["rate_limit"] = r
        md += [
            "### c. Rate limit: 15,000 contacts, sandbox and connector at 100 requests/min\n",
            table([r], ["records", "requests", "wall_s", "floor_s", "over_floor_s", "throttled", "early_requests", "exit_code"]),
            "",
        ]

        rows = []
        for page_size in (100, None):  # 100: enough requests to meet the limit; None: the default, 1,000 a page
            with SandboxAPI(contacts=15_000, requests_per_minute=100, window_seconds=60) as api:
                r = {**run("source-contacts", api, rpm=100, page_size=page_size, check_first=True), "contacts": 15_000}
            r["page_size"] = page_size or "unset"  # requests include the check's
            r["floor_s"] = rate_floor_s(r["requests"], 100)
            r["over_floor_s"] = round(r["wall_s"] - r["floor_s"], 2)
            r["records"] = r["records"].get("contacts", 0)
            rows.append(r)
        results["check_then_read"] = rows
        md += [
            "### e. Read right after check: 15,000 contacts, sandbox and connector at 100 requests/min\n",
            table(
                rows, ["page_size", "records", "requests", "wall_s", "floor_s", "over_floor_s", "throttled", "early_requests", "exit_code"]
            ),
            "",
        ]

    if have_source and args.memory_flat:
        rows = []
        for n in (10_000, 500_000):
            with SandboxAPI(contacts=n) as api:
                rows.append({**run("source-contacts", api), "contacts": n})
                rows[-1]["records"] = rows[-1]["records"].get("contacts", 0)
        results["memory"] = rows
        ratio = round(rows[1]["peak_rss_mb"] / rows[0]["peak_rss_mb"], 2) if all(r["peak_rss_mb"] for r in rows) else None
        md += [
            "### d. Source peak RSS, 10,000 vs 500,000 contacts\n",
            table(rows, ["contacts", "records", "wall_s", "cpu_s", "peak_rss_mb", "exit_code"]),
            f"\nratio 500k/10k: **{ratio}**\n",
        ]
        results["memory_ratio"] = ratio

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    command = ".venv/bin/python benchmarks/run.py " + " ".join(sys.argv[1:])
    env = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "airbyte_cdk": pkg("airbyte-cdk"),
        "source": pkg("airbyte-contacts-connectors"),
    }
    out = ROOT / "benchmarks" / "out" / f"{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"command": command, "timestamp": stamp, "env": env, "results": results}, indent=2))
    failed = [
        r for v in results.values() for r in (v if isinstance(v, list) else [v]) if isinstance(r, dict) and (r["exit_code"] or r["errors"])
    ]
    md += [f"- FAILED {r['connector']} {r['streams']}: {r['errors'][-1]}" for r in failed]
    body = "\n".join(md)
    print(body)
    (ROOT / "benchmarks" / "RESULTS.md").write_text(
        f"# Benchmark results\n\nLatest run {stamp} ({env['cpus']} CPUs, Python {env['python']}, "
        f"airbyte-cdk {env['airbyte_cdk']}). Command:\n\n```\n{command.strip()}\n```\n\n"
        f"Peak RSS: kernel `ru_maxrss` of the connector process (via `os.wait4` in a fresh helper). "
        f"Raw JSON: `benchmarks/out/{stamp}.json` (not committed).\n\n{body}"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
