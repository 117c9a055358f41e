"""Switchable misbehaviour of the sandbox API (integration_tests/sandbox.py): what a real server behind a load
balancer, serving a CRM that people use while a sync runs, does now and then. Every switch is off by default, and
off it changes nothing. `SandboxAPI(**switches)` and `python -m integration_tests.sandbox --<switch>` take them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import threading
import time
from email.utils import formatdate
from typing import Any, Callable

DAY_SECONDS = 86_400

# What a list or write answer (HTTP 200) holds instead of the API's, by kind.
BROKEN_BODIES = {
    "html": (
        "text/html; charset=utf-8",
        b"<html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>Down for maintenance</h1></body></html>",
    ),
    "message": ("application/json", b'{"message": "Internal error, please try again"}'),
    "data": ("application/json", b'{"data": [{"id": "66000000a1b2c3d4e5000001"}], "total": 1}'),
    "null": ("application/json", b"null"),
    "empty": ("application/json", b""),
    "truncated": ("application/json", b'[{"id": "66000000a1b2c3d4e5000001", "name": "Zo'),
}


@dataclasses.dataclass
class Faults:
    # --- pages that lie
    cap_after_offset: bool = False  # max_limit applied after the offset was computed from the limit asked for
    reject_limit_above: int | None = None  # a larger limit is answered 400 "limit must be between 1 and N"
    drop_every: int | None = None  # every n-th contact of the list is left out of list pages: it cannot be serialized
    null_id_every: int | None = None  # every n-th contact is listed without its id: null, and every other time no field
    duplicate_id_every: int | None = None  # every n-th contact is listed with the id of the list's first contact
    clamp_page: bool = False  # a page past the end serves the last page (of the list read without filters)
    # --- a list that moves while it is read
    newest_first: bool = False  # lists the newest contact first: a contact created during a read shifts every page
    churn_after_page: int | None = None  # right after serving this list page: the churn below, churn_times times
    churn_deletes: int = 0  # contacts deleted from the front of the list (ones a walk has already read)
    churn_creates: int = 0  # contacts created (at the end of the list, or its front with newest_first)
    churn_times: int = 1
    # --- bodies that break
    broken_body: str | None = None  # a list answer (200) whose body is one of BROKEN_BODIES instead of contacts
    broken_body_after: int = 0  # good list answers before the first broken one
    broken_body_times: int | None = None  # broken list answers in a row; None: every one after
    cut_strings_at: int | None = None  # name, notes and tags cut to n UTF-16 units, as servers cutting mid-emoji do
    # --- write answers that are not the API's (a proxy's page, an empty or cut body): they say nothing of the write
    broken_write: str | None = None  # a write's 2xx answer has one of BROKEN_BODIES as its body
    broken_write_to: str | None = None  # only writes of this kind (one of WRITES' values); None: every write
    broken_write_unapplied: bool = False  # the proxy answered without the server: the write was not done (else it was)
    broken_write_after: int = 0  # such writes answered well before the first broken answer
    broken_write_times: int | None = None  # broken write answers in a row; None: every one after
    # --- waits
    retry_after_date: bool = False  # a 429's Retry-After as an HTTP date, with Date pinned to the same second
    daily_quota: int | None = None  # requests per key per day of the sandbox clock; past it, 429 until the day ends
    stall_after: int | None = None  # after this many answers, accept every request and never answer it
    # --- redirects
    redirect_to: str | None = None  # every request answered 307 to this origin, same path and query

    def __post_init__(self) -> None:
        for name in ("broken_body", "broken_write"):
            if getattr(self, name) is not None and getattr(self, name) not in BROKEN_BODIES:
                raise ValueError(f"{name} must be one of {', '.join(BROKEN_BODIES)}")
        if self.broken_write_to is not None and self.broken_write_to not in WRITES.values():
            raise ValueError(f"broken_write_to must be one of {', '.join(WRITES.values())}")
        self.write_answers = 0
        self.churned = 0
        self.churn_created = 0
        self.list_answers = 0
        self.answers = 0
        self._quota: dict[str, list[float]] = {}  # key -> [day start, requests that day]
        self.stopping = threading.Event()

    # --- before the endpoint -------------------------------------------------------------------------------------

    def retry_after(self, seconds: int) -> dict[str, str]:
        """The headers of a 429 that asks for `seconds`."""
        if not self.retry_after_date:
            return {"Retry-After": str(seconds)}
        now = math.floor(time.time())  # HTTP dates are wall-clock time, like the Date header http.server sends
        return {"Retry-After": formatdate(now + seconds, usegmt=True), "Date": formatdate(now, usegmt=True)}

    def over_quota(self, key: str, now: float) -> int | None:
        """None while the key's day has requests left, else the seconds until that day ends."""
        if self.daily_quota is None:
            return None
        day = self._quota.setdefault(key, [now, 0])
        if now >= day[0] + DAY_SECONDS:
            day[:] = [now, 0]
        if day[1] < self.daily_quota:
            day[1] += 1
            return None
        return max(1, math.ceil(day[0] + DAY_SECONDS - now))

    def stalls(self) -> bool:
        return self.stall_after is not None and self.answers >= self.stall_after

    def redirect(self, path: str) -> dict[str, str] | None:
        return {"Location": self.redirect_to + path} if self.redirect_to else None

    # --- the list endpoint -----------------------------------------------------------------------------------------

    def check_limit(self, limit: int, refuse: Callable[[int, str], Exception]) -> None:
        if self.reject_limit_above is not None and limit > self.reject_limit_above:
            raise refuse(400, f"limit must be between 1 and {self.reject_limit_above}")

    def clamp(self, start: int, served: int, length: int) -> int:
        """Where a page starting at `start` starts when pages past the end serve the last one."""
        if not self.clamp_page or start < length or not length:
            return start
        return (length - 1) // served * served

    def order(self, contacts: list[dict]) -> list[dict]:
        return contacts[::-1] if self.newest_first else contacts

    def served(self, window: list[dict], start: int, first: dict | None) -> list[dict]:
        """The contacts at list positions start, start + 1, ... as the page carries them; `first` heads the list."""
        if not (self.drop_every or self.null_id_every or self.duplicate_id_every):
            return window
        page = []
        for position, contact in enumerate(window, start + 1):
            if self.drop_every and position % self.drop_every == 0:
                continue
            if self.null_id_every and position % self.null_id_every == 0:
                contact = {key: value for key, value in contact.items() if key != "id"}
                if position // self.null_id_every % 2:
                    contact["id"] = None
            elif self.duplicate_id_every and position % self.duplicate_id_every == 0 and first is not None:
                contact = {**contact, "id": first["id"]}
            page.append(contact)
        return page

    def churn_due(self, page: int) -> bool:
        if page != self.churn_after_page or self.churned >= self.churn_times:
            return False
        self.churned += 1
        return True

    # --- the answer ------------------------------------------------------------------------------------------------

    def broken(self) -> tuple[str, bytes] | None:
        """(content type, body) replacing this good list answer, or None to send it as it is."""
        self.list_answers += 1
        if self.broken_body is None or self.list_answers <= self.broken_body_after:
            return None
        if self.broken_body_times is not None and self.list_answers > self.broken_body_after + self.broken_body_times:
            return None
        return BROKEN_BODIES[self.broken_body]

    def broken_write_answer(self, method: str, path: str) -> tuple[str, bytes] | None:
        """(content type, body) answering this request if it is a write whose answer breaks, else None."""
        kind = write_kind(method, path)
        if self.broken_write is None or kind is None or self.broken_write_to not in (None, kind):
            return None
        self.write_answers += 1
        if self.write_answers <= self.broken_write_after:
            return None
        if self.broken_write_times is not None and self.write_answers > self.broken_write_after + self.broken_write_times:
            return None
        return BROKEN_BODIES[self.broken_write]

    def cut(self, payload: Any) -> Any:
        """Contacts with their strings cut to cut_strings_at UTF-16 units (copies: the stored ones stay whole)."""
        if self.cut_strings_at is None:
            return payload
        if isinstance(payload, list):
            return [self.cut(item) for item in payload]
        if not isinstance(payload, dict):
            return payload
        cut = dict(payload)
        for field in ("name", "notes"):
            if isinstance(cut.get(field), str):
                cut[field] = self._cut(cut[field])
        if isinstance(cut.get("tags"), list):
            cut["tags"] = [self._cut(tag) if isinstance(tag, str) else tag for tag in cut["tags"]]
        return cut

    def _cut(self, text: str) -> str:
        units = text.encode("utf-16-le", "surrogatepass")[: 2 * self.cut_strings_at]
        return units.decode("utf-16-le", "surrogatepass")


# The write endpoints, by (method, path with the id as "{id}").
WRITES = {
    ("POST", "/v1/contacts"): "create",
    ("PUT", "/v1/contacts/{id}"): "update",
    ("DELETE", "/v1/contacts/{id}"): "delete",
    ("POST", "/v1/contacts/{id}/tags/add"): "add_tags",
    ("POST", "/v1/contacts/{id}/tags/remove"): "remove_tags",
}


def write_kind(method: str, path: str) -> str | None:
    parts = path.split("/")
    if len(parts) > 3 and parts[3]:
        parts[3] = "{id}"
    return WRITES.get((method, "/".join(parts)))


def encode_json(payload: Any) -> bytes:
    """JSON as UTF-8; a lone surrogate (half an emoji) goes out as its JSON escape, as such servers send it."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8", "backslashreplace")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One --option per switch, named and typed after it."""
    for field in dataclasses.fields(Faults):
        option = "--" + field.name.replace("_", "-")
        if field.type == "bool":
            parser.add_argument(option, action="store_true")
        elif field.name in ("broken_body", "broken_write"):
            parser.add_argument(option, choices=sorted(BROKEN_BODIES), default=None)
        elif field.name == "broken_write_to":
            parser.add_argument(option, choices=sorted(WRITES.values()), default=None)
        else:
            parser.add_argument(option, type=int if "int" in field.type else str, default=field.default)
