"""The match step: which contact of the account a record means, for the fewest requests.

Two ways to know the account: look up each record's contact (`GET /v1/contacts/{id}`, or a `searchText` search for
the phone number, confirmed by comparing E.164 numbers), or walk the whole contact list once (W pages). A handful of
records into a big account wants look-ups; many records want the walk. The input is a stream of unknown length and
the account's size is unknown too, so the choice is made as the sync goes (rent or buy): the walk's pages are bought
up to one per record whose contact was unknown when it was read (ahead of the match, `expect`, or at its match), and
a record looks up what the pages read so far do not show. If the input ends first, the pages cost no more than the
look-ups; once the walk ends, every later record is matched from it for free. Either way matching R records costs at
most 2 × min(W, R): twice the cheaper way alone. An input whose records read ahead outnumber the walk (700 records
into 20,000 contacts: 201 pages) buys the whole walk at its first record, and looks nothing up: the floor exactly.

On top of that, on purpose:
- The probe. `searchText` is undocumented: the first time a phone search finds nothing, and no search has found a
  number yet, the first known contact's number is searched too. Not found: the search does not look at phone numbers
  here, so the rest of the account is walked instead, and the log says so once. Once per sync: one search (two when
  the number is written with separators), plus the walk's next pages when none read so far shows a number.
- Numbers written with separators ('+971 50 123 4567'), which a search for a run of digits cannot find. Once a page
  shows the account writes numbers so, a number the digit search misses is searched again written the same way
  (records.spelled_like). A spelling no page has shown is left to the API's 409 on create (writer.py: look-up, walk,
  update); an API that created a second contact instead could not be stopped without walking the account every sync.

What is known lives in a private temporary SQLite database (stdlib), not on the heap: an account can hold a million
contacts, and memory must stay flat. SQLite keeps a small page cache and spills the rest to a temporary file it
deletes on close. Thread-safe: the lanes (lanes.py) write their answers in while the main thread matches records.
"""

import json
import logging
import math
import sqlite3
import threading
from collections import Counter
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from contacts_api.http import ContactsApi
from contacts_api.paging import ContactWalk
from destination_contacts.plan import E164
from destination_contacts.records import SEPARATED, WRITABLE, e164_or_none, national_number, spelled_like

logger = logging.getLogger("airbyte")

# What the index keeps of a contact: what a diff compares, nothing else.
KEPT = ("id", "tags", *WRITABLE)
SEARCH_LIMIT = 100  # contacts asked of a phone search: a number has a handful of text matches, not pages of them
CHUNK = 1000  # ids per query when walking the index
UPSERT_CONTACT = (
    "INSERT INTO contacts (id, e164, kept) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET e164 = excluded.e164, kept = excluded.kept"
)


class Account:
    def __init__(self, api: ContactsApi, default_region: Optional[str], walk_first: bool = False):
        """`walk_first`: read the whole account before the first match (a mirror sync must know every contact)."""
        self._api = api
        self._region = default_region
        self._walk_first = walk_first
        # "" is SQLite's private temporary database: on disk past the page cache, removed on close.
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.executescript(
            """
            PRAGMA journal_mode=OFF;  -- a cache that dies with the process needs no rollback journal
            CREATE TABLE contacts (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, e164 TEXT, kept TEXT NOT NULL);
            CREATE INDEX contacts_e164 ON contacts (e164, seq);
            CREATE TABLE absent (key TEXT PRIMARY KEY) WITHOUT ROWID;   -- 'id:…' / 'phone:…' the API said it lacks
            CREATE TABLE written (id TEXT PRIMARY KEY) WITHOUT ROWID;   -- ours is newer than any page read later
            CREATE TABLE seen (id TEXT PRIMARY KEY) WITHOUT ROWID;      -- matched or created by a record: mirror keeps it
            """
        )
        self._lock = threading.RLock()  # the connection
        self._walk_lock = threading.Lock()  # one walk at a time
        self._probe_lock = threading.Lock()  # one probe per sync
        self._walk: Optional[ContactWalk] = None
        self._pages: Optional[Iterator[List[Mapping[str, Any]]]] = None
        self.complete = False  # a whole walk ended: the index is the account, plus what this sync wrote
        self._search_works: Optional[bool] = None  # whether searchText finds phone numbers; None: not seen yet
        self._spelling: Optional[Tuple[str, str]] = None  # the first listed number written with separators, and its E.164
        # The main thread's alone: first keys of the records read ahead, unknown then, not matched yet; and how many
        # records were unknown when read, the pages the walk may cost.
        self._coming: Counter = Counter()
        self._demand = 0
        self._wanted: float = 0  # the pages of the sync the walk under way may read ahead to
        self.pages = 0

    # --- main thread: matching ---------------------------------------------------------------------------------

    def expect(self, contact_id: Optional[str], phone: Optional[str], by: tuple = ("id", "phone")) -> None:
        """A record read ahead of the one being matched. If its contact is unknown, it is a look-up to come, against
        which the walk's pages may be bought now (once per contact: a second record of it will find it known)."""
        key = _first_key(contact_id, phone, by)
        if key is not None and not self.complete and self._find(*key) is None and not self._absent(*key):
            self._demand += key not in self._coming
            self._coming[key] += 1

    def match(self, contact_id: Optional[str], phone: Optional[str], by: tuple = ("id", "phone")) -> Optional[dict]:
        """The contact a record means: by id when given, else by E.164 phone (the first contact known with it).
        Spends requests only on what this sync does not know yet: the walk's pages it may buy, then the look-ups."""
        if self._walk_first and not self.complete:
            self.walk_to_end()
        first = _first_key(contact_id, phone, by)
        expected = first in self._coming
        if expected:
            self._coming[first] -= 1
            if not self._coming[first]:
                del self._coming[first]
        bought = False
        for kind, key in (("id", contact_id), ("phone", phone)):
            if not key or kind not in by:
                continue
            found = self._find(kind, key)
            if found is None and not (self.complete or self._absent(kind, key)):
                if not bought:  # once per record, not per key: a stale id and a phone are one record
                    bought = True
                    self._demand += not expected
                    self._buy_pages()
                    found = self._find(kind, key)
                if found is None and not self.complete:
                    found = self.look_up(kind, key)
            if found is not None:
                return found
        return None

    def _buy_pages(self) -> None:
        """Pages of the walk up to the demand: a page that shows a record saves its look-up, one that does not is rent
        paid towards the walk."""
        while not self.complete and self.pages < self._demand:
            self._next_page(self._demand)

    def look_up(self, kind: str, key: str) -> Optional[dict]:
        """The requests for one key: `GET /v1/contacts/{id}`, or the searches for a phone number. What they find is
        remembered, and so is a miss."""
        if kind == "id":
            contact = self._api.get(key)
            self._absorb([contact] if contact is not None else [])
        elif not self._search_phone(key) and not self._phone_search_works():
            self._walk_rest()
        with self._lock:
            found = self._find(kind, key)
            if found is None:
                self._db.execute("INSERT OR IGNORE INTO absent (key) VALUES (?)", (f"{kind}:{key}",))
        return found

    def look_up_now(self, e164: str) -> Optional[dict]:
        """The contact with this number as the API holds it now, after a write of it whose answer said nothing: a
        search, or where searches do not find numbers, a fresh walk (what is known may predate the write)."""
        found = self.look_up("phone", e164)
        if found is None and not self._phone_search_works():
            self.walk_to_end()
            found = self.find(None, e164)
        return found

    def _search_phone(self, e164: str) -> bool:
        """searchText for the number's national number (the digits every spelling without separators holds in one
        run), then, if the account writes numbers with separators, for the number written that way. True once a hit
        has this number in E.164 (the search is text: a hit may be another number, or a name, holding the digits)."""
        texts = [national_number(e164)]
        spelled = spelled_like(e164, *self._spelling) if self._spelling else None
        if spelled:
            texts.append(spelled)
        for text in texts:
            if any(hit[E164] == e164 for hit in self._absorb(self._api.search(text, SEARCH_LIMIT))):
                self._search_works = True
                return True
        return False

    def _phone_search_works(self) -> bool:
        """Whether a search that found nothing means the number is absent. Until a search has found a number, the
        first known contact's number is searched once (the probe); if that is not found either, the search does not
        find phone numbers here: the caller walks the account instead, and the log says so once."""
        with self._probe_lock:
            if self._search_works is None:
                number = self._a_known_number()
                # No number in the whole account: a miss is the truth, whatever the search does.
                self._search_works = number is None or self._search_phone(number)
                if not self._search_works:
                    logger.warning(
                        "The Contacts API's searchText does not find contacts by phone number here: reading the whole account to match "
                        "records by phone instead"
                    )
            return self._search_works

    def _a_known_number(self) -> Optional[str]:
        """The first known contact's number (E.164); the walk's next pages until one shows a number."""
        while True:
            with self._lock:
                row = self._db.execute("SELECT e164 FROM contacts WHERE e164 IS NOT NULL ORDER BY seq LIMIT 1").fetchone()
            if row is not None or self.complete:
                return row[0] if row else None
            self._next_page(self.pages + 1)

    # --- walks ---------------------------------------------------------------------------------------------------

    def _next_page(self, wanted: float) -> None:
        """Reads the next page of the walk, if it has not ended. On a slow server the pages up to the `wanted`-th of
        the sync (math.inf: to the end) are in flight meanwhile, and no page past it."""
        with self._walk_lock:
            if self.complete:
                return
            self._wanted = wanted
            if self._walk is None:
                self._walk = ContactWalk(self._api)
                before = self.pages
                self._pages = self._walk.pages(lambda number: before + number <= self._wanted)
            page = next(self._pages)
            self.pages += 1
            self._absorb(page)
            if self._walk.finished:
                self._walk = self._pages = None
                self.complete = True

    def walk_to_end(self) -> None:
        """The rest of the walk; once complete, a fresh one (a 409 says the account holds a phone we do not know)."""
        with self._walk_lock:
            self.complete = False
        self._walk_rest()

    def _walk_rest(self) -> None:
        while not self.complete:
            self._next_page(math.inf)
        self._log_shared_phones()

    def _absorb(self, contacts: List[Mapping[str, Any]]) -> List[dict]:
        """Contacts as the API listed them; what this sync wrote itself is newer and stays. Returns them as kept."""
        kept = [self._kept(contact) for contact in contacts if isinstance(contact.get("id"), str)]
        if self._spelling is None:
            self._spelling = next(
                ((contact["phoneNumber"], contact[E164]) for contact in kept if contact[E164] and SEPARATED.search(contact["phoneNumber"])),
                None,
            )
        rows = [self._row(contact) for contact in kept]
        with self._lock:
            written = {row[0] for row in rows if self._db.execute("SELECT 1 FROM written WHERE id = ?", (row[0],)).fetchone()}
            self._db.executemany(UPSERT_CONTACT, [row for row in rows if row[0] not in written])
        return kept

    def _log_shared_phones(self) -> None:
        with self._lock:
            (shared,) = self._db.execute("SELECT COUNT(e164) - COUNT(DISTINCT e164) FROM contacts").fetchone()
        if shared:
            logger.warning(
                f"{shared} contacts share a phone number with an earlier contact; records with that number match the earlier one"
            )

    # --- any thread: what is known -----------------------------------------------------------------------------

    def find(self, contact_id: Optional[str], phone: Optional[str], by: tuple = ("id", "phone")) -> Optional[dict]:
        """What is known, without a request: by id when given and known, else by E.164 phone; only by the keys in
        `by`. The answer is a copy: change the index through `remember`, `set_tags` and `forget`."""
        with self._lock:
            row = None
            if contact_id and "id" in by:
                row = self._db.execute("SELECT kept FROM contacts WHERE id = ?", (contact_id,)).fetchone()
            if row is None and phone and "phone" in by:
                row = self._db.execute("SELECT kept FROM contacts WHERE e164 = ? ORDER BY seq LIMIT 1", (phone,)).fetchone()
        return json.loads(row[0]) if row else None

    def remember(self, contact: Mapping[str, Any]) -> dict:
        """A contact as this sync wrote it (the API's answer, or what was sent where the answer was silent)."""
        kept = self._kept(contact)
        with self._lock:
            self._written(kept["id"])
            self._db.execute("DELETE FROM absent WHERE key IN (?, ?)", (f"id:{kept['id']}", f"phone:{kept[E164]}"))
            self._db.execute(UPSERT_CONTACT, self._row(kept))
        return kept

    def set_tags(self, contact_id: str, tags: List[str]) -> None:
        with self._lock:
            kept = self.find(contact_id, None)
            if kept is not None:
                kept["tags"] = list(tags)
                self.remember(kept)

    def forget(self, contact_id: str) -> None:
        """A contact this sync deleted, or found gone."""
        with self._lock:
            self._written(contact_id)
            self._db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))
            self._db.execute("INSERT OR IGNORE INTO absent (key) VALUES (?)", (f"id:{contact_id}",))

    def mark_seen(self, contact_id: str) -> None:
        """A contact this sync's records matched or created: what a mirror sync keeps."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO seen (id) VALUES (?)", (contact_id,))

    def count_unseen(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM contacts WHERE id NOT IN (SELECT id FROM seen)").fetchone()
        return count

    def unseen_ids(self) -> Iterator[str]:
        """Every known contact no record matched, in the order first known, read a chunk at a time: the caller may
        delete them (and so change the index) as it goes."""
        after = 0
        while True:
            with self._lock:
                chunk = self._db.execute(
                    "SELECT seq, id FROM contacts WHERE seq > ? AND id NOT IN (SELECT id FROM seen) ORDER BY seq LIMIT ?", (after, CHUNK)
                ).fetchall()
            if not chunk:
                return
            after = chunk[-1][0]
            yield from (contact_id for _, contact_id in chunk)

    def close(self) -> None:
        """Ends a walk under way (its pages in flight) and removes the temporary database."""
        with self._walk_lock:
            if self._pages is not None:
                self._pages.close()
        self._db.close()

    def _find(self, kind: str, key: str) -> Optional[dict]:
        return self.find(key, None) if kind == "id" else self.find(None, key)

    def _absent(self, kind: str, key: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM absent WHERE key = ?", (f"{kind}:{key}",)).fetchone() is not None

    def _written(self, contact_id: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO written (id) VALUES (?)", (contact_id,))

    def _kept(self, contact: Mapping[str, Any]) -> dict:
        kept = {name: contact[name] for name in KEPT if name in contact}
        kept[E164] = e164_or_none(contact.get("phoneNumber"), self._region)
        return kept

    @staticmethod
    def _row(kept: dict) -> tuple:
        return kept["id"], kept[E164], json.dumps(kept, separators=(",", ":"))


def _first_key(contact_id: Optional[str], phone: Optional[str], by: tuple) -> Optional[Tuple[str, str]]:
    """The key a record is matched by first: its id, else its phone."""
    if contact_id and "id" in by:
        return "id", contact_id
    return ("phone", phone) if phone and "phone" in by else None
