"""The protocol's messages, in and out, without loss: input lines read as they are (a bad line is a rejected record,
never a crash), and every STATE echoed as it came, with every field kept.

Why not the CDK's models: the Airbyte platform (1.7+) adds an integer `id` to each STATE it forwards and requires it
back on each STATE the destination emits ("State message does not contain id" fails the sync: airbytehq/airbyte
#69138, #70421); the CDK's AirbyteStateMessage has no such field, so parsing a STATE into it and printing it again
drops the id (destination-motherduck made the same fix, airbytehq/airbyte PR #47969)."""

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, Optional, Union

from destination_contacts.report import StreamKey

NOT_A_MESSAGE = "input line is not a valid Airbyte message"
NOT_A_RECORD = "input line is not a valid Airbyte record message"
# Messages a destination may be given and has nothing to do with (the platform forwards only RECORD and STATE, and
# its own STREAM_STATUS COMPLETE; other producers may pass more).
IGNORED = {"LOG", "CONTROL", "SPEC", "CONNECTION_STATUS", "CATALOG", "DESTINATION_CATALOG"}


@dataclass(frozen=True)
class Incoming:
    """One input line, as the write loop sees it: a record (`problem`: why it can only be rejected), a state (the
    message as received), or the end of a stream (STREAM_STATUS COMPLETE)."""

    line: int = 0  # among the input's non-blank lines, from 1
    stream: StreamKey = (None, None)
    data: Any = None
    problem: Optional[str] = None
    state: Optional[Dict[str, Any]] = None
    complete: bool = False


def read_input(lines: Iterable[Union[bytes, str]]) -> Iterator[Incoming]:
    """What the write loop acts on: records, states, stream ends; other messages are counted as lines and passed over."""
    number = 0
    for line in lines:
        if not line.strip():
            continue
        number += 1
        try:
            text = line.decode("utf-8") if isinstance(line, bytes) else line
        except UnicodeDecodeError:
            yield Incoming(number, problem="input line is not valid UTF-8")
            continue
        try:
            message = json.loads(text)
        except ValueError:
            yield Incoming(number, problem="input line is not JSON")
            continue
        incoming = _incoming(message)
        if incoming is not None:
            yield dataclasses.replace(incoming, line=number)


def _incoming(message: Any) -> Optional[Incoming]:
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "RECORD":
        record = message.get("record")
        if not isinstance(record, dict) or not isinstance(record.get("stream"), str):
            return Incoming(data=record.get("data") if isinstance(record, dict) else None, problem=NOT_A_RECORD)
        namespace = record.get("namespace") if isinstance(record.get("namespace"), str) else None
        data = record.get("data")
        return Incoming(
            stream=(namespace, record["stream"]), data=data, problem=None if isinstance(data, dict) else "record data must be an object"
        )
    if kind == "STATE":
        # A STATE without a state would be echoed as one: nothing to commit, so it is turned away like any bad line.
        return Incoming(state=message) if isinstance(message.get("state"), dict) else Incoming(problem=NOT_A_MESSAGE)
    if kind == "TRACE":
        # Only the platform's STREAM_STATUS COMPLETE matters here; any other trace, well formed or not, is passed over.
        trace = message.get("trace")
        status = trace.get("stream_status") if isinstance(trace, dict) and trace.get("type") == "STREAM_STATUS" else None
        descriptor = status.get("stream_descriptor") if isinstance(status, dict) and status.get("status") == "COMPLETE" else None
        if isinstance(descriptor, dict) and isinstance(descriptor.get("name"), str):
            namespace = descriptor.get("namespace") if isinstance(descriptor.get("namespace"), str) else None
            return Incoming(stream=(namespace, descriptor["name"]), complete=True)
        return None
    if kind in IGNORED:
        return None
    return Incoming(data=message if isinstance(message, dict) else None, problem=NOT_A_MESSAGE)


def echo(state: Dict[str, Any], destination_stats: Dict[str, float]) -> str:
    """The STATE line to print: the message as received, with destinationStats added."""
    # ASCII escapes: a string cut mid-emoji (half a surrogate pair) comes back as it came, where UTF-8 could not carry it.
    return json.dumps({**state, "state": {**state["state"], "destinationStats": destination_stats}})
