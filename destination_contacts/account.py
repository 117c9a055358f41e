"""What the account holds now, as far as this sync knows: one scan of the contact list, kept current by every
answer to our own writes, so matching a record costs no request.

Thread-safe: the workers of the pool (pool.py) write answers into it while the main thread routes records by it.
Each contact's entry is only changed by the lane that owns the contact; the lock keeps the two maps consistent."""

import logging
import threading
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional

from destination_contacts.phones import e164_or_none
from destination_contacts.plan import E164
from destination_contacts.records import WRITABLE

logger = logging.getLogger("airbyte")

# What the index keeps of a contact: what a diff compares, nothing else (an account can hold 500k contacts).
KEPT = ("id", "tags", *WRITABLE)
_FORGOTTEN = None


class Account:
    def __init__(self, scan: Callable[[], Iterable[List[Mapping[str, Any]]]], default_region: Optional[str]):
        self._scan = scan
        self._region = default_region
        self._by_id: Dict[str, dict] = {}
        self._by_phone: Dict[str, str] = {}
        self._lock = threading.RLock()
        self._load_lock = threading.Lock()  # one scan at a time; reads go on against the old index meanwhile
        self._touched: Optional[Dict[str, Optional[dict]]] = None  # written while a scan runs: newer than the scan
        self.loaded = False
        self.shared_phones = 0

    def load(self) -> None:
        """The whole contact list; called once, and again only when the API says the index missed something.
        What the workers write while the pages come in is newer than the pages, so it wins over them."""
        with self._load_lock:
            self._load()

    def _load(self) -> None:
        with self._lock:
            self._touched = {}
        try:
            by_id: Dict[str, dict] = {}
            by_phone: Dict[str, str] = {}
            shared = 0
            for page in self._scan():
                for contact in page:
                    if isinstance(contact.get("id"), str) and contact["id"] not in by_id:
                        shared += self._put(by_id, by_phone, self._kept(contact))
            with self._lock:
                for contact_id, kept in self._touched.items():
                    self._drop(by_id, by_phone, contact_id)
                    if kept is not _FORGOTTEN:
                        shared += self._put(by_id, by_phone, kept)
                self._by_id, self._by_phone, self.shared_phones = by_id, by_phone, shared
                self.loaded = True
        finally:
            with self._lock:
                self._touched = None
        if self.shared_phones:
            logger.warning(f"{self.shared_phones} contacts share a phone number with an earlier contact; records with that number match the earlier one")

    def find(self, contact_id: Optional[str], phone: Optional[str], load: bool = True) -> Optional[dict]:
        """By id when given and known, else by E.164 phone. `load=False` looks only at what is known so far."""
        if load and not self.loaded:
            with self._load_lock:
                if not self.loaded:  # another thread may have loaded it while this one waited
                    self._load()
        with self._lock:
            if contact_id and contact_id in self._by_id:
                return self._by_id[contact_id]
            if phone and phone in self._by_phone:
                return self._by_id.get(self._by_phone[phone])
            return None

    def remember(self, contact: Mapping[str, Any]) -> dict:
        """A contact as the API answered it (list, POST or PUT), replacing what was known of it."""
        kept = self._kept(contact)
        with self._lock:
            self._drop(self._by_id, self._by_phone, kept["id"])
            self.shared_phones += self._put(self._by_id, self._by_phone, kept)
            if self._touched is not None:
                self._touched[kept["id"]] = kept
        return kept

    def set_tags(self, contact_id: str, tags: List[str]) -> None:
        with self._lock:
            if contact_id in self._by_id:
                self._by_id[contact_id]["tags"] = list(tags)
                if self._touched is not None:
                    self._touched[contact_id] = self._by_id[contact_id]

    def forget(self, contact_id: str) -> None:
        with self._lock:
            self._drop(self._by_id, self._by_phone, contact_id)
            if self._touched is not None:
                self._touched[contact_id] = _FORGOTTEN

    def ids(self) -> List[str]:
        """Every contact id known now, in scan order."""
        with self._lock:
            return list(self._by_id)

    def _kept(self, contact: Mapping[str, Any]) -> dict:
        kept = {name: contact[name] for name in KEPT if name in contact}
        kept[E164] = e164_or_none(contact.get("phoneNumber"), self._region)
        return kept

    @staticmethod
    def _put(by_id: Dict[str, dict], by_phone: Dict[str, str], kept: dict) -> int:
        """Returns 1 when the phone already belongs to another contact (which keeps it)."""
        by_id[kept["id"]] = kept
        if kept[E164]:
            if kept[E164] in by_phone:
                return 1
            by_phone[kept[E164]] = kept["id"]
        return 0

    @staticmethod
    def _drop(by_id: Dict[str, dict], by_phone: Dict[str, str], contact_id: str) -> None:
        old = by_id.pop(contact_id, None)
        if old and old.get(E164) and by_phone.get(old[E164]) == contact_id:
            del by_phone[old[E164]]
