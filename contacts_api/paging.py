"""The walk of the contact list, as both connectors do it (the source's streams, the destination's account scan):
page numbers from 1, at the largest page the server serves, to the first empty page; on a slow server, several pages
in flight at once, delivered in order."""

import functools
import itertools
import math
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

import pendulum
from airbyte_cdk.models import FailureType

from contacts_api.errors import failure
from contacts_api.http import MAX_PAGES_IN_FLIGHT, ContactsApi, Refused

Page = List[Mapping[str, Any]]
MaySend = Callable[[int], bool]  # whether page `number` may be sent now

MAX_PAGE_SIZE = 1000  # page_size's maximum in the spec: what a walk asks for when the user did not set page_size
# Limits tried, in turn, when the API refuses a larger one (400/422) without naming its maximum.
SMALLER_LIMITS = (500, 250, 100, 50, 20, 10, 5, 1)
REFUSALS = (400, 422)


def always(number: int) -> bool:
    return True


class ReadAhead:
    """Pages fetched on a thread pool and delivered in page order: at most `width()` fetched and not yet delivered
    (the pages held ahead, so memory stays bounded), each sent only once `may_send(number)` allows it; the gate is
    asked again whenever an answer arrives or `poke` is called. Once a page is answered empty (the list ends there),
    no page after it is sent, even before the pages ahead of it are delivered. A fetch's failure is raised where its
    page would have been delivered.

    Why not the CDK's concurrent framework (ConcurrentSourceAdapter, ThreadPoolManager, partitions): it reads
    partitions concurrently and emits their records as each finishes, in no set order, with states per partition.
    Page order matters here (the state after each page, the drift check, the short- and repeated-page rules), and the
    pages of one list are not independent partitions: which pages exist is found as they are read. So the pages go
    on a plain ThreadPoolExecutor, and the rate budget (the CDK's APIBudget, thread-safe) paces them all."""

    def __init__(self, fetch: Callable[[int], Page], width: Callable[[], int], may_send: MaySend = always):
        self._fetch, self._width, self._may_send = fetch, width, may_send
        self._changed = threading.Condition()
        self._futures: Dict[int, Future] = {}  # sent and not yet delivered, by page number
        self._next_send = 1
        self._end = math.inf  # the first page answered empty
        self.next = 1  # the page to deliver next

    def answered_below(self, number: int) -> bool:
        """Whether every page below `number` that was sent has been answered."""
        with self._changed:
            return all(future.done() for sent, future in self._futures.items() if sent < number)

    def poke(self) -> None:
        """Something `may_send` depends on changed."""
        with self._changed:
            self._changed.notify_all()

    def pages(self, first: int) -> Iterator[Page]:
        self.next = self._next_send = first
        pool = ThreadPoolExecutor(MAX_PAGES_IN_FLIGHT, thread_name_prefix="page")
        try:
            while True:
                with self._changed:
                    while not self._ready(pool):
                        self._changed.wait()
                    future = self._futures.pop(self.next)
                    self.next += 1
                yield future.result()
        finally:
            # What was sent is waited for, so that no request outlives the walk; nothing is sent after.
            pool.shutdown(wait=True, cancel_futures=True)

    def _ready(self, pool: ThreadPoolExecutor) -> bool:
        """Sends what may be sent; whether the next page has been answered."""
        while self._next_send < self._end and len(self._futures) < self._width() and self._may_send(self._next_send):
            future = pool.submit(self._fetch, self._next_send)
            self._futures[self._next_send] = future
            future.add_done_callback(functools.partial(self._answered, self._next_send))
            self._next_send += 1
        future = self._futures.get(self.next)
        return future is not None and future.done()

    def _answered(self, number: int, future: Future) -> None:
        with self._changed:
            if not future.cancelled() and future.exception() is None and not future.result():
                self._end = min(self._end, number)
            self._changed.notify_all()


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
        self._last_read: Optional[Tuple[int, Page]] = None  # the last page read, to tell a server that ignores `page`
        self.ahead: Optional[ReadAhead] = None
        self.began: Optional[pendulum.DateTime] = None
        self.finished = False
        self.unserved = 0

    def pages(self, may_send: MaySend = always) -> Iterator[Page]:
        """The pages from 1, as many in flight as the server's latency asks (ContactsApi.pages_in_flight) and
        `may_send` allows. When no page has settled the limit yet, page 1 is read alone first. `ahead` is the
        read-ahead of the walk under way."""
        short = 0
        read_alone = not self._sized
        self.ahead = ReadAhead(self.fetch, self._api.pages_in_flight, may_send)
        with closing(self.ahead.pages(2 if read_alone else 1)) as ahead:
            for number, page in enumerate(itertools.chain([self.read(1)] if read_alone else [], ahead), 1):
                if not (read_alone and number == 1):  # read() checked it
                    self._last_read = self.check_repeat(number, page, self._last_read)
                if page:
                    self.unserved += short  # the short page before this one was not the end
                short = self.limit - len(page) if len(page) < self.limit else 0
                self.finished = not page
                yield page
                if self.finished:
                    return

    def read(self, number: int) -> Page:
        """Page `number` at the walk's limit, alone. The first page read settles the limit."""
        refused_before: Optional[Refused] = None
        while True:
            try:
                page, served = self._api.list(self._params(number), REFUSALS if self._may_shrink and not self._sized else ())
                break
            except Refused as refused:
                self.limit = self._smaller(refused, refused_before)
                refused_before = refused
        self.began = self.began or served
        if not self._sized:
            self._sized = True
            if 0 < len(page) < self.limit:
                self.limit = len(page)
        self._last_read = self.check_repeat(number, page, self._last_read)
        return page

    def fetch(self, number: int) -> Page:
        """Page `number` at the limit the first page settled (for pages in flight: no state of the walk changes)."""
        page, _ = self._api.list(self._params(number))
        return page

    def _params(self, number: int) -> Dict[str, Any]:
        return {"limit": self.limit, "page": number, **self._filters}

    @staticmethod
    def check_repeat(number: int, page: Page, before: Optional[Tuple[int, Page]]) -> Tuple[int, Page]:
        """(number, page) for the next check, after failing the walk if `page` repeats the page read `before` it."""
        if page and before and before[0] != number and page == before[1]:
            message = (
                f"The Contacts API served the same {len(page)} contacts for page {number} as for page {before[0]}: "
                "the server ignores the `page` parameter, or serves its last page again past the end of the list. "
                "The sync stops here rather than loop or emit duplicates."
            )
            raise failure(message, FailureType.system_error)
        return number, page

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
