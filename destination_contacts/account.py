"""What the account holds now, as far as this sync knows: one scan of the contact list, kept current by every
answer to our own writes, so matching a record costs no request.

The index lives in a private temporary SQLite database (stdlib), not on the heap: an account can hold 500k
contacts, and the destination's memory must stay flat however many it scans or creates. SQLite keeps a small page
cache (2 MB by default) and spills the rest to its temporary file, which it deletes when the connection closes.

Thread-safe: the workers of the pool (pool.py) write answers into it while the main thread routes records by it.
Each contact's entry is only changed by the lane that owns the contact; the lock serialises use of the connection."""

import json
import logging
import sqlite3
import threading
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional

from destination_contacts.phones import e164_or_none
from destination_contacts.plan import E164
from destination_contacts.records import WRITABLE

logger = logging.getLogger("airbyte")

# What the index keeps of a contact: what a diff compares, nothing else.
KEPT = ("id", "tags", *WRITABLE)
_FORGOTTEN = None
_CHUNK = 1000  # ids per query when walking the index


class Account:
    def __init__(self, scan: Callable[[], Iterable[List[Mapping[str, Any]]]], default_region: Optional[str]):
        self._scan = scan
        self._region = default_region
        # "" is SQLite's private temporary database: on disk past the page cache, removed on close.
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")  # a cache that dies with the process needs no rollback journal
        self._db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY) WITHOUT ROWID")
        self._generation = 0
        self._table = self._create_table()
        self._lock = threading.RLock()
        self._load_lock = threading.Lock()  # one scan at a time; reads go on against the old index meanwhile
        self._touched: Optional[Dict[str, Optional[dict]]] = None  # written while a scan runs: newer than the scan
        self.loaded = False

    def load(self) -> None:
        """The whole contact list; called once, and again only when the API says the index missed something.
        What the workers write while the pages come in is newer than the pages, so it wins over them."""
        with self._load_lock:
            self._load()

    def _load(self) -> None:
        with self._lock:
            self._touched = {}
            scanned = self._create_table()
        try:
            for page in self._scan():
                rows = [self._row(self._kept(contact)) for contact in page if isinstance(contact.get("id"), str)]
                with self._lock:
                    # The first occurrence of an id wins: a contact seen twice (pages shifting under us) is the same one.
                    self._db.executemany(f"INSERT OR IGNORE INTO {scanned} (id, e164, kept) VALUES (?, ?, ?)", rows)
            with self._lock:
                for contact_id, kept in self._touched.items():
                    if kept is _FORGOTTEN:
                        self._db.execute(f"DELETE FROM {scanned} WHERE id = ?", (contact_id,))
                    else:
                        self._upsert(scanned, kept)
                (shared,) = self._db.execute(f"SELECT COUNT(e164) - COUNT(DISTINCT e164) FROM {scanned}").fetchone()
                old, self._table = self._table, scanned
                self.loaded = True
        except BaseException:
            with self._lock:
                self._db.execute(f"DROP TABLE {scanned}")
            raise
        finally:
            with self._lock:
                self._touched = None
        with self._lock:
            self._db.execute(f"DROP TABLE {old}")
        if shared:
            logger.warning(f"{shared} contacts share a phone number with an earlier contact; records with that number match the earlier one")

    def find(self, contact_id: Optional[str], phone: Optional[str], load: bool = True) -> Optional[dict]:
        """By id when given and known, else by E.164 phone (the earliest contact with it). `load=False` looks only
        at what is known so far. The answer is a copy: change the index through `remember`, `set_tags`, `forget`."""
        if load and not self.loaded:
            with self._load_lock:
                if not self.loaded:  # another thread may have loaded it while this one waited
                    self._load()
        with self._lock:
            row = None
            if contact_id:
                row = self._db.execute(f"SELECT kept FROM {self._table} WHERE id = ?", (contact_id,)).fetchone()
            if row is None and phone:
                row = self._db.execute(f"SELECT kept FROM {self._table} WHERE e164 = ? ORDER BY seq LIMIT 1", (phone,)).fetchone()
        return json.loads(row[0]) if row else None

    def remember(self, contact: Mapping[str, Any]) -> dict:
        """A contact as the API answered it (list, POST or PUT), replacing what was known of it."""
        kept = self._kept(contact)
        with self._lock:
            self._store(kept)
        return kept

    def set_tags(self, contact_id: str, tags: List[str]) -> None:
        with self._lock:
            kept = self.find(contact_id, None, load=False)
            if kept is not None:
                kept["tags"] = list(tags)
                self._store(kept)

    def forget(self, contact_id: str) -> None:
        with self._lock:
            self._db.execute(f"DELETE FROM {self._table} WHERE id = ?", (contact_id,))
            if self._touched is not None:
                self._touched[contact_id] = _FORGOTTEN

    def mark_seen(self, contact_id: str) -> None:
        """A contact this sync's records matched or created: what overwrite keeps."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO seen (id) VALUES (?)", (contact_id,))

    def count_unseen(self) -> int:
        with self._lock:
            (count,) = self._db.execute(f"SELECT COUNT(*) FROM {self._table} WHERE id NOT IN (SELECT id FROM seen)").fetchone()
        return count

    def unseen_ids(self) -> Iterator[str]:
        """Every known contact no record matched, in scan order, read a chunk at a time: the caller may delete
        them (and so change the index) as it goes."""
        after = 0
        while True:
            with self._lock:
                chunk = self._db.execute(
                    f"SELECT seq, id FROM {self._table} WHERE seq > ? AND id NOT IN (SELECT id FROM seen) ORDER BY seq LIMIT ?",
                    (after, _CHUNK)).fetchall()
            if not chunk:
                return
            after = chunk[-1][0]
            yield from (contact_id for _, contact_id in chunk)

    def close(self) -> None:
        """Removes the temporary database."""
        self._db.close()

    def _create_table(self) -> str:
        """A fresh, empty index table: `seq` keeps scan order (earliest contact owns a shared phone)."""
        self._generation += 1
        table = f"contacts_{self._generation}"
        self._db.execute(f"CREATE TABLE {table} (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, e164 TEXT, kept TEXT NOT NULL)")
        self._db.execute(f"CREATE INDEX {table}_e164 ON {table} (e164, seq)")
        return table

    def _store(self, kept: dict) -> None:
        self._upsert(self._table, kept)
        if self._touched is not None:
            self._touched[kept["id"]] = kept

    def _upsert(self, table: str, kept: dict) -> None:
        # An upsert keeps the contact's place (seq) in scan order.
        self._db.execute(f"INSERT INTO {table} (id, e164, kept) VALUES (?, ?, ?) "
                         "ON CONFLICT (id) DO UPDATE SET e164 = excluded.e164, kept = excluded.kept", self._row(kept))

    def _kept(self, contact: Mapping[str, Any]) -> dict:
        kept = {name: contact[name] for name in KEPT if name in contact}
        kept[E164] = e164_or_none(contact.get("phoneNumber"), self._region)
        return kept

    @staticmethod
    def _row(kept: dict) -> tuple:
        return kept["id"], kept[E164], json.dumps(kept, separators=(",", ":"))
