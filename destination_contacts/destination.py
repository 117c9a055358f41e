"""DestinationContacts: the Airbyte verbs, and `write` as one pipeline, a record at a time:

    input (messages.py) → route (modes.py) → check (records.py) → match (account.py)
        → plan and write, in the contact's lane (writer.py, plan.py, lanes.py) → report and state (report.py)

Route and check run up to AHEAD records ahead of the match, so that the match step knows how many look-ups are coming
(Account.expect). A state is echoed, as it came and with its record counts, once every record before it is written or
rejected and every rejection before it stored (rejected.py); a summary closes every sync."""

import argparse
import dataclasses
import json
import logging
import sys
from collections import Counter, deque
from typing import Any, Deque, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

from airbyte_cdk.destinations import Destination
from airbyte_cdk.exception_handler import init_uncaught_exception_handler
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteMessageSerializer,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
    ConnectorSpecification,
    Level,
    Status,
    Type,
)
from airbyte_cdk.utils.airbyte_secrets_utils import get_secrets, update_secrets

from contacts_api.check import connection_status
from contacts_api.clock import SYSTEM_CLOCK, Clock
from contacts_api.config import ApiConfig, parse_config
from contacts_api.errors import config_error
from contacts_api.http import ContactsApi
from contacts_api.spec import connector_spec
from destination_contacts.account import Account
from destination_contacts.lanes import LanePool, Lanes
from destination_contacts.messages import Incoming, echo, read_input
from destination_contacts.modes import CONTACT_TAGS, CONTACTS, Mirror, Route, destination_catalog, route_of, routes
from destination_contacts.records import ContactRecord, TagRecord, contact_record, is_region, tag_record
from destination_contacts.rejected import RejectedFile, RejectedObjects, S3Storage, Sink, check_storage, s3_storage, sync_id_of
from destination_contacts.report import Position, Rejected, Report
from destination_contacts.writer import Writer, lane_keys

logger = logging.getLogger("airbyte")

UNKNOWN_STREAM = "record_of_unknown_stream"
# Records read, routed and checked ahead of the one being matched. Never past a state message: its echo must not wait
# for input that may be slow to come.
AHEAD = 1000


@dataclasses.dataclass(frozen=True)
class DestinationConfig(ApiConfig):
    """destination_contacts/spec.json, typed."""

    tag_mode: str
    default_region: Optional[str]
    max_rejected_records: int
    rejected_records_path: Optional[str]
    dry_run: bool
    max_workers: int
    delete_absent_contacts: bool
    recreate_deleted_contacts: bool
    object_storage_config: Optional[S3Storage]  # None: storage_type None; typed by DestinationContacts._config


class DestinationContacts(Destination):
    def __init__(self, clock: Clock = SYSTEM_CLOCK):
        self._clock = clock

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return connector_spec("destination_contacts")

    def run(self, args: List[str]) -> None:
        """The CDK's Destination.run, with `discover` added (the Python CDK has no destination discover, which data
        activation asks for) and `write` printing each STATE as it came (messages.py says why)."""
        init_uncaught_exception_handler(logger)
        parsed = _parse_args(args)
        with PRINT_BUFFER:  # as the CDK's launch does: logs and messages leave in the order they were made
            for message in self._run(parsed):
                if isinstance(message, str):
                    print(message, flush=True)  # a STATE: out now, not when the next log comes
                else:
                    print(json.dumps(AirbyteMessageSerializer.dump(message)))  # ASCII escapes: input text may hold half a surrogate pair

    def _run(self, parsed: argparse.Namespace) -> Iterator[Union[AirbyteMessage, str]]:
        if parsed.command in ("spec", "check"):
            yield from self.run_cmd(parsed)
            return
        raw_config = self.read_config(parsed.config)
        update_secrets(get_secrets(self.spec(logger).connectionSpecification, raw_config))
        if parsed.command == "discover":
            self._config(raw_config)
            yield json.dumps(destination_catalog(), ensure_ascii=False)
            return
        try:
            with open(parsed.catalog, encoding="utf-8") as file:
                catalog = ConfiguredAirbyteCatalogSerializer.load(json.load(file))
            yield from self.write(raw_config, catalog, sys.stdin.buffer)
        except Exception:
            # The platform closes the input only once the source is done; a destination that exits before reading it
            # to the end fails the delivery, and "message delivery failed" would hide the cause this failure names.
            for _ in sys.stdin.buffer:
                pass
            raise

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """The same one-request check as the source's, then, with object storage set, a test object written, listed and
        deleted there."""
        parsed: List[DestinationConfig] = []

        def parse(raw: Mapping[str, Any]) -> DestinationConfig:  # once, so that its warnings come once
            parsed.append(self._config(raw))
            return parsed[0]

        status = connection_status(parse, config, self._clock)
        storage = parsed[0].object_storage_config if status.status == Status.SUCCEEDED else None
        problem = check_storage(storage) if storage else None
        return AirbyteConnectionStatus(status=Status.FAILED, message=problem) if problem else status

    def write(
        self, config: Mapping[str, Any], configured_catalog: ConfiguredAirbyteCatalog, input_messages: Iterable[Union[bytes, str]]
    ) -> Iterable[Union[AirbyteMessage, str]]:
        """`input_messages`: the input lines, parsed here without loss (messages.py). Yields log messages, and each
        STATE line as it must be printed."""
        yield from Sync(self._config(config), configured_catalog, self._clock).run(read_input(input_messages))

    def _config(self, config: Mapping[str, Any]) -> DestinationConfig:
        typed = parse_config(DestinationConfig, self.spec(logger), config)
        typed = dataclasses.replace(typed, object_storage_config=s3_storage(typed.object_storage_config))
        if typed.default_region and not is_region(typed.default_region):
            raise config_error(f"default_region '{typed.default_region}' is not a country code the phone library knows, e.g. AE, IN, GB.")
        return typed


@dataclasses.dataclass(frozen=True)
class Checked:
    """A record after the route and check steps: where it goes, what it asks for, or why it cannot be written."""

    route: Optional[Route]
    record: Union[ContactRecord, TagRecord, None] = None
    rejected: Optional[Rejected] = None


class Sync:
    """One `write`: the pipeline's parts, and a record's way through them."""

    def __init__(self, config: DestinationConfig, catalog: ConfiguredAirbyteCatalog, clock: Clock):
        self.config = config
        self.routes = routes(catalog, config.delete_absent_contacts)
        self.mirror = Mirror(route.stream for route in self.routes.values() if route.mirror)
        sinks: List[Sink] = [RejectedFile(config.rejected_records_path)] if config.rejected_records_path else []
        self.objects = None
        if config.object_storage_config:
            sync_id = sync_id_of([stream.sync_id for stream in catalog.streams])
            self.objects = RejectedObjects(config.object_storage_config, sync_id, clock.now())
            sinks.append(self.objects)
        self.report = Report(sinks, config.max_rejected_records, config.dry_run)
        self.api = ContactsApi(config, clock)
        self.account = Account(self.api, config.default_region, walk_first=bool(self.mirror.streams))
        self.writer = Writer(self.api, self.account, config.tag_mode, config.recreate_deleted_contacts, config.dry_run)
        # A dry run sends nothing but reads, and numbers the contacts it would create in input order: one lane.
        self.pool = LanePool(1 if config.dry_run else config.max_workers)
        self.lanes = Lanes(self.pool, self.report, self.writer.write_tags)
        self._records_seen: Counter = Counter()

    def run(self, messages: Iterable[Incoming]) -> Iterator[Union[AirbyteMessage, str]]:
        try:
            for note in self._notes():
                yield _log(note)
            for incoming, checked in self._read_ahead(messages):
                if incoming.state is not None:
                    yield from _warnings(self.lanes.flush())
                    self.report.store_rejected()
                    self.mirror.state()
                    yield echo(incoming.state, self.report.state_stats(incoming.state["state"]))
                elif incoming.complete:
                    self.mirror.complete(incoming.stream)
                else:
                    self._records_seen[incoming.stream] += 1
                    self.report.received(incoming.stream)
                    ordinal_in_stream = self._records_seen[incoming.stream] if incoming.stream[1] is not None else None
                    yield from _warnings(self.record(incoming, checked, Position(incoming.stream, ordinal_in_stream, incoming.line)))
            yield from _warnings(self.lanes.flush())
            yield from self.delete_absent()
            self.report.store_rejected()
        except Exception as error:
            # The sync fails part way (e.g. a rejected key): what was done so far is still worth knowing.
            yield from _warnings(self.lanes.abort(error))
            yield from self._close(failing=True)
            raise
        finally:
            self.pool.close()
            self.account.close()
        yield from self._close()
        failure = self.report.failure()
        if failure:
            raise failure

    def _read_ahead(self, messages: Iterable[Incoming]) -> Iterator[Tuple[Incoming, Optional[Checked]]]:
        """The input, each record routed and checked, up to AHEAD records ahead of the one being matched (never past a
        state message). The records ahead that will look their contact up are announced to the match step."""
        waiting: Deque[Tuple[Incoming, Optional[Checked]]] = deque()
        for incoming in messages:
            checked = None if incoming.state is not None or incoming.complete else self._check(incoming)
            if checked and checked.rejected is None and self._looks_up(checked.route, checked.record):
                self.account.expect(checked.record.id, checked.record.phone, checked.route.match_by)
            waiting.append((incoming, checked))
            if incoming.state is not None:
                yield from _drain(waiting)
            elif len(waiting) > AHEAD:
                yield waiting.popleft()
        yield from _drain(waiting)

    def _check(self, incoming: Incoming) -> Checked:
        route: Optional[Route] = route_of(self.routes, incoming.stream)
        record: Union[ContactRecord, TagRecord, None] = None
        try:
            if incoming.problem:
                raise Rejected(incoming.problem)
            if route is None:
                raise Rejected(f"stream '{incoming.stream[1]}' is not in the configured catalog", UNKNOWN_STREAM)
            if route.object == CONTACT_TAGS:
                record = tag_record(incoming.data, self.config.default_region)
            else:
                record = contact_record(incoming.data, self.config.default_region)
            route.check(record)
        except Rejected as rejected:
            return Checked(route, record, rejected)
        return Checked(route, record)

    def record(self, incoming: Incoming, checked: Checked, position: Position) -> Iterator[str]:
        route, record = checked.route, checked.record
        self.mirror.record(route)
        in_mirror = route is not None and route.mirror
        if isinstance(record, ContactRecord):
            self.report.ignored_fields.update(record.ignored)
        if checked.rejected:
            return self.lanes.reject(position, incoming.data, checked.rejected, in_mirror)
        current = self._match(record, route)
        keys = lane_keys(record, current)
        if route.object == CONTACT_TAGS:
            return self.lanes.gather(position, incoming.data, keys, record, route)
        creates = current is None and route.operation.if_missing == "create"
        return self.lanes.write(
            position, incoming.data, keys, lambda outcome: self.writer.write_contact(record, route, outcome), in_mirror, creates
        )

    def _looks_up(self, route: Route, record: Union[ContactRecord, TagRecord]) -> bool:
        # Insert learns of an existing contact from the API's 409, a delete by id from a 404; a dry run sees neither,
        # so it looks.
        return route.looks_up(record) or self.config.dry_run

    def _match(self, record: Union[ContactRecord, TagRecord], route: Route) -> Optional[dict]:
        if not self._looks_up(route, record):
            return None
        if record.id and "id" in route.match_by and self.lanes.creating and self.account.find(record.id, None) is None:
            # An id nobody knows yet may be one this sync is creating right now: wait, as a sequential sync would
            # have created it first.
            self.lanes.wait_for_creates()
        return self.account.match(record.id, record.phone, route.match_by)

    def delete_absent(self) -> Iterator[AirbyteMessage]:
        if not self.mirror.streams:
            return
        self.mirror.rejected = self.lanes.mirror_rejections
        why_not = self.mirror.why_not()
        if why_not is None and self.report.failure() is not None:
            why_not = "the sync fails: more records were rejected than max_rejected_records"
        if why_not:
            yield _log(f"delete_absent_contacts: no contact deleted, {why_not}", Level.WARN)
            return
        yield _log(f"delete_absent_contacts: deleting the {self.account.count_unseen()} contacts no record of this sync named")
        for contact_id in self.account.unseen_ids():
            yield from _warnings(
                self.lanes.write(
                    None, None, [("id", contact_id)], lambda outcome, contact_id=contact_id: self.writer.delete(contact_id, outcome), False
                )
            )
        yield from _warnings(self.lanes.flush())

    def _notes(self) -> Iterator[str]:
        """One line per stream: where it writes and what its mode does there, so a user can check the mapping."""
        for route in self.routes.values():
            namespace, name = route.stream
            line = f"stream {namespace + '.' if namespace else ''}{name}: {route.mode} → {route.operation.action} {route.object}"
            if route.mirror:
                line += ", then delete the contacts no record named (delete_absent_contacts)"
            elif route.replaces and route.object == CONTACTS:
                line += "; contacts no record names are kept (delete_absent_contacts is off)"
            yield line
        if self.objects:
            yield f"rejected records are stored under {self.objects.where}<namespace>/<stream>/"

    def _close(self, failing: bool = False) -> Iterator[AirbyteMessage]:
        try:
            self.report.close()
        except Exception as error:
            if not failing:
                raise
            # The sync's own failure is the one to raise; this one is told too.
            yield _log(f"rejected records not stored: {getattr(error, 'message', None) or error}", Level.WARN)
        if self.report.ignored_fields:
            yield _log(f"not written, the API has no documented way to set them: {', '.join(sorted(self.report.ignored_fields))}")
        if self.report.dry_run:
            yield _log(json.dumps({"planned_changes_sample": self.report.sample}))
        yield _log(json.dumps(self.report.summary(self.api.budget.requests)))


def _parse_args(args: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="destination-contacts")
    commands = parser.add_subparsers(title="commands", dest="command", required=True)
    commands.add_parser("spec", help="outputs the json configuration specification")
    for name, help_text in (
        ("check", "checks the config can be used to connect"),
        ("discover", "outputs the objects and operations this destination writes (DESTINATION_CATALOG)"),
    ):
        commands.add_parser(name, help=help_text).add_argument("--config", required=True, help="path to the JSON configuration file")
    write = commands.add_parser("write", help="writes the records on stdin")
    write.add_argument("--config", required=True, help="path to the JSON configuration file")
    write.add_argument("--catalog", required=True, help="path to the configured catalog JSON file")
    return parser.parse_args(args)


def _drain(waiting: Deque) -> Iterator:
    while waiting:
        yield waiting.popleft()


def _warnings(lines: Iterable[str]) -> Iterator[AirbyteMessage]:
    for line in lines:
        yield _log(line, Level.WARN)


def _log(message: str, level: Level = Level.INFO) -> AirbyteMessage:
    return AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=level, message=message))
