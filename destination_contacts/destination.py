"""DestinationContacts: the protocol loop. Records are written in input order; a state message is echoed only once
every record before it is written or rejected; a summary closes every sync."""

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
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    Level,
    Status,
    Type,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from contacts_api.check import check_connection
from contacts_api.config import base_url
from contacts_api.errors import config_error
from contacts_api.http import rate_budget
from contacts_api.spec import connector_spec, with_defaults
from destination_contacts.account import Account
from destination_contacts.discover import destination_catalog, parse_discover_args
from destination_contacts.api import ContactsApi
from destination_contacts.phones import is_region
from destination_contacts.report import Position, Rejected, Report
from destination_contacts.targets import MODES, Targets
from destination_contacts.writer import ApiWriter, DryRunWriter

UNKNOWN_STREAM = "record_of_unknown_stream"


@dataclass(frozen=True)
class BadLine:
    """An input line that is no Airbyte message (a record whose data is not an object, or not JSON at all)."""

    stream: Optional[str]
    data: Any
    reason: str


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
        targets = Targets(config, api, account, writer, report)
        records_seen: Dict[str, int] = {}
        try:
            for ordinal, message in enumerate(input_messages, start=1):
                if isinstance(message, BadLine) or message.type == Type.RECORD:
                    stream = message.stream if isinstance(message, BadLine) else message.record.stream
                    data = message.data if isinstance(message, BadLine) else message.record.data
                    records_seen[stream] = records_seen.get(stream, 0) + 1
                    position = Position(stream, records_seen[stream] if stream is not None else None, ordinal)
                    try:
                        if isinstance(message, BadLine):
                            raise Rejected(message.reason)
                        route = routes.get((message.record.namespace, stream)) or routes.get((None, stream))
                        if route is None:
                            raise Rejected(f"stream '{stream}' is not in the configured catalog", UNKNOWN_STREAM)
                        targets.write(route.target, route.mode, data, position)
                    except Rejected as rejected:
                        line = report.reject(position, rejected, data)
                        if line:
                            yield _log(line, Level.WARN)
                elif message.type == Type.STATE:
                    writer.flush()
                    yield message
            writer.flush()
        except Exception:
            # The sync fails part way (e.g. a rejected key): what was done so far is still worth knowing.
            report.close()
            yield from _closing_logs(report, targets)
            raise
        report.close()
        yield from _closing_logs(report, targets)
        failure = report.failure()
        if failure:
            raise failure

    def _parse_input_stream(self, input_stream: io.TextIOWrapper) -> Iterator[Union[AirbyteMessage, BadLine]]:
        """Like the CDK's, but a line that is no valid message becomes a rejected record, never a crash or a silent skip
        (and is never echoed into the log: it may hold personal data)."""
        for line in input_stream:
            if not line.strip():
                continue
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError:
                yield BadLine(None, None, "input line is not JSON")
                continue
            try:
                yield AirbyteMessageSerializer.load(raw)
            except Exception:
                record = raw.get("record") if isinstance(raw, dict) and raw.get("type") == "RECORD" else None
                if not isinstance(record, dict):
                    yield BadLine(None, raw, "input line is not a valid Airbyte message")
                    continue
                stream = record.get("stream") if isinstance(record.get("stream"), str) else None
                data = record.get("data")
                reason = "record data must be an object" if not isinstance(data, dict) else "input line is not a valid Airbyte record message"
                yield BadLine(stream, data, reason)

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


def _log(message: str, level: Level = Level.INFO) -> AirbyteMessage:
    return AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=level, message=message))
