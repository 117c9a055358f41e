"""Issue 20 §2: rejected records kept in object storage (object_storage_config), since a container keeps no files.
The real destination writes them to a real S3-compatible server on loopback (integration_tests/object_store.py); the
tests read the objects back with boto3: exact keys, exact lines, stored before the state that covers them is echoed."""

import json
import re
import threading

from destination_contacts import rejected
from integration_tests.connector import A, B, assert_no_leak, config, record, run_connector, start_write, state, stdin, write
from integration_tests.platform import Platform, StreamChoice, rejected_records_uri

BAD_PHONE = "phoneNumber has no +country code and default_region is not set"
STAMP = r"\d{4}-\d\d-\d\d_\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"  # file_name_format's {date}_{timestamp}, UTC


def line(stream, namespace, record_number, message, reason, data):
    return {"stream": stream, "namespace": namespace, "record": record_number, "message": message, "reason": reason, "data": data}


def contents(objects):
    """key → the JSON lines of the object."""
    return {key: [json.loads(text) for text in body.splitlines()] for key, body in objects.items()}


def one_stamp(keys):
    """The sync's one {date}_{timestamp}, which every file name of it carries."""
    stamps = {re.fullmatch(rf".*/({STAMP})_\d+\.jsonl", key).group(1) for key in keys}
    assert len(stamps) == 1, stamps
    [stamp] = stamps
    assert stamp[:10] == stamp[11:21]  # the date is the timestamp's
    return stamp


def test_each_streams_rejections_are_stored_per_state_under_the_sync_id_its_namespace_and_its_name(sandbox_factory, object_store, tmp_path):
    api = sandbox_factory()
    bucket = object_store.new_bucket()
    catalog = {
        "streams": [
            {
                "stream": {"name": "contacts", "namespace": "crm", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                "sync_mode": "full_refresh",
                "destination_sync_mode": "append_dedup",
                "generation_id": 3,
                "minimum_generation_id": 0,
                "sync_id": 42,  # the platform's job id
            }
        ]
    }

    def crm(data):
        return {"type": "RECORD", "record": {"stream": "contacts", "namespace": "crm", "data": data, "emitted_at": 1}}

    messages = [
        crm({"name": "Good", "phoneNumber": A}),
        crm({"name": "First", "phoneNumber": "12"}),
        state(1),
        "not json",
        crm({"name": "Second", "phoneNumber": "34"}),
        record({"name": "Lead", "phoneNumber": B}, stream="leads"),
        state(2),
        crm({"name": "Third", "phoneNumber": "56"}),
    ]
    options = {"max_rejected_records": 10, "rejected_records_path": str(tmp_path / "rejected.jsonl")}
    run = run_connector(
        "destination-contacts",
        "write",
        tmp_path,
        config(api, object_storage_config=object_store.config(bucket), **options),
        catalog,
        stdin=stdin(*messages),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert [c["name"] for c in api.snapshot()] == ["Good"]
    stored = contents(object_store.objects(bucket))
    stamp = one_stamp(stored)
    first = line("contacts", "crm", 2, 2, BAD_PHONE, {"name": "First", "phoneNumber": "12"})
    not_json = line(None, None, None, 4, "input line is not JSON", None)
    second = line("contacts", "crm", 3, 5, BAD_PHONE, {"name": "Second", "phoneNumber": "34"})
    lead = line("leads", None, 1, 6, "stream 'leads' is not in the configured catalog", {"name": "Lead", "phoneNumber": B})
    third = line("contacts", "crm", 4, 8, BAD_PHONE, {"name": "Third", "phoneNumber": "56"})
    assert stored == {
        f"rejected/42/crm/contacts/{stamp}_0.jsonl": [first],  # stored before state 1 was echoed
        f"rejected/42/_no_stream/{stamp}_0.jsonl": [not_json],  # and these before state 2
        f"rejected/42/crm/contacts/{stamp}_1.jsonl": [second],
        f"rejected/42/leads/{stamp}_0.jsonl": [lead],  # a null namespace leaves no empty segment
        f"rejected/42/crm/contacts/{stamp}_2.jsonl": [third],  # after the last state: at the end of the sync
    }
    # The local file, set as well, holds the same lines in input order.
    assert [json.loads(text) for text in (tmp_path / "rejected.jsonl").read_text().splitlines()] == [first, not_json, second, lead, third]
    assert f"rejected records are stored under s3://{bucket}/rejected/42/<namespace>/<stream>/" in run.logs


def test_a_state_is_echoed_only_once_its_rejections_are_in_the_bucket(sandbox_factory, object_store, tmp_path):
    """A message at a time to the running executable: when a STATE comes out, the object holding the rejection before
    it is already in the bucket. Without a sync_id in the catalog (the command line, a Docker job) the folder is 1."""
    api = sandbox_factory()
    bucket = object_store.new_bucket()
    process = start_write(
        api,
        tmp_path,
        [("contacts", "append_dedup")],
        object_storage_config=object_store.config(bucket, bucket_path="/runs/"),
        max_rejected_records=10,
    )
    seen_at_echo = []
    process.stdin.write(stdin(record({"name": "First", "phoneNumber": "12"}), state(1)))
    process.stdin.flush()
    for output in process.stdout:
        if json.loads(output)["type"] == "STATE":
            seen_at_echo.append(sorted(object_store.objects(bucket)))
            break
    process.stdin.write(stdin(record({"name": "Second", "phoneNumber": "34"}), state(2)))
    process.stdin.close()
    rest = process.stdout.read()
    assert process.wait(timeout=60) == 0, process.stderr.read()[-2000:]
    [first_key] = seen_at_echo[0]
    stamp = one_stamp([first_key])
    assert first_key == f"runs/1/contacts/{stamp}_0.jsonl"
    assert sum(1 for text in rest.splitlines() if json.loads(text)["type"] == "STATE") == 1
    assert contents(object_store.objects(bucket)) == {
        first_key: [line("contacts", None, 1, 1, BAD_PHONE, {"name": "First", "phoneNumber": "12"})],
        f"runs/1/contacts/{stamp}_1.jsonl": [line("contacts", None, 2, 3, BAD_PHONE, {"name": "Second", "phoneNumber": "34"})],
    }


def test_rejections_waiting_past_the_memory_limit_are_stored_without_waiting_for_a_state(
    sandbox_factory, object_store, tmp_path, monkeypatch
):
    """A source that sends few states: the lines do not pile up in memory, each object holds what was waiting."""
    monkeypatch.setattr(rejected, "MAX_PENDING_BYTES", 300)  # two lines of about 150 bytes
    api = sandbox_factory()
    bucket = object_store.new_bucket()
    bad = [record({"name": f"Bad {n}", "phoneNumber": f"{n}{n}"}) for n in range(1, 6)]
    run = write(
        api, tmp_path, [("contacts", "append_dedup")], *bad, object_storage_config=object_store.config(bucket), max_rejected_records=10
    )
    assert run.returncode == 0, run.stderr[-2000:]
    stored = contents(object_store.objects(bucket))
    stamp = one_stamp(stored)
    lines = [line("contacts", None, n, n, BAD_PHONE, {"name": f"Bad {n}", "phoneNumber": f"{n}{n}"}) for n in range(1, 6)]
    assert stored == {
        f"rejected/1/contacts/{stamp}_0.jsonl": lines[0:2],
        f"rejected/1/contacts/{stamp}_1.jsonl": lines[2:4],
        f"rejected/1/contacts/{stamp}_2.jsonl": lines[4:],  # the rest at the end of the sync
    }


def test_a_state_after_a_rejection_the_bucket_cannot_take_is_never_echoed(sandbox_factory, object_store, tmp_path):
    """The bucket goes away part way: the sync fails naming the store, and the state after the unstored rejection is
    not echoed (the platform would resume past a record nobody can see)."""
    api = sandbox_factory()
    bucket = object_store.new_bucket()
    process = start_write(
        api, tmp_path, [("contacts", "append_dedup")], object_storage_config=object_store.config(bucket), max_rejected_records=10
    )
    process.stdin.write(stdin(record({"name": "First", "phoneNumber": "12"}), state(1)))
    process.stdin.flush()
    echoed = []
    for output in process.stdout:
        if json.loads(output)["type"] == "STATE":
            echoed.append(json.loads(output)["state"]["stream"]["stream_state"]["n"])
            break
    client = object_store.client()
    for key in object_store.objects(bucket):
        client.delete_object(Bucket=bucket, Key=key)
    client.delete_bucket(Bucket=bucket)
    rest = []
    reader = threading.Thread(target=lambda: rest.extend(json.loads(output) for output in process.stdout), daemon=True)
    reader.start()
    process.stdin.write(stdin(record({"name": "Second", "phoneNumber": "34"}), state(2), record({"name": "Ok", "phoneNumber": A})))
    process.stdin.close()
    assert process.wait(timeout=60) == 1
    reader.join(timeout=10)
    assert echoed == [1] and [message for message in rest if message["type"] == "STATE"] == []
    [error] = [message["trace"]["error"] for message in rest if message["type"] == "TRACE"]
    where = f"s3://{bucket}/rejected/ at {object_store.url}"
    assert error["message"] == f"Rejected records could not be stored in {where}: the bucket '{bucket}' does not exist"
    assert error["failure_type"] == "config_error"
    assert object_store.secret_access_key not in json.dumps(rest) + process.stderr.read()


def test_a_platform_sync_stores_rejections_where_the_platforms_link_points(sandbox_factory, object_store, tmp_path):
    """A data-activation update of contacts the account does not have: rejected, and stored under the job id the
    platform sends as sync_id, which is the folder its "records rejected" link opens (ConnectorObjectStorageService)."""
    origin = sandbox_factory(contacts=6, seed=5)
    target = sandbox_factory()
    target.add_contacts(origin.snapshot()[:4])
    bucket = object_store.new_bucket()
    storage = object_store.config(bucket, bucket_path="activation/")
    streams = [
        StreamChoice(
            "contacts", "full_refresh", "update", destination_object_name="contacts", matching_key=[["id"]], fields=("id", "stage")
        )
    ]
    platform = Platform(tmp_path)
    sync = platform.sync(
        config(origin), config(target, max_rejected_records=5, object_storage_config=storage, requests_per_minute=10_000), streams
    )
    assert sync.destination.returncode == 0 and sync.count_mismatches == [], sync.destination.stdout[-2000:]
    uri = rejected_records_uri(storage, sync.job_id)
    assert uri == f"s3://{bucket}/activation/{sync.job_id}/"
    stored = contents(object_store.objects(bucket))
    [key] = stored
    assert f"s3://{bucket}/{key}".startswith(uri + "contacts/")
    missing = {contact["id"] for contact in origin.snapshot()[4:]}
    records = [message["record"]["data"] for message in sync.forwarded if message["type"] == "RECORD"]
    assert stored[key] == [
        line("contacts", None, number, number, "no contact has this id, and update only changes existing contacts", data)
        for number, data in enumerate(records, 1)
        if data["id"] in missing
    ]
    assert len(stored[key]) == 2


# --- check ----------------------------------------------------------------------------------------------------


def check(api, tmp_path, storage):
    return run_connector("destination-contacts", "check", tmp_path, config(api, object_storage_config=storage))


def test_check_writes_lists_and_deletes_a_test_object(sandbox_factory, object_store, tmp_path):
    api = sandbox_factory()
    bucket = object_store.new_bucket()
    client = object_store.client()
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})  # so a deleted object still shows
    run = check(api, tmp_path, object_store.config(bucket))
    assert run.status == {"status": "SUCCEEDED"}
    assert object_store.objects(bucket) == {}  # deleted again
    versions = client.list_object_versions(Bucket=bucket)
    test_object = "rejected/1/testing/test/_check_test"  # where the CDK's DlqChecker writes its own
    assert [v["Key"] for v in versions["Versions"]] == [test_object]
    assert [m["Key"] for m in versions["DeleteMarkers"]] == [test_object]


def test_check_names_a_missing_bucket_refused_credentials_and_an_unreachable_endpoint(sandbox_factory, object_store, tmp_path):
    api = sandbox_factory()
    bucket = object_store.new_bucket()
    test_object = "rejected/1/testing/test/_check_test"
    wrong_secret = "wrong-secret-8c1d2e3f4a5b6c7d"
    cases = {
        "no such bucket": (object_store.config("no-such-bucket"), "the bucket 'no-such-bucket' does not exist"),
        "wrong secret": (
            object_store.config(bucket, secret_access_key=wrong_secret),
            "the credentials were refused (SignatureDoesNotMatch",
        ),
        "unknown key": (
            object_store.config(bucket, access_key_id="AKIAUNKNOWN000000000"),
            "the credentials were refused (InvalidAccessKeyId",
        ),
        "unreachable": (object_store.config(bucket, s3_endpoint="http://127.0.0.1:9"), "the endpoint http://127.0.0.1:9 cannot be reached"),
    }
    for name, (storage, cause) in cases.items():
        run = check(api, tmp_path, storage)
        assert run.status["status"] == "FAILED", name
        assert run.status["message"].startswith(f"object_storage_config: cannot write {test_object} in s3://"), run.status["message"]
        assert cause in run.status["message"], (name, run.status["message"])
        for secret in (storage["secret_access_key"], storage["access_key_id"]):
            assert_no_leak(run, secret, tmp_path)


def test_check_refuses_plain_http_to_a_remote_store_and_half_the_credentials(sandbox_factory, object_store, tmp_path):
    api = sandbox_factory()
    assert check(api, tmp_path, {"storage_type": "None"}).status == {"status": "SUCCEEDED"}  # the default: nothing to check
    run = check(api, tmp_path, object_store.config("b", s3_endpoint="http://minio.example.com:9000"))
    assert (
        run.status["status"] == "FAILED"
        and "s3_endpoint 'http://minio.example.com:9000' uses plain http to a remote host" in run.status["message"]
    )
    storage = object_store.config("b")
    del storage["secret_access_key"]
    run = check(api, tmp_path, storage)
    assert run.status == {
        "status": "FAILED",
        "message": "object_storage_config: set both access_key_id and secret_access_key, or neither (the default AWS credentials).",
    }
