"""What a sync did: the counts, the rejected records (log, optional file), and whether that is too many."""

import json
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from contacts_api import errors

COUNTS = ("created", "updated", "unchanged", "deleted", "tags_added", "tags_removed", "rejected")
# Rejections logged one by one; past this only the counts and the file tell the rest.
LOGGED_REJECTIONS = 20
SAMPLE_SIZE = 20


class Rejected(Exception):
    """A record that cannot be written. `config_hint` names reasons that point at the config rather than the data."""

    def __init__(self, reason: str, config_hint: Optional[str] = None):
        super().__init__(reason)
        self.reason = reason
        self.config_hint = config_hint


@dataclass(frozen=True)
class Position:
    """Where a record was in the input: its stream, its ordinal among that stream's records, its ordinal among all input messages."""

    stream: Optional[str]
    record: Optional[int]
    message: int

    def __str__(self) -> str:
        if self.stream is None:
            return f"input message {self.message}"
        return f"{self.stream} record {self.record} (input message {self.message})"


class Outcome:
    """What became of one input record, filled in by whichever thread writes it and settled into the Report by the
    main thread, in input order (so counts, logs and the rejected-records file read as if the sync ran alone)."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.plans: List[Dict[str, Any]] = []
        self.logs: List[str] = []
        self.rejected: Optional[Rejected] = None
        self.error: Optional[BaseException] = None  # fails the sync when settled
        self.skipped = False  # never run: the sync failed first
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

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self._done.wait(timeout)


class Report:
    def __init__(self, rejected_records_path: Optional[str], max_rejected: int, dry_run: bool):
        self.counts: Counter = Counter({name: 0 for name in COUNTS})
        self.max_rejected = max_rejected
        self.dry_run = dry_run
        self.sample: List[Dict[str, Any]] = []
        self._hints: Counter = Counter()
        self._first_reasons: List[str] = []
        # Emptied now, so the file never mixes this sync's rejections with an earlier one's.
        self._file = open(rejected_records_path, "w", encoding="utf-8") if rejected_records_path else None

    def count(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount

    def reject(self, position: Position, rejected: Rejected, data: Any) -> Optional[str]:
        """Counts and files the rejection; returns a log line for the first few."""
        self.counts["rejected"] += 1
        self._hints[rejected.config_hint] += 1
        if self._file:
            line = {"stream": position.stream, "record": position.record, "message": position.message, "reason": rejected.reason, "data": data}
            self._file.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
            self._file.flush()
        if len(self._first_reasons) < LOGGED_REJECTIONS:
            message = f"rejected {position}: {rejected.reason}"
            self._first_reasons.append(message)
            return message
        return None

    def plan(self, position: Optional[Position], description: Dict[str, Any]) -> None:
        if len(self.sample) < SAMPLE_SIZE:
            self.sample.append({"position": str(position) if position else "absent from the sync", **description})

    def settle(self, position: Optional[Position], outcome: Outcome, data: Any) -> List[str]:
        """Adds a finished record's outcome; returns its log lines. `position` None: work of the sync's own (deletes)."""
        for name, amount in outcome.counts.items():
            self.count(name, amount)
        for description in outcome.plans:
            self.plan(position, description)
        lines = list(outcome.logs)
        if outcome.rejected is not None:
            line = self.reject(position, outcome.rejected, data)
            if line:
                lines.append(line)
        return lines

    def summary(self) -> Dict[str, Any]:
        return {**{name: self.counts[name] for name in COUNTS}, "dry_run": self.dry_run}

    def close(self) -> None:
        if self._file:
            self._file.close()

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
        return errors.failure(message, FailureType.config_error if config_shaped else FailureType.system_error)
