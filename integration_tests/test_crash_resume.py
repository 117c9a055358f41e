"""Issue 5 §3: `destination-contacts write` killed with SIGKILL at chosen points, then restarted the way Airbyte
does (the input resent from the message after the last echoed STATE), ends with the same contacts and tags as an
uninterrupted run, and never with a contact twice.

The kill points are chosen deterministically: the sandbox below kills the connector when the k-th request of a kind
reaches it (before or after the sandbox acts on it), or the test kills it when it reads the n-th STATE on stdout."""

import json
import os
import signal
import threading

import pytest

from integration_tests.connector import API_KEY, as_set, record, start_write, state, stdin
from integration_tests.sandbox import SandboxAPI

SEEDED = 150  # two pages in the account walk: the server serves 100 a page (MAX_LIMIT)
SEED = 3
MAX_LIMIT = 100


class KillingSandbox(SandboxAPI):
    """Kills `victim` when the `nth` request matching `kind(method, path, query)` arrives: `after=False` kills before
    the sandbox acts on it (it still does: the request reached the server), `after=True` once it has, before the
    answer goes out (the connector never learns it succeeded)."""

    victim = None
    rule = None  # (kind, nth, after)
    seen = 0
    killed = False

    def _handle(self, h, path, query, body, body_ok):
        hit = False
        if self.rule and not self.killed and self.rule[0](h.command, path, query):
            self.seen += 1
            hit = self.seen == self.rule[1]
        if hit and not self.rule[2]:
            self._kill()
        result = super()._handle(h, path, query, body, body_ok)
        if hit and self.rule[2]:
            self._kill()
        return result

    def _kill(self):
        if self.victim is not None:
            os.kill(self.victim, signal.SIGKILL)
            self.killed = True


def input_messages(seeded):
    """Updates of seeded contacts (by id and by phone, with tag changes), creates with tags, and contact_tags rows for
    both; a STATE every 6 records, numbered by its own index in the list."""
    records = []
    for n, contact in enumerate(seeded[:30]):
        data = {
            "name": f"{contact['name']} (updated)",
            "phoneNumber": contact["phoneNumber"],
            "stage": "Customer",
            "tags": [f"seg{n % 3}", "synced"],
        }
        if n % 2:
            data["id"] = contact["id"]
        records.append(record(data))
    for n in range(40):
        records.append(record({"name": f"New {n}", "phoneNumber": f"+97155{n:07d}", "stage": "Lead", "tags": ["new", f"batch{n % 4}"]}))
    for n, contact in enumerate(seeded[40:70]):
        records.append(record({"contact_id": contact["id"], "tag": f"campaign{n % 2}"}, "contact_tags"))
    for n in range(0, 40, 3):
        records.append(record({"phoneNumber": f"+97155{n:07d}", "tag": "followed-up"}, "contact_tags"))
    messages = []
    for n, message in enumerate(records, start=1):
        messages.append(message)
        if n % 6 == 0:
            messages.append(state(len(messages)))
    messages.append(state(len(messages)))
    return messages


def run(api, tmp_path, messages, kill_at_state=None):
    """One attempt; returns (exit code, the `n` of every STATE echoed, stderr)."""
    process = start_write(
        api, tmp_path, [("contacts", "append_dedup"), ("contact_tags", "append")], tag_mode="sync", requests_per_minute=10_000
    )
    api.victim = process.pid

    def feed():
        try:
            for message in messages:
                process.stdin.write(stdin(message))
                process.stdin.flush()  # a message at a time, as a source emits them
            process.stdin.close()
        except (BrokenPipeError, OSError):
            pass  # killed

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    echoed = []
    for line in process.stdout:
        message = json.loads(line)
        if message["type"] == "STATE":
            echoed.append(message["state"]["stream"]["stream_state"]["n"])
            if kill_at_state is not None and len(echoed) == kill_at_state:
                os.kill(process.pid, signal.SIGKILL)
    code = process.wait(timeout=120)
    writer.join(timeout=10)
    stderr = process.stderr.read()
    return code, echoed, stderr


def is_walk_page(page):
    return lambda method, path, query: method == "GET" and "searchText" not in query and query.get("page") == page


def is_write(method, path, query):
    return method in ("POST", "PUT", "DELETE")


def is_create(method, path, query):
    return method == "POST" and path == "/v1/contacts"


def is_tag_call(kind):
    return lambda method, path, query: method == "POST" and path.endswith(f"/tags/{kind}")


# name: (sandbox kill rule (kind, nth, after) or None, kill after the n-th echoed STATE or None)
KILL_POINTS = {
    "during the account walk": ((is_walk_page("2"), 1, False), None),
    "mid-batch, at the 10th write": ((is_write, 10, False), None),
    "between a create and its tag call": ((is_create, 3, True), None),
    "right after a STATE is echoed": (None, 4),
    "during a tags/remove": ((is_tag_call("remove"), 5, False), None),
    "during tag batching (contact_tags rows)": ((is_tag_call("add"), 75, False), None),
    "at the last create": ((is_create, 40, True), None),
}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    with KillingSandbox(contacts=SEEDED, seed=SEED, api_key=API_KEY, max_limit=MAX_LIMIT) as api:
        messages = input_messages(api.snapshot())
        code, echoed, stderr = run(api, tmp_path_factory.mktemp("uninterrupted"), messages)
        assert code == 0, stderr
        assert echoed == [n for n, m in enumerate(messages) if m["type"] == "STATE"]
        return as_set(api.snapshot())  # without ids: a resumed run may create in another order


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_and_resumed_from_the_last_state_ends_like_an_uninterrupted_run(point, uninterrupted, tmp_path):
    rule, kill_at_state = KILL_POINTS[point]
    with KillingSandbox(contacts=SEEDED, seed=SEED, api_key=API_KEY, max_limit=MAX_LIMIT) as api:
        messages = input_messages(api.snapshot())
        api.rule = rule
        code, echoed, _ = run(api, tmp_path, messages, kill_at_state)
        assert code == -signal.SIGKILL, "the kill point was never reached"
        resume_at = echoed[-1] + 1 if echoed else 0  # everything up to the last echoed state is done; Airbyte resends the rest
        api.rule = None
        code, _, stderr = run(api, tmp_path, messages[resume_at:])
        assert code == 0, stderr
        assert as_set(api.snapshot()) == uninterrupted
