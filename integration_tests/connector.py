"""Runs the real console scripts the way Airbyte does (files for config, catalog and state; messages on stdout), and
builds their input.

By default a run is in-process: the console script's own `run(args, clock)` with stdin, stdout and stderr swapped
for buffers, and an uncaught exception handled by the hook the CDK installs, as in the process. That costs no
interpreter start (1.5 s each) and lets the run share the test's virtual clock with the sandbox, so a test of a
60 s rate window takes no 60 s. `start_write` runs the installed executable instead, for what only a process
shows (signals, the executable itself)."""

import heapq
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import pendulum
from airbyte_cdk.logger import PRINT_BUFFER

from contacts_api.clock import Clock
from destination_contacts import run as destination_run
from integration_tests.airbyte_protocol import problems
from source_contacts import run as source_run

BIN = Path(sys.executable).parent
API_KEY = "sandbox-key-7f3a9c"
SCRIPTS = {"source-contacts": source_run.run, "destination-contacts": destination_run.run}


class VirtualClock(Clock):
    """Time that moves only when the code under test sleeps: a sleep returns at once and moves this clock on by what
    was asked, so what a test reads of it is what the code decided, whatever the machine's speed. Lanes that sleep at
    once each move it, so waits can only come out longer than asked, never shorter. It starts at a whole number, so
    that whole-second waits add up exactly.

    A sandbox that takes its time (latency) calls `elapse`, and from then on the clock is a schedule: every sleep
    and elapse waits for its moment, and the clock moves to the earliest moment waited for once nothing has happened
    for QUIET real seconds (no thread read the clock, slept or woke) and the process then spends no CPU for IDLE
    seconds: every thread waits. Requests in flight so overlap in virtual time as they would in real time: a test of
    16 pages in flight at 3 s a request takes no 3 s. A request on its way (between the budget's reading of the
    clock and the sandbox's) or a page being taken in is work, which holds the clock; only a machine so busy that
    this process gets no CPU for that moment could let the clock move under it."""

    START = 1_000_000.0
    QUIET = 0.02
    IDLE = 0.01  # seconds of the process's CPU watched, after QUIET, for a thread at work

    def __init__(self) -> None:
        self._skipped = 0.0
        self._changed = threading.Condition()
        self._epoch = pendulum.now("UTC").replace(microsecond=0)  # on a whole second, as HTTP dates are
        self._moments: List[float] = []  # heap of the moments waited for, in the schedule
        self._scheduled = False
        self._mover: Optional[threading.Thread] = None
        self._last_event = time.monotonic()
        self.sleeps: List[float] = []

    def monotonic(self) -> float:
        with self._changed:
            self._last_event = time.monotonic()
            return self.START + self._skipped

    def sleep(self, seconds: float) -> None:
        with self._changed:
            self.sleeps.append(seconds)
            if not self._scheduled:
                self._skipped += max(0.0, seconds)
                return
        self._wait(seconds)

    def elapse(self, seconds: float) -> None:
        """Waits `seconds` of this clock, as a server's latency: the clock becomes a schedule (see the class)."""
        with self._changed:
            self._scheduled = True
        self._wait(seconds)

    def now(self) -> pendulum.DateTime:
        return self._epoch.add(seconds=self._skipped)

    @property
    def slept(self) -> float:
        return sum(self.sleeps)

    def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._changed:
            moment = self._skipped + seconds
            heapq.heappush(self._moments, moment)
            self._last_event = time.monotonic()
            if self._mover is None:
                self._mover = threading.Thread(target=self._move, name="virtual-clock", daemon=True)
                self._mover.start()
            self._changed.notify_all()
            while self._skipped < moment:
                self._changed.wait()
            self._last_event = time.monotonic()

    def _move(self) -> None:
        """Moves the clock to the earliest moment waited for, each time all is quiet; ends when none is left."""
        with self._changed:
            while self._moments:
                cpu = time.process_time()
                quiet_for = time.monotonic() - self._last_event
                if quiet_for < self.QUIET:
                    self._changed.wait(self.QUIET - quiet_for)
                    continue
                self._changed.wait(self.IDLE)
                if time.process_time() - cpu > self.IDLE / 2 or time.monotonic() - self._last_event < self.QUIET:
                    continue  # a thread of this process is at work (a request on its way, a page taken in): not yet
                self._skipped = max(self._skipped, heapq.heappop(self._moments))
                while self._moments and self._moments[0] <= self._skipped:
                    heapq.heappop(self._moments)
                self._last_event = time.monotonic()
                self._changed.notify_all()
            self._mover = None


@dataclass
class Run:
    returncode: int
    messages: List[Dict[str, Any]]
    stdout: str
    stderr: str
    records: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    stdin_left: int = 0  # bytes of the input the connector never read (in-process runs)

    def __post_init__(self) -> None:
        for message in self.of_type("RECORD"):
            self.records.setdefault(message["record"]["stream"], []).append(message["record"]["data"])

    @classmethod
    def from_output(cls, returncode: int, stdout: Union[str, bytes], stderr: Union[str, bytes]) -> "Run":
        """A finished connector: its exit code, and the messages among its stdout lines (bytes are UTF-8), each one
        valid by the protocol's own schema."""
        stdout, stderr = (out.decode() if isinstance(out, bytes) else out for out in (stdout, stderr))
        messages = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        invalid = [(message, found) for message in messages for found in [problems(message)] if found]
        assert not invalid, f"messages that break the Airbyte protocol's schema: {invalid[:3]}"
        return cls(returncode, messages, stdout, stderr)

    def of_type(self, kind: str) -> List[Dict[str, Any]]:
        return [message for message in self.messages if message["type"] == kind]

    @property
    def states(self) -> List[Dict[str, Any]]:
        return [message["state"] for message in self.of_type("STATE")]

    @property
    def errors(self) -> List[Dict[str, Any]]:
        return [message["trace"]["error"] for message in self.of_type("TRACE") if message["trace"]["type"] == "ERROR"]

    @property
    def logs(self) -> List[str]:
        return [message["log"]["message"] for message in self.of_type("LOG")]

    @property
    def warnings(self) -> List[str]:
        return [message["log"]["message"] for message in self.of_type("LOG") if message["log"]["level"] == "WARN"]

    @property
    def status(self) -> Dict[str, Any]:
        """The connectionStatus of `check`'s one CONNECTION_STATUS message."""
        [message] = self.of_type("CONNECTION_STATUS")
        return message["connectionStatus"]

    @property
    def gaps(self) -> Dict[str, int]:
        """The counts of the source's one ANALYTICS trace (source_contacts/walk.py)."""
        [analytics] = [message["trace"]["analytics"] for message in self.of_type("TRACE") if message["trace"]["type"] == "ANALYTICS"]
        assert analytics["type"] == "source-contacts-list-gaps"
        return json.loads(analytics["value"])


def command(
    script: str, verb: str, folder: Path, config: Optional[dict] = None, catalog: Optional[dict] = None, state: Optional[list] = None
) -> List[str]:
    """The command line of a console script, with the files it names written to `folder`."""
    args = [str(BIN / script), verb]
    for name, value in (("config", config), ("catalog", catalog), ("state", state)):
        if value is not None:
            path = folder / f"{name}.json"
            path.write_text(json.dumps(value))
            args += [f"--{name}", str(path)]
    return args


def environment() -> Dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}  # each message as it is written


# The virtual clock of the running test (integration_tests/conftest.py sets it): runs and sandboxes share it.
current_clock: Optional[VirtualClock] = None


def run_connector(
    script: str,
    verb: str,
    tmp_path: Path,
    config: Optional[dict] = None,
    catalog: Optional[dict] = None,
    state: Optional[list] = None,
    stdin: Optional[Union[str, bytes]] = None,
) -> Run:
    """stdin given as bytes goes to the connector as is (for input that is not UTF-8)."""
    args = command(script, verb, tmp_path, config, catalog, state)
    data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
    with _stdio(data) as (stdin_, stdout, stderr):
        returncode = 0
        try:
            SCRIPTS[script](args[1:], current_clock or VirtualClock())
        except SystemExit as exit_:
            returncode = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:  # noqa: B036 - what the process would do: the CDK's hook prints it, the exit code is 1
            sys.excepthook(*sys.exc_info())
            returncode = 1
        left = len(data) - stdin_.tell()
    run = Run.from_output(returncode, stdout.getvalue(), stderr.getvalue())
    run.stdin_left = left
    return run


@contextmanager
def _stdio(data: bytes) -> Iterator[Tuple[io.BytesIO, io.BytesIO, io.BytesIO]]:
    """stdin from `data`; stdout and stderr into buffers, including what the CDK's PrintBuffer writes to
    sys.__stdout__ and what its logging handler writes there. Logging as a fresh connector process has it: PyAirbyte,
    imported by other tests, configures a logger of the same name ("airbyte") for itself."""
    given, out, err = io.BytesIO(data), io.BytesIO(), io.BytesIO()
    saved = sys.stdin, sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__, sys.excepthook
    airbyte_logger = logging.getLogger("airbyte")
    saved_logger = airbyte_logger.handlers[:], airbyte_logger.propagate, airbyte_logger.level
    sys.stdin = io.TextIOWrapper(given, encoding="utf-8")
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    airbyte_logger.handlers[:], airbyte_logger.propagate = [], True
    airbyte_logger.setLevel(logging.INFO)
    try:
        yield given, out, err
    finally:
        PRINT_BUFFER.flush()
        sys.stdin, sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__, sys.excepthook = saved
        airbyte_logger.handlers[:], airbyte_logger.propagate = saved_logger[:2]
        airbyte_logger.setLevel(saved_logger[2])


def source_catalog(*streams: str, sync_mode: str = "full_refresh") -> dict:
    keys = {"contacts": [["id"]], "contact_tags": [["contact_id"], ["tag"]]}
    return {
        "streams": [
            {
                "stream": {
                    "name": name,
                    "json_schema": {},
                    "supported_sync_modes": ["full_refresh", "incremental"],
                    "source_defined_cursor": True,
                    "default_cursor_field": ["updatedAt"],
                    "source_defined_primary_key": keys[name],
                },
                "sync_mode": sync_mode,
                "cursor_field": ["updatedAt"],
                "destination_sync_mode": "append_dedup" if sync_mode == "incremental" else "overwrite",
                "primary_key": keys[name],
            }
            for name in streams
        ]
    }


def source_config(api: Any, **options: Any) -> dict:
    return {"api_key": API_KEY, "base_url": api.url, **options}


def ids(records: List[dict]) -> list:
    return [record.get("id") for record in records]


def list_requests(api: Any) -> List[tuple]:
    """(page, limit) of every list request the sandbox received."""
    return [(r.query.get("page"), r.query.get("limit")) for r in api.requests if r.method == "GET" and r.path == "/v1/contacts"]


def requests_of(pages: List[int], limit: int, first_limit: Optional[int] = None) -> List[tuple]:
    """`list_requests` for these page numbers at `limit`; the first at `first_limit`, the limit asked for before the
    server showed what it serves."""
    return [(str(page), str(first_limit if index == 0 and first_limit else limit)) for index, page in enumerate(pages)]


def gaps(**given: int) -> Dict[str, int]:
    """Run.gaps as expected: these counts, the others 0."""
    return {"duplicate_ids": 0, "without_id": 0, "not_served": 0, "second_pass_delivered": 0, "list_moved": 0, **given}


def stream_states(run: Run, stream: str) -> List[dict]:
    return [s["stream"]["stream_state"] for s in run.states if s["stream"]["stream_descriptor"]["name"] == stream]


def as_emitted(contact: dict) -> dict:
    """A contact as the CDK writes it: its serializer leaves out top-level null fields (a null column either way)."""
    return {key: value for key, value in contact.items() if value is not None}


def assert_no_leak(run: Run, key: str = API_KEY, folder: Optional[Path] = None) -> None:
    """`key` is in neither stdout nor stderr, nor (given `folder`) in any file under it but the config.json given."""
    assert key not in run.stdout, "key in stdout"
    assert key not in run.stderr, "key in stderr"
    if folder is not None:
        for path in folder.rglob("*"):
            if path.is_file() and path.name != "config.json":  # the config is the connector's input, not its output
                assert key not in path.read_text(errors="replace"), f"key in {path.name}"


# --- the destination's input and what it did ------------------------------------------------------------------

SERVER_FIELDS = ("createdAt", "updatedAt")
A, B, C = "+971501234567", "+971501234568", "+971501234569"


def phone(n):
    """A mobile number per n below 10,000 (A, B and C are 4567 to 4569)."""
    return f"+97150123{n:04d}"


config = source_config  # the same two settings the destination needs, then its own `options`


def destination_catalog(*streams):
    """streams: (name, destination_sync_mode) pairs, or (name, mode, destination_object_name)."""
    configured = []
    for name, mode, *target in streams:
        stream = {
            "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
            "sync_mode": "full_refresh",
            "destination_sync_mode": mode,
        }
        if target:
            stream["destination_object_name"] = target[0]
        configured.append(stream)
    return {"streams": configured}


def record(data, stream="contacts"):
    return {"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 1}}


def complete(stream="contacts"):
    """The platform's STREAM_STATUS COMPLETE, as it sends one for every stream after a source that exited 0."""
    return {
        "type": "TRACE",
        "trace": {
            "type": "STREAM_STATUS",
            "emitted_at": 1718000000000.0,
            "stream_status": {"stream_descriptor": {"name": stream}, "status": "COMPLETE"},
        },
    }


def state(value):
    return {
        "type": "STATE",
        "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "contacts"}, "stream_state": {"n": value}}},
    }


def stdin(*messages):
    """One line per message: a dict as its JSON, a str or bytes as given. Any bytes make the whole input bytes."""
    lines = [m if isinstance(m, (str, bytes)) else json.dumps(m) for m in messages]
    if any(isinstance(line, bytes) for line in lines):
        return b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)
    return "".join(line + "\n" for line in lines)


def write(api, tmp_path, streams, *messages, **options):
    """The destination's write of `messages` into the sandbox `api`, its streams (name, mode) configured."""
    return run_connector(
        "destination-contacts", "write", tmp_path, config(api, **options), destination_catalog(*streams), stdin=stdin(*messages)
    )


def start_write(api, tmp_path, streams, **options):
    """write as a running process with text pipes, for a test that feeds it a message at a time."""
    return subprocess.Popen(
        command("destination-contacts", "write", tmp_path, config(api, **options), destination_catalog(*streams)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )


def writes(api):
    """Every request but the reads, as (method, path, body)."""
    return [(r.method, r.path, r.body) for r in api.requests if r.method != "GET"]


def reads(api):
    return [(r.path, r.query) for r in api.requests if r.method == "GET"]


# The walk of an account of two contacts: page 1 at the largest page the API could serve, then page 2 (the empty end)
# at what it served.
WALK = [("/v1/contacts", {"limit": "1000", "page": "1"}), ("/v1/contacts", {"limit": "2", "page": "2"})]


def account(api):
    return [{k: v for k, v in contact.items() if k not in SERVER_FIELDS} for contact in api.snapshot()]


def as_set(contacts):
    """Contacts as a comparable set, whatever their ids and order: every field but the server's, tags as a set.
    Fails if two of them have the same phone number."""
    assert len({c["phoneNumber"] for c in contacts}) == len(contacts), "a contact was duplicated"
    return sorted(
        json.dumps(
            {**{k: v for k, v in c.items() if k not in ("id", *SERVER_FIELDS, "tags")}, "tags": sorted(c.get("tags") or [])},
            sort_keys=True,
            ensure_ascii=False,
        )
        for c in contacts
    )


def full_summary(run):
    """The summary line that closes every write."""
    for line in reversed(run.logs):
        if line.startswith("{") and '"created"' in line:
            return json.loads(line)
    raise AssertionError(f"no summary in {run.logs}")


def summary(run):
    """The summary's counts of what became of the records (the request figures have tests of their own)."""
    return {name: value for name, value in full_summary(run).items() if name not in ("requests", "share_of_daily_quota")}


def counts(**given):
    base = {
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "recreated": 0,
        "tags_added": 0,
        "tags_removed": 0,
        "rejected": 0,
        "dry_run": False,
    }
    return {**base, **given}


def seed(api, *contacts):
    return [c["id"] for c in api.add_contacts([{**c, "tags": c.get("tags", [])} for c in contacts])]
