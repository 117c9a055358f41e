"""The two things a record can be written to, `contacts` and `contact_tags`: validate, route, match, diff, apply, count.

`prepare` and `route` run on the main thread, in input order; `write_contact`, `write_tags` and `delete` run in the
lane that owns the contact (pool.py), so they see every earlier change to it, and report into the record's Outcome."""

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

from destination_contacts.account import Account
from destination_contacts.api import ContactsApi, RecordProblem
from destination_contacts.plan import E164, Change, contact_change, delete_change, tags_change
from destination_contacts.records import CREATING_MODES, ContactRecord, TagRecord, contact_record, tag_record
from destination_contacts.report import Outcome, Rejected

# Which destination sync modes each target supports, and what they mean there.
MODES = {
    "contacts": ("append", "append_dedup", "update", "soft_delete", "overwrite"),
    "contact_tags": ("append", "append_dedup", "soft_delete"),
}

# What routes a record to a lane: ("id", contact id) or ("phone", E.164 number).
Key = Tuple[str, str]


@dataclass(frozen=True)
class Routing:
    keys: Set[Key]
    unknown_id: bool  # the record names an id the index does not hold (yet: a create in flight may make it)
    creates: bool  # the record may create a contact


@dataclass(frozen=True)
class TagRow:
    record: TagRecord
    add: bool
    outcome: Outcome


class Targets:
    def __init__(self, config: Mapping[str, Any], api: Optional[ContactsApi], account: Account, writer: Any):
        self._region = config.get("default_region")
        self._tag_mode = config["tag_mode"]
        self._dry_run = config["dry_run"]
        self._api = api
        self._account = account
        self._writer = writer
        self.ignored_fields: Set[str] = set()

    # --- main thread ---------------------------------------------------------------------------------------

    def prepare(self, target: str, mode: str, data: Any) -> Union[ContactRecord, TagRecord]:
        """The record checked and normalised. Raises Rejected."""
        if target == "contacts":
            record = contact_record(data, mode, self._region)
            self.ignored_fields.update(record.ignored)
            return record
        return tag_record(data, self._region)

    def route(self, target: str, mode: str, record: Union[ContactRecord, TagRecord]) -> Routing:
        """Every key of every contact the record may touch: its own id and phone, and those of the contacts they
        match now (a record by phone and a record by id of the same contact must share a lane)."""
        contact_id = record.id if (target == "contact_tags" or mode != "append") else None
        load = target == "contact_tags" or self._scans(mode)
        keys: Set[Key] = set()
        if contact_id:
            keys.add(("id", contact_id))
        if record.phone:
            keys.add(("phone", record.phone))
        by_id = self._account.find(contact_id, None, load=load) if contact_id else None
        by_phone = self._account.find(None, record.phone, load=load) if record.phone else None
        for found in (by_id, by_phone):
            if found is not None:
                keys.add(("id", found["id"]))
                if found.get(E164):
                    keys.add(("phone", found[E164]))
        creates = target == "contacts" and mode in CREATING_MODES and by_id is None and by_phone is None
        return Routing(keys, unknown_id=bool(contact_id) and by_id is None, creates=creates)

    # --- in a lane -------------------------------------------------------------------------------------------

    def write_contact(self, record: ContactRecord, mode: str, outcome: Outcome) -> None:
        """Rejections go into the outcome; anything else raised fails the sync."""
        try:
            self._write_contact(record, "append_dedup" if mode == "overwrite" else mode, outcome, recover=True)
        except Rejected as rejected:
            outcome.rejected = rejected

    def write_tags(self, rows: Sequence[TagRow]) -> None:
        """contact_tags rows, in input order, as one tags/add and one tags/remove call per contact at most:
        for each tag the last row wins, and only what differs from the contact's tags is sent."""
        by_contact: Dict[str, List[TagRow]] = {}
        for row in rows:
            current = self._account.find(row.record.id, row.record.phone)
            if current is None:
                row.outcome.rejected = Rejected("no contact has this contact_id or phoneNumber")
            else:
                by_contact.setdefault(current["id"], []).append(row)
        for contact_id, contact_rows in by_contact.items():
            self._write_contact_tags(contact_id, contact_rows)

    def delete(self, contact_id: str, outcome: Outcome) -> None:
        """overwrite's end: a contact no record of the sync named."""
        try:
            self._apply(delete_change({"id": contact_id}), outcome)
        except RecordProblem as problem:
            if problem.kind == "gone":
                outcome.count("deleted")  # gone already: what the sync asks for is true
            else:
                outcome.logs.append(f"could not delete contact {contact_id}, absent from the sync: {problem.message}")

    def _scans(self, mode: str) -> bool:
        # append only creates, so it needs no scan: a phone that exists already is found through the API's 409.
        # A dry run cannot see that 409, so it matches against the scan instead.
        return mode != "append" or self._dry_run

    def _write_contact(self, record: ContactRecord, mode: str, outcome: Outcome, recover: bool) -> None:
        current = self._account.find(record.id if mode != "append" else None, record.phone, load=self._scans(mode))
        if mode == "soft_delete":
            if current is None:
                outcome.count("unchanged")  # already absent: what the record asks for is true
                return
            change = delete_change(current)
        elif current is None and mode == "update":
            raise Rejected("no contact has this id or phoneNumber, and update mode only changes existing contacts")
        else:
            change = contact_change(current, record, self._tag_mode)
        try:
            self._apply(change, outcome)
        except RecordProblem as problem:
            if problem.kind == "conflict" and change.creates and recover:
                # The phone exists: created since the scan, not scanned (append), or our own POST whose answer was lost
                # and whose retry met it. Update that contact instead of failing or duplicating it.
                found = self._find_by_phone(record.phone)
                if found is None:
                    raise Rejected(f"the API refused to create the contact because its phoneNumber exists ({problem.message}), but no contact with it was found")
                self._apply_or_reject(contact_change(found, record, self._tag_mode), outcome)
            elif problem.kind == "gone" and change.delete:
                outcome.count("deleted")  # a retried DELETE whose first answer was lost, or someone else's
            elif problem.kind == "gone" and recover and not change.creates:
                # Deleted since the scan: forget it and decide again (append_dedup recreates, update rejects).
                self._account.forget(change.contact_id)
                self._write_contact(record, mode, outcome, recover=False)
            else:
                raise _rejection(problem) from None

    def _write_contact_tags(self, contact_id: str, rows: List[TagRow]) -> None:
        current = self._account.find(contact_id, None, load=False) or {"id": contact_id}
        last: Dict[str, TagRow] = {}
        for row in rows:
            last.pop(row.record.tag, None)
            last[row.record.tag] = row  # a tag's last row decides, in the order of the last rows
        change = tags_change(current, {tag: row.add for tag, row in last.items()})
        changing = [row for row in rows if last[row.record.tag] is row and row.record.tag in change.add_tags + change.remove_tags]
        if changing and self._dry_run:
            changing[0].outcome.plan(change.describe())
        if changing:
            try:
                self._writer.apply(change)
            except RecordProblem as problem:
                for row in rows:
                    row.outcome.rejected = _rejection(problem)
                return
        for row in rows:
            if row in changing:
                row.outcome.count("updated")
                row.outcome.count("tags_added" if row.add else "tags_removed")
            else:
                row.outcome.count("unchanged")

    def _find_by_phone(self, phone: str) -> Optional[Mapping[str, Any]]:
        """One search request; a full rescan only if the search does not find it (a stored number spelled differently)."""
        for contact in self._api.search(phone):
            if isinstance(contact.get("id"), str):
                kept = self._account.remember(contact)
                if kept[E164] == phone:
                    return kept
        self._account.load()
        return self._account.find(None, phone, load=False)

    def _apply_or_reject(self, change: Change, outcome: Outcome) -> None:
        try:
            self._apply(change, outcome)
        except RecordProblem as problem:
            raise _rejection(problem) from None

    def _apply(self, change: Change, outcome: Outcome) -> None:
        if change.empty:
            outcome.count("unchanged")
            self._account.mark_seen(change.contact_id)
            return
        if self._dry_run:
            outcome.plan(change.describe())
        contact = self._writer.apply(change)
        if not change.delete:
            self._account.mark_seen(contact["id"])
        outcome.count("deleted" if change.delete else "created" if change.creates else "updated")
        outcome.count("tags_added", len(change.add_tags))
        outcome.count("tags_removed", len(change.remove_tags))


def _rejection(problem: RecordProblem) -> Rejected:
    if problem.kind == "conflict":
        return Rejected(f"another contact has this phoneNumber ({problem.message})")
    if problem.kind == "gone":
        return Rejected(f"the contact no longer exists ({problem.message})")
    return Rejected(f"the API refused the record ({problem.message})")
