"""The writer's recoveries against servers that answer the way a busy account does: a contact deleted after the sync
found it, write answers that echo nothing. The sandbox subclasses stage exactly that."""

import pytest

from integration_tests.connector import A, B, account, counts, full_summary, record, seed, summary, write, writes
from integration_tests.sandbox import ApiError, SandboxAPI


class DeletedMeanwhile(SandboxAPI):
    """Some contacts are deleted, but a cached list still serves them (on page 1): writes to them answer 404."""

    ghosts: list = []

    def delete_but_keep_listing(self, contact_ids):
        self.ghosts = [self.contacts.pop(contact_id) for contact_id in contact_ids]
        self._phone_index = self._order = None

    def _list(self, query):
        page = super()._list(query)
        return self.ghosts + page if query.get("page", "1") == "1" else page


class SilentWrites(SandboxAPI):
    """Write answers carry the id only: what the destination knows afterwards must come from what it sent."""

    def _route(self, method, path, query, body, body_ok):
        answer = super()._route(method, path, query, body, body_ok)
        return {"id": answer["id"]} if method != "GET" and isinstance(answer, dict) and "id" in answer else answer


@pytest.fixture
def deleted_meanwhile(sandbox_factory):
    def build(*contacts, cls=DeletedMeanwhile):
        api = sandbox_factory(cls=cls)
        ids = seed(api, *contacts)
        api.delete_but_keep_listing(ids)
        return api, ids

    return build


def test_an_upsert_of_a_contact_deleted_since_it_was_found_creates_it_again_and_says_so(deleted_meanwhile, tmp_path):
    api, [zoe] = deleted_meanwhile({"name": "Zoë", "phoneNumber": A})
    run = write(api, tmp_path, [("contacts", "append_dedup")], record({"name": "Zoë", "phoneNumber": A, "stage": "Lead"}))
    assert run.returncode == 0, run.stderr
    created = [c["id"] for c in api.snapshot() if c["id"] != zoe]
    assert writes(api) == [
        ("PUT", f"/v1/contacts/{zoe}", {"name": "Zoë", "phoneNumber": A, "stage": "Lead"}),
        ("POST", "/v1/contacts", {"name": "Zoë", "phoneNumber": A, "stage": "Lead"}),
    ]
    assert len(created) == 1
    assert summary(run) == counts(created=1, recreated=1)
    assert f"contact {zoe} was deleted while the sync ran; created again from the record" in run.logs


class RefusesCreates(DeletedMeanwhile):
    def _create(self, body):
        raise ApiError(422, "phoneNumber is blocked")


def test_a_re_create_the_api_refuses_is_a_rejection_and_not_counted_as_recreated(deleted_meanwhile, tmp_path):
    api, [zoe] = deleted_meanwhile({"name": "Zoë", "phoneNumber": A}, cls=RefusesCreates)
    run = write(
        api, tmp_path, [("contacts", "append_dedup")], record({"name": "Zoë", "phoneNumber": A, "stage": "Lead"}), max_rejected_records=1
    )
    assert run.returncode == 0, run.stderr
    assert [(method, path) for method, path, _ in writes(api)] == [("PUT", f"/v1/contacts/{zoe}"), ("POST", "/v1/contacts")]
    assert summary(run) == counts(rejected=1)
    assert not any("created again" in line for line in run.logs)


def test_with_recreate_off_such_a_record_is_rejected(deleted_meanwhile, tmp_path):
    api, [zoe] = deleted_meanwhile({"name": "Zoë", "phoneNumber": A})
    run = write(
        api,
        tmp_path,
        [("contacts", "append_dedup")],
        record({"name": "Zoë", "phoneNumber": A, "stage": "Lead"}),
        recreate_deleted_contacts=False,
        max_rejected_records=1,
    )
    assert run.returncode == 0, run.stderr
    assert writes(api) == [("PUT", f"/v1/contacts/{zoe}", {"name": "Zoë", "phoneNumber": A, "stage": "Lead"})]
    assert summary(run) == counts(rejected=1)
    assert any(
        "the contact was deleted while the sync ran (HTTP 404: Contact not found), and recreate_deleted_contacts is off" in line
        for line in run.logs
    )


def test_an_update_of_such_a_contact_is_rejected_and_a_delete_counts_as_done(deleted_meanwhile, tmp_path):
    api, [zoe, ahmed] = deleted_meanwhile({"name": "Zoë", "phoneNumber": A}, {"name": "Ahmed", "phoneNumber": B})
    run = write(
        api,
        tmp_path,
        [("contacts", "update"), ("gone", "soft_delete", "contacts")],
        record({"id": zoe, "stage": "Lead"}),
        record({"id": ahmed}, stream="gone"),
        max_rejected_records=1,
    )
    assert run.returncode == 0, run.stderr
    assert summary(run) == counts(rejected=1, deleted=1)
    assert any(line.endswith("no contact has this id, and update only changes existing contacts") for line in run.logs)


def test_answers_that_echo_nothing_keep_what_was_sent(sandbox_factory, tmp_path):
    api = sandbox_factory(cls=SilentWrites)
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": A, "tags": ["a"]})
    wanted = record({"name": "Zoë", "phoneNumber": A, "notes": "hi", "tags": ["a", "b"]})
    run = write(api, tmp_path, [("contacts", "append_dedup")], wanted, wanted)  # the second: nothing left to send
    assert run.returncode == 0, run.stderr
    assert writes(api) == [
        ("PUT", f"/v1/contacts/{zoe}", {"name": "Zoë", "phoneNumber": A, "notes": "hi"}),
        ("POST", f"/v1/contacts/{zoe}/tags/add", {"tags": ["b"]}),
    ]
    assert summary(run) == counts(updated=1, unchanged=1, tags_added=1)


def test_a_changed_phone_moves_the_contact_in_the_index(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": "+971 50 123 4567"})
    run = write(
        api,
        tmp_path,
        [("contacts", "update")],
        record({"id": zoe, "phoneNumber": B}),
        record({"phoneNumber": A, "stage": "Lead"}),
        record({"phoneNumber": B, "notes": "found by its new number"}),
        max_rejected_records=1,
        max_workers=1,
    )
    assert run.returncode == 0, run.stderr
    assert writes(api) == [
        ("PUT", f"/v1/contacts/{zoe}", {"name": "Zoë", "phoneNumber": B}),
        ("PUT", f"/v1/contacts/{zoe}", {"name": "Zoë", "phoneNumber": B, "notes": "found by its new number"}),
    ]
    assert summary(run) == counts(updated=2, rejected=1)  # nobody has A any more
    assert account(api) == [{"id": zoe, "name": "Zoë", "phoneNumber": B, "tags": [], "notes": "found by its new number"}]
    assert full_summary(run)["requests"] == len(api.requests)
