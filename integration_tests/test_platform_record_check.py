"""The platform's check of every source record (integration_tests/platform.py: check_record, as
BasicAirbyteMessageValidator does it), each rule on its own; and the source against it: contacts listed without an id
are held back from a deduplicated stream, and named, so that the sync passes."""

import pytest

from integration_tests.connector import record, run_connector, source_catalog, source_config
from integration_tests.platform import Platform, SourceException, StreamChoice, check_record
from integration_tests.test_platform import by_phone


def configured(name="contacts", sync_mode="incremental", mode="append_dedup", primary_key=(("id",),), namespace=None):
    stream = {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]}
    if namespace is not None:
        stream["namespace"] = namespace
    keys = [list(path) for path in primary_key]
    return {"streams": [{"stream": stream, "sync_mode": sync_mode, "destination_sync_mode": mode, "primary_key": keys}]}


TAGS_KEY = (("contact_id",), ("tag",))


@pytest.mark.parametrize(
    "data, catalog",
    [
        ({"id": "c1", "name": "Zoë"}, configured()),
        ({"id": None, "name": "Zoë"}, configured()),  # present as JSON null: Jackson's NullNode is not null
        ({"tag": "VIP"}, configured("contact_tags", primary_key=TAGS_KEY)),  # a composite key passes on any one field
        ({"name": "Zoë"}, configured(sync_mode="full_refresh", mode="overwrite_dedup")),  # full refresh: not checked
        ({"name": "Zoë"}, configured(mode="append")),  # incremental append: not checked
        ({"name": "Zoë"}, configured(mode="append", primary_key=())),
        ({"location": {"id": "l1"}}, configured(primary_key=(("location", "id"),))),  # a path into an object
    ],
)
def test_records_the_platform_forwards(data, catalog):
    message = record(data, catalog["streams"][0]["stream"]["name"])
    assert check_record(message, catalog) is message


@pytest.mark.parametrize(
    "message",
    [
        {"type": "RECORD", "record": {"stream": "contacts", "emitted_at": 1}},  # no data
        record(None),
        record({}),  # empty data: dropped from v1.8.0
        {"type": "RECORD", "record": {"data": {"id": "c1"}, "emitted_at": 1}},  # no stream
    ],
)
def test_records_the_platform_drops(message):
    assert check_record(message, configured()) is None


@pytest.mark.parametrize(
    "message, catalog, error",
    [
        (record({"name": "Zoë"}), configured(), "All the defined primary keys are null, the primary keys are: id"),
        (record({"name": "Zoë"}), configured(mode="overwrite_dedup"), "All the defined primary keys are null, the primary keys are: id"),
        (
            record({"updatedAt": "2026-01-01T00:00:00Z"}, "contact_tags"),
            configured("contact_tags", primary_key=TAGS_KEY),
            "All the defined primary keys are null, the primary keys are: contact_id, tag",
        ),
        (record({"location": "Dubai"}), configured(primary_key=(("location", "id"),)), "the primary keys are: location.id"),
        (record({"id": "c1"}), configured(primary_key=()), "Primary keys not found in catalog for the stream (namespace: contacts"),
        (record({"id": "c1"}, "other"), configured(), "Missing catalog stream for the stream (namespace: other, name: None"),
        (record({"id": "c1"}), configured(namespace="crm"), "Missing catalog stream"),  # the namespace must match too
    ],
)
def test_records_that_fail_the_sync(message, catalog, error):
    with pytest.raises(SourceException) as raised:
        check_record(message, catalog)
    assert error in str(raised.value)


CHOSEN = ["append_dedup", "overwrite_dedup", "overwrite", "update", "soft_delete"]


@pytest.mark.parametrize(
    "refreshes, sent",
    [
        (True, ["append_dedup", "append_dedup", "append", "append", "append"]),
        (False, ["append_dedup", "overwrite", "overwrite", "append", "append"]),
    ],
)
def test_the_source_gets_the_modes_as_the_platform_serializes_them(tmp_path, refreshes, sent):
    """DefaultProtocolSerializer for a source; the record check keeps the modes as chosen."""
    catalog = {"streams": [configured(mode=mode)["streams"][0] for mode in CHOSEN]}
    assert [s["destination_sync_mode"] for s in Platform(tmp_path, refreshes=refreshes)._as_sent_to_source(catalog)["streams"]] == sent


def test_a_source_record_without_its_key_fails_the_platforms_sync(sandbox_factory, tmp_path, monkeypatch):
    """What every deduplicated sync of an account with an id-less contact did before the source held them back: the
    harness fails it as the platform does."""
    origin = sandbox_factory(contacts=10, seed=4, null_id_every=5)
    monkeypatch.setattr("source_contacts.streams.contact_key", lambda contact: "taken for an id")  # the source as it was
    platform = Platform(tmp_path)
    with pytest.raises(SourceException, match="All the defined primary keys are null, the primary keys are: id"):
        platform.sync(
            source_config(origin), source_config(sandbox_factory(), requests_per_minute=10_000), [StreamChoice("contacts", "incremental")]
        )


REASON = (
    "the stream is deduplicated on its primary key (Incremental | Append + Deduped), which they lack, and the platform fails "
    "the sync on such a record. A sync of the stream without deduplication (Append, or Full Refresh) delivers them. They are: "
)


def named(contacts):
    return "; ".join(f"phoneNumber {c['phoneNumber']!r}, name {c['name']!r}" for c in contacts)


def test_two_of_300_contacts_without_an_id_in_a_deduplicated_sync_are_held_back_and_named(sandbox_factory, tmp_path):
    # Contacts 150 and 300 of the list come without an id: the first with id null, the second with no id field.
    origin = sandbox_factory(contacts=300, seed=3, null_id_every=150)
    stored = origin.snapshot()
    without_id = [stored[149], stored[299]]
    target = sandbox_factory()
    platform = Platform(tmp_path, prefix="crm_")

    sync = platform.sync(
        source_config(origin, page_size=100),
        source_config(target, requests_per_minute=10_000),
        [StreamChoice("contacts", "incremental", "append_dedup")],
    )

    assert sync.source.returncode == 0 and sync.destination.returncode == 0, sync.destination.stdout[-2000:]
    assert sync.count_mismatches == [] and sync.state_ids_echoed == sync.state_ids_sent
    records = [m["record"] for m in sync.forwarded if m["type"] == "RECORD"]
    assert sorted(r["data"]["id"] for r in records) == sorted(c["id"] for c in stored if c not in without_id)
    held_back = {c["phoneNumber"] for c in without_id}
    assert len(by_phone(target)) == 298
    assert by_phone(target) == {phone: fields for phone, fields in by_phone(origin).items() if phone not in held_back}
    assert [w for w in sync.source.warnings if "not emitted" in w] == [
        f"contacts: 2 records not emitted, of 2 contacts the API listed without an id: {REASON}{named(without_id)}."
    ]


def test_tag_rows_of_contacts_without_an_id_are_held_back_from_a_deduplicated_stream(sandbox_factory, tmp_path):
    origin = sandbox_factory(contacts=300, seed=3, null_id_every=150)
    stored = origin.snapshot()
    without_id = [stored[149], stored[299]]
    catalog = source_catalog("contact_tags", sync_mode="incremental")
    run = run_connector("source-contacts", "read", tmp_path, source_config(origin, page_size=100), catalog)
    assert run.returncode == 0, run.stderr
    rows = [(row["contact_id"], row["tag"]) for row in run.records["contact_tags"]]
    assert rows == [(c["id"], tag) for c in stored if c not in without_id for tag in dict.fromkeys(c.get("tags") or [])]
    held_back = sum(len(dict.fromkeys(c.get("tags") or [])) for c in without_id)
    assert held_back > 0
    assert [w for w in run.warnings if "not emitted" in w] == [
        f"contact_tags: {held_back} records not emitted, of 2 contacts the API listed without an id: {REASON}{named(without_id)}."
    ]


@pytest.mark.parametrize("sync_mode, mode", [("incremental", "append"), ("full_refresh", "overwrite"), ("full_refresh", "append_dedup")])
def test_contacts_without_an_id_are_emitted_where_the_stream_is_not_deduplicated(sandbox_factory, tmp_path, sync_mode, mode):
    origin = sandbox_factory(contacts=300, seed=3, null_id_every=150)
    catalog = source_catalog("contacts", sync_mode=sync_mode)
    catalog["streams"][0]["destination_sync_mode"] = mode
    run = run_connector("source-contacts", "read", tmp_path, source_config(origin, page_size=100), catalog)
    assert run.returncode == 0, run.stderr
    assert len(run.records["contacts"]) == 300
    assert [record.get("id") for record in run.records["contacts"]].count(None) == 2
    assert not [w for w in run.warnings if "not emitted" in w]


def test_a_deduplicated_stream_names_twenty_contacts_and_counts_the_rest(sandbox_factory, tmp_path):
    origin = sandbox_factory(contacts=50, seed=3, null_id_every=2)
    run = run_connector("source-contacts", "read", tmp_path, source_config(origin), source_catalog("contacts", sync_mode="incremental"))
    assert run.returncode == 0, run.stderr
    assert len(run.records["contacts"]) == 25
    [warning] = [w for w in run.warnings if "not emitted" in w]
    assert warning.startswith("contacts: 25 records not emitted, of 25 contacts the API listed without an id:")
    assert warning.count("phoneNumber '") == 20 and warning.endswith("; and 5 more.")
