"""The diff: the contact as it is (or None) against what the record wants, as the fewest API calls."""

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

from destination_contacts.records import ContactRecord

# Index key for a contact's phone in E.164, stored alongside the API's fields (see account.py).
E164 = "_e164"


@dataclass(frozen=True)
class Change:
    """The calls for one contact, run in this order: POST (contact_id None) or PUT with `body`, tags/add, tags/remove,
    or DELETE. `body` never carries tags: tags only change through the tag endpoints, which fire automations."""

    contact_id: Optional[str]
    body: Optional[Mapping[str, Any]] = None
    add_tags: Tuple[str, ...] = ()
    remove_tags: Tuple[str, ...] = ()
    delete: bool = False
    # PUT bodies always carry name and phoneNumber (the API requires them); this says which fields really change.
    changed_fields: Tuple[str, ...] = ()

    @property
    def creates(self) -> bool:
        return self.contact_id is None

    @property
    def empty(self) -> bool:
        return not (self.creates or self.body or self.add_tags or self.remove_tags or self.delete)

    def describe(self) -> dict:
        """For the dry-run sample and logs: what changes, never personal values (names, numbers, notes)."""
        if self.delete:
            return {"action": "delete", "contact_id": self.contact_id}
        description = {"action": "create" if self.creates else "update", "contact_id": self.contact_id}
        if self.body:
            description["fields"] = sorted(self.body) if self.creates else list(self.changed_fields)
        if self.add_tags:
            description["add_tags"] = list(self.add_tags)
        if self.remove_tags:
            description["remove_tags"] = list(self.remove_tags)
        return description


def contact_change(current: Optional[Mapping[str, Any]], wanted: ContactRecord, tag_mode: str) -> Change:
    tags = wanted.tags or ()
    if current is None:
        return Change(None, body=dict(wanted.fields), add_tags=tags)
    changed = {name: value for name, value in wanted.fields.items() if not _same(name, current, value)}
    body = None
    if changed:
        # The API's PUT requires name and phoneNumber; unchanged ones go back exactly as stored.
        body = {"name": current.get("name"), "phoneNumber": current.get("phoneNumber"), **changed}
    current_tags = list(current.get("tags") or ())
    add = tuple(tag for tag in tags if tag not in current_tags)
    remove = ()
    if tag_mode == "sync" and wanted.tags is not None:
        remove = tuple(tag for tag in dict.fromkeys(current_tags) if tag not in wanted.tags)
    return Change(current["id"], body=body, add_tags=add, remove_tags=remove, changed_fields=tuple(sorted(changed)))


def delete_change(current: Mapping[str, Any]) -> Change:
    return Change(current["id"], delete=True)


def tags_change(current: Mapping[str, Any], wanted: Mapping[str, bool]) -> Change:
    """contact_tags rows of one contact, as {tag: whether it should be there}: only what differs is sent."""
    present = current.get("tags") or ()
    return Change(
        current["id"],
        add_tags=tuple(tag for tag, add in wanted.items() if add and tag not in present),
        remove_tags=tuple(tag for tag, add in wanted.items() if not add and tag in present),
    )


def _same(name: str, current: Mapping[str, Any], wanted: Any) -> bool:
    if name == "phoneNumber":
        # Another spelling of the same number is no change; the wanted phone is already E.164.
        return current.get(E164) == wanted or current.get(name) == wanted
    if name == "location":
        # The API answers {id, title}; the id is what a record sets.
        return isinstance(current.get(name), dict) and current[name].get("id") == wanted.get("id")
    return current.get(name) == wanted
