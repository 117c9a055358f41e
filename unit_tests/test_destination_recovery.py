"""Targets + ApiWriter + Account against a scripted API: the recoveries the sandbox cannot stage in order."""

import pytest

from destination_contacts.account import Account
from destination_contacts.api import RecordProblem
from destination_contacts.dispatch import Dispatcher
from destination_contacts.pool import LanePool
from destination_contacts.report import Position, Report
from destination_contacts.targets import Targets
from destination_contacts.writer import ApiWriter

E, F = "+971501234567", "+971501234568"
HERE = Position("contacts", 1, 1)


class ScriptedApi:
    """Answers from the contacts it holds; `gone` ids answer 404 to every write; tag answers carry no tags."""

    def __init__(self, contacts, gone=()):
        self.contacts = {c["id"]: dict(c) for c in contacts}
        self.gone = set(gone)
        self.calls = []

    def pages(self):
        yield list(self.contacts.values())

    def _check(self, contact_id):
        if contact_id in self.gone:
            raise RecordProblem("gone", 404, "HTTP 404: Contact not found")

    def create(self, body):
        self.calls.append(("create", body))
        return {"id": "new1", **body}

    def update(self, contact_id, body):
        self.calls.append(("update", contact_id, body))
        self._check(contact_id)
        return {"id": contact_id}  # an answer that echoes nothing: what was sent must be kept

    def add_tags(self, contact_id, tags):
        self.calls.append(("add_tags", contact_id, list(tags)))
        self._check(contact_id)
        return {"id": contact_id}

    def remove_tags(self, contact_id, tags):
        self.calls.append(("remove_tags", contact_id, list(tags)))
        return {"id": contact_id}

    def delete(self, contact_id):
        self.calls.append(("delete", contact_id))
        self._check(contact_id)

    def search(self, text):
        return []


class OneLane:
    """The real Dispatcher with a one-lane pool: each record written, then flushed (written and settled) at once."""

    def __init__(self, targets, report):
        self.pool = LanePool(1)
        self.dispatcher = Dispatcher(targets, report, self.pool)

    def write(self, target, mode, data, position):
        list(self.dispatcher.write(target, mode, data, position))
        list(self.dispatcher.flush())


@pytest.fixture
def targets():
    lanes = []

    def build(api, **config):
        account = Account(api.pages, None)
        report = Report(None, 0, False)
        lanes.append(OneLane(Targets({"tag_mode": "add", "dry_run": False, **config}, api, account, ApiWriter(api, account)), report))
        return lanes[-1], report, account

    yield build
    for lane in lanes:
        lane.pool.close()


def test_contact_deleted_since_the_scan_is_recreated_by_an_upsert(targets):
    api = ScriptedApi([{"id": "c1", "name": "Zoë", "phoneNumber": E, "tags": []}], gone={"c1"})
    t, report, account = targets(api)
    t.write("contacts", "append_dedup", {"name": "Zoë", "phoneNumber": E, "stage": "Lead"}, HERE)
    assert api.calls == [
        ("update", "c1", {"name": "Zoë", "phoneNumber": E, "stage": "Lead"}),
        ("create", {"name": "Zoë", "phoneNumber": E, "stage": "Lead"}),
    ]
    assert report.counts["created"] == 1 and account.find(None, E)["id"] == "new1"


def test_a_delete_answered_404_counts_as_deleted(targets):
    api = ScriptedApi([{"id": "c1", "name": "Zoë", "phoneNumber": E}], gone={"c1"})
    t, report, account = targets(api)
    t.write("contacts", "soft_delete", {"id": "c1"}, HERE)
    assert report.counts["deleted"] == 1


def test_answers_without_fields_or_tags_keep_what_was_sent(targets):
    api = ScriptedApi([{"id": "c1", "name": "Zoë", "phoneNumber": E, "tags": ["a"]}])
    t, report, account = targets(api)
    record = {"name": "Zoë", "phoneNumber": E, "notes": "hi", "tags": ["a", "b"]}
    t.write("contacts", "append_dedup", record, HERE)
    assert account.find("c1", None)["tags"] == ["a", "b"] and account.find("c1", None)["notes"] == "hi"
    calls = len(api.calls)
    t.write("contacts", "append_dedup", record, HERE)  # the same record again: nothing to send
    assert len(api.calls) == calls and report.counts["unchanged"] == 1


def test_phone_index_follows_a_phone_change(targets):
    api = ScriptedApi([{"id": "c1", "name": "Zoë", "phoneNumber": "+971 50 123 4567"}])
    t, report, account = targets(api)
    assert account.find(None, E, load=True)["id"] == "c1"
    t.write("contacts", "update", {"id": "c1", "phoneNumber": F}, HERE)
    assert account.find(None, E, load=False) is None and account.find(None, F, load=False)["id"] == "c1"
