"""How the contact list is walked: page numbers, where it ends, and one walk shared by every stream."""

import json
import tempfile
from typing import Callable, Iterable, Iterator, List, Mapping, Optional

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

Page = List[Mapping]


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
            raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.system_error)
        self._previous_ids = ids
        self._last_page_seen = not contacts or len(contacts) < self._longest
        self._longest = max(self._longest, len(contacts))

    def next_page_token(self) -> Optional[Mapping[str, int]]:
        if self._last_page_seen:
            return None
        self.page += 1
        return {"page": self.page}


class SharedPages:
    """One walk through the API per sync, however many selected streams are built from it: the first stream to
    read walks the API and, when other streams will read after it, spools each page to a temporary file for them."""

    def __init__(self, readers: int = 1) -> None:
        self._readers_left = readers
        self._spool = None
        self.server_time: Optional[str] = None

    def pages(self, walk_api: Callable[[], Iterable[Page]]) -> Iterator[Page]:
        self._readers_left -= 1
        if self._spool is not None:
            yield from self._replay()
            return
        spool = tempfile.TemporaryFile("w+", encoding="utf-8") if self._readers_left > 0 else None
        for page in walk_api():
            if spool:
                spool.write(json.dumps(page, ensure_ascii=False) + "\n")
            yield page
        # Only a finished walk is shared; a walk cut short leaves the next stream to walk the API itself.
        self._spool = spool

    def _replay(self) -> Iterator[Page]:
        spool = self._spool
        spool.seek(0)
        for line in spool:
            yield json.loads(line)
        if self._readers_left <= 0:
            spool.close()
            self._spool = None
