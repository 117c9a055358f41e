"""The requests source-contacts spends on 10,000 contacts against servers that serve at most 50, 100, 250 or 1,000
per page: page_size left unset (the default) against page_size 100 (the default before), and what a list that moves
during the read costs.

Usage: .venv/bin/python benchmarks/source_requests.py   (about a minute; writes benchmarks/RESULTS-requests.md)
"""

import datetime
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.run import run, table, walk_requests  # noqa: E402
from integration_tests.sandbox import SandboxAPI  # noqa: E402

N = 10_000
CAPS = (50, 100, 250, 1000)
CHURN = {"churn_after_page": 3, "churn_deletes": 5}  # page 3: read by the walk, never by the sentinel search


def read(api, **options):
    """One read; its list requests split into the sentinel search and the walk (pages 1 to the empty end)."""
    before = len(api.requests)
    result = run("source-contacts", api, **options)
    pages = [r.query["page"] for r in api.requests[before:]]
    walk = len(pages) - max(i for i, page in enumerate(pages) if page == "1") if "1" in pages else 0
    failed = result["exit_code"] or result["errors"]
    return {
        "records": result["records"].get("contacts", 0),
        "ids": result["unique_contact_ids"],
        "requests": len(pages),
        "walk": walk,
        "search": len(pages) - walk,
        "failed": failed,
    }


def main():
    rows, drift, failures = [], [], []
    for cap in CAPS:
        with SandboxAPI(contacts=N, max_limit=cap) as api:
            unset, old = read(api, page_size=None), read(api, page_size=100)
        rows.append(
            {
                "server_cap": cap,
                "ceil(N/cap)+1": walk_requests(N, cap),
                "walk": unset["walk"],
                "sentinel_search": unset["search"],
                "requests": unset["requests"],
                "requests_at_page_size_100": old["requests"],
                "records": unset["records"],
            }
        )
        failures += [cap for result in (unset, old) if result["failed"] or result["ids"] != N]
        print(f"  cap {cap}: {unset['requests']} requests", file=sys.stderr)
    for cap in (100, 1000):
        for mode in ("full_refresh", "incremental"):
            with SandboxAPI(contacts=N, max_limit=cap) as still, SandboxAPI(contacts=N, max_limit=cap, **CHURN) as moving:
                calm, moved = read(still, page_size=None, sync_mode=mode), read(moving, page_size=None, sync_mode=mode)
            drift.append(
                {
                    "server_cap": cap,
                    "sync_mode": mode,
                    "requests_still": calm["requests"],
                    "requests_moving": moved["requests"],
                    "extra": moved["requests"] - calm["requests"],
                    "records": moved["records"],
                    "distinct_ids": moved["ids"],
                }
            )
            failures += [cap for result in (calm, moved) if result["failed"]]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    body = "\n".join(
        [
            f"### Requests for {N:,} contacts, by the most the server serves per page\n",
            table(rows, ["server_cap", "ceil(N/cap)+1", "walk", "sentinel_search", "requests", "requests_at_page_size_100", "records"]),
            "",
            f"### A list that moves: 5 contacts deleted from its front right after page 3 ({N:,} contacts, page_size unset)\n",
            table(drift, ["server_cap", "sync_mode", "requests_still", "requests_moving", "extra", "records", "distinct_ids"]),
            "",
        ]
    )
    print(body)
    (ROOT / "benchmarks" / "RESULTS-requests.md").write_text(
        f"# Request counts\n\nLatest run {stamp}. Command:\n\n```\n.venv/bin/python benchmarks/source_requests.py\n```\n\n{body}"
    )
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
