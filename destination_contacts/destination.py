"""DestinationContacts: the protocol loop. Each input message becomes one Incoming item: a record goes to the
dispatcher (dispatch.py: lanes per contact, tag rows gathered per contact), a state is echoed only once every record
before it is written or rejected, a stream's COMPLETE status is noted for overwrite (overwrite.py); a summary closes
every sync."""

import io
import json
import logging
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

import orjson
from airbyte_cdk.destinations import Destination
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteStreamStatus,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    Level,
    Status,
    TraceType,
    Type,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from contacts_api.check import check_connection
from contacts_api.config import base_url
from contacts_api.errors import config_error
from contacts_api.http import rate_budget
from contacts_api.spec import connector_spec, with_defaults
from destination_contacts.account import Account
from destination_contacts.api import ContactsApi
from destination_contacts.discover import destination_catalog, parse_discover_args
from destination_contacts.dispatch import Dispatcher
from destination_contacts.overwrite import AbsentContacts
from destination_contacts.phones import is_region
from destination_contacts.pool import LanePool
from destination_contacts.report import Position, Rejected, Report
from destination_contacts.targets import MODES, Targets
from destination_contacts.writer import ApiWriter, DryRunWriter

UNKNOWN_STREAM = "record_of_unknown_stream"


@dataclass(frozen=True)
class Incoming:
    """One input message, as the loop sees it: a record (`problem` says why it can only be rejected: not JSON, not
    a record, data not an object), a state to echo, or the end of a stream. Other messages are None."""

    stream: Optional[str] = None
    namespace: Optional[str] = None
    data: Any = None
    problem: Optional[str] = None
    state: Optional[AirbyteMessage] = None
    complete: bool = False  # a stream status COMPLETE for `stream`


@dataclass(frozen=True)
class Route:
    target: str
    mode: str


class DestinationContacts(Destination):
    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return connector_spec("destination_contacts")

    def run(self, args: List[str]) -> None:
        if args[:1] == ["discover"]:  # not a verb of the CDK's Destination: see discover.py
            self.read_config(parse_discover_args(args).config)
            print(orjson.dumps(destination_catalog()).decode())
            return
        super().run(args)

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """The same one-request check as the source's."""
        try:
            config = self._config(config)
            ok, message = check_connection(config)
        except AirbyteTracedException as error:
            ok, message = False, error.message
        return AirbyteConnectionStatus(status=Status.SUCCEEDED) if ok else AirbyteConnectionStatus(status=Status.FAILED, message=message)

    def write(self, config: Mapping[str, Any], configured_catalog: ConfiguredAirbyteCatalog, input_messages: Iterable[Any]) -> Iterable[AirbyteMessage]:
        config = self._config(config)
        routes = _routes(configured_catalog)
        report = _report(config)
        api = ContactsApi(config, rate_budget(config["requests_per_minute"]))
        account = Account(api.pages, config.get("default_region"))
        writer = DryRunWriter(account) if config["dry_run"] else ApiWriter(api, account)
        targets = Targets(config, api, account, writer)
        # A dry run sends nothing but the scan, and numbers the contacts it would create in input order: one lane.
        pool = LanePool(1 if config["dry_run"] else config["max_workers"])
        dispatcher = Dispatcher(targets, report, pool)
        overwrite = AbsentContacts(sorted({name for (_, name), route in routes.items() if route.mode == "overwrite"}), config["delete_absent_contacts"])
        records_seen: Dict[Optional[str], int] = {}
        try:
            if overwrite.streams and not overwrite.enabled:
                yield _log(f"overwrite ({', '.join(sorted(overwrite.streams))}) upserts like append_dedup and deletes nothing: delete_absent_contacts is off")
            for ordinal, incoming in enumerate(map(_incoming, input_messages), start=1):
                if incoming is None:
                    continue
                if incoming.state is not None:
                    yield from _warnings(dispatcher.flush())
                    overwrite.state()
                    yield incoming.state
                elif incoming.complete:
                    overwrite.complete(incoming.stream)
                else:
                    records_seen[incoming.stream] = records_seen.get(incoming.stream, 0) + 1
                    position = Position(incoming.stream, records_seen[incoming.stream] if incoming.stream is not None else None, ordinal)
                    yield from _warnings(self._write_record(incoming, position, routes, dispatcher, overwrite))
            yield from _warnings(dispatcher.flush())
            yield from self._delete_absent(overwrite, dispatcher, report, account)
        except Exception as error:
            # The sync fails part way (e.g. a rejected key): what was done so far is still worth knowing.
            yield from _warnings(dispatcher.abort(error))
            report.close()
            yield from _closing_logs(report, targets)
            raise
        finally:
            pool.close()
            account.close()
        report.close()
        yield from _closing_logs(report, targets)
        failure = report.failure()
        if failure:
            raise failure

    @staticmethod
    def _write_record(incoming: Incoming, position: Position, routes: Mapping[Tuple[Optional[str], str], Route], dispatcher: Dispatcher, overwrite: AbsentContacts) -> Iterator[str]:
        route = routes.get((incoming.namespace, incoming.stream)) or routes.get((None, incoming.stream))
        if route is not None and route.mode == "overwrite":
            overwrite.record(incoming.stream)
        if incoming.problem:
            return dispatcher.reject(position, incoming.data, Rejected(incoming.problem), route is not None and route.mode == "overwrite")
        if route is None:
            return dispatcher.reject(position, incoming.data, Rejected(f"stream '{incoming.stream}' is not in the configured catalog", UNKNOWN_STREAM), False)
        return dispatcher.write(route.target, route.mode, incoming.data, position)

    @staticmethod
    def _delete_absent(overwrite: AbsentContacts, dispatcher: Dispatcher, report: Report, account: Account) -> Iterator[AirbyteMessage]:
        if not (overwrite.streams and overwrite.enabled):
            return
        why_not = overwrite.why_not(dispatcher.overwrite_rejections)
        if why_not is None and report.failure() is not None:
            why_not = "the sync fails: more records were rejected than max_rejected_records"
        if why_not:
            yield _log(f"overwrite: no contact deleted, {why_not}", Level.WARN)
            return
        yield _log(f"overwrite: deleting the {account.count_unseen()} contacts no record of this sync named")
        yield from _warnings(dispatcher.delete(account.unseen_ids()))

    def _parse_input_stream(self, input_stream: io.TextIOWrapper) -> Iterator[Union[AirbyteMessage, Incoming]]:
        """Like the CDK's, but a line that is no valid message becomes a rejected record, never a crash or a silent skip
        (and is never echoed into the log: it may hold personal data)."""
        if isinstance(input_stream, io.TextIOWrapper):
            # Bytes that are not UTF-8 would otherwise raise from the read itself and end the sync with a traceback;
            # kept as surrogates, they make only their own line a rejected record.
            input_stream.reconfigure(errors="surrogateescape")
        for line in input_stream:
            if not line.strip():
                continue
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError:
                yield Incoming(problem="input line is not valid UTF-8" if not _utf8(line) else "input line is not JSON")
                continue
            try:
                yield AirbyteMessageSerializer.load(raw)
            except Exception:
                record = raw.get("record") if isinstance(raw, dict) and raw.get("type") == "RECORD" else None
                if not isinstance(record, dict):
                    yield Incoming(data=raw, problem="input line is not a valid Airbyte message")
                    continue
                stream = record.get("stream") if isinstance(record.get("stream"), str) else None
                data = record.get("data")
                reason = "record data must be an object" if not isinstance(data, dict) else "input line is not a valid Airbyte record message"
                yield Incoming(stream=stream, data=data, problem=reason)

    def _config(self, config: Mapping[str, Any]) -> Dict[str, Any]:
        config = with_defaults(self.spec(logging.getLogger("airbyte")), config)
        base_url(config)
        region = config.get("default_region")
        if region and not is_region(region):
            raise config_error(f"default_region '{region}' is not a country code the phone library knows, e.g. AE, IN, GB.")
        return config


def _routes(catalog: ConfiguredAirbyteCatalog) -> Dict[Tuple[Optional[str], str], Route]:
    """Each configured stream writes to `destination_object_name`, or else the object of its own name."""
    routes = {}
    for configured in catalog.streams:
        name = configured.stream.name
        target = configured.destination_object_name or name
        mode = configured.destination_sync_mode.value
        if target not in MODES:
            raise config_error(f"stream '{name}' writes to '{target}'; this destination writes only to {' and '.join(MODES)}.")
        if mode not in MODES[target]:
            raise config_error(f"stream '{name}': destination sync mode '{mode}' is not supported for {target}; use one of {', '.join(MODES[target])}.")
        route = Route(target, mode)
        routes[(configured.stream.namespace, name)] = route
        routes.setdefault((None, name), route)
    return routes


def _incoming(message: Union[AirbyteMessage, Incoming]) -> Optional[Incoming]:
    if isinstance(message, Incoming):
        return message
    if message.type == Type.RECORD:
        if message.record is None:  # {"type": "RECORD"} parses, with no record in it
            return Incoming(problem="input line is not a valid Airbyte record message")
        return Incoming(message.record.stream, message.record.namespace, message.record.data)
    if message.type == Type.STATE:
        # A STATE without a state would be echoed as one: nothing to commit, so it is turned away like any bad line.
        return Incoming(state=message) if message.state is not None else Incoming(problem="input line is not a valid Airbyte message")
    if message.type == Type.TRACE and message.trace is not None and message.trace.type == TraceType.STREAM_STATUS:
        status = message.trace.stream_status
        if status.status == AirbyteStreamStatus.COMPLETE:
            return Incoming(stream=status.stream_descriptor.name, complete=True)
    return None


def _utf8(line: str) -> bool:
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _report(config: Mapping[str, Any]) -> Report:
    try:
        return Report(config.get("rejected_records_path"), config["max_rejected_records"], config["dry_run"])
    except OSError as error:
        raise config_error(f"rejected_records_path cannot be written: {error.strerror}") from None


def _closing_logs(report: Report, targets: Targets) -> Iterator[AirbyteMessage]:
    if targets.ignored_fields:
        yield _log(f"not written, the API has no documented way to set them: {', '.join(sorted(targets.ignored_fields))}")
    if report.dry_run:
        yield _log(json.dumps({"planned_changes_sample": report.sample}, ensure_ascii=False))
    yield _log(json.dumps(report.summary()))


def _warnings(lines: Iterable[str]) -> Iterator[AirbyteMessage]:
    for line in lines:
        yield _log(line, Level.WARN)


def _log(message: str, level: Level = Level.INFO) -> AirbyteMessage:
    return AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=level, message=message))
