"""The walk of the contact list, as both connectors do it (the source's streams, the destination's account scan):
page numbers from 1, at the largest page the server serves, to the first empty page."""

import re
from typing import Any, Iterator, List, Mapping, Optional

import pendulum
from airbyte_cdk.models import FailureType

from contacts_api.errors import failure
from contacts_api.http import ContactsApi, Refused

Page = List[Mapping[str, Any]]

MAX_PAGE_SIZE = 1000  # page_size's maximum in the spec: what a walk asks for when the user did not set page_size
# Limits tried, in turn, when the API refuses a larger one (400/422) without naming its maximum.
SMALLER_LIMITS = (500, 250, 100, 50, 20, 10, 5, 1)
REFUSALS = (400, 422)


class ContactWalk:
    """Pages of `GET /v1/contacts` from page 1.

    The limit sent is `page_size` when the user set it, else MAX_PAGE_SIZE: the fewest requests the server allows.
    A 400/422 to that default gets a smaller one (the maximum the server's message names, else the next of
    SMALLER_LIMITS), never a failed sync. A first page shorter than the limit shows what the server serves (or is the
    whole list): the limit becomes its length, so that the offset of page n, (n - 1) × limit, is right whether the
    server applies its cap before or after computing it.

    The list ends on an empty page, which the walk yields too. A shorter page before it (the server left out contacts
    it could not serialise) does not end the walk; what it lacked is counted in `unserved`. A page equal to the one
    read before it, of another number, means the server ignores `page` (or serves its last page past the end): the
    walk fails rather than loop or repeat contacts.
    `began` is when the first page was served; `finished` says the page just yielded is the last one.
    """

    def __init__(self, api: ContactsApi, page_size: Optional[int] = None, filters: Optional[Mapping[str, str]] = None):
        self._api = api
        self._filters = dict(filters or {})
        self._may_shrink = page_size is None  # a page_size the user set is not traded for a smaller one on a refusal
        self.limit = page_size or MAX_PAGE_SIZE
        self._sized = False  # a page has shown what the server serves
        self._last_read: Optional[tuple] = None  # (number, page) of the last read, to tell a server that ignores `page`
        self.began: Optional[pendulum.DateTime] = None
        self.finished = False
        self.unserved = 0

    def pages(self) -> Iterator[Page]:
        number, short = 1, 0
        while True:
            page = self.read(number)
            if page:
                self.unserved += short  # the short page before this one was not the end
            short = self.limit - len(page) if len(page) < self.limit else 0
            self.finished = not page
            yield page
            if self.finished:
                return
            number += 1

    def read(self, number: int) -> Page:
        """Page `number` at the walk's limit. The first page read settles the limit."""
        refused_before: Optional[Refused] = None
        while True:
            params = {"limit": self.limit, "page": number, **self._filters}
            try:
                page, served = self._api.list(params, REFUSALS if self._may_shrink and not self._sized else ())
                break
            except Refused as refused:
                self.limit = self._smaller(refused, refused_before)
                refused_before = refused
        self.began = self.began or served
        if not self._sized:
            self._sized = True
            if 0 < len(page) < self.limit:
                self.limit = len(page)
        if page and self._last_read and self._last_read[0] != number and page == self._last_read[1]:
            message = (
                f"The Contacts API served the same {len(page)} contacts for page {number} as for page {self._last_read[0]}: "
                "the server ignores the `page` parameter, or serves its last page again past the end of the list. "
                "The sync stops here rather than loop or emit duplicates."
            )
            raise failure(message, FailureType.system_error)
        self._last_read = number, page
        return page

    def _smaller(self, refused: Refused, before: Optional[Refused]) -> int:
        """The limit to try after `refused`; its failure when no smaller one can help."""
        about_limit = re.search(r"limit|size|max|large|many|exceed|range|between", refused.message, re.IGNORECASE) is not None
        if before is not None and before.message == refused.message and not about_limit:
            raise refused.error from None  # a smaller limit changed nothing: the request is refused for another reason
        named = [int(n) for n in re.findall(r"\d+", refused.message) if 0 < int(n) < self.limit] if about_limit else []
        ladder = [limit for limit in SMALLER_LIMITS if limit < self.limit]
        if not (named or ladder):
            raise refused.error from None
        return max(named) if named else ladder[0]
