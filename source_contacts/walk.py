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
from typing import Any, Iterator, List, Mapping, Optional, Set, Tuple

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
        last, sentinel = self._find_end(walk)
        self.began = self.began or walk.began
        if last <= 1:  # the whole list is on page 1 (the search read the empty page 2): no boundary to slip past
            yield self._delivered(sentinel, seen, first)
            if sentinel:
                yield []
            return None
        moved: Optional[str] = None
        number = 0
        for number, page in enumerate(walk.pages(), 1):
            if number == last:
                moved = _moved(sentinel, page, last)
            yield self._delivered(page, seen, first)
        if number < last:
            moved = f"it ended at page {number}, before page {last} where it ended when the walk began"
        elif number > last + 1 and moved is None:  # the list grew past the sentinel: it must still be where it was, now
            moved = _moved(sentinel, walk.read(last), last)
        if first:  # the second pass reads the same gaps again
            self.counts["not_served"] += walk.unserved
        if moved:
            self.counts["list_moved"] += 1
            self._moved.append(moved)
        return moved

    @staticmethod
    def _find_end(walk: ContactWalk) -> Tuple[int, Page]:
        """The number and contents of the last non-empty page (0 and [] for an empty list). A short page is taken
        to be the last one: past a page the server served short mid-list, the sentinel does not see."""
        low, low_page, high = 1, walk.read(1), None
        if not low_page:
            return 0, low_page
        while high is None or high - low > 1:
            number = low * 2 if high is None else (low + high) // 2
            page = walk.read(number)
            if not page:
                high = number
                continue
            low, low_page = number, page
            if len(page) < walk.limit:
                break
        return low, low_page

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


def _moved(sentinel: Page, now: Page, number: int) -> Optional[str]:
    """How the contacts of page `number` moved since the sentinel was read (None: they did not)."""
    before, after = [_identity(c) for c in sentinel], [_identity(c) for c in now]
    if after[: len(before)] == before:
        return None
    if after and after[0] in before:
        return f"page {number} shifted back by {before.index(after[0])}: contacts ahead of it were deleted"
    if before and before[0] in after:
        return f"page {number} shifted on by {after.index(before[0])}: contacts were created ahead of it"
    return f"page {number} holds other contacts than when the walk began"


def _identity(contact: Mapping[str, Any]) -> str:
    """The id, or for a contact without one all that it holds."""
    return contact_key(contact) or json.dumps(contact, sort_keys=True, default=str)
