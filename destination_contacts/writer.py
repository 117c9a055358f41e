"""Runs a Change: the calls in order, each answer written back into the account index. The dry-run writer plans
the same way and answers as the API would, sending nothing.

Concurrency lives one level up (pool.py, dispatch.py): a whole record (match, diff, apply, recover) runs in the
lane that owns its contact, so `apply` is called from several threads but never for one contact at once. The
dispatcher's `flush` is what waits for every change before a state message is echoed."""

from typing import Any, Dict, List, Mapping

from destination_contacts.account import Account
from destination_contacts.api import ContactsApi
from destination_contacts.plan import Change


class ApiWriter:
    def __init__(self, api: ContactsApi, account: Account):
        self._api = api
        self._account = account

    def apply(self, change: Change) -> Mapping[str, Any]:
        """Returns the contact as it now is (for a delete: as it was). Raises api.RecordProblem on a per-record answer."""
        contact_id = change.contact_id
        if change.delete:
            self._api.delete(contact_id)
            return self._account_forget(contact_id)
        # The API's answers are undocumented: what it echoes wins, what it leaves out is taken from what was sent.
        known = dict(self._account.find(contact_id, None, load=False) or {"id": contact_id, "tags": []}) if contact_id else {"tags": []}
        if change.creates:
            known = self._account.remember({**known, **change.body, **self._api.create(change.body)})
            contact_id = known["id"]
        elif change.body:
            known = self._account.remember({**known, **change.body, **self._api.update(contact_id, change.body)})
        tags = list(known.get("tags") or [])
        if change.add_tags:
            answer = self._api.add_tags(contact_id, change.add_tags)
            tags = _tags(answer, tags + [tag for tag in change.add_tags if tag not in tags])
        if change.remove_tags:
            answer = self._api.remove_tags(contact_id, change.remove_tags)
            tags = _tags(answer, [tag for tag in tags if tag not in change.remove_tags])
        self._account.set_tags(contact_id, tags)
        return self._account.find(contact_id, None, load=False) or known

    def _account_forget(self, contact_id: str) -> Dict[str, Any]:
        gone = dict(self._account.find(contact_id, None, load=False) or {"id": contact_id})
        self._account.forget(contact_id)
        return gone


class DryRunWriter(ApiWriter):
    """Answers as the API would, so later records of the same sync see this one's planned effect."""

    def __init__(self, account: Account):
        self._account = account
        self._created = 0

    def apply(self, change: Change) -> Mapping[str, Any]:
        if change.delete:
            return self._account_forget(change.contact_id)
        if change.creates:
            self._created += 1
            current = {"id": f"dry-run-new-{self._created}", "tags": []}
        else:
            current = dict(self._account.find(change.contact_id, None, load=False) or {"id": change.contact_id})
        current.update(change.body or {})
        tags = [tag for tag in current.get("tags") or [] if tag not in change.remove_tags]
        current["tags"] = tags + [tag for tag in change.add_tags if tag not in tags]
        return self._account.remember(current)


def _tags(answer: Mapping[str, Any], expected: List[str]) -> List[str]:
    tags = answer.get("tags")
    return tags if isinstance(tags, list) else expected
