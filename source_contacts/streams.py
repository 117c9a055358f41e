"""The two streams. All talk with `GET /v1/contacts` lives in ContactsApiStream; a stream says its name, keys and
what one contact becomes."""

import functools
from abc import ABC, abstractmethod
from typing import Any, Iterable, List, Mapping, MutableMapping, Optional

import requests
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
from airbyte_cdk.sources.streams import IncrementalMixin
from airbyte_cdk.sources.streams.call_rate import APIBudget
from airbyte_cdk.sources.streams.http import HttpStream

from contacts_api.config import base_url
from contacts_api.http import REQUEST_TIMEOUT, ApiKeyAuthenticator, ContactsErrorHandler, RetryAfterBackoff
from contacts_api.paging import Page, PageNumberPaginator, contacts_page
from source_contacts.cursor import CURSOR_FIELD, UpdatedAtCursor
from source_contacts.paging import SharedPages

# Config field → the API's query parameter.
FILTERS = {"tags": "tags", "location_id": "locationId", "channel": "channel", "search_text": "searchText"}


class ContactsApiStream(HttpStream, IncrementalMixin, ABC):
    http_method = "GET"
    cursor_field = CURSOR_FIELD
    state_checkpoint_interval = None

    def __init__(self, config: Mapping[str, Any], pages: SharedPages, api_budget: APIBudget):
        self._config = config
        self._pages = pages
        self._paginator = PageNumberPaginator()
        self._cursor = UpdatedAtCursor(None, config.get("start_date"))
        super().__init__(authenticator=ApiKeyAuthenticator(config["api_key"]), api_budget=api_budget)

    @abstractmethod
    def records(self, contact: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        """What one contact becomes in this stream."""

    @property
    def url_base(self) -> str:
        return base_url(self._config) + "/"

    def path(self, **kwargs: Any) -> str:
        return "v1/contacts"

    @functools.cache
    def get_json_schema(self) -> Mapping[str, Any]:
        # The CDK asks for the schema with every record; the file is read once per stream.
        return super().get_json_schema()

    def get_error_handler(self) -> ContactsErrorHandler:
        return ContactsErrorHandler(self._config["api_key"])

    def get_backoff_strategy(self) -> RetryAfterBackoff:
        return RetryAfterBackoff()

    def request_kwargs(self, **kwargs: Any) -> Mapping[str, Any]:
        return {"timeout": REQUEST_TIMEOUT}

    def request_params(self, next_page_token: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> MutableMapping[str, Any]:
        params = {"limit": self._config["page_size"], "page": (next_page_token or {}).get("page", 1)}
        for option, parameter in FILTERS.items():
            value = self._config.get(option)
            if value:
                params[parameter] = ",".join(value) if isinstance(value, list) else value
        return params

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Page]:
        """One item per response: the whole page, so that state and the shared walk can follow page boundaries."""
        page = contacts_page(response)
        self._paginator.observe(page)
        self._pages.server_time = self._pages.server_time or response.headers.get("Date")
        yield page

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        return self._paginator.next_page_token()

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._cursor.state()

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursor = UpdatedAtCursor((value or {}).get(CURSOR_FIELD), self._config.get("start_date"))

    def read_records(
        self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_slice: Optional[Mapping[str, Any]] = None, stream_state: Optional[Mapping[str, Any]] = None
    ) -> Iterable[Any]:
        incremental = sync_mode == SyncMode.incremental
        walk_api = lambda: super(ContactsApiStream, self).read_records(sync_mode, cursor_field, stream_slice, stream_state)  # noqa: E731
        for page in self._pages.pages(walk_api):
            for contact in page:
                if self._cursor.accepts(contact) or not incremental:
                    yield from self.records(contact)
            if incremental:
                yield self._state_message()
        self._cursor.close(self._pages.server_time)

    def _state_message(self) -> AirbyteMessage:
        # The CDK checkpoints by record count or slice; the issue asks for state after every page of the walk.
        stream_state = AirbyteStreamState(stream_descriptor=StreamDescriptor(name=self.name), stream_state=AirbyteStateBlob(self.state))
        return AirbyteMessage(type=Type.STATE, state=AirbyteStateMessage(type=AirbyteStateType.STREAM, stream=stream_state))


class Contacts(ContactsApiStream):
    """One row per contact, every field the API returns."""

    primary_key = "id"

    def records(self, contact: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        yield contact


class ContactTags(ContactsApiStream):
    """One row per (contact, tag), for joins and tag analytics without unnesting arrays."""

    primary_key = ["contact_id", "tag"]

    def records(self, contact: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        for tag in dict.fromkeys(contact.get("tags") or []):
            yield {"contact_id": contact.get("id"), "tag": tag, CURSOR_FIELD: contact.get(CURSOR_FIELD)}
