"""SourceContacts: the Airbyte verbs over the two streams."""

import logging
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from airbyte_cdk.models import AirbyteMessage, ConfiguredAirbyteCatalog, ConnectorSpecification
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream

from contacts_api.check import check_connection
from contacts_api.config import base_url
from contacts_api.http import rate_budget
from contacts_api.spec import connector_spec, with_defaults
from source_contacts.paging import SharedPages
from source_contacts.streams import Contacts, ContactTags


class SourceContacts(AbstractSource):
    def __init__(self) -> None:
        self._pages = SharedPages()

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return connector_spec("source_contacts")

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        return check_connection(with_defaults(self.spec(logger), config))

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        config = with_defaults(self.spec(logging.getLogger("airbyte")), config)
        base_url(config)
        budget = rate_budget(config["requests_per_minute"])  # one account, one budget for every stream
        return [Contacts(config, self._pages, budget), ContactTags(config, self._pages, budget)]

    def read(self, logger: logging.Logger, config: Mapping[str, Any], catalog: ConfiguredAirbyteCatalog, state: Any = None) -> Iterator[AirbyteMessage]:
        # Streams are read one after the other; knowing how many will read lets the first share its walk of the API.
        self._pages = SharedPages(readers=len(catalog.streams))
        yield from super().read(logger, config, catalog, state)
