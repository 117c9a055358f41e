"""The walk of the contact list, as both connectors do it (the source's streams, the destination's account scan):
page numbers from 1, and where the list ends."""

from typing import Any, Iterator, List, Mapping, Optional

from airbyte_cdk.models import FailureType

from contacts_api.errors import failure
from contacts_api.http import ContactsApi

Page = List[Mapping[str, Any]]


class ContactWalk:
    """Pages of `GET /v1/contacts` from page 1. The list ends on an empty page or one shorter than the longest seen
    so far, so a server that silently serves fewer than `limit` still gives every contact; the same page twice means
    the server ignores `page`. `server_time` is the Date header of the first answer; `finished` says the page just
    yielded is the last one."""

    def __init__(self, api: ContactsApi, limit: int, filters: Optional[Mapping[str, str]] = None):
        self._api = api
        self._limit = limit
        self._filters = dict(filters or {})
        self.server_time: Optional[str] = None
        self.finished = False  # the page just yielded is the last

    def pages(self) -> Iterator[Page]:
        number, longest, previous_ids = 1, 0, None
        while True:
            page, date = self._api.list({"limit": self._limit, "page": number, **self._filters})
            self.server_time = self.server_time or date
            ids = [contact.get("id") for contact in page]
            if page and ids == previous_ids:
                message = (
                    f"The Contacts API served the same {len(page)} contacts for page {number} as for page {number - 1}: "
                    "the server ignores the `page` parameter. The sync stops here rather than loop or emit duplicates."
                )
                raise failure(message, FailureType.system_error)
            self.finished = not page or len(page) < longest
            yield page
            if self.finished:
                return
            longest, previous_ids = max(longest, len(page)), ids
            number += 1
