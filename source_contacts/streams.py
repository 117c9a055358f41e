"""The two streams. Both read the same walk of `GET /v1/contacts` (ContactsStream); a stream says its name, its keys
and what one contact becomes in it."""

import functools
import logging
from abc import ABC, abstractmethod
from typing import Any, Collection, Iterable, List, Mapping, MutableMapping, Optional

from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteStateBlob,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    StreamDescriptor,
    SyncMode,
    Type,
)
from airbyte_cdk.sources.streams import IncrementalMixin, Stream

from source_contacts.cursor import CURSOR_FIELD, UpdatedAtCursor
from source_contacts.pages import SharedPages
from source_contacts.walk import contact_key

logger = logging.getLogger("airbyte")

NAMED_AT_MOST = 20  # contacts a warning names one by one; the rest it counts


class HeldBack:
    """The records a deduplicated stream does not emit because their contact has no id: counted, and their contacts
    named (phone and name, the most that identifies a contact without an id) in one warning at the end."""

    def __init__(self) -> None:
        self.records = 0
        self.contacts = 0
        self._named: List[str] = []

    def add(self, contact: Mapping[str, Any], records: int) -> None:
        self.records += records
        self.contacts += 1
        if len(self._named) < NAMED_AT_MOST:
            self._named.append(f"phoneNumber {contact.get('phoneNumber')!r}, name {contact.get('name')!r}")

    def warning(self, stream: str) -> str:
        more = f"; and {self.contacts - len(self._named)} more" if self.contacts > len(self._named) else ""
        return (
            f"{stream}: {self.records} records not emitted, of {self.contacts} contacts the API listed without an id: the stream "
            "is deduplicated on its primary key (Incremental | Append + Deduped), which they lack, and the platform fails the sync "
            "on such a record. A sync of the stream without deduplication (Append, or Full Refresh) delivers them. They are: "
            + "; ".join(self._named)
            + more
            + "."
        )


class ContactsStream(Stream, IncrementalMixin, ABC):
    cursor_field = CURSOR_FIELD
    state_checkpoint_interval = None  # state goes out after every page, from read_records

    def __init__(self, pages: SharedPages, start_date: Optional[str], deduplicated: Collection[str] = ()):
        """`deduplicated`: the streams the connection deduplicates on their primary key (incremental, append_dedup)."""
        self._pages = pages
        self._start_date = start_date
        self._deduplicated = self.name in deduplicated
        self._cursor = UpdatedAtCursor(None, start_date)

    @abstractmethod
    def records(self, contact: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        """What one contact becomes in this stream."""

    @functools.cache
    def get_json_schema(self) -> Mapping[str, Any]:
        # The CDK asks for the schema with every record; the file is read once per stream.
        return super().get_json_schema()

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._cursor.state()

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursor = UpdatedAtCursor((value or {}).get(CURSOR_FIELD), self._start_date)

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Any]:
        incremental = sync_mode == SyncMode.incremental
        # The platform fails a deduplicated sync on a record without its primary key (BasicAirbyteMessageValidator,
        # docs/running-in-airbyte.md), and a destination cannot deduplicate records keyed on null: such records are
        # held back, and said so, never dropped silently.
        held_back = HeldBack() if self._deduplicated and incremental else None
        for page in self._pages.pages():
            for contact in page:
                if incremental and not self._cursor.accepts(contact):  # full refresh parses no updatedAt
                    continue
                if held_back is not None and contact_key(contact) is None:
                    rows = sum(1 for _ in self.records(contact))
                    if rows:
                        held_back.add(contact, rows)
                    continue
                yield from self.records(contact)
            if incremental:
                yield self._state_message()
        if held_back is not None and held_back.records:
            logger.warning(held_back.warning(self.name))
        if self._pages.complete:
            self._cursor.close(self._pages.began)
        elif incremental:
            # A contact the walk may have missed is older than the bound this sync would set: the bound stays, so the
            # next sync delivers it.
            logger.warning(
                f"{self.name}: the cursor stays at {self.state.get(CURSOR_FIELD, 'the start')}: the list moved while it was read, and "
                "the next sync must deliver what this one may have missed."
            )
        trace = self._pages.trace()
        if trace:
            yield trace

    def _state_message(self) -> AirbyteMessage:
        # The CDK checkpoints by record count or slice; state goes out after every page of the walk.
        stream_state = AirbyteStreamState(stream_descriptor=StreamDescriptor(name=self.name), stream_state=AirbyteStateBlob(self.state))
        return AirbyteMessage(type=Type.STATE, state=AirbyteStateMessage(type=AirbyteStateType.STREAM, stream=stream_state))


class Contacts(ContactsStream):
    """One row per contact, every field the API returns."""

    primary_key = "id"

    def records(self, contact: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        yield contact


class ContactTags(ContactsStream):
    """One row per (contact, tag), for joins and tag analytics without unnesting arrays."""

    primary_key = ["contact_id", "tag"]

    def records(self, contact: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        for tag in dict.fromkeys(contact.get("tags") or []):
            yield {"contact_id": contact.get("id"), "tag": tag, CURSOR_FIELD: contact.get(CURSOR_FIELD)}
