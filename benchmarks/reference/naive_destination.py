"""The naive reverse-ETL writer the destination is measured against: per record, PUT (when it has an id) or POST,
then tags/add with the record's tags. No reads, no diff; what a quick script or a Builder-style writer does.

    python benchmarks/reference/naive_destination.py BASE_URL API_KEY < records.jsonl
"""

import json
import sys
from urllib.parse import quote

import requests


def main() -> None:
    base_url, api_key = sys.argv[1], sys.argv[2]
    session = requests.Session()
    session.headers["x-api-key"] = api_key
    for line in sys.stdin:
        record = json.loads(line)["record"]["data"]
        body = {key: value for key, value in record.items() if key not in ("id", "tags")}
        if record.get("id"):
            contact = session.put(f"{base_url}/v1/contacts/{quote(record['id'], safe='')}", json=body).json()
        else:
            contact = session.post(f"{base_url}/v1/contacts", json=body).json()
        if record.get("tags"):
            session.post(f"{base_url}/v1/contacts/{quote(contact['id'], safe='')}/tags/add", json={"tags": record["tags"]})


if __name__ == "__main__":
    main()
