"""`overwrite` for contacts: upsert every record like append_dedup, then, only if the user opted in
(`delete_absent_contacts`), delete the contacts of the account that no `contacts` record of the sync named.

Deleting on an incomplete input would delete contacts that were merely not sent yet, so the deletes happen only
when this run saw the whole of every overwrite stream:
- the input ended without the sync failing;
- every overwrite stream ended with a stream status COMPLETE (Airbyte passes the source's on to the destination;
  a source that died mid-read closes the input just the same, without it);
- no state message came between two records of an overwrite stream (a source that checkpoints a full refresh
  is resumed from that checkpoint after a failed attempt, and the retry's input is then only the rest);
- no record of an overwrite stream was rejected (it cannot say which contact it meant to keep);
- the overwrite streams sent at least one record (an empty read never empties the account)."""

from typing import Iterable, Optional, Set


class AbsentContacts:
    def __init__(self, overwrite_streams: Iterable[str], enabled: bool):
        self.streams: Set[str] = set(overwrite_streams)
        self.enabled = enabled
        self.records = 0
        self._completed: Set[str] = set()
        self._state_since_record = False
        self._checkpointed_mid_stream = False

    def record(self, stream: str) -> None:
        if stream in self.streams:
            self.records += 1
            if self._state_since_record:
                self._checkpointed_mid_stream = True

    def state(self) -> None:
        if self.records:
            self._state_since_record = True

    def complete(self, stream: Optional[str]) -> None:
        if stream is not None:
            self._completed.add(stream)

    def why_not(self, rejected: int) -> Optional[str]:
        """None when the deletes may go ahead, else the reason they do not (for the log)."""
        if not self.streams or not self.enabled:
            return "delete_absent_contacts is off" if self.streams else ""
        missing = sorted(self.streams - self._completed)
        if missing:
            return f"no stream status COMPLETE for {', '.join(missing)}: the input may be partial"
        if self._checkpointed_mid_stream:
            return "a state message came between overwrite records: a resumed attempt would see only part of the data"
        if rejected:
            return f"{rejected} overwrite records were rejected: the contacts they meant cannot be told apart"
        if not self.records:
            return "the overwrite streams sent no record: an empty read never empties the account"
        return None
