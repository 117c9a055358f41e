"""What the account holds now, as far as this sync knows: one scan of the contact list, kept current by every
answer to our own writes, so matching a record costs no request."""

import logging
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional

from destination_contacts.phones import e164_or_none
from destination_contacts.plan import E164
from destination_contacts.records import WRITABLE

logger = logging.getLogger("airbyte")

# What the index keeps of a contact: what a diff compares, nothing else (an account can hold 500k contacts).
KEPT = ("id", "tags", *WRITABLE)


class Account:
    def __init__(self, scan: Callable[[], Iterable[List[Mapping[str, Any]]]], default_region: Optional[str]):
        self._scan = scan
        self._region = default_region
        self._by_id: Dict[str, dict] = {}
        self._by_phone: Dict[str, str] = {}
        self.loaded = False
        self.shared_phones = 0

    def load(self) -> None:
        """The whole contact list; called once, and again only when the API says the index missed something."""
        self._by_id.clear()
        self._by_phone.clear()
        self.shared_phones = 0
        for page in self._scan():
            for contact in page:
                if isinstance(contact.get("id"), str) and contact["id"] not in self._by_id:
                    self.remember(contact)
        self.loaded = True
        if self.shared_phones:
            logger.warning(f"{self.shared_phones} contacts share a phone number with an earlier contact; records with that number match the earlier one")

    def find(self, contact_id: Optional[str], phone: Optional[str], load: bool = True) -> Optional[dict]:
        """By id when given and known, else by E.164 phone. `load=False` looks only at what is known so far."""
        if load and not self.loaded:
            self.load()
        if contact_id and contact_id in self._by_id:
            return self._by_id[contact_id]
        if phone and phone in self._by_phone:
            return self._by_id.get(self._by_phone[phone])
        return None

    def remember(self, contact: Mapping[str, Any]) -> dict:
        """A contact as the API answered it (list, POST or PUT), replacing what was known of it."""
        self.forget(contact["id"])
        kept = {name: contact[name] for name in KEPT if name in contact}
        kept[E164] = e164_or_none(contact.get("phoneNumber"), self._region)
        self._by_id[kept["id"]] = kept
        if kept[E164]:
            if kept[E164] in self._by_phone:
                self.shared_phones += 1
            else:
                self._by_phone[kept[E164]] = kept["id"]
        return kept

    def set_tags(self, contact_id: str, tags: List[str]) -> None:
        if contact_id in self._by_id:
            self._by_id[contact_id]["tags"] = list(tags)

    def forget(self, contact_id: str) -> None:
        old = self._by_id.pop(contact_id, None)
        if old and old.get(E164) and self._by_phone.get(old[E164]) == contact_id:
            del self._by_phone[old[E164]]
