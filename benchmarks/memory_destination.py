"""Peak memory of `destination-contacts write` for 10,000 and 100,000 input records (issue 5 §9: within 20 %).

Usage: .venv/bin/python benchmarks/memory_destination.py [--sizes 10000 100000]

Records are generated on the fly and written into the connector's stdin pipe by a thread (the input never sits in
memory, here or there), with a STATE message every 1,000 records as a source would checkpoint. The account starts
empty (the scan is one empty page) and each record creates one contact (append_dedup): a name, a phone, a stage and,
for one record in ten, a tag. The connector runs under benchmarks/run.py's RSS_HELPER, which reaps it with os.wait4:
ru_maxrss is the kernel's high-water mark of that one process. Prints one JSON line per size and the ratio of the
last to the first, and writes the table to benchmarks/RESULTS-destination-memory.md.
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
from benchmarks.run import API_KEY, BIN, NO_LIMIT_RPM, measured, table, usage  # noqa: E402
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
                lines.append(json.dumps({"type": "RECORD", "record": {"stream": "contacts", "emitted_at": 0, "data": data}}))
            lines.append(json.dumps({"type": "STATE", "state": {"type": "STREAM", "stream": {
                "stream_descriptor": {"name": "contacts"}, "stream_state": {"records": min(start + STATE_EVERY, count)}}}}))
            pipe.write(("\n".join(lines) + "\n").encode())
    finally:
        pipe.close()


def measure(count):
    with SandboxAPI(api_key=API_KEY) as api, tempfile.TemporaryDirectory(prefix="bench-dest-mem-") as tmp:
        tmp = Path(tmp)
        (tmp / "config.json").write_text(json.dumps({"api_key": API_KEY, "base_url": api.url, "requests_per_minute": NO_LIMIT_RPM}))
        (tmp / "catalog.json").write_text(json.dumps({"streams": [{
            "stream": {"name": "contacts", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
            "sync_mode": "full_refresh", "destination_sync_mode": "append_dedup"}]}))
        command = measured([BIN / "destination-contacts", "write", "--config", tmp / "config.json", "--catalog", tmp / "catalog.json"], tmp)
        start = time.perf_counter()
        with open(tmp / "stderr", "wb") as stderr:  # a file, not a pipe: a full stderr pipe would stall the connector
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
            threading.Thread(target=feed, args=(process.stdin, count), daemon=True).start()
            states, summary = 0, None
            for line in process.stdout:
                if b'"STATE"' in line:
                    states += 1
                elif b'\\"created\\"' in line:
                    summary = json.loads(json.loads(line)["log"]["message"])
            code = process.wait()
        wall = time.perf_counter() - start
        peak_rss_mb, cpu_s = usage(tmp)
        return {"records": count, "exit_code": code, "states": states, "created": (summary or {}).get("created"),
                "contacts_in_account": len(api.contacts), "requests": len(api.requests), "wall_s": round(wall, 1),
                "cpu_s": round(cpu_s, 1), "peak_rss_mb": peak_rss_mb,
                "stderr_tail": (tmp / "stderr").read_text(errors="replace")[-500:] if code else ""}


def write_results(results, sizes):
    report = ["# Destination peak memory", "", f"`.venv/bin/python benchmarks/memory_destination.py --sizes {' '.join(map(str, sizes))}`, "
              f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC", "",
              "Each record creates one contact (append_dedup) in an empty account, at the 10,000 requests/minute spec maximum.", "",
              table(results, ["records", "states", "created", "requests", "contacts_in_account", "wall_s", "cpu_s", "peak_rss_mb", "exit_code"])]
    if len(results) >= 2:
        ratio = results[-1]["peak_rss_mb"] / results[0]["peak_rss_mb"]
        print(json.dumps({"peak_rss_ratio": round(ratio, 3), "within_20_percent": ratio <= 1.2}))
        report += ["", f"Peak RSS at {results[-1]['records']:,} records / at {results[0]['records']:,}: {ratio:.3f} (issue 5 asks for at most 1.2)."]
    (ROOT / "benchmarks" / "RESULTS-destination-memory.md").write_text("\n".join(report) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        results.append(measure(size))
        print(json.dumps(results[-1]), flush=True)
    write_results(results, args.sizes)


if __name__ == "__main__":
    main()
