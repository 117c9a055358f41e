"""The two things a record can be written to, `contacts` and `contact_tags`: validate, match, diff, apply, count."""

from typing import Any, Mapping, Optional, Set

from destination_contacts.account import Account
from destination_contacts.api import ContactsApi, RecordProblem
from destination_contacts.plan import E164, Change, contact_change, delete_change, tag_change
from destination_contacts.records import ContactRecord, contact_record, tag_record
from destination_contacts.report import Position, Rejected, Report

# Which destination sync modes each target supports, and what they mean there.
MODES = {
    "contacts": ("append", "append_dedup", "update", "soft_delete"),
    "contact_tags": ("append", "append_dedup", "soft_delete"),
}


class Targets:
    def __init__(self, config: Mapping[str, Any], api: Optional[ContactsApi], account: Account, writer: Any, report: Report):
        self._region = config.get("default_region")
        self._tag_mode = config["tag_mode"]
        self._dry_run = config["dry_run"]
        self._api = api
        self._account = account
        self._writer = writer
        self._report = report
        self.ignored_fields: Set[str] = set()

    def write(self, target: str, mode: str, data: Any, position: Position) -> None:
        """Raises Rejected when the record cannot be written; anything else fails the sync."""
        if target == "contacts":
            record = contact_record(data, mode, self._region)
            self.ignored_fields.update(record.ignored)
            self._write_contact(record, mode, position, recover=True)
        else:
            self._write_tag(tag_record(data, self._region), mode, position)

    def _write_contact(self, record: ContactRecord, mode: str, position: Position, recover: bool) -> None:
        # append only creates, so it needs no scan: a phone that exists already is found through the API's 409.
        # A dry run cannot see that 409, so it matches against the scan instead.
        scan = mode != "append" or self._dry_run
        current = self._account.find(record.id if mode != "append" else None, record.phone, load=scan)
        if mode == "soft_delete":
            if current is None:
                self._report.count("unchanged")  # already absent: what the record asks for is true
                return
            change = delete_change(current)
        elif current is None and mode == "update":
            raise Rejected("no contact has this id or phoneNumber, and update mode only changes existing contacts")
        else:
            change = contact_change(current, record, self._tag_mode)
        try:
            self._apply(change, position)
        except RecordProblem as problem:
            if problem.kind == "conflict" and change.creates and recover:
                # The phone exists: created since the scan, not scanned (append), or our own POST whose answer was lost
                # and whose retry met it. Update that contact instead of failing or duplicating it.
                found = self._find_by_phone(record.phone)
                if found is None:
                    raise Rejected(f"the API refused to create the contact because its phoneNumber exists ({problem.message}), but no contact with it was found")
                self._apply_or_reject(contact_change(found, record, self._tag_mode), position)
            elif problem.kind == "gone" and change.delete:
                self._report.count("deleted")  # a retried DELETE whose first answer was lost, or someone else's
            elif problem.kind == "gone" and recover and not change.creates:
                # Deleted since the scan: forget it and decide again (append_dedup recreates, update rejects).
                self._account.forget(change.contact_id)
                self._write_contact(record, mode, position, recover=False)
            else:
                raise _rejection(problem) from None

    def _write_tag(self, record: Any, mode: str, position: Position) -> None:
        current = self._account.find(record.id, record.phone)
        if current is None:
            raise Rejected("no contact has this contact_id or phoneNumber")
        self._apply_or_reject(tag_change(current, record.tag, add=mode != "soft_delete"), position)

    def _find_by_phone(self, phone: str) -> Optional[Mapping[str, Any]]:
        """One search request; a full rescan only if the search does not find it (a stored number spelled differently)."""
        for contact in self._api.search(phone):
            if isinstance(contact.get("id"), str) and self._account.remember(contact).get(E164) == phone:
                return self._account.find(contact["id"], None, load=False)
        self._account.load()
        return self._account.find(None, phone, load=False)

    def _apply_or_reject(self, change: Change, position: Position) -> None:
        try:
            self._apply(change, position)
        except RecordProblem as problem:
            raise _rejection(problem) from None

    def _apply(self, change: Change, position: Position) -> None:
        if change.empty:
            self._report.count("unchanged")
            return
        if self._dry_run:
            self._report.plan(position, change.describe())
        self._writer.apply(change)
        self._report.count("deleted" if change.delete else "created" if change.creates else "updated")
        self._report.count("tags_added", len(change.add_tags))
        self._report.count("tags_removed", len(change.remove_tags))


def _rejection(problem: RecordProblem) -> Rejected:
    if problem.kind == "conflict":
        return Rejected(f"another contact has this phoneNumber ({problem.message})")
    if problem.kind == "gone":
        return Rejected(f"the contact no longer exists ({problem.message})")
    return Rejected(f"the API refused the record ({problem.message})")
