"""Walking the contact list, as both connectors do: page numbers from 1, where the list ends, what a page is."""

from typing import Any, List, Mapping, Optional
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import FailureType

from contacts_api.errors import failure, json_body

Page = List[Mapping[str, Any]]


def contacts_page(response: requests.Response) -> Page:
    """The page a list response holds; anything but a JSON array of objects means base_url is not the API."""
    page = json_body(response)
    if not isinstance(page, list) or not all(isinstance(contact, dict) for contact in page):
        host = "{0.scheme}://{0.netloc}".format(urlsplit(response.url))
        message = f"{host} answered, but not like the Contacts API (GET /v1/contacts gave no JSON array of contacts). Check base_url."
        raise failure(message, FailureType.config_error, detail=f"Body starts: {response.text[:200]!r}")
    return page


class PageNumberPaginator:
    """Pages from 1. The list ends on an empty page or one shorter than the longest seen so far, so a server
    that silently serves fewer than `limit` still gives every contact; the same page twice means `page` is ignored."""

    def __init__(self) -> None:
        self.page = 1
        self._longest = 0
        self._previous_ids: Optional[list] = None
        self._last_page_seen = False

    def observe(self, contacts: Page) -> None:
        ids = [contact.get("id") for contact in contacts]
        if contacts and ids == self._previous_ids:
            message = (
                f"The Contacts API served the same {len(contacts)} contacts for page {self.page} as for page {self.page - 1}: "
                "the server ignores the `page` parameter. The sync stops here rather than loop or emit duplicates."
            )
            raise failure(message, FailureType.system_error)
        self._previous_ids = ids
        self._last_page_seen = not contacts or len(contacts) < self._longest
        self._longest = max(self._longest, len(contacts))

    def next_page_token(self) -> Optional[Mapping[str, int]]:
        if self._last_page_seen:
            return None
        self.page += 1
        return {"page": self.page}
