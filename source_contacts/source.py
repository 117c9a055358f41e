"""SourceContacts: the Airbyte verbs over the two streams."""

import dataclasses
import logging
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    DestinationSyncMode,
    Status,
    SyncMode,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream

from contacts_api.check import connection_status
from contacts_api.clock import SYSTEM_CLOCK, Clock
from contacts_api.config import ApiConfig, parse_config
from contacts_api.http import ContactsApi
from contacts_api.spec import connector_spec
from source_contacts.pages import SharedPages
from source_contacts.streams import Contacts, ContactTags
from source_contacts.walk import CheckedWalk

# Config field → the API's query parameter.
FILTERS = {"tags": "tags", "location_id": "locationId", "channel": "channel", "search_text": "searchText"}


@dataclasses.dataclass(frozen=True)
class SourceConfig(ApiConfig):
    """source_contacts/spec.json, typed."""

    page_size: Optional[int]
    start_date: Optional[str]
    tags: Optional[List[str]]
    location_id: Optional[str]
    channel: Optional[str]
    search_text: Optional[str]

    def filters(self) -> Mapping[str, str]:
        given = {parameter: getattr(self, option) for option, parameter in FILTERS.items() if getattr(self, option)}
        return {parameter: ",".join(value) if isinstance(value, list) else value for parameter, value in given.items()}


class SourceContacts(AbstractSource):
    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._readers = 1
        self._second_pass = True
        self._deduplicated: frozenset = frozenset()

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return connector_spec("source_contacts")

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        return connection_status(self._config, config, self._clock)

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        status = self.check(logger, config)
        return status.status == Status.SUCCEEDED, status.message

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        typed = self._config(config)
        walk = CheckedWalk(ContactsApi(typed, self._clock), typed.page_size, typed.filters())
        walk.second_pass = self._second_pass
        pages = SharedPages(walk, self._readers)
        return [Contacts(pages, typed.start_date, self._deduplicated), ContactTags(pages, typed.start_date, self._deduplicated)]

    def read(
        self, logger: logging.Logger, config: Mapping[str, Any], catalog: ConfiguredAirbyteCatalog, state: Any = None
    ) -> Iterator[AirbyteMessage]:
        # Streams are read one after the other; knowing how many will read lets the first share its walk of the API.
        self._readers = len(catalog.streams)
        # A list that moved under the walk is read again for a stream in full refresh; incremental streams keep their
        # cursor instead, and the next sync, which reads every page anyway, delivers what this one missed.
        self._second_pass = any(stream.sync_mode == SyncMode.full_refresh for stream in catalog.streams)
        # Deduplicated as the platform's record check counts it: incremental and append_dedup. overwrite_dedup never
        # reaches a source (the platform sends it as append_dedup or overwrite: DefaultProtocolSerializer), and the
        # platform checks no full-refresh stream.
        self._deduplicated = frozenset(
            stream.stream.name
            for stream in catalog.streams
            if stream.sync_mode == SyncMode.incremental and stream.destination_sync_mode == DestinationSyncMode.append_dedup
        )
        yield from super().read(logger, config, catalog, state)

    def _config(self, config: Mapping[str, Any]) -> SourceConfig:
        return parse_config(SourceConfig, self.spec(logging.getLogger("airbyte")), config)
