"""Which object each stream writes to, and what its sync mode does there: the one table of write modes.

How the Airbyte platform fills the configured catalog (airbyte-platform v1.7.0 to v2.0.0, see docs/running-in-airbyte.md):
- a plain connection sends the source's stream names (with the connection's prefix) and never sets
  `destination_object_name`; only a data-activation connection does, with `primary_key` set to the matching key the
  user chose (platform v1.8.0+);
- a destination whose metadata declares `supportsRefreshes` never sees `overwrite`: it gets `append` (or
  `append_dedup`) with `minimum_generation_id == generation_id > 0` for a full refresh that replaces the data, and
  STREAM_STATUS COMPLETE for every stream once the source has exited 0. Without the flag there are no generation
  ids and no COMPLETE, and `overwrite` stays `overwrite`.
"""

import functools
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple, Union

from airbyte_cdk.models import ConfiguredAirbyteCatalog, ConfiguredAirbyteStream

from contacts_api.errors import config_error
from contacts_api.spec import load_json
from destination_contacts.records import ContactRecord, TagRecord, fold
from destination_contacts.report import Rejected, StreamKey

CONTACTS, CONTACT_TAGS = "contacts", "contact_tags"


@dataclass(frozen=True)
class Operation:
    """What one sync mode does to one object.

    - `required`: fields every record must carry (beyond a key that finds the contact).
    - `if_missing`: when no contact matches, or a write answers 404 (deleted after it was found): "create" it,
      "reject" the record, or "done" (what it asks is true).
    - `looks_up`: finds the contact before writing; insert does not, and learns of an existing phone from a 409.
      A delete by id does not either: its 404 says the contact was not there.
    - `on_conflict`: a create or update answered 409 (the phone belongs to a contact): "update" that contact (a
      create: never a second contact), or "reject" the record.
    """

    action: str
    required: Tuple[str, ...] = ()
    if_missing: str = "reject"
    looks_up: bool = True
    on_conflict: str = "reject"

    @property
    def deletes(self) -> bool:
        return self.action == "delete"


INSERT = Operation("insert", required=("name", "phoneNumber"), if_missing="create", looks_up=False, on_conflict="update")
UPSERT = Operation("upsert", required=("name", "phoneNumber"), if_missing="create", on_conflict="update")
UPDATE = Operation("update")
DELETE = Operation("delete", if_missing="done")
ADD_TAG = Operation("add_tag", required=("tag",))
REMOVE_TAG = Operation("remove_tag", required=("tag",))

OPERATIONS: Dict[Tuple[str, str], Operation] = {
    (CONTACTS, "append"): INSERT,
    (CONTACTS, "append_dedup"): UPSERT,
    (CONTACTS, "overwrite"): UPSERT,  # and, with delete_absent_contacts, deletes the contacts no record named
    (CONTACTS, "update"): UPDATE,
    (CONTACTS, "soft_delete"): DELETE,
    (CONTACT_TAGS, "append"): ADD_TAG,
    (CONTACT_TAGS, "append_dedup"): ADD_TAG,
    (CONTACT_TAGS, "overwrite"): ADD_TAG,  # tags are removed only by soft_delete rows, or by tag_mode sync on contacts
    (CONTACT_TAGS, "soft_delete"): REMOVE_TAG,
}
MODES: Dict[str, List[str]] = {}
for _object, _mode in OPERATIONS:
    MODES.setdefault(_object, []).append(_mode)

# A record's keys: "id" (contacts' id, contact_tags' contact_id) and "phone" (phoneNumber), by field name per object.
KEY_FIELDS = {CONTACTS: {"id": "id", "phoneNumber": "phone"}, CONTACT_TAGS: {"contact_id": "id", "phoneNumber": "phone"}}


@dataclass(frozen=True)
class Route:
    """Where one configured stream's records go: the object, the operation, how a record finds its contact (both
    keys, id first, unless a data-activation stream named one as its matching key), and whether contacts no record
    of the sync named are deleted at the end (`mirror`)."""

    stream: StreamKey
    object: str
    mode: str
    operation: Operation
    match_by: Tuple[str, ...] = ("id", "phone")
    replaces: bool = False  # the sync replaces the stream's data (overwrite, or a truncating generation)
    mirror: bool = False  # ... and contacts no record named are deleted at the end

    def looks_up(self, record: Union[ContactRecord, TagRecord]) -> bool:
        """Whether the record's contact is found before it is written (a dry run always looks: it sees no answers)."""
        if self.operation.deletes and record.id and "id" in self.match_by:
            return False  # DELETE /v1/contacts/{id} at once; a 404 says there was nothing to delete
        return self.operation.looks_up

    def check(self, record: Union[ContactRecord, TagRecord]) -> None:
        """Raises Rejected when the record lacks what its operation or its matching key needs."""
        given = set(record.fields) if isinstance(record, ContactRecord) else {"tag"}
        missing = [name for name in self.operation.required if name not in given]
        if missing and self.operation.if_missing == "create" and isinstance(record, ContactRecord):
            raise Rejected(f"{' and '.join(missing)} missing: {self.mode} may create the contact, and the API requires both")
        if missing:
            raise Rejected(f"{' and '.join(missing)} missing")
        keys = {"id": record.id, "phone": record.phone}
        if not any(keys[key] for key in self.match_by):
            names = {key: field for field, key in KEY_FIELDS[self.object].items()}
            raise Rejected(f"{' or '.join(names[key] for key in self.match_by)} missing: it says which contact this record is")


def routes(catalog: ConfiguredAirbyteCatalog, delete_absent: bool) -> Dict[StreamKey, Route]:
    """A route for every configured stream; a catalog this destination cannot write fails before any record."""
    found: Dict[StreamKey, Route] = {}
    for configured in catalog.streams:
        key = (configured.stream.namespace, configured.stream.name)
        target = object_of(configured)
        mode = configured.destination_sync_mode.value
        operation = OPERATIONS.get((target, mode))
        if operation is None:
            raise config_error(
                f"stream '{configured.stream.name}': destination sync mode '{mode}' cannot write {target}; use one of "
                f"{', '.join(MODES[target])}."
            )
        replaces = _replaces(configured)
        if replaces and target == CONTACTS:
            # A sync that replaces the data upserts, whatever mode it arrives as: a destination with refreshes support
            # receives a full refresh's overwrite as append with a truncating generation, which is no insert.
            mode, operation = "overwrite", OPERATIONS[(CONTACTS, "overwrite")]
        found[key] = Route(
            key, target, mode, operation, _match_by(configured, target), replaces, mirror=target == CONTACTS and replaces and delete_absent
        )
    return found


def route_of(routes: Mapping[StreamKey, Route], stream: StreamKey) -> Optional[Route]:
    return routes.get(stream) or routes.get((None, stream[1]))


def object_of(configured: ConfiguredAirbyteStream) -> str:
    """The object a stream writes to. A data-activation connection names it (`destination_object_name`); in any other
    connection the stream's name is the source's (a table `crm_leads`, `customers_v2`), so every stream writes
    contacts, except one of tag rows: named like `contact_tags`, or with a `tag` field and no `name` field."""
    if configured.destination_object_name:
        if configured.destination_object_name not in MODES:
            raise config_error(
                f"stream '{configured.stream.name}' writes to '{configured.destination_object_name}'; this destination writes only to "
                f"{' and '.join(MODES)}."
            )
        return configured.destination_object_name
    fields = {fold(name) for name in ((configured.stream.json_schema or {}).get("properties") or {})}
    if fold(configured.stream.name).endswith("contacttags") or ("tag" in fields and "name" not in fields):
        return CONTACT_TAGS
    return CONTACTS


def _replaces(configured: ConfiguredAirbyteStream) -> bool:
    """Whether the sync replaces the stream's data: `overwrite`, or a truncating generation (`minimum_generation_id ==
    generation_id > 0`), as a destination with refreshes support receives a full refresh. A merge refresh and
    incremental syncs (minimum 0) keep everything."""
    if configured.destination_sync_mode.value == "overwrite":
        return True
    generation, minimum = configured.generation_id, configured.minimum_generation_id
    return generation is not None and minimum is not None and minimum == generation and minimum > 0


def _match_by(configured: ConfiguredAirbyteStream, target: str) -> Tuple[str, ...]:
    """A data-activation stream's primary key is the matching key the user chose. In a plain connection it is the
    source's own key (a warehouse table's customer_id), which says nothing about contacts: both keys, id first."""
    if not configured.destination_object_name or not configured.primary_key:
        return ("id", "phone")
    chosen = [field for path in configured.primary_key for field in path]
    keys = tuple(KEY_FIELDS[target][field] for field in chosen if field in KEY_FIELDS[target])
    known = [" + ".join(key) for key in _objects()[target]["matching_keys"]]
    if not keys or any(field not in KEY_FIELDS[target] and field != "tag" for field in chosen):
        raise config_error(
            f"stream '{configured.stream.name}': primary key {' + '.join(chosen)} is not a matching key of {target}; use one of: "
            f"{', '.join(known)}."
        )
    return keys


class Mirror:
    """When contacts absent from a `mirror` sync may be deleted: only when this run saw the whole of every mirror
    stream, since deleting on a partial input would delete contacts that were merely not sent yet.
    - the input ended without the sync failing;
    - every mirror stream ended with STREAM_STATUS COMPLETE (the platform sends it only to destinations with
      refreshes support, after a source that exited 0; a source that died closes the input just the same);
    - no state came between two records of a mirror stream (a source that checkpoints a full refresh is resumed
      from that checkpoint after a failed attempt, and the retry's input is then only the rest);
    - no record of a mirror stream was rejected (it cannot say which contact it meant to keep);
    - the mirror streams sent at least one record (an empty read, or a cleared connection, never empties the account)."""

    def __init__(self, mirror_streams: Iterable[StreamKey]):
        self.streams: Set[StreamKey] = set(mirror_streams)
        self.records = 0
        self.rejected = 0
        self._completed: Set[StreamKey] = set()
        self._state_since_record = False
        self._checkpointed_mid_stream = False

    def record(self, route: Optional[Route]) -> None:
        if route is not None and route.mirror:
            self.records += 1
            self._checkpointed_mid_stream |= self._state_since_record

    def state(self) -> None:
        if self.records:
            self._state_since_record = True

    def complete(self, stream: StreamKey) -> None:
        self._completed.add(stream)
        self._completed.add((None, stream[1]))

    def why_not(self) -> Optional[str]:
        """None when the deletes may go ahead, else the reason they do not (for the log)."""
        missing = sorted(name for namespace, name in self.streams if (namespace, name) not in self._completed)
        if missing:
            return (
                f"no stream status COMPLETE for {', '.join(missing)}, so the input may be partial "
                "(Airbyte sends it only to destinations with refreshes support)"
            )
        if self._checkpointed_mid_stream:
            return "a state message came between mirror records: a resumed attempt would see only part of the data"
        if self.rejected:
            return f"{self.rejected} records of the mirror streams were rejected: the contacts they meant cannot be told apart"
        if not self.records:
            return "the mirror streams sent no record: an empty read never empties the account"
        return None


def destination_catalog() -> Dict[str, Any]:
    """The DESTINATION_CATALOG message of `discover` (data activation): one operation per row of the table, each
    schema requiring exactly what its operation needs; `matching_keys` for the operations that find contacts."""
    operations = []
    for (target, mode), operation in OPERATIONS.items():
        spec = _objects()[target]
        schema = {**spec["json_schema"], "required": list(operation.required)}
        entry: Dict[str, Any] = {"object_name": target, "sync_mode": mode, "json_schema": schema}
        if operation.looks_up:
            entry["matching_keys"] = spec["matching_keys"]
        operations.append(entry)
    return {"type": "DESTINATION_CATALOG", "destination_catalog": {"operations": operations}}


@functools.cache
def _objects() -> Dict[str, Any]:
    return load_json("destination_contacts", "objects.json")
