"""The two streams. Both read the same walk of `GET /v1/contacts` (ContactsStream); a stream says its name, its keys
and what one contact becomes in it."""

import functools
import logging
from abc import ABC, abstractmethod
from typing import Any, Iterable, List, Mapping, MutableMapping, Optional

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

logger = logging.getLogger("airbyte")


class ContactsStream(Stream, IncrementalMixin, ABC):
    cursor_field = CURSOR_FIELD
    state_checkpoint_interval = None  # state goes out after every page, from read_records

    def __init__(self, pages: SharedPages, start_date: Optional[str]):
        self._pages = pages
        self._start_date = start_date
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
        for page in self._pages.pages():
            for contact in page:
                if not incremental or self._cursor.accepts(contact):  # full refresh parses no updatedAt
                    yield from self.records(contact)
            if incremental:
                yield self._state_message()
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
