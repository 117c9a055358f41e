"""What a sync did: the counts, the rejected records (log, and the sinks of rejected.py: a file, a bucket), whether
that is too many, and the record counts each echoed state carries (`destinationStats`, which the platform checks
against what it forwarded)."""

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Set

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from contacts_api.errors import failure
from destination_contacts.rejected import Sink, StreamKey, rejected_line

COUNTS = ("created", "updated", "unchanged", "deleted", "recreated", "tags_added", "tags_removed", "rejected")
# Rejections logged one by one; past this only the counts and the sinks tell the rest.
LOGGED_REJECTIONS = 20
SAMPLE_SIZE = 20
DAILY_QUOTA = 144_000  # requests per account per day, as the vendor publishes


class Rejected(Exception):
    """A record that cannot be written. `config_hint` names reasons that point at the config rather than the data."""

    def __init__(self, reason: str, config_hint: Optional[str] = None):
        super().__init__(reason)
        self.reason = reason
        self.config_hint = config_hint


@dataclass(frozen=True)
class Position:
    """Where a record was in the input: its stream, its ordinal among that stream's records, its ordinal among all input messages."""

    stream: StreamKey
    record: Optional[int]  # None when the line named no stream
    message: int

    def __str__(self) -> str:
        namespace, name = self.stream
        if name is None:
            return f"input message {self.message}"
        return f"{namespace + '.' if namespace else ''}{name} record {self.record} (input message {self.message})"


class Outcome:
    """What became of one input record, filled in by whichever thread writes it and settled into the Report by the
    main thread, in input order (so counts, logs and the rejected-records file read as if the sync ran alone)."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.plans: List[Dict[str, Any]] = []
        self.logs: List[str] = []
        self.rejected: Optional[Rejected] = None
        self.error: Optional[BaseException] = None  # fails the sync when settled
        self._done = threading.Event()

    def count(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount

    def plan(self, description: Dict[str, Any]) -> None:
        self.plans.append(description)

    def finish(self) -> None:
        self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self) -> None:
        self._done.wait()


class Report:
    def __init__(self, sinks: Sequence[Sink], max_rejected: int, dry_run: bool):
        self.counts: Counter = Counter({name: 0 for name in COUNTS})
        self.max_rejected = max_rejected
        self.dry_run = dry_run
        self.sample: List[Dict[str, Any]] = []
        self.ignored_fields: Set[str] = set()  # in records, but not writable
        self._hints: Counter = Counter()
        self._first_reasons: List[str] = []
        # Records received and rejected per stream since that stream's last state, and in all since the last
        # global (or legacy) state: what each echoed state says in destinationStats.
        self._received: Counter = Counter()
        self._rejected: Counter = Counter()
        self._received_all = 0
        self._rejected_all = 0
        self._sinks = sinks

    def received(self, stream: StreamKey) -> None:
        self._received[stream] += 1
        self._received_all += 1

    def settle(self, position: Optional[Position], outcome: Outcome, data: Any) -> List[str]:
        """Adds a finished record's outcome; returns its log lines. `position` None: work of the sync's own (deletes)."""
        self.counts.update(outcome.counts)
        for description in outcome.plans:
            if len(self.sample) < SAMPLE_SIZE:
                self.sample.append({"position": str(position) if position else "absent from the sync", **description})
        lines = list(outcome.logs)
        if outcome.rejected is not None:
            line = self._reject(position, outcome.rejected, data)
            if line:
                lines.append(line)
        return lines

    def state_stats(self, state: Dict[str, Any]) -> Dict[str, float]:
        """destinationStats for a state about to be echoed, once every record before it is settled: the records of
        its stream (all streams, for a global or legacy state) since the previous one, written or found unchanged
        (`recordCount`) and rejected (`rejectedRecordCount`); the platform compares their sum with what it sent."""
        if state.get("type") == "STREAM":
            descriptor = (state.get("stream") or {}).get("stream_descriptor") or {}
            stream = (descriptor.get("namespace"), descriptor.get("name"))
            received, rejected = self._received.pop(stream, 0), self._rejected.pop(stream, 0)
        else:
            received, rejected = self._received_all, self._rejected_all
            self._received.clear()
            self._rejected.clear()
            self._received_all = self._rejected_all = 0
        return {"recordCount": float(received - rejected), "rejectedRecordCount": float(rejected)}

    def summary(self, requests: int) -> Dict[str, Any]:
        return {
            **{name: self.counts[name] for name in COUNTS},
            "requests": requests,
            "share_of_daily_quota": f"{requests / DAILY_QUOTA:.2%}",
            "dry_run": self.dry_run,
        }

    def store_rejected(self) -> None:
        """Every rejection settled so far is stored by every sink (raises, naming the sink, when one cannot)."""
        for sink in self._sinks:
            sink.flush()

    def close(self) -> None:
        """Stores what is left and closes the sinks; the first sink that fails raises, once all were tried."""
        errors = []
        for sink in self._sinks:
            try:
                sink.close()
            except Exception as error:
                errors.append(error)
        if errors:
            raise errors[0]

    def failure(self) -> Optional[AirbyteTracedException]:
        rejected = self.counts["rejected"]
        if rejected <= self.max_rejected:
            return None
        written = sum(self.counts[name] for name in COUNTS if name != "rejected")
        [(hint, hint_count)] = self._hints.most_common(1)
        # Nothing written and every record turned away for the same config-shaped reason: fixing the config fixes
        # the sync, and a retry as a system error would only fail again.
        config_shaped = hint is not None and hint_count == rejected and written == 0
        message = (
            f"{rejected} records were rejected, more than max_rejected_records ({self.max_rejected}); "
            f"the others were written. First: {self._first_reasons[0]}"
        )
        return failure(message, FailureType.config_error if config_shaped else FailureType.system_error)

    def _reject(self, position: Optional[Position], rejected: Rejected, data: Any) -> Optional[str]:
        self.counts["rejected"] += 1
        self._hints[rejected.config_hint] += 1
        if position is not None:
            self._rejected[position.stream] += 1
            self._rejected_all += 1
        if self._sinks:
            stream = position.stream if position else (None, None)
            line = rejected_line(stream, position and position.record, position and position.message, rejected.reason, data)
            for sink in self._sinks:
                sink.add(stream, line)
        if len(self._first_reasons) < LOGGED_REJECTIONS:
            message = f"rejected {position}: {rejected.reason}"
            self._first_reasons.append(message)
            return message
        return None
