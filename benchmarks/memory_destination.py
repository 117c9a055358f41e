"""Peak memory of `destination-contacts write` for 10,000 and 100,000 input records (issue 5 §9: within 20 %), and
for walks of accounts of 10,000 and 1,000,000 contacts (issue 14: the account index stays on disk).

Usage: .venv/bin/python benchmarks/memory_destination.py [--sizes 10000 100000] [--walks 10000 1000000]

Input sizes: records are generated on the fly and written into the connector's stdin pipe by a thread (the input
never sits in memory, here or there), with a STATE message every 1,000 records as a source would checkpoint. The
account starts empty (the scan is one empty page) and each record creates one contact (append_dedup): a name, a
phone, a stage and, for one record in ten, a tag.

Walks: one new record by phone into an account of that size, on a sandbox whose search does not find phone numbers
(search_phones=False): the probe fails and the destination reads the whole account into its index, then creates the
contact. The sandbox holds the account in this process's memory (about 1 GB for 1,000,000 contacts): that is the
harness's cost, not the connector's.

The connector runs under benchmarks/run.py's RSS_HELPER, which reaps it with os.wait4: ru_maxrss is the kernel's
high-water mark of that one process. Prints one JSON line per run and writes the tables to
benchmarks/RESULTS-destination-memory.md.
"""

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.run import API_KEY, NO_LIMIT_RPM, measured, table, usage  # noqa: E402
from integration_tests.connector import command as connector_command  # noqa: E402
from integration_tests.connector import destination_catalog, record  # noqa: E402
from integration_tests.sandbox import SandboxAPI  # noqa: E402

STATE_EVERY = 1_000


def feed(pipe, count):
    try:
        for start in range(0, count, STATE_EVERY):
            lines = []
            for n in range(start, min(start + STATE_EVERY, count)):
                data = {"name": f"Contact {n}", "phoneNumber": f"+9715{n:08d}", "stage": "Lead"}
                if n % 10 == 0:
                    data["tags"] = ["benchmark"]
                lines.append(json.dumps(record(data)))
            lines.append(
                json.dumps(
                    {
                        "type": "STATE",
                        "state": {
                            "type": "STREAM",
                            "stream": {
                                "stream_descriptor": {"name": "contacts"},
                                "stream_state": {"records": min(start + STATE_EVERY, count)},
                            },
                        },
                    }
                )
            )
            pipe.write(("\n".join(lines) + "\n").encode())
    finally:
        pipe.close()


def run(api, tmp, write_input):
    """destination-contacts (append_dedup) into `api`, its stdin written by `write_input(pipe)` on a thread: exit code,
    wall seconds, peak RSS MB, CPU seconds, states echoed, the summary, the log lines that are not the summary."""
    config = {"api_key": API_KEY, "base_url": api.url, "requests_per_minute": NO_LIMIT_RPM}
    command = measured(
        connector_command("destination-contacts", "write", tmp, config, destination_catalog(("contacts", "append_dedup"))), tmp
    )
    start = time.perf_counter()
    with open(tmp / "stderr", "wb") as stderr:  # a file, not a pipe: a full stderr pipe would stall the connector
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
        threading.Thread(target=write_input, args=(process.stdin,), daemon=True).start()
        states, summary, logs = 0, {}, []
        for line in process.stdout:
            if b'"STATE"' in line:
                states += 1
            elif b'\\"created\\"' in line:
                summary = json.loads(json.loads(line)["log"]["message"])
            elif b'"LOG"' in line:
                logs.append(json.loads(line)["log"]["message"])
        code = process.wait()
    wall = time.perf_counter() - start
    peak_rss_mb, cpu_s = usage(tmp)
    return {
        "exit_code": code,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu_s, 1),
        "peak_rss_mb": peak_rss_mb,
        "states": states,
        "summary": summary,
        "logs": logs,
        "stderr_tail": (tmp / "stderr").read_text(errors="replace")[-500:] if code else "",
    }


def measure(count):
    with SandboxAPI(api_key=API_KEY) as api, tempfile.TemporaryDirectory(prefix="bench-dest-mem-") as tmp:
        result = run(api, Path(tmp), lambda pipe: feed(pipe, count))
        return {
            "records": count,
            "exit_code": result["exit_code"],
            "states": result["states"],
            "created": result["summary"].get("created"),
            "contacts_in_account": len(api.contacts),
            "requests": len(api.requests),
            "wall_s": result["wall_s"],
            "cpu_s": result["cpu_s"],
            "peak_rss_mb": result["peak_rss_mb"],
            "stderr_tail": result["stderr_tail"],
        }


def one_new_contact(pipe):
    pipe.write((json.dumps(record({"name": "New Contact", "phoneNumber": "+447700900001", "stage": "Lead"})) + "\n").encode())
    pipe.close()


def measure_walk(size):
    with (
        SandboxAPI(contacts=size, seed=1, api_key=API_KEY, search_phones=False) as api,
        tempfile.TemporaryDirectory(prefix="bench-dest-walk-") as tmp,
    ):
        result = run(api, Path(tmp), one_new_contact)
        pages = sum(1 for r in api.requests if r.method == "GET" and "searchText" not in r.query)
        return {
            "account": size,
            "exit_code": result["exit_code"],
            "pages": pages,
            "requests": len(api.requests),
            "created": result["summary"].get("created"),
            "fallback_logged": sum("searchText does not find" in line for line in result["logs"]),
            "wall_s": result["wall_s"],
            "cpu_s": result["cpu_s"],
            "peak_rss_mb": result["peak_rss_mb"],
            "stderr_tail": result["stderr_tail"],
        }


def write_results(results, sizes, walks, walked):
    report = [
        "# Destination peak memory",
        "",
        f"`.venv/bin/python benchmarks/memory_destination.py --sizes {' '.join(map(str, sizes))} --walks {' '.join(map(str, walked))}`, "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        "## Input size",
        "",
        "Each record creates one contact (append_dedup) in an empty account, at the 10,000 requests/minute spec maximum.",
        "",
        table(results, ["records", "states", "created", "requests", "contacts_in_account", "wall_s", "cpu_s", "peak_rss_mb", "exit_code"]),
    ]
    if len(results) >= 2:
        report += [
            "",
            f"Peak RSS at {results[-1]['records']:,} records / at {results[0]['records']:,}: "
            f"{results[-1]['peak_rss_mb'] / results[0]['peak_rss_mb']:.3f} (issue 5 asks for at most 1.2).",
        ]
    report += [
        "",
        "## Account size",
        "",
        "One new record into an account of this size, on a sandbox whose search does not find phone numbers: the destination "
        "says so once (`fallback_logged`), walks the whole account into its index, and creates the contact. The sandbox's "
        "memory is the harness's; the figure is the connector process's alone.",
        "",
        table(walks, ["account", "pages", "requests", "created", "fallback_logged", "wall_s", "cpu_s", "peak_rss_mb", "exit_code"]),
    ]
    if len(walks) >= 2:
        report += [
            "",
            f"Peak RSS walking {walks[-1]['account']:,} contacts / {walks[0]['account']:,}: "
            f"{walks[-1]['peak_rss_mb'] / walks[0]['peak_rss_mb']:.3f}.",
        ]
    (ROOT / "benchmarks" / "RESULTS-destination-memory.md").write_text("\n".join(report) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="input records, each creating a contact")
    parser.add_argument("--walks", type=int, nargs="+", default=[10_000, 1_000_000], help="accounts walked whole")
    args = parser.parse_args()
    results, walks = [], []
    for size in args.sizes:
        results.append(measure(size))
        print(json.dumps(results[-1]), flush=True)
    for size in args.walks:
        walks.append(measure_walk(size))
        print(json.dumps(walks[-1]), flush=True)
    write_results(results, args.sizes, walks, args.walks)


if __name__ == "__main__":
    main()
