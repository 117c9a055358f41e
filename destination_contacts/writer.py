"""The write step, run in the lane that owns the contact (lanes.py), so it sees every earlier change to it: the
contact as known now, the plan (plan.py), the calls, and the recoveries the API's answers call for (a 409 on create,
a 404 on a contact deleted since it was found, a create answered with a body that says nothing: looked up by
phone), each as its operation's row in modes.py says. Every outcome goes into the record's Outcome; a RecordProblem
it cannot recover from rejects the record; anything else fails the sync.

A dry run writes through PlannedCalls, which answers as the API would and sends nothing, so later records of the
same sync see this one's planned effect."""

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from contacts_api.http import ContactsApi, RecordProblem
from destination_contacts.account import Account
from destination_contacts.modes import Operation, Route
from destination_contacts.plan import E164, Change, contact_change, delete_change, tags_change
from destination_contacts.records import ContactRecord, TagRecord
from destination_contacts.report import Outcome, Rejected


@dataclass(frozen=True)
class TagRow:
    record: TagRecord
    route: Route
    outcome: Outcome

    @property
    def add(self) -> bool:
        return self.route.operation.action == "add_tag"


class PlannedCalls:
    """The write endpoints of ContactsApi for a dry run: nothing is sent; creates get made-up ids."""

    def __init__(self) -> None:
        self._created = 0

    def create(self, body: Mapping[str, Any], created: Callable[[], Optional[dict]]) -> dict:
        self._created += 1
        return {"id": f"dry-run-new-{self._created}"}

    def update(self, contact_id: str, body: Mapping[str, Any]) -> dict:
        return {}

    def add_tags(self, contact_id: str, tags: Sequence[str]) -> dict:
        return {}

    def remove_tags(self, contact_id: str, tags: Sequence[str]) -> dict:
        return {}

    def delete(self, contact_id: str) -> None:
        return None


class Writer:
    def __init__(self, api: ContactsApi, account: Account, tag_mode: str, recreate_deleted: bool, dry_run: bool):
        self._calls = PlannedCalls() if dry_run else api
        self._account = account
        self._tag_mode = tag_mode
        self._recreate_deleted = recreate_deleted
        self._dry_run = dry_run

    def write_contact(self, record: ContactRecord, route: Route, outcome: Outcome) -> None:
        """Rejections go into the outcome; anything else raised fails the sync. The contact is what the match step
        found, as earlier records of this lane left it; insert knows only what this sync created (by phone)."""
        current = self._account.find(record.id, record.phone, route.match_by if route.operation.looks_up else ("phone",))
        try:
            if current is None and route.operation.deletes and not route.looks_up(record):
                self._delete(record.id, outcome, gone_counts_as="unchanged")  # not looked up: a 404 says no contact had the id
            else:
                self._write_contact(record, route.operation, outcome, current, recover=True)
        except Rejected as rejected:
            outcome.rejected = rejected

    def write_tags(self, rows: Sequence[TagRow]) -> None:
        """contact_tags rows, in input order, as one tags/add and one tags/remove call per contact at most: for each
        tag the last row wins, and only what differs from the contact's tags is sent."""
        by_contact: Dict[str, List[TagRow]] = {}
        for row in rows:
            current = self._account.find(row.record.id, row.record.phone, row.route.match_by)
            if current is None:
                row.outcome.rejected = Rejected("no contact has this contact_id or phoneNumber")
            else:
                by_contact.setdefault(current["id"], []).append(row)
        for contact_id, contact_rows in by_contact.items():
            self._write_contact_tags(contact_id, contact_rows)

    def delete(self, contact_id: str, outcome: Outcome) -> None:
        """A mirror sync's end: a contact no record of the sync named, known from the walk (a 404: someone deleted
        it first, and what the sync asks for is true). A delete that fails is logged; the sync goes on."""
        try:
            self._delete(contact_id, outcome, gone_counts_as="deleted")
        except (ValueError, Rejected) as error:  # ValueError: an id no URL path can carry (contacts_api.http.path_segment)
            outcome.logs.append(f"could not delete contact {contact_id!r}, absent from the sync: {error}")

    def _delete(self, contact_id: str, outcome: Outcome, gone_counts_as: str) -> None:
        """One DELETE; a 404 counts as `gone_counts_as`, any other answer about the record is a Rejected."""
        try:
            self._apply(delete_change({"id": contact_id}), outcome)
        except RecordProblem as problem:
            if problem.kind != "gone":
                raise _rejection(problem) from None
            # A 404 to a retry after an answer that said nothing: the first DELETE did it.
            outcome.count("deleted" if problem.after_unsure else gone_counts_as)

    def _write_contact(self, record: ContactRecord, operation: Operation, outcome: Outcome, current: Optional[dict], recover: bool) -> None:
        if current is None:
            if operation.if_missing == "done":
                outcome.count("unchanged")  # already absent: what the record asks for is true
                return
            if operation.if_missing == "reject":
                keys = " or ".join(name for name, value in (("id", record.id), ("phoneNumber", record.phone)) if value)
                raise Rejected(f"no contact has this {keys}, and {operation.action} only changes existing contacts")
            if not record.can_create:
                raise Rejected("no contact matches, and name and phoneNumber are needed to create one")
        change = delete_change(current) if operation.deletes else contact_change(current, record, self._tag_mode)
        try:
            self._apply(change, outcome)
        except RecordProblem as problem:
            if problem.kind == "conflict" and change.creates and recover and operation.on_conflict == "update":
                # The phone exists: created since it was looked up, not looked up (insert), or our own POST whose
                # answer was lost and whose retry met it. Update that contact instead of failing or duplicating it.
                found = self._account.look_up("phone", record.phone)
                if found is None:
                    self._account.walk_to_end()  # the search may not know how the number is stored
                    found = self._account.find(None, record.phone)
                if found is None:
                    raise Rejected(
                        f"the API refused to create the contact because its phoneNumber exists ({problem.message}), but no contact with "
                        "it was found"
                    )
                self._write_contact(record, operation, outcome, found, recover=False)
            elif problem.kind == "gone" and change.delete:
                outcome.count("deleted")  # a retried DELETE whose first answer was lost, or someone else's
            elif problem.kind == "gone" and recover and not change.creates:
                # Deleted since it was found: forget it, and do what the operation does for a missing contact.
                self._account.forget(change.contact_id)
                if operation.if_missing == "create" and not self._recreate_deleted:
                    raise Rejected(
                        f"the contact was deleted while the sync ran ({problem.message}), and recreate_deleted_contacts is off"
                    ) from None
                self._write_contact(record, operation, outcome, None, recover=False)
                if operation.if_missing == "create":  # counted once the create went through
                    outcome.count("recreated")
                    outcome.logs.append(f"contact {change.contact_id} was deleted while the sync ran; created again from the record")
            else:
                raise _rejection(problem) from None

    def _write_contact_tags(self, contact_id: str, rows: List[TagRow]) -> None:
        current = self._account.find(contact_id, None) or {"id": contact_id}
        last: Dict[str, TagRow] = {}
        for row in rows:
            last.pop(row.record.tag, None)
            last[row.record.tag] = row  # a tag's last row decides, in the order of the last rows
        change = tags_change(current, {tag: row.add for tag, row in last.items()})
        changing = [row for row in rows if last[row.record.tag] is row and row.record.tag in change.add_tags + change.remove_tags]
        if changing:
            if self._dry_run:
                changing[0].outcome.plan(change.describe())
            try:
                self._send(change)
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

    def _apply(self, change: Change, outcome: Outcome) -> None:
        if change.empty:
            outcome.count("unchanged")
            self._account.mark_seen(change.contact_id)
            return
        if self._dry_run:
            outcome.plan(change.describe())
        contact = self._send(change)
        if not change.delete:
            self._account.mark_seen(contact["id"])
        outcome.count("deleted" if change.delete else "created" if change.creates else "updated")
        outcome.count("tags_added", len(change.add_tags))
        outcome.count("tags_removed", len(change.remove_tags))

    def _send(self, change: Change) -> Mapping[str, Any]:
        """The calls of a change in order, each answer written into the account. Returns the contact as it now is
        (for a delete: as it was). Raises RecordProblem on an answer about the record."""
        contact_id = change.contact_id
        known = self._account.find(contact_id, None) if contact_id else None
        if change.delete:
            self._calls.delete(contact_id)
            self._account.forget(contact_id)
            return known or {"id": contact_id}
        # The API's answers are undocumented: what it echoes wins, what it leaves out is taken from what was sent.
        contact: Dict[str, Any] = dict(known or {"id": contact_id, "tags": []})
        if change.creates:
            # An answer that says nothing of the POST (not the new contact: a proxy's page, an empty or cut body): the
            # phone, unique in an account, tells whether it created the contact before it is sent again.
            created = self._calls.create(change.body, lambda: self._account.look_up_now(change.body["phoneNumber"]))
            contact = self._account.remember({**contact, **change.body, **created})
        elif change.body:
            contact = self._account.remember({**contact, **change.body, **self._calls.update(contact_id, change.body)})
        contact_id = contact["id"]
        tags = list(contact.get("tags") or [])
        if change.add_tags:
            tags = _tags(self._calls.add_tags(contact_id, change.add_tags), tags + [tag for tag in change.add_tags if tag not in tags])
        if change.remove_tags:
            tags = _tags(self._calls.remove_tags(contact_id, change.remove_tags), [tag for tag in tags if tag not in change.remove_tags])
        if change.add_tags or change.remove_tags:
            self._account.set_tags(contact_id, tags)
        return self._account.find(contact_id, None) or contact


def _tags(answer: Mapping[str, Any], expected: List[str]) -> List[str]:
    tags = answer.get("tags")
    return tags if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags) else expected


def _rejection(problem: RecordProblem) -> Rejected:
    if problem.kind == "conflict":
        return Rejected(f"another contact has this phoneNumber ({problem.message})")
    if problem.kind == "gone":
        return Rejected(f"the contact no longer exists ({problem.message})")
    return Rejected(f"the API refused the record ({problem.message})")


def lane_keys(record: Any, current: Optional[Mapping[str, Any]]) -> Tuple[Tuple[str, str], ...]:
    """What puts a record in a lane: its own id and phone, and those of the contact it matched, so that every record
    about one contact (by id or by phone) runs in one lane, in input order."""
    keys = {("id", record.id), ("phone", record.phone)}
    if current is not None:
        keys |= {("id", current["id"]), ("phone", current.get(E164))}
    return tuple(sorted((kind, key) for kind, key in keys if key))
