"""The source's read of the contact list: every contact the list held for the whole sync, or a warning that counts
what may be missing.

`GET /v1/contacts` pages by offset, in an order the API does not document. A contact deleted ahead of where the
walk reads shifts every later page back by one, and the contact at the next page boundary is never served; one
created ahead shifts them on, and a contact is served twice. A skipped contact leaves no trace in the pages
themselves, so each pass first finds the last page of the list (page numbers doubled, then halved: about
2 × log2(pages) requests) and keeps it as a sentinel. The walk then reads every page, those the search read too: they
were read before the sentinel, so a move between them and it would show in neither reading of the sentinel, and
contacts would slip unseen. When the walk reaches that page again, the same contacts must be
there, in the same places; if they moved, contacts were deleted or created ahead of the walk while it read.

Then, when a stream reads in full refresh, the list is walked once more and only the contacts the first pass did not
see are delivered. An incremental sync skips that pass and keeps its cursor instead (ContactsStream): the next sync
reads every page anyway, and delivers them.

Every listed contact is delivered, also one whose id was listed before (counted) or that has no id (counted).
"""

import json
import logging
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, Mapping, Optional, Set, Tuple

import pendulum
from airbyte_cdk.models import AirbyteMessage
from airbyte_cdk.utils.analytics_message import create_analytics_message

from contacts_api.http import ContactsApi
from contacts_api.paging import ContactWalk, Page

logger = logging.getLogger("airbyte")

# The protocol has no warning trace: an ERROR trace is a failure reason to the platform (airbytehq/airbyte-platform,
# AirbyteMessageTracker.kt: errorTraceMessageFailure). An ANALYTICS trace (the CDK's create_analytics_message, as
# the file-based CDK sends its stream counts) is the one that informs without failing: the platform logs its type and
# value. The user reads the same counts in the WARN log line.
GAPS_TRACE = "source-contacts-list-gaps"
ID_CHUNK = 10_000  # ids per SQLite query: well under its limit of 32,766 parameters
DOUBLINGS_AT_ONCE = 4  # page numbers the last-page search asks at once on a slow server


class SeenIds:
    """The ids delivered so far, in a private temporary SQLite database: memory stays flat for any list length."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None)  # "": spills past its page cache to a file it deletes
        self._db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY) WITHOUT ROWID")

    def add(self, ids: List[str]) -> int:
        """Remembers `ids`; returns how many of them were remembered already (a repeat within `ids` counts too)."""
        before = self._db.total_changes
        self._insert(ids)
        return len(ids) - (self._db.total_changes - before)

    def fresh(self, ids: List[str]) -> Set[str]:
        """Remembers `ids`; returns those not remembered before."""
        known: Set[str] = set()
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start : start + ID_CHUNK]
            known.update(row[0] for row in self._db.execute(f"SELECT id FROM seen WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        self._insert(ids)
        return set(ids) - known

    def _insert(self, ids: List[str]) -> None:
        self._db.execute("BEGIN")  # one transaction a page: a commit per id would cost more than the insert
        self._db.executemany("INSERT OR IGNORE INTO seen (id) VALUES (?)", ((contact_id,) for contact_id in ids))
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


def contact_key(contact: Mapping[str, Any]) -> Optional[str]:
    contact_id = contact.get("id")
    return None if contact_id is None or contact_id == "" else str(contact_id)


class CheckedWalk:
    """Pages of contacts to deliver, as ContactWalk reads them; `complete` is False when contacts may be missing
    because the list moved during the last pass."""

    def __init__(self, api: ContactsApi, page_size: Optional[int], filters: Mapping[str, str]):
        self._api = api
        self._page_size = page_size
        self._filters = filters
        self.second_pass = True  # the source turns it off when every stream reads incrementally
        self.began: Optional[pendulum.DateTime] = None  # when the first page was served
        self.complete = True
        self.counts: dict = {}
        self._moved: List[str] = []
        self._report: Optional[str] = None

    def pages(self) -> Iterator[Page]:
        self.counts = dict.fromkeys(("duplicate_ids", "without_id", "not_served", "second_pass_delivered", "list_moved"), 0)
        self._moved = []
        seen = SeenIds()
        try:
            walk = ContactWalk(self._api, self._page_size, self._filters)
            moved = yield from self._pass(walk, seen, first=True)
            if moved and self.second_pass:
                logger.info(
                    f"The contact list changed while it was read ({moved}): reading it once more for contacts the first pass did not see."
                )
                moved = yield from self._pass(ContactWalk(self._api, walk.limit, self._filters), seen, first=False)
            self.complete = moved is None
        finally:
            seen.close()
        self._report = self._warning()
        if self._report:
            logger.warning(self._report)

    def trace(self) -> Optional[AirbyteMessage]:
        """The counts as an ANALYTICS trace, once, when there is something to report."""
        report, self._report = self._report, None
        return create_analytics_message(GAPS_TRACE, json.dumps(self.counts, sort_keys=True)) if report else None

    def _pass(self, walk: ContactWalk, seen: SeenIds, first: bool) -> Iterator[Page]:
        """Delivers one walk of the list; returns how the list moved during it (None: it did not)."""
        search = EndSearch(walk, self._api)
        self.began = self.began or walk.began
        try:
            if search.one_page():  # the whole list is on page 1 (page 2 is empty): no boundary to slip past
                yield self._delivered(search.first, seen, first)
                if search.first:
                    yield []
                return None
            moved: Optional[str] = None
            number = 0
            for number, page in enumerate(walk.pages(search.may_send), 1):
                if number in search.guards:
                    moved = moved or _moved(search.found[number], page, number)
                yield self._delivered(page, seen, first)
        finally:
            search.stop()
        last = search.low
        if number < last:
            moved = f"it ended at page {number}, before page {last} where it ended when the walk began"
        elif number > last + 1 and moved is None:  # the list grew past the sentinel: it must still be where it was, now
            moved = _moved(search.found[last], walk.read(last), last)
        if first:  # the second pass reads the same gaps again
            self.counts["not_served"] += walk.unserved
        if moved:
            self.counts["list_moved"] += 1
            self._moved.append(moved)
        return moved

    def _delivered(self, page: Page, seen: SeenIds, first: bool) -> Page:
        keys = [contact_key(contact) for contact in page]
        ids = [key for key in keys if key is not None]
        if first:
            self.counts["duplicate_ids"] += seen.add(ids)
            self.counts["without_id"] += len(keys) - len(ids)
            return page
        # Only what the first pass did not deliver; a contact without an id cannot be told apart.
        fresh = seen.fresh(ids)
        page = [contact for contact, key in zip(page, keys) if key in fresh]
        self.counts["second_pass_delivered"] += len(page)
        return page

    def _warning(self) -> Optional[str]:
        counts, parts = self.counts, []
        if counts["duplicate_ids"]:
            parts.append(f"{counts['duplicate_ids']} listed with an id listed before (delivered again)")
        if counts["without_id"]:
            parts.append(
                f"{counts['without_id']} listed without an id (delivered as listed, except to deduplicated streams: see their warning)"
            )
        if counts["not_served"]:
            parts.append(
                f"{counts['not_served']} left out of pages before the end of the list (the API served fewer than asked, "
                "most likely contacts it could not serialise): they are missing"
            )
        if self._moved:
            parts.append(f"the list changed while it was read ({self._moved[0]})")
            if len(self._moved) > 1 or (self.second_pass and self.complete):
                parts.append(f"a second pass delivered {counts['second_pass_delivered']} the first had not seen")
            if not self.complete:
                parts.append(
                    "contacts listed beyond the change may be missing"
                    + (f" (it changed again during the second pass: {self._moved[-1]})" if len(self._moved) > 1 else "")
                )
        return "Contacts read with gaps: " + "; ".join(parts) + "." if parts else None


class EndSearch:
    """The last page of the list, searched for beside the walk: page numbers doubled from 1 until a page is empty
    (or short: taken to be the last one, as past a page the server served short mid-list the sentinel does not see),
    then halved between the last page found and the first empty one.

    The walk may send a page below the highest page found so far (`low`) before the search is done: that page,
    read by the search before, becomes a guard. The walk reads each guard only once the pages sent while it was the
    highest have been answered (the sentinel, the last page: once all below it have), and compares it with what the
    search read: a move between the two readings shows there, as at the sentinel for the pages read after it.

    On a fast server (one page in flight) the search ends before the walk's first page, and the sentinel is the only
    guard: the requests, and their order, are a sequential walk's. On a slow one the doubling asks DOUBLINGS_AT_ONCE
    page numbers at once (at most 3 read past the end), a round's pages are taken in at once (the walk sees the
    highest, not each as a guard in turn), and the walk keeps back of the rate budget what the search has left to
    ask, so that its last probes do not queue behind the walk's pages at the limit."""

    def __init__(self, walk: ContactWalk, api: ContactsApi):
        self._walk, self._api = walk, api
        self.first = walk.read(1)  # settles the limit
        self.low, self.high = (1, None) if self.first else (0, 1)
        self.found: Dict[int, List[str]] = {1: identities(self.first)} if self.first else {}  # pages read non-empty
        # Found pages the walk compares, each with the page below which all must be answered before it is read.
        self.guards: Dict[int, int] = {}
        self.done = not self.first
        self._changed = threading.Condition()
        self._stopping = False
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="end-search", daemon=True)
        self._thread.start()

    def one_page(self) -> bool:
        """Whether the list ends on page 1; waits until page 2 has been read."""
        with self._changed:
            self._changed.wait_for(lambda: self.done or self.low > 1 or self._error)
            self._raise()
            return self.done and self.low <= 1

    def may_send(self, number: int) -> bool:
        """The walk's gate (ReadAhead): pages below `low` while the search goes on, when pages go several at once;
        after, up to the page past the last, then one at a time; a guard after every page below it is answered."""
        ahead = self._walk.ahead
        with self._changed:
            self._raise()
            if not self.done:
                if not (self._api.pages_in_flight() > 1 and number < self.low and self._api.requests_free() > self._left()):
                    return False
                self.guards[self.low] = number + 1  # it guards this page, and those sent before it
            else:
                self.guards[self.low] = self.low  # the sentinel guards every page
                if number > self.low + 1 and number != ahead.next:
                    return False
            below = self.guards.get(number)
        return below is None or ahead.answered_below(below)

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
        self._thread.join()

    def _left(self) -> int:
        """The most requests the search may still send."""
        return DOUBLINGS_AT_ONCE if self.high is None else (self.high - self.low - 1).bit_length()

    def _run(self) -> None:
        previous = (1, self.first)
        try:
            with ThreadPoolExecutor(DOUBLINGS_AT_ONCE, thread_name_prefix="end-search") as pool:
                while not (self.done or self._stopping):
                    if self.high is None:
                        at_once = DOUBLINGS_AT_ONCE if self._api.pages_in_flight() > 1 else 1
                        numbers = [self.low * 2**step for step in range(1, at_once + 1)]
                    else:
                        numbers = [(self.low + self.high) // 2]
                    read = []
                    for number, page in zip(numbers, pool.map(self._walk.fetch, numbers)):
                        previous = ContactWalk.check_repeat(number, page, previous)
                        read.append((number, page))
                    self._found(read)
                    self._poke()
        except BaseException as error:  # raised to the walk by its gate
            with self._changed:
                self._error = error
        with self._changed:
            self._changed.notify_all()
        self._poke()

    def _poke(self) -> None:
        """Tells the walk's gate that the search moved on (outside this search's lock: the gate takes it)."""
        if self._walk.ahead is not None:
            self._walk.ahead.poke()

    def _found(self, read: List[Tuple[int, Page]]) -> None:
        """Takes in a round of pages read, in one step (the walk sees the highest page found at once, not each of
        the round's pages as a guard in turn). The first empty or short page bounds it: those after it are moot."""
        with self._changed:
            for number, page in read:
                if not page:
                    self.high = number
                    break
                self.low = number
                self.found[number] = identities(page)
                if len(page) < self._walk.limit:
                    self.high = number + 1
                    break
            self.done = self.high is not None and self.high - self.low <= 1
            self._changed.notify_all()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


def _moved(before: List[str], now: Page, number: int) -> Optional[str]:
    """How the contacts of page `number` moved since the search read them (`before`: their identities; None: they
    did not)."""
    after = identities(now)
    if after[: len(before)] == before:
        return None
    if after and after[0] in before:
        return f"page {number} shifted back by {before.index(after[0])}: contacts ahead of it were deleted"
    if before and before[0] in after:
        return f"page {number} shifted on by {after.index(before[0])}: contacts were created ahead of it"
    return f"page {number} holds other contacts than when the walk began"


def identities(page: Page) -> List[str]:
    """Each contact's id, or for a contact without one all that it holds."""
    return [contact_key(contact) or json.dumps(contact, sort_keys=True, default=str) for contact in page]
