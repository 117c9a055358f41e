"""Syncs driven the way an Airbyte 1.7+ deployment drives them (integration_tests/platform.py): the platform's state
ids and record counts, prefixed stream names, saved configs with unknown fields, refreshes and data activation."""

import copy
import json
from datetime import datetime, timezone

import pytest

from integration_tests.connector import A, B, full_summary, record, run_connector, seed, source_config, stdin, writes
from integration_tests.connector import destination_catalog as catalog
from integration_tests.platform import Platform, StreamChoice, metadata_flags
from integration_tests.sandbox import iso_utc

WRITTEN = ("name", "phoneNumber", "stage", "notes", "location", "customFields", "tags")


def by_phone(api):
    """The account as {phone: written fields}, failing on a duplicated phone number."""
    contacts = api.snapshot()
    found = {c["phoneNumber"]: {k: c.get(k) for k in WRITTEN if c.get(k) is not None} for c in contacts}
    assert len(found) == len(contacts), "a contact was duplicated"
    return found


def copy_of(sandbox_factory, origin, change=None):
    """A second account holding the same contacts (same ids), optionally changed."""
    target = sandbox_factory()
    contacts = copy.deepcopy(origin.snapshot())
    for contact in contacts:
        (change or (lambda c: None))(contact)
    target.add_contacts(contacts)
    return target


def test_a_sync_and_the_next_one_resumed_from_its_state_as_the_platform_runs_them(sandbox_factory, tmp_path):
    origin = sandbox_factory(contacts=300, seed=3)
    stale = lambda c: c.update(stage="Churned") if int(c["id"], 16) % 10 == 0 else None  # noqa: E731  30 contacts differ
    target = copy_of(sandbox_factory, origin, stale)
    platform = Platform(tmp_path, prefix="crm_")
    streams = [StreamChoice("contacts", "incremental", "append_dedup")]
    destination_config = source_config(target, requests_per_minute=10_000)

    first = platform.sync(source_config(origin, page_size=50), destination_config, streams)
    assert first.source.returncode == 0 and first.destination.returncode == 0, first.destination.stdout[-2000:]
    assert first.state_ids_sent == list(range(1, 9))  # a state per page (six of 50, the empty end), and the CDK's closing one
    assert first.state_ids_echoed == first.state_ids_sent and first.count_mismatches == []
    assert by_phone(target) == by_phone(origin)
    assert full_summary(first.destination)["updated"] == sum(
        1 for c in origin.snapshot() if int(c["id"], 16) % 10 == 0 and c["stage"] != "Churned"
    )
    assert first.destination_catalog["streams"][0]["stream"]["name"] == "crm_contacts"
    assert [s["stream"]["stream_descriptor"]["name"] for s in first.persisted_state] == ["contacts"]  # the prefix reverted

    # The CRM moves on: five contacts change, two are added. The next sync reads from the persisted state.
    now = iso_utc(datetime.now(timezone.utc))
    changed = origin.snapshot()[:5]
    for contact in changed:
        origin.contacts[contact["id"]].update(stage="Customer", updatedAt=now)
    origin.add_contacts(
        [
            {"name": "New One", "phoneNumber": "+971509990001", "tags": []},
            {"name": "New Two", "phoneNumber": "+971509990002", "tags": ["x"]},
        ]
    )
    second = platform.sync(source_config(origin, page_size=50), destination_config, streams, state=first.persisted_state)
    assert second.destination.returncode == 0 and second.count_mismatches == []
    # 302 contacts now: seven pages of up to 50 and the empty end, each with its state, and the CDK's closing one.
    assert second.state_ids_sent == list(range(9, 18)) and second.state_ids_echoed == second.state_ids_sent
    sent = [m["record"]["data"]["id"] for m in second.forwarded if m["type"] == "RECORD"]
    no_cursor = {c["id"] for c in origin.snapshot() if not c.get("updatedAt")}  # always sent: no cursor to compare
    [cursor] = [s["stream"]["stream_state"]["updatedAt"] for s in first.persisted_state]
    at_the_bound = {c["id"] for c in origin.snapshot() if c.get("updatedAt") == cursor}  # the bound is read again
    assert len(at_the_bound) == 1
    assert sorted(sent) == sorted({c["id"] for c in changed} | no_cursor | at_the_bound | {c["id"] for c in origin.snapshot()[-2:]})
    assert by_phone(target) == by_phone(origin)
    assert full_summary(second.destination)["created"] == 2
    assert full_summary(second.destination)["updated"] == sum(1 for c in changed if c["stage"] != "Customer")  # `changed`: as they were


def test_tag_rows_of_a_prefixed_stream_change_tags_through_the_tag_endpoints(sandbox_factory, tmp_path):
    origin = sandbox_factory(contacts=120, seed=5)
    target = copy_of(sandbox_factory, origin, lambda c: c.update(tags=c["tags"][:1]))  # tags lost in the target
    platform = Platform(tmp_path, prefix="crm_")
    sync = platform.sync(
        source_config(origin), source_config(target, requests_per_minute=10_000), [StreamChoice("contact_tags", "full_refresh", "append")]
    )
    assert sync.destination.returncode == 0 and sync.count_mismatches == []
    assert "stream crm_contact_tags: append → add_tag contact_tags" in sync.destination.logs
    assert by_phone(target) == by_phone(origin)
    assert {r.method for r in target.requests} == {"GET", "POST"} and all(
        r.path.endswith("/tags/add") for r in target.requests if r.method == "POST"
    )


@pytest.mark.parametrize("refreshes", [True, False], ids=["refresh support", "no refresh support"])
def test_a_full_refresh_that_replaces_the_data_deletes_absent_contacts_only_after_complete(sandbox_factory, tmp_path, refreshes):
    origin = sandbox_factory(contacts=60, seed=7)
    target = copy_of(sandbox_factory, origin)
    extra = seed(target, {"name": "Only in the target", "phoneNumber": A}, {"name": "Also", "phoneNumber": B})
    platform = Platform(tmp_path, refreshes=refreshes)
    sync = platform.sync(
        source_config(origin),
        source_config(target, requests_per_minute=10_000, delete_absent_contacts=True),
        [StreamChoice("contacts", "full_refresh", "overwrite")],
    )
    assert sync.destination.returncode == 0 and sync.count_mismatches == []
    configured = sync.destination_catalog["streams"][0]
    if refreshes:
        # The platform rewrites overwrite for such a destination: append, a truncating generation, and COMPLETE at the end.
        assert (configured["destination_sync_mode"], configured["generation_id"], configured["minimum_generation_id"]) == ("append", 1, 1)
        assert [m["trace"]["stream_status"]["status"] for m in sync.forwarded if m["type"] == "TRACE"] == ["COMPLETE"]
        assert sorted(r.path.rsplit("/", 1)[1] for r in target.requests if r.method == "DELETE") == sorted(extra)
        assert by_phone(target) == by_phone(origin)
    else:
        assert configured["destination_sync_mode"] == "overwrite" and "generation_id" not in configured
        assert writes(target) == []
        assert (
            "delete_absent_contacts: no contact deleted, no stream status COMPLETE for contacts, so the input may be partial "
            "(Airbyte sends it only to destinations with refreshes support)"
        ) in sync.destination.logs


def test_no_delete_after_a_merge_refresh_or_a_source_that_failed(sandbox_factory, tmp_path):
    origin = sandbox_factory(contacts=60, seed=7)
    target = copy_of(sandbox_factory, origin)
    seed(target, {"name": "Only in the target", "phoneNumber": A})
    config = source_config(target, requests_per_minute=10_000, delete_absent_contacts=True)
    # A merge refresh: append_dedup with minimum generation 0.
    merge = Platform(tmp_path, refreshes=True).sync(
        source_config(origin), config, [StreamChoice("contacts", "full_refresh", "append_dedup")]
    )
    assert merge.destination_catalog["streams"][0]["minimum_generation_id"] == 0
    assert [r for r in target.requests if r.method == "DELETE"] == []
    # A truncating refresh whose source fails part way, after forwarding records: no COMPLETE, so nothing is deleted.
    failing = sandbox_factory(contacts=60, seed=7, broken_body="html", broken_body_after=5)  # the walk's page 2 on
    failed = Platform(tmp_path, refreshes=True).sync(
        source_config(failing, page_size=20), config, [StreamChoice("contacts", "full_refresh", "overwrite")]
    )
    assert failed.source.returncode != 0 and not any(m["type"] == "TRACE" for m in failed.forwarded)
    assert sum(m["type"] == "RECORD" for m in failed.forwarded) == 20
    assert [r for r in target.requests if r.method == "DELETE"] == []
    assert (
        "delete_absent_contacts: no contact deleted, no stream status COMPLETE for contacts, so the input may be partial "
        "(Airbyte sends it only to destinations with refreshes support)"
    ) in failed.destination.logs
    assert merge.count_mismatches == failed.count_mismatches == []


def test_data_activation_update_with_only_the_key_and_a_changed_field(sandbox_factory, tmp_path):
    origin = sandbox_factory(contacts=40, seed=9)
    target = copy_of(sandbox_factory, origin, lambda c: c.update(stage="Subscriber", name=c["name"] + " (CRM)"))
    platform = Platform(tmp_path)
    streams = [
        StreamChoice(
            "contacts", "full_refresh", "update", destination_object_name="contacts", matching_key=[["id"]], fields=("id", "stage")
        )
    ]
    before = {c["id"]: c for c in target.snapshot()}
    sync = platform.sync(source_config(origin), source_config(target, requests_per_minute=10_000), streams)
    assert sync.destination.returncode == 0 and sync.count_mismatches == []
    assert all(set(m["record"]["data"]) <= {"id", "stage"} for m in sync.forwarded if m["type"] == "RECORD")
    after = {c["id"]: c for c in target.snapshot()}
    wanted = {c["id"]: c["stage"] for c in origin.snapshot()}
    assert {i: c["stage"] for i, c in after.items()} == wanted
    # Name and phone came from the account the destination read, not from the record.
    assert all(after[i]["name"] == before[i]["name"] and after[i]["phoneNumber"] == before[i]["phoneNumber"] for i in after)
    assert full_summary(sync.destination)["updated"] == sum(1 for stage in wanted.values() if stage != "Subscriber")


def test_data_activation_matches_by_the_key_the_user_chose(sandbox_factory, tmp_path):
    """primary_key [["phoneNumber"]]: a record's id, even a wrong one, does not decide which contact it is."""
    target = sandbox_factory()
    [zoe] = seed(target, {"name": "Zoë", "phoneNumber": A, "stage": "Lead"})
    configured = catalog(("leads", "update", "contacts"))
    configured["streams"][0]["primary_key"] = [["phoneNumber"]]
    run = run_connector(
        "destination-contacts",
        "write",
        tmp_path,
        source_config(target),
        configured,
        stdin=stdin(record({"id": "someone-else", "phoneNumber": A, "stage": "Customer"}, "leads")),
    )
    assert run.returncode == 0, run.stdout
    assert [(method, path) for method, path, _ in writes(target)] == [("PUT", f"/v1/contacts/{zoe}")]
    # A tag row too: its contact_id names Bo, its phone Zoë, and the phone is the key.
    [bo] = seed(target, {"name": "Bo", "phoneNumber": B})
    tags = catalog(("lead_tags", "append", "contact_tags"))
    tags["streams"][0]["primary_key"] = [["phoneNumber"]]
    target.reset_requests()
    run = run_connector(
        "destination-contacts",
        "write",
        tmp_path,
        source_config(target),
        tags,
        stdin=stdin(record({"contact_id": bo, "phoneNumber": A, "tag": "vip"}, "lead_tags")),
    )
    assert run.returncode == 0, run.stdout
    assert [(method, path) for method, path, _ in writes(target)] == [("POST", f"/v1/contacts/{zoe}/tags/add")]
    configured["streams"][0]["primary_key"] = [["email"]]
    run = run_connector("destination-contacts", "write", tmp_path, source_config(target), configured, stdin="")
    assert run.returncode == 1 and run.errors[0]["failure_type"] == "config_error"
    assert run.errors[0]["message"] == "stream 'leads': primary key email is not a matching key of contacts; use one of: id, phoneNumber."


def test_any_stream_name_from_a_warehouse_lands_and_tag_rows_are_told_by_their_fields(sandbox_factory, tmp_path):
    """A Postgres table `crm_leads` and a table of tag rows `lead_tags`, as the platform hands them over: the source's
    names, a schema of the selected columns, the source's own primary key."""
    target = sandbox_factory()
    leads = [{"lead_id": n, "name": f"Lead {n}", "phoneNumber": f"+97150{n:07d}", "stage": "Lead"} for n in range(300)]
    tags = [{"phoneNumber": f"+97150{n:07d}", "tag": "imported"} for n in range(0, 300, 3)]
    streams = {
        "crm_leads": {
            "lead_id": {"type": "integer"},
            "name": {"type": "string"},
            "phoneNumber": {"type": "string"},
            "stage": {"type": "string"},
        },
        "lead_tags": {"phoneNumber": {"type": "string"}, "tag": {"type": "string"}},
    }
    configured = {
        "streams": [
            {
                "stream": {
                    "name": name,
                    "json_schema": {"type": "object", "properties": properties},
                    "supported_sync_modes": ["full_refresh"],
                },
                "sync_mode": "full_refresh",
                "destination_sync_mode": "append_dedup",
                "primary_key": [["lead_id"]] if name == "crm_leads" else [],
            }
            for name, properties in streams.items()
        ]
    }
    messages = [record(lead, "crm_leads") for lead in leads] + [record(row, "lead_tags") for row in tags]
    run = run_connector(
        "destination-contacts", "write", tmp_path, source_config(target, requests_per_minute=10_000), configured, stdin=stdin(*messages)
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert (
        "stream crm_leads: append_dedup → upsert contacts" in run.logs
        and "stream lead_tags: append_dedup → add_tag contact_tags" in run.logs
    )
    assert len(target.snapshot()) == 300
    assert sum("imported" in c["tags"] for c in target.snapshot()) == 100
    assert full_summary(run)["created"] == 300 and full_summary(run)["rejected"] == 0
    assert any("not written, the API has no documented way to set them: lead_id" in line for line in run.logs)


def test_records_of_a_stream_the_catalog_does_not_name_are_rejected_and_fail_the_sync(sandbox_factory, tmp_path):
    target = sandbox_factory()
    run = run_connector(
        "destination-contacts",
        "write",
        tmp_path,
        source_config(target),
        catalog(("contacts", "append_dedup")),
        stdin=stdin(record({"name": "Zoë", "phoneNumber": A}, "not_configured")),
    )
    assert run.returncode == 1 and target.snapshot() == []
    assert run.errors[0]["message"].startswith("1 records were rejected, more than max_rejected_records (0)")
    assert "stream 'not_configured' is not in the configured catalog" in run.errors[0]["message"]


SHAPES = {
    "STREAM": {
        "type": "STREAM",
        "stream": {"stream_descriptor": {"name": "crm_contacts", "namespace": "public"}, "stream_state": {"cursor": "2026-01-01"}},
    },
    # A global state's stream_states keep the source's names: only STREAM descriptors are renamed by the platform.
    "GLOBAL": {
        "type": "GLOBAL",
        "global": {
            "shared_state": {"lsn": 99},
            "stream_states": [{"stream_descriptor": {"name": "contacts", "namespace": "public"}, "stream_state": {"cursor": "x"}}],
        },
    },
    "LEGACY": {"data": {"anything": True}},
}


@pytest.mark.parametrize("shape", SHAPES)
def test_every_state_shape_comes_back_as_it_came_with_its_counts(sandbox_factory, tmp_path, shape):
    """Every field kept (the platform's id, sourceStats, fields of a future protocol), in order, once each, with
    destinationStats for the records since the state before."""
    target = sandbox_factory()
    configured = catalog(("crm_contacts", "append_dedup"))
    configured["streams"][0]["stream"]["namespace"] = "public"

    def contact(n, **data):
        message = record({"name": f"n{n}", "phoneNumber": f"+9715012300{n:02d}", **data}, "crm_contacts")
        message["record"]["namespace"] = "public"
        return message

    def state(state_id):
        return {
            "type": "STATE",
            "state": {**SHAPES[shape], "sourceStats": {"recordCount": 2.0}, "id": state_id, "addedByAFutureProtocol": {"x": [1, 2]}},
        }

    lines = [contact(1), contact(2, phoneNumber=None), state(7), contact(3), contact(4), contact(5), state(8), state(9)]
    run = run_connector(
        "destination-contacts", "write", tmp_path, source_config(target, max_rejected_records=5), configured, stdin=stdin(*lines)
    )
    assert run.returncode == 0, run.stdout
    counted = [
        {"recordCount": 1.0, "rejectedRecordCount": 1.0},
        {"recordCount": 3.0, "rejectedRecordCount": 0.0},
        {"recordCount": 0.0, "rejectedRecordCount": 0.0},
    ]
    assert run.states == [{**state(n)["state"], "destinationStats": stats} for n, stats in zip((7, 8, 9), counted)]
    assert [json.loads(line)["state"]["id"] for line in run.stdout.splitlines() if '"STATE"' in line] == [7, 8, 9]


def test_the_destination_metadata_declares_only_what_is_built_and_tested():
    assert metadata_flags("destination-contacts") == {"supportsRefreshes": True, "supportsDataActivation": True}
    assert metadata_flags("source-contacts") == {"supportsRefreshes": False, "supportsDataActivation": False}


def test_a_destination_that_fails_reads_its_input_to_the_end_and_names_the_cause(sandbox_factory, tmp_path):
    """The platform closes the destination's input only after the source is done; a destination that exits first
    fails the delivery, and the platform would report that instead of the real cause."""
    target = sandbox_factory()
    messages = [record({"name": f"n{n}", "phoneNumber": f"+97150000{n:04d}"}) for n in range(500)]
    run = run_connector(
        "destination-contacts",
        "write",
        tmp_path,
        source_config(target, api_key="a-rejected-key"),
        catalog(("contacts", "append")),
        stdin=stdin(*messages),
    )
    assert run.returncode == 1 and run.stdin_left == 0
    assert [(e["failure_type"], e["message"].split(" (")[0]) for e in run.errors] == [
        ("config_error", "The Contacts API rejected the API key")
    ]
    bad_catalog = catalog(("contacts", "update", "nowhere"))
    run = run_connector("destination-contacts", "write", tmp_path, source_config(target), bad_catalog, stdin=stdin(*messages))
    assert run.returncode == 1 and run.stdin_left == 0 and run.errors[0]["failure_type"] == "config_error"
