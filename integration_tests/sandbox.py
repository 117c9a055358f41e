"""A local stand-in for the Whautomate Contacts API (see /work/shared/api/contacts-api.md), quirks included.

Used by the tests and benchmarks, and by anyone who wants to try a pipeline without an account:

    python -m integration_tests.sandbox --port 8080 --contacts 500 --seed 1 --api-key sandbox-key

Each request passes, in this order: rate limit (429) -> injected faults (5xx, dropped connection)
-> API key (401) -> the endpoint. The switches of integration_tests/faults.py (a real server's misbehaviour) come
in at the same steps: a stall before all, a daily quota and redirects after the rate limit, the list's pages,
bodies and strings, and the answers to writes, at the endpoint.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import random
import re
import signal
import socket
import socketserver
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import islice
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, unquote, urlsplit

from integration_tests.faults import Faults, encode_json
from integration_tests.faults import add_arguments as add_fault_arguments

DEFAULT_API_KEY = "sandbox-key"

LOCATIONS = [
    {"id": "64b7f1e2a9c3d40012ab0001", "title": "Dubai Mall"},
    {"id": "64b7f1e2a9c3d40012ab0002", "title": "Abu Dhabi Marina"},
    {"id": "64b7f1e2a9c3d40012ab0003", "title": "Sharjah — City Centre"},
    {"id": "64b7f1e2a9c3d40012ab0004", "title": "Online Store"},
]
STAGES = ("Subscriber", "Lead", "Customer", "Churned")
CHANNELS = ("Whatsapp", "Instagram", "Messenger")
TAG_POOL = (
    "VIP",
    "black friday",
    "café",
    "newsletter",
    "wholesale",
    "Ramadan offer",
    "returning",
    "support",
    "beta",
    "köln",
    "日本",
    "lead-2025",
)
SEGMENTS = ("retail", "wholesale", "vip", "dormant")
NOTES = ("Prefers WhatsApp", "Called twice, no answer", 'Asked about the "Gold" plan', "Line one\nline two", "Ünïcödé note ✨", "")
HANDLES = ("jose_m", "zoe.o", "lilei", "ahmed.k", "an.nguyen", "fatima.z", "priya", "soren")

_LATIN_FIRST = ("José", "Zoë", "Fatima", "Liam", "Søren", "Chloé", "Ömer", "Ana", "Mohammed", "Priya")
_LATIN_LAST = ("Müller", "Ødegård", "Al-Zahra", "O'Brien", "García", "Nowak", "Smith", "Öztürk", "Dubois", "Sharma")
_CYRILLIC_FIRST = ("Ахмед", "Ольга", "Иван", "Наталья")
_CYRILLIC_LAST = ("Хан", "Петрова", "Смирнов", "Кузнецова")
_WHOLE_NAMES = (
    "李雷",
    "韩梅梅",
    "王芳",
    "张伟",
    "山田 太郎",
    "김민준",
    "Nguyễn Văn An",
    "Trần Thị Bình",
    "Lê Hoàng Cường",
    "Phạm Minh Đức",
    "محمد العلي",
    "فاطمة الزهراء",
)
_EMOJI_NAMES = ("Zoë 🌸", "Ahmed 🚀 Khan", "José Müller 🙂", "李雷 🐉", "Ana ❤️ García", "👑 Priya", "Liam 🍀")
NAME_POOL = (
    tuple(f"{f} {last}" for f in _LATIN_FIRST for last in _LATIN_LAST)
    + tuple(f"{f} {last}" for f in _CYRILLIC_FIRST for last in _CYRILLIC_LAST)
    + _WHOLE_NAMES
    + _EMOJI_NAMES
)

_EPOCH = date(2025, 1, 1)
_SPAN_DAYS = (date(2026, 7, 1) - _EPOCH).days  # seeded timestamps fall in 2025-01-01 .. 2026-06-30
_SPAN_SECONDS = _SPAN_DAYS * 86_400
_SERVER_FIELDS = frozenset({"id", "createdAt", "updatedAt"})


@dataclass
class RecordedRequest:
    method: str
    path: str  # as sent, still percent-encoded, without the query string
    query: dict[str, str]
    status: int | None  # None: no response was sent (dropped connection)
    received_at: float  # SandboxAPI.clock()
    body: Any  # parsed JSON, or None when absent or malformed


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Count(int):
    """An int that also answers len(): benchmarks/run.py reads `len(api.early_requests)`."""

    def __len__(self) -> int:
        return int(self)


def object_id(counter: int) -> str:
    """24 lowercase hex chars laid out like a Mongo ObjectId (time, process, counter), from a counter alone."""
    return f"{0x66000000 + counter // 1000:08x}a1b2c3d4e5{counter % 0x1000000:06x}"


def iso_utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


@functools.cache
def _time_tables() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    days = tuple(f"{_EPOCH + timedelta(days=d)}T" for d in range(_SPAN_DAYS + 1))  # +1: float rounding at the end
    clock = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400))
    millis = tuple(f".{ms:03d}Z" for ms in range(1000))
    return days, clock, millis


def _iso_from_offset(seconds: float) -> str:
    # Lookup tables, not strftime: formatting would otherwise dominate generating 500k contacts.
    days, clock, millis = _time_tables()
    whole = int(seconds)
    day, second = divmod(whole, 86_400)
    return days[day] + clock[second] + millis[int((seconds - whole) * 1000)]


def generate_contacts(count: int, seed: int = 0) -> list[dict]:
    """Deterministic contacts in creation order; createdAt rises with the order, updatedAt is random after it.

    To keep 500k contacts in modest memory, seeded contacts share their `location` and `customFields`
    objects: replace those values, never edit them in place (the API endpoints only replace).
    """
    if count > 100_000_000:
        raise ValueError("at most 100,000,000 contacts (8-digit phone suffixes)")
    # Millions of new dicts would trigger many full collections, doubling the time; none of them are cyclic.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(count, seed)
    finally:
        if gc_was_enabled:
            gc.enable()


def _generate(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    r = rng.random
    # i -> (i * multiplier + offset) mod 10^8 is a bijection when multiplier is coprime to 10: unique phones, O(1) each.
    multiplier = rng.randrange(10_000_001, 99_999_999, 2)
    multiplier += 2 if multiplier % 5 == 0 else 0
    offset = rng.randrange(100_000_000)
    step = _SPAN_SECONDS / max(count, 1)
    names, n_names, n_tags = NAME_POOL, len(NAME_POOL), len(TAG_POOL)
    custom_fields = [{"score": score, "segment": segment} for score in range(100) for segment in SEGMENTS]
    contacts = []
    for i in range(count):
        created = (i + r()) * step
        contact = {
            "id": object_id(i + 1),
            "name": names[int(r() * n_names)],
            "phoneNumber": f"+9715{(i * multiplier + offset) % 100_000_000:08d}",
        }
        x = r()
        if x < 0.85:
            contact["location"] = LOCATIONS[int(x / 0.85 * 4)]
        contact["stage"] = STAGES[int(r() * 4)]
        x = r()
        if x < 0.6:
            contact["notes"] = NOTES[int(x / 0.6 * len(NOTES))]
        elif x < 0.8:
            contact["notes"] = None
        x = r()
        if x < 0.7:
            contact["customFields"] = custom_fields[int(r() * 400)]
        # 0-5 distinct tags: walk the pool from a random start with a step coprime to its size (12).
        n, start, stride = int(r() * 6), int(r() * n_tags), (1, 5, 7, 11)[int(r() * 4)]
        contact["tags"] = [TAG_POOL[(start + j * stride) % n_tags] for j in range(n)]
        x = r()
        if x < 0.9:
            contact["channel"] = CHANNELS[int(x / 0.9 * 3)]
            if contact["channel"] == "Instagram" and x < 0.45:
                contact["instagramId"] = str(17_800_000_000_000_000 + i)
        if r() < 0.3:
            contact["username"] = f"{HANDLES[int(r() * len(HANDLES))]}{int(r() * 1000)}"
        x = r()
        if x < 0.3:
            contact["lastActivity"] = None
        elif x < 0.8:
            contact["lastActivity"] = _iso_from_offset(created + r() * (_SPAN_SECONDS - created))
        contact["createdAt"] = _iso_from_offset(created)
        x = r()
        if x < 0.02:
            contact["updatedAt"] = None
        elif x >= 0.07:  # 0.02 <= x < 0.07: the field is missing
            contact["updatedAt"] = _iso_from_offset(created + r() * (_SPAN_SECONDS - created))
        contacts.append(contact)
    return contacts


def _digits(phone: Any) -> str:
    return re.sub(r"\D", "", str(phone or ""))


def _positive_int(query: dict[str, str], name: str, default: int) -> int:
    value = query.get(name, "")
    if value == "":
        return default
    if not re.fullmatch(r"\d+", value) or int(value) < 1:
        raise ApiError(400, f"{name} must be a positive integer")
    return int(value)


def _matcher(query: dict[str, str], search_phones: bool = True) -> Callable[[dict], bool] | None:
    tests = []
    tags = {t.strip() for t in query.get("tags", "").split(",") if t.strip()}
    if tags:
        tests.append(lambda c: not tags.isdisjoint(c.get("tags") or ()))
    if location_id := query.get("locationId"):
        tests.append(lambda c: isinstance(c.get("location"), dict) and c["location"].get("id") == location_id)
    if channel := query.get("channel"):
        tests.append(lambda c: c.get("channel") == channel)
    if search := query.get("searchText", "").casefold():
        tests.append(
            lambda c: (
                search in str(c.get("name") or "").casefold() or (search_phones and search in str(c.get("phoneNumber") or "").casefold())
            )
        )
    if not tests:
        return None
    return lambda c: all(test(c) for test in tests)


def _json_object(body: Any, body_ok: bool) -> dict:
    if not body_ok:
        raise ApiError(400, "Malformed JSON body")
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return body


def _validate_contact(body: dict) -> None:
    for field in ("name", "phoneNumber"):
        value = body.get(field)
        if not isinstance(value, str) or not value.strip():
            raise ApiError(400, f"{field} is required and must be a non-empty string")
    if "tags" in body:
        _validate_tags(body["tags"])


def _validate_tags(tags: Any) -> None:
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ApiError(400, "tags must be an array of strings")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    api: SandboxAPI  # set on a per-server subclass
    pinned_date: str | None = None  # the Date header of this answer, when a fault fixes it (Faults.retry_after)

    def date_time_string(self, timestamp: float | None = None) -> str:
        return self.pinned_date or super().date_time_string(timestamp)

    def do_GET(self) -> None:
        with self.api._held():
            self.api._serve(self)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle on, the body waits ~40 ms for a delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.api._connections.add(self.connection)

    def finish(self) -> None:
        self.api._connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 makes a client that opens 16 connections at once wait for SYN retries (1 s)
    block_on_close = False  # idle keep-alive connections must not hold up stop()

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn, a reverse DNS lookup that can take seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up mid-response are part of the game


class SandboxAPI:
    def __init__(
        self,
        contacts: int = 0,
        seed: int = 0,
        api_key: str = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        max_limit: int | None = None,
        default_limit: int = 20,
        requests_per_minute: int | None = None,
        window_seconds: float = 60.0,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        drop_after_write_rate: float = 0.0,
        search_phones: bool = True,
        latency_ms: float = 0.0,
        latency_ms_per_contact: float = 0.0,
        ignore_page: bool = False,
        echo_headers_in_errors: bool = False,
        fault_seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        elapse: Callable[[float], None] = time.sleep,
        **faults: Any,
    ):
        self.api_key, self.host, self.port = api_key, host, port
        self.max_limit, self.default_limit = max_limit, default_limit
        self.search_phones = search_phones  # False: searchText matches names only, as a server that does not search phones
        self.requests_per_minute, self.window_seconds = requests_per_minute, window_seconds
        self.error_rate, self.drop_rate, self.drop_after_write_rate = error_rate, drop_rate, drop_after_write_rate
        self.latency_ms, self.ignore_page, self.echo_headers_in_errors = latency_ms, ignore_page, echo_headers_in_errors
        self.clock = clock  # monotonic seconds: the rate window's time (tests share a virtual clock with the connector)
        # A server's time to answer: latency_ms a request plus latency_ms_per_contact a contact listed, spent by
        # `elapse` (tests pass their virtual clock's, so that no test waits it out).
        self.latency_ms_per_contact, self.elapse = latency_ms_per_contact, elapse
        self.contacts: dict[str, dict] = {c["id"]: c for c in generate_contacts(contacts, seed)}
        self.throttled = 0
        self.most_in_flight = 0  # the most requests the sandbox held at once, from arrival to the end of the answer
        self._in_flight = 0
        self._early_count = 0
        self._id_counter = contacts
        self._order: list[dict] | None = None  # contacts in order, for slicing; rebuilt after deletes
        self._phone_index: dict[str, str] | None = None  # digits -> id, built on the first write
        self._requests: list[RecordedRequest] = []
        self._windows: dict[str, deque[float]] = {}
        self._retry_after_expiry: dict[str, float] = {}
        self._fault_rng = random.Random(fault_seed)
        self._errors_sent = 0
        self._lock = threading.Lock()
        self._connections: set = set()
        self._server: _Server | None = None
        self.faults = Faults(**faults)  # integration_tests/faults.py: misbehaviour, each switch off by default

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> SandboxAPI:
        handler = type("SandboxHandler", (_Handler,), {"api": self})
        self._server = _Server((self.host, self.port), handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self.faults.stopping.set()  # releases requests a stall holds
        self._server.shutdown()
        self._server.server_close()
        for connection in list(self._connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)  # wakes handler threads parked on keep-alive reads
            except OSError:
                pass
        self._server = None

    def __enter__(self) -> SandboxAPI:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- inspection --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def early_requests(self) -> Count:
        return Count(self._early_count)

    def reset_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def snapshot(self) -> list[dict]:
        with self._lock:  # a JSON round trip is a deep copy several times faster than copy.deepcopy
            return json.loads(json.dumps(list(self.contacts.values())))

    def add_contacts(self, contacts: list[dict]) -> list[dict]:
        """Store copies of `contacts` as given, adding id / createdAt / updatedAt only where the key is absent."""
        with self._lock:
            now = iso_utc(datetime.now(timezone.utc))
            stored = []
            for given in json.loads(json.dumps(contacts)):
                contact = given if "id" in given else {"id": self._next_id(), **given}
                contact.setdefault("createdAt", now)
                contact.setdefault("updatedAt", now)
                self.contacts[contact["id"]] = contact
                if self._phone_index is not None:
                    self._phone_index.setdefault(_digits(contact.get("phoneNumber")), contact["id"])
                stored.append(contact)
            self._order = None
            return json.loads(json.dumps(stored))

    # --- request pipeline -----------------------------------------------------------------

    @contextmanager
    def _held(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def _serve(self, h: _Handler) -> None:
        received_at = self.clock()
        split = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        body, body_ok = None, True
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                body_ok = False
        record = RecordedRequest(h.command, split.path, query, None, received_at, body)
        key = h.headers.get("x-api-key", "")
        headers: dict[str, str] = {}
        drop = False
        broken_write = None
        with self._lock:
            self._requests.append(record)
            stalled = self.faults.stalls()
            retry_after = None if stalled else self._admit(key, received_at)
            if retry_after is None and not stalled:
                retry_after = self.faults.over_quota(key, received_at)
            redirect = self.faults.redirect(h.path)
            if stalled:
                drop = True
            elif retry_after is not None:
                status, payload = 429, self._error_body(h, "Too many requests")
                headers.update(self.faults.retry_after(retry_after))
            elif redirect:
                status, payload = 307, ""
                headers.update(redirect)
            else:
                # Two draws per admitted request, whatever happens, so the fault sequence depends only on the count.
                fault, after_write = self._fault_rng.random(), self._fault_rng.random()
                if fault < self.drop_rate:
                    drop = True
                elif fault < self.drop_rate + self.error_rate:
                    status, payload = self._fault_response(h)
                elif key != self.api_key:
                    status, payload = 401, self._error_body(h, "Invalid API key")
                else:
                    broken_write = self.faults.broken_write_answer(h.command, split.path)
                    if broken_write and self.faults.broken_write_unapplied:
                        status, payload = 200, None  # a proxy's answer: the server never saw the write
                    else:
                        status, payload = self._handle(h, split.path, query, body, body_ok)
                    drop = after_write < self.drop_after_write_rate and status < 300 and h.command in ("POST", "PUT", "DELETE")
            if not drop:
                listed = status == 200 and h.command == "GET" and split.path == "/v1/contacts"
                if status == 200 and h.command == "GET":
                    payload = self.faults.cut(payload)
                data, content_type = self._encode(payload)  # under the lock: a PUT may be changing these dicts
                broken = self.faults.broken() if listed else broken_write if status < 300 else None
                if broken:
                    content_type, data = broken
                record.status = status
                self.faults.answers += 1
                if listed and self.faults.churn_due(int(query.get("page") or 1)):
                    self._churn()
        if stalled:
            self.faults.stopping.wait()  # the connection stays open, unanswered, until the sandbox stops
            h.close_connection = True
            return
        latency_ms = self.latency_ms + (self.latency_ms_per_contact * len(payload) if not drop and listed else 0)
        if latency_ms:
            self.elapse(latency_ms / 1000)
        if drop:
            h.close_connection = True  # the socket closes with nothing written: no status line at all
            return
        h.pinned_date = headers.pop("Date", None)
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(data)

    def _admit(self, key: str, now: float) -> int | None:
        """None if the request is admitted, else the Retry-After seconds."""
        if now < self._retry_after_expiry.get(key, -math.inf):
            self._early_count += 1
        if self.requests_per_minute is None:
            return None
        window = self._windows.setdefault(key, deque())
        while window and window[0] <= now - self.window_seconds:
            window.popleft()
        if len(window) < self.requests_per_minute:
            window.append(now)
            return None
        retry_after = max(1, math.ceil(window[0] + self.window_seconds - now))
        self._retry_after_expiry[key] = now + retry_after
        self.throttled += 1
        return retry_after

    def _fault_response(self, h: _Handler) -> tuple[int, Any]:
        status = (500, 502, 503)[self._errors_sent % 3]
        html = self._errors_sent % 2 == 1
        self._errors_sent += 1
        if not html:
            return status, self._error_body(h, "Internal server error")
        echoed = "".join(f"<li>{k}: {v}</li>" for k, v in h.headers.items()) if self.echo_headers_in_errors else ""
        return status, f"<html><body><h1>{status} Server Error</h1><ul>{echoed}</ul></body></html>"

    def _error_body(self, h: _Handler, message: str) -> dict:
        if self.echo_headers_in_errors:
            return {"message": message, "headers": dict(h.headers.items())}
        return {"message": message}

    @staticmethod
    def _encode(payload: Any) -> tuple[bytes, str]:
        if isinstance(payload, str):
            return payload.encode(), "text/html; charset=utf-8"
        return encode_json(payload), "application/json; charset=utf-8"

    def _handle(self, h: _Handler, path: str, query: dict, body: Any, body_ok: bool) -> tuple[int, Any]:
        try:
            return 200, self._route(h.command, path, query, body, body_ok)
        except ApiError as error:
            return error.status, self._error_body(h, error.message)
        except Exception as error:  # a sandbox bug should show up as a 500 with a reason, not a hung client
            return 500, self._error_body(h, f"Sandbox error: {error!r}")

    def _route(self, method: str, path: str, query: dict, body: Any, body_ok: bool) -> Any:
        parts = path.split("/")
        if parts[:3] != ["", "v1", "contacts"]:
            raise ApiError(404, "Not found")
        rest = parts[3:]
        if not rest:
            if method == "GET":
                return self._list(query)
            if method == "POST":
                return self._create(_json_object(body, body_ok))
        elif len(rest) == 1 and rest[0]:
            contact_id = unquote(rest[0])
            if method == "GET":
                return self._get(contact_id)
            if method == "PUT":
                return self._update(contact_id, _json_object(body, body_ok))
            if method == "DELETE":
                return self._delete(contact_id)
        elif len(rest) == 3 and rest[0] and rest[1] == "tags" and rest[2] in ("add", "remove"):
            if method == "POST":
                return self._change_tags(unquote(rest[0]), _json_object(body, body_ok), add=rest[2] == "add")
        else:
            raise ApiError(404, "Not found")
        raise ApiError(405, "Method not allowed")

    # --- endpoints (called with the lock held) ---------------------------------------------------

    def _ordered(self) -> list[dict]:
        if self._order is None or len(self._order) != len(self.contacts):
            self._order = list(self.contacts.values())
        return self._order

    def _list(self, query: dict[str, str]) -> list[dict]:
        limit = _positive_int(query, "limit", self.default_limit)
        page = _positive_int(query, "page", 1)
        self.faults.check_limit(limit, ApiError)
        served = limit if self.max_limit is None else min(limit, self.max_limit)
        if self.ignore_page:
            page = 1
        start = (page - 1) * (limit if self.faults.cap_after_offset else served)
        ordered = self.faults.order(self._ordered())
        start = self.faults.clamp(start, served, len(ordered))
        first = ordered[0] if ordered else None
        matches = _matcher(query, self.search_phones)
        if matches is None:
            return self.faults.served(ordered[start : start + served], start, first)
        return self.faults.served(list(islice(filter(matches, ordered), start, start + served)), start, first)

    def _churn(self) -> None:
        """Contacts deleted from the front of the list (ones a walk has read) and created, as people do during a sync."""
        for contact in self.faults.order(self._ordered())[: self.faults.churn_deletes]:
            self._delete(contact["id"])
        for _ in range(self.faults.churn_creates):
            self.faults.churn_created += 1
            self._create({"name": f"Created meanwhile {self.faults.churn_created}", "phoneNumber": f"+9665{self.faults.churn_created:08d}"})

    def _get(self, contact_id: str) -> dict:
        contact = self.contacts.get(contact_id)
        if contact is None:
            raise ApiError(404, "Contact not found")
        return contact

    def _next_id(self) -> str:
        while True:
            self._id_counter += 1
            contact_id = object_id(self._id_counter)
            if contact_id not in self.contacts:
                return contact_id

    def _phones(self) -> dict[str, str]:
        if self._phone_index is None:
            self._phone_index = {}
            for contact in self.contacts.values():
                self._phone_index.setdefault(_digits(contact.get("phoneNumber")), contact["id"])
        return self._phone_index

    def _check_phone_free(self, phone: str, own_id: str | None) -> None:
        digits = _digits(phone)
        owner = self._phones().get(digits) if digits else None
        # The index can be stale if a test edited .contacts directly; the stored phone has the last word.
        if owner not in (None, own_id) and owner in self.contacts and _digits(self.contacts[owner].get("phoneNumber")) == digits:
            raise ApiError(409, "Contact with this phone number already exists")

    def _create(self, body: dict) -> dict:
        _validate_contact(body)
        self._check_phone_free(body["phoneNumber"], None)
        now = iso_utc(datetime.now(timezone.utc))
        fields = {k: v for k, v in body.items() if k not in _SERVER_FIELDS}
        contact = {"id": self._next_id(), "tags": [], **fields, "createdAt": now, "updatedAt": now}
        self.contacts[contact["id"]] = contact
        self._phones()[_digits(contact["phoneNumber"])] = contact["id"]
        if self._order is not None:
            self._order.append(contact)
        return contact

    def _update(self, contact_id: str, body: dict) -> dict:
        contact = self._get(contact_id)
        _validate_contact(body)
        self._check_phone_free(body["phoneNumber"], contact_id)
        phones = self._phones()
        old_digits = _digits(contact.get("phoneNumber"))
        if phones.get(old_digits) == contact_id:
            del phones[old_digits]
        contact.update((k, v) for k, v in body.items() if k not in _SERVER_FIELDS)
        contact["updatedAt"] = iso_utc(datetime.now(timezone.utc))
        phones[_digits(contact["phoneNumber"])] = contact_id
        return contact

    def _delete(self, contact_id: str) -> dict:
        contact = self._get(contact_id)
        del self.contacts[contact_id]
        digits = _digits(contact.get("phoneNumber"))
        if self._phone_index is not None and self._phone_index.get(digits) == contact_id:
            del self._phone_index[digits]
        self._order = None
        return {"success": True}

    def _change_tags(self, contact_id: str, body: dict, add: bool) -> dict:
        contact = self._get(contact_id)
        tags = body.get("tags")
        _validate_tags(tags)
        current = list(contact.get("tags") or [])
        if add:
            new = current + [t for t in dict.fromkeys(tags) if t not in current]
        else:
            removed = set(tags)
            new = [t for t in current if t not in removed]
        if new != current:
            contact["tags"] = new
            contact["updatedAt"] = iso_utc(datetime.now(timezone.utc))
        return {"id": contact_id, "tags": list(new)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a sandbox Whautomate Contacts API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--max-limit", type=int, default=None)
    parser.add_argument("--default-limit", type=int, default=20)
    parser.add_argument("--requests-per-minute", type=int, default=None)
    parser.add_argument("--window-seconds", type=float, default=60.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--drop-rate", type=float, default=0.0)
    parser.add_argument("--drop-after-write-rate", type=float, default=0.0)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="milliseconds each answer takes")
    parser.add_argument("--latency-ms-per-contact", type=float, default=0.0, help="milliseconds more for each contact a list page holds")
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--ignore-page", action="store_true")
    parser.add_argument("--echo-headers-in-errors", action="store_true")
    parser.add_argument(
        "--no-search-phones",
        dest="search_phones",
        action="store_false",
        help="searchText matches names only, as a server whose search ignores phone numbers",
    )
    add_fault_arguments(parser)
    args = parser.parse_args(argv)
    api = SandboxAPI(**vars(args))
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    with api:
        print(f"Sandbox Contacts API on {api.url} (key: {api.api_key})", flush=True)
        while not stopping.wait(0.5):
            pass


if __name__ == "__main__":
    main()
