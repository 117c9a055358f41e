"""Both connectors as the images Airbyte runs: built from the repo's Dockerfile with the engine at hand (podman here,
docker elsewhere), then every verb run in a container against the sandbox on loopback, giving the same messages as
the local CLI (timestamps and LOG lines aside)."""

import json
import subprocess
import tomllib

import pytest

from integration_tests import containers
from integration_tests.connector import (
    account,
    assert_no_leak,
    config,
    record,
    run_connector,
    source_catalog,
    source_config,
    state,
    stdin,
    writes,
)
from integration_tests.connector import destination_catalog as catalog

pytestmark = pytest.mark.containers  # built and run by .ci/run; `./run test -m containers` runs them here

VERSION = tomllib.loads((containers.ROOT / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="module")
def images():
    if containers.engine() is None:
        pytest.skip(f"container image tests: {containers.engine_problem()}")
    return {name: containers.build_image(name) for name in containers.CONNECTORS}


def comparable(run):
    """The messages a run gave, without LOG lines and without emitted_at timestamps, wherever they sit."""

    def strip(value):
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items() if key != "emitted_at"}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return [strip(message) for message in run.messages if message["type"] != "LOG"]


def both(script, image, verb, tmp_path, **files):
    """The same verb run by the local console script and in a container."""
    (tmp_path / "local").mkdir(parents=True)
    local = run_connector(script, verb, tmp_path / "local", **files)
    return local, containers.run_in_container(image, verb, tmp_path, **files)


def inspect(image, template):
    return subprocess.run(
        [containers.engine(), "image", "inspect", image, "--format", template], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.parametrize("name", containers.CONNECTORS)
def test_image_is_labelled_runs_as_non_root_and_holds_no_tests_or_dev_dependencies(images, name):
    image = images[name]
    labels = json.loads(inspect(image, "{{json .Config.Labels}}"))
    assert (labels["io.airbyte.name"], labels["io.airbyte.version"]) == (f"airbyte/{name}", VERSION)
    env = dict(item.split("=", 1) for item in json.loads(inspect(image, "{{json .Config.Env}}")))
    entrypoint = json.loads(inspect(image, "{{json .Config.Entrypoint}}"))
    assert entrypoint == [env["AIRBYTE_ENTRYPOINT"]]
    probe = subprocess.run(
        [
            containers.engine(),
            "run",
            "--rm",
            "--entrypoint",
            "sh",
            image,
            "-c",
            f'id -u; readlink {env["AIRBYTE_ENTRYPOINT"]}; echo "in /airbyte: [$(ls -A /airbyte)]"; '
            'python -c \'import importlib.util as u; print([m for m in ("pytest", "airbyte", "duckdb", "integration_tests", '
            '"unit_tests", "benchmarks") if u.find_spec(m)])\'',
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    # uid 1000, the entrypoint links to this connector, the home (the workdir) is empty, and no dev extras (pytest,
    # PyAirbyte, duckdb), tests or benchmarks can be imported.
    assert probe.stdout.splitlines() == ["1000", name, "in /airbyte: []", "[]"]


def test_source_spec_check_discover_read_as_the_local_cli(images, sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=45, seed=3)
    settings = source_config(api, page_size=20)
    image = images["source-contacts"]
    # The state's cursor is older than every seeded date (2025-2026): the incremental read gives all 45 contacts too.
    contacts = {"contacts": 45}
    tag_rows = {"contact_tags": sum(len(c["tags"]) for c in api.snapshot())}
    for verb, files, records in (
        ("spec", {}, {}),
        ("check", {"config": settings}, {}),
        ("discover", {"config": settings}, {}),
        ("read", {"config": settings, "catalog": source_catalog("contacts", "contact_tags")}, {**contacts, **tag_rows}),
        (
            "read",
            {
                "config": settings,
                "catalog": source_catalog("contacts", sync_mode="incremental"),
                "state": [
                    {
                        "type": "STREAM",
                        "stream": {"stream_descriptor": {"name": "contacts"}, "stream_state": {"updatedAt": "2024-06-01T00:00:00Z"}},
                    }
                ],
            },
            contacts,
        ),
    ):
        local, in_container = both("source-contacts", image, verb, tmp_path / f"{verb}-{len(files)}", **files)
        assert (in_container.returncode, local.returncode) == (0, 0), in_container.stderr + in_container.stdout[-2000:]
        assert comparable(in_container) == comparable(local), verb
        assert comparable(in_container), verb
        assert {stream: len(rows) for stream, rows in in_container.records.items()} == records, verb
    assert {message["type"] for message in comparable(in_container)} >= {"RECORD", "STATE"}


def test_source_check_with_a_wrong_key_fails_alike(images, sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=3)
    local, in_container = both(
        "source-contacts", images["source-contacts"], "check", tmp_path, config=source_config(api, api_key="wrong-key")
    )
    assert comparable(in_container) == comparable(local)
    [status] = in_container.of_type("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "FAILED"
    assert_no_leak(in_container, "wrong-key")


def test_destination_spec_check_discover_as_the_local_cli(images, sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=3)
    for verb, files in (("spec", {}), ("check", {"config": config(api)}), ("discover", {"config": config(api)})):
        local, in_container = both("destination-contacts", images["destination-contacts"], verb, tmp_path / verb, **files)
        assert (in_container.returncode, local.returncode) == (0, 0), in_container.stderr + in_container.stdout[-2000:]
        assert comparable(in_container) == comparable(local) != [], verb


def test_destination_write_from_a_file_as_the_local_cli(images, sandbox_factory, tmp_path):
    # Two sandboxes alike, one written by the local CLI, one by the container: same messages, same requests, same account.
    apis = [sandbox_factory(contacts=5, seed=7) for _ in range(2)]
    existing = apis[0].snapshot()[0]
    messages = [
        record({"name": "Zoë", "phoneNumber": "+971 50 123 4567", "stage": "Lead", "tags": ["VIP"]}),
        record({"id": existing["id"], "name": "Renamed", "phoneNumber": existing["phoneNumber"]}),
        state(1),
    ]
    input_file = tmp_path / "messages.jsonl"
    input_file.write_text(stdin(*messages))
    write_catalog = catalog(("contacts", "append_dedup"))

    (tmp_path / "local").mkdir()
    local = run_connector(
        "destination-contacts", "write", tmp_path / "local", config(apis[0], max_workers=1), write_catalog, stdin=input_file.read_text()
    )
    in_container = containers.run_in_container(
        images["destination-contacts"], "write", tmp_path, config(apis[1], max_workers=1), write_catalog, stdin=input_file.read_text()
    )
    assert (in_container.returncode, local.returncode) == (0, 0), in_container.stderr + in_container.stdout[-2000:]
    assert comparable(in_container) == comparable(local)
    assert in_container.states == [{**messages[-1]["state"], "destinationStats": {"recordCount": 2.0, "rejectedRecordCount": 0.0}}]
    assert writes(apis[1]) == writes(apis[0]) != []
    assert account(apis[1]) == account(apis[0])  # ids too: both sandboxes number new contacts alike
