"""The Airbyte platform between the two real console scripts, as its code does it (airbyte-platform v1.7.0 to v2.0.0;
the citations are in docs/running-in-airbyte.md). What it does, step by step, is what a deployment does:

- configs as saved (with a field the spec does not know: saved configs outlive connector versions);
- the source's configured catalog from its `discover`; the destination's catalog rewritten: stream names with the
  connection's prefix, `json_schema` regenerated from the selected fields (DestinationCatalogGenerator), and, by the
  destination's metadata flags, `overwrite` → `append` plus generation ids (supportsRefreshes), or
  `overwrite_dedup` → `overwrite` without them (DefaultProtocolSerializer); `destination_object_name` and the chosen
  matching key only for data-activation streams, which the platform offers only to a destination declaring
  supportsDataActivation, from the operations its `discover` printed (DestinationDiscoverService, v1.8.0+): the
  harness asserts the choice is one of them, with its matching key and the fields the operation requires;
- every source record checked as BasicAirbyteMessageValidator does (airbyte-commons-worker/.../internal/, read at
  v1.7.0 in Java and v1.8.0, v2.0.0 in Kotlin; `check_record` below): a record without `stream` or with `data` null
  (and from v1.8.0 empty, `{}`) is dropped; a record of a stream not in the configured catalog (by name and
  namespace) fails the sync ("Missing catalog stream"); in a stream that is incremental and `append_dedup` or
  `overwrite_dedup` (CatalogDiffHelpers.isDedup), a catalog without a primary key fails it, and so does a record in
  which no primary-key path reaches a value (AirbyteMessageExtractor.containsNonNullPK: Jsons.navigateTo != null).
  "All null" is meant as Jackson reads it: a field that is absent counts, one present as JSON null does not (a
  NullNode is not null), and a composite key passes when any one of its fields is there. A failing record raises
  SourceException from `sync`, as the platform fails the job: nothing after it reaches the destination;
- only RECORD and STATE pass from source to destination (MessageProcessor), records and STREAM states renamed with the
  prefix, GLOBAL states untouched (NamespacingMapper); each STATE gets an integer `id`
  (StateWithId.attachIdToStateMessageFromSource) and `sourceStats` (StateEnricher, v2.0.0);
- STREAM_STATUS COMPLETE for every configured stream after a source that exited 0, only for a destination with
  supportsRefreshes (StreamStatusCompletionTracker);
- every STATE the destination prints must carry its integer `id` ("State message does not contain id" fails the sync),
  its counts must equal what was forwarded since the previous state of its stream (StateCheckSumCountEventHandler),
  and the state persisted for the next sync is the destination's, names reverted, descriptors and stream_state only
  (StateConverter.toClient).

- the "N records rejected" link of a data-activation destination: the folder of the job under the destination's
  `object_storage_config` (ConnectorObjectStorageService, S3ObjectStoragePathResolver: `rejected_records_uri`), the
  job id being what every configured stream carries as `sync_id` (CatalogGenerationSetter).

Not played: `check` before the sync, which the platform runs only after a failed job or attempt
(JobCreationAndStatusUpdateActivityImpl.shouldRunDestinationCheck); test_source_waits.py covers a read right after
one. A new job id per sync and a new generation per truncating sync, as the platform assigns them.
"""

import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from integration_tests.airbyte_protocol import problems
from integration_tests.connector import Run, complete, run_connector, stdin

ROOT = Path(__file__).resolve().parent.parent
UNKNOWN_FIELD = {"_saved_by_an_older_version": True, "legacy_option": "kept in the saved config"}
DEDUP_MODES = ("append_dedup", "overwrite_dedup")  # CatalogDiffHelpers.isDedup


class SourceException(Exception):
    """The platform's io.airbyte.workers.internal.exception.SourceException: the sync fails with this message."""


def check_record(message: dict, catalog: dict) -> Optional[dict]:
    """BasicAirbyteMessageValidator.validate for a source's RECORD against the configured catalog the platform holds
    (destination sync modes as the user chose them): the record, None when it is dropped, SourceException when it
    fails the sync."""
    record = message.get("record")
    data = record.get("data") if isinstance(record, dict) else None
    if record is None or record.get("stream") is None or data is None or (isinstance(data, (dict, list)) and not data):
        return None
    name, namespace = record["stream"], record.get("namespace")
    configured = next(
        (s for s in catalog["streams"] if (s["stream"]["name"], s["stream"].get("namespace")) == (name, namespace)),
        None,
    )
    if configured is None:
        raise SourceException(f"Missing catalog stream for the stream (namespace: {name}, name: {namespace}")  # sic, as it prints
    if configured["sync_mode"] == "incremental" and configured["destination_sync_mode"] in DEDUP_MODES:
        paths = configured.get("primary_key") or []
        if not paths:
            raise SourceException(f"Primary keys not found in catalog for the stream (namespace: {name}, name: {namespace}")
        if not any(_reaches(data, path) for path in paths):
            raise SourceException(f"All the defined primary keys are null, the primary keys are: {', '.join('.'.join(p) for p in paths)}")
    return message


def _reaches(data: Any, path: List[str]) -> bool:
    """Jsons.navigateTo(data, path) != null: each step a field that is there (JSON null included); a step into
    anything but an object reaches nothing (JsonNode.get of a value node is null)."""
    node = data
    for name in path:
        if not isinstance(node, dict) or name not in node:
            return False
        node = node[name]
    return True


def metadata_flags(connector: str) -> Dict[str, bool]:
    path = ROOT / ("metadata.yaml" if connector == "source-contacts" else "destination_contacts/metadata.yaml")
    data = yaml.safe_load(path.read_text())["data"]
    return {name: bool(data.get(name, False)) for name in ("supportsRefreshes", "supportsDataActivation")}


@dataclass(frozen=True)
class StreamChoice:
    """One stream as the user set it up in the connection."""

    name: str
    sync_mode: str = "full_refresh"
    destination_sync_mode: str = "append_dedup"  # as chosen in the UI, before the platform rewrites it
    destination_object_name: Optional[str] = None  # data activation only
    matching_key: Optional[List[List[str]]] = None  # data activation only
    fields: Optional[Tuple[str, ...]] = None  # the top-level fields selected (or mapped); None: all


@dataclass
class Sync:
    source: Run
    destination: Run
    forwarded: List[Dict[str, Any]]  # what went to the destination's stdin
    persisted_state: List[Dict[str, Any]]  # what the next sync's source gets
    destination_catalog: Dict[str, Any]
    state_ids_sent: List[int] = field(default_factory=list)
    state_ids_echoed: List[int] = field(default_factory=list)
    count_mismatches: List[str] = field(default_factory=list)
    job_id: int = 0


class Platform:
    def __init__(self, tmp_path: Path, prefix: str = "", refreshes: Optional[bool] = None):
        """`refreshes`: whether the platform treats the destination as supporting refreshes; by default what its
        metadata declares (a custom connector added by image gets False whatever it declares)."""
        self.tmp_path = tmp_path
        self.prefix = prefix
        self.refreshes = metadata_flags("destination-contacts")["supportsRefreshes"] if refreshes is None else refreshes
        self._ids = itertools.count(1)
        self._jobs = itertools.count(42)
        self._generation = 0
        self._operations: Optional[List[dict]] = None  # the destination's DESTINATION_CATALOG, once discovered

    def sync(
        self,
        source_config: dict,
        destination_config: dict,
        streams: List[StreamChoice],
        state: Optional[List[dict]] = None,
        truncate: bool = False,
    ) -> Sync:
        """One sync job. `truncate`: a refresh that replaces the data (or a full refresh with overwrite)."""
        source_config, destination_config = {**source_config, **UNKNOWN_FIELD}, {**destination_config, **UNKNOWN_FIELD}
        discovered = {stream["name"]: stream for stream in self._discover(source_config)}
        source_catalog = {"streams": [self._source_stream(discovered[choice.name], choice) for choice in streams]}
        for choice in streams:
            if choice.destination_object_name:
                self._assert_offered(choice, destination_config)
        self._job = next(self._jobs)
        self._generation += truncate or any(choice.destination_sync_mode in ("overwrite", "overwrite_dedup") for choice in streams)
        destination_catalog = {"streams": [self._destination_stream(discovered[choice.name], choice, truncate) for choice in streams]}
        sent_to_source = self._as_sent_to_source(source_catalog)
        for catalog, definition in ((sent_to_source, "ConfiguredAirbyteCatalog"), (destination_catalog, "ConfiguredAirbyteCatalog")):
            assert problems(catalog, definition) == [], problems(catalog, definition)
        source = run_connector("source-contacts", "read", self._folder("source"), source_config, sent_to_source, state)
        forwarded, counts_by_id = self._forward(source, source_catalog, {choice.name: choice.fields for choice in streams})
        if self.refreshes and source.returncode == 0:
            forwarded += [complete(self.prefix + choice.name) for choice in streams]
        destination = run_connector(
            "destination-contacts", "write", self._folder("destination"), destination_config, destination_catalog, stdin=stdin(*forwarded)
        )
        assert destination.stdin_left == 0, "the destination exited before reading its input to the end"
        sync = Sync(
            source,
            destination,
            forwarded,
            [],
            destination_catalog,
            state_ids_sent=[message["state"]["id"] for message in forwarded if message["type"] == "STATE"],
            job_id=self._job,
        )
        self._receive(destination, counts_by_id, sync, state)
        return sync

    # --- what the platform does ---------------------------------------------------------------------------------

    def _assert_offered(self, choice: StreamChoice, destination_config: dict) -> None:
        """What the connection's UI lets a user pick for a data-activation stream: an operation the destination's
        discover printed, one of its matching keys, and at least the fields the operation requires."""
        assert metadata_flags("destination-contacts")["supportsDataActivation"], "data activation needs supportsDataActivation"
        if self._operations is None:
            run = run_connector("destination-contacts", "discover", self._folder("destination-discover"), destination_config)
            [catalog] = run.of_type("DESTINATION_CATALOG")
            self._operations = catalog["destination_catalog"]["operations"]
        [operation] = [
            op
            for op in self._operations
            if (op["object_name"], op["sync_mode"]) == (choice.destination_object_name, choice.destination_sync_mode)
        ]
        key = [name for path in choice.matching_key or [] for name in path]  # primary_key paths → a matching key's fields
        assert key in operation.get("matching_keys", [key]), (key, operation.get("matching_keys"))
        missing = set(operation["json_schema"].get("required", [])) - set(choice.fields or operation["json_schema"]["properties"])
        assert not missing, f"{choice.name}: the operation requires {sorted(missing)}"

    def _discover(self, config: dict) -> List[dict]:
        run = run_connector("source-contacts", "discover", self._folder("discover"), config)
        assert run.returncode == 0, run.stdout
        [catalog] = run.of_type("CATALOG")
        return catalog["catalog"]["streams"]

    @staticmethod
    def _source_stream(stream: dict, choice: StreamChoice) -> dict:
        """The stream as the platform holds it, and checks the source's records against: the mode as chosen."""
        configured = {"stream": stream, "sync_mode": choice.sync_mode, "destination_sync_mode": choice.destination_sync_mode}
        if choice.sync_mode == "incremental":
            configured["cursor_field"] = stream.get("default_cursor_field", [])
        if stream.get("source_defined_primary_key"):
            configured["primary_key"] = stream["source_defined_primary_key"]
        return configured

    def _as_sent_to_source(self, catalog: dict) -> dict:
        """DefaultProtocolSerializer for a source: data-activation modes become append (v1.8.0+), the others are
        rewritten as for the destination."""
        return {
            "streams": [
                {
                    **stream,
                    "destination_sync_mode": self._sent_mode(stream["destination_sync_mode"])
                    if stream["destination_sync_mode"] in ("append", "append_dedup", "overwrite", "overwrite_dedup")
                    else "append",
                }
                for stream in catalog["streams"]
            ]
        }

    def _sent_mode(self, mode: str) -> str:
        """DefaultProtocolSerializer.getNonDataActivationDestinationSyncMode."""
        if self.refreshes:
            return {"overwrite": "append", "overwrite_dedup": "append_dedup"}.get(mode, mode)
        return "overwrite" if mode == "overwrite_dedup" else mode

    def _destination_stream(self, stream: dict, choice: StreamChoice, truncate: bool) -> dict:
        properties = (stream.get("json_schema") or {}).get("properties") or {}
        if choice.fields is not None:
            properties = {name: value for name, value in properties.items() if name in choice.fields}
        schema = {"type": "object", "$schema": "http://json-schema.org/schema#", "properties": properties, "additionalProperties": True}
        mode = self._sent_mode(choice.destination_sync_mode)
        configured = {
            "stream": {**stream, "name": self.prefix + stream["name"], "json_schema": schema},
            "sync_mode": choice.sync_mode,
            "destination_sync_mode": mode,
        }
        if stream.get("source_defined_primary_key"):
            configured["primary_key"] = stream["source_defined_primary_key"]
        if choice.destination_object_name:
            configured["destination_object_name"] = choice.destination_object_name
            configured["primary_key"] = choice.matching_key
        if self.refreshes:
            truncating = truncate or choice.destination_sync_mode in ("overwrite", "overwrite_dedup")
            configured.update(
                generation_id=self._generation, minimum_generation_id=self._generation if truncating else 0, sync_id=self._job
            )
        return configured

    def _forward(self, source: Run, catalog: dict, fields: Dict[str, Optional[Tuple[str, ...]]]) -> Tuple[List[dict], Dict[int, float]]:
        """RECORD and STATE only, records checked (check_record), renamed and cut to the selected fields, each STATE
        with an id and sourceStats; and what each id must be counted as."""
        forwarded, since = [], Counter()
        counts_by_id = {}
        for message in source.messages:
            if message["type"] == "RECORD" and check_record(message, catalog) is None:
                continue
            if message["type"] == "RECORD":
                record = {**message["record"], "stream": self.prefix + message["record"]["stream"]}
                selected = fields[message["record"]["stream"]]
                if selected is not None:
                    record["data"] = {name: value for name, value in record["data"].items() if name in selected}
                since[record["stream"]] += 1
                forwarded.append({**message, "record": record})
            elif message["type"] == "STATE":
                state = json.loads(json.dumps(message["state"]))
                assert "id" not in state, "a source must not set the platform's state id"
                if state.get("type") == "STREAM":
                    descriptor = state["stream"]["stream_descriptor"]
                    descriptor["name"] = self.prefix + descriptor["name"]
                    count = since.pop(descriptor["name"], 0)
                else:
                    count = sum(since.values())
                    since.clear()
                state_id = next(self._ids)
                state["sourceStats"] = {"recordCount": float(count)}
                state["id"] = state_id
                counts_by_id[state_id] = float(count)
                forwarded.append({"type": "STATE", "state": state})
        return forwarded, counts_by_id

    def _receive(self, destination: Run, counts_by_id: Dict[int, float], sync: Sync, previous: Optional[List[dict]]) -> None:
        persisted = {_key(state): state for state in previous or []}
        for message in destination.of_type("STATE"):
            state = message["state"]
            state_id = state.get("id")
            assert isinstance(state_id, int) and not isinstance(state_id, bool), f"State message does not contain id: {state}"
            sync.state_ids_echoed.append(state_id)
            if "destinationStats" not in state:  # the platform marks such a sync's state unclean
                sync.count_mismatches.append(f"state {state_id}: no destinationStats")
            stats = state.get("destinationStats") or {}
            counted = stats.get("recordCount", 0.0) + stats.get("rejectedRecordCount", 0.0)
            if state_id not in counts_by_id:
                sync.count_mismatches.append(f"state {state_id}: never sent")
            elif counted != counts_by_id[state_id]:
                sync.count_mismatches.append(
                    f"state {state_id}: destination counted {counted}, platform forwarded {counts_by_id[state_id]}"
                )
            kept = {"type": state["type"]}
            if state["type"] == "STREAM":
                descriptor = dict(state["stream"]["stream_descriptor"])
                descriptor["name"] = descriptor["name"][len(self.prefix) :]
                kept["stream"] = {"stream_descriptor": descriptor, "stream_state": state["stream"].get("stream_state")}
            else:
                kept["global"] = state["global"]
            persisted[_key(kept)] = kept
        sync.persisted_state = list(persisted.values())

    def _folder(self, name: str) -> Path:
        folder = self.tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def rejected_records_uri(object_storage_config: dict, job_id: int) -> Optional[str]:
    """Where the platform's link to a job's rejected records points (airbyte-platform airbyte-domain/services
    ObjectStoragePathResolver.kt): s3://<s3_bucket_name>/<bucket_path without its trailing slashes>/<job id>/."""
    if object_storage_config.get("storage_type") != "S3" or not isinstance(object_storage_config.get("s3_bucket_region"), str):
        return None
    bucket_path = object_storage_config.get("bucket_path") or ""
    job_path = f"{bucket_path.rstrip('/')}/{job_id}/" if bucket_path else f"{job_id}/"
    return f"s3://{object_storage_config['s3_bucket_name']}/{job_path}"


def _key(state: dict) -> Tuple:
    if state.get("type") == "STREAM":
        descriptor = state["stream"]["stream_descriptor"]
        return ("STREAM", descriptor.get("namespace"), descriptor["name"])
    return (state.get("type"),)
