"""Between the protocol loop and the lanes: each record is checked and routed on the main thread, written in its
contact's lane (pool.py), and settled into the Report back on the main thread in input order.

- `contacts` records go to their lane at once.
- `contact_tags` rows wait, gathered per contact, until the next state message, the end of the input, or a
  `contacts` record for the same contact (which must not overtake them): then the rows of one contact cost one
  tags/add and one tags/remove call at most.
- `flush` returns once everything before it is written or rejected, and settled: a state may then be echoed.
- The main thread reads at most MAX_AHEAD records past the oldest unsettled one, so memory stays flat however long
  the input runs without a state message (pending tag rows are sent early when that limit is reached).
- A failure in a lane (401, a server that keeps failing) skips what is queued and is raised in input order, after
  the records before it are counted."""

from collections import deque
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from destination_contacts.pool import LanePool
from destination_contacts.report import Outcome, Position, Rejected, Report
from destination_contacts.targets import Key, TagRow, Targets

MAX_AHEAD = 1000


@dataclass
class _TagBatch:
    keys: Set[Key] = field(default_factory=set)
    rows: List[Tuple[int, TagRow]] = field(default_factory=list)  # (input order, row)


@dataclass(frozen=True)
class _Unsettled:
    position: Optional[Position]  # None: the sync's own work (overwrite's deletes)
    data: Any
    outcome: Outcome
    overwrite: bool


class Dispatcher:
    def __init__(self, targets: Targets, report: Report, pool: LanePool, max_ahead: int = MAX_AHEAD):
        self._targets = targets
        self._report = report
        self._pool = pool
        self._max_ahead = max_ahead
        self._unsettled: Deque[_Unsettled] = deque()
        self._batches: List[_TagBatch] = []  # pending, oldest first
        self._batch_of: Dict[Key, _TagBatch] = {}
        self._order = count()
        self.overwrite_rejections = 0
        self._creating = 0  # jobs in flight that may create a contact

    def write(self, target: str, mode: str, data: Any, position: Position) -> Iterator[str]:
        """Takes one record; yields log lines of the records settled meanwhile."""
        if self._pool.failure is not None:
            yield from self.flush()  # raises the failure, at its place in the input
        outcome = Outcome()
        self._unsettled.append(_Unsettled(position, data, outcome, mode == "overwrite"))
        try:
            record = self._targets.prepare(target, mode, data)
            routing = self._targets.route(target, mode, record)
            if routing.unknown_id and self._creating:
                # An id this sync may be creating right now (a contact created by an earlier record): wait for the
                # creates in flight, then look again, as a sequential sync would have.
                self._pool.wait_until(lambda: not self._creating)
                routing = self._targets.route(target, mode, record)
        except Rejected as rejected:
            outcome.rejected = rejected
            outcome.finish()
        else:
            if target == "contact_tags":
                self._gather(routing.keys, TagRow(record, mode != "soft_delete", outcome))
            else:
                self._send_batches(routing.keys)  # earlier tag rows of this contact go first
                self._submit(routing.keys, [outcome], lambda: self._targets.write_contact(record, mode, outcome), routing.creates)
        yield from self._settle()

    def reject(self, position: Position, data: Any, rejected: Rejected, overwrite: bool) -> Iterator[str]:
        """A record turned away before it reaches a target (not a record, unknown stream): settled in its turn."""
        outcome = Outcome()
        outcome.rejected = rejected
        outcome.finish()
        self._unsettled.append(_Unsettled(position, data, outcome, overwrite))
        yield from self._settle()

    def delete(self, contact_ids: Iterable[str]) -> Iterator[str]:
        for contact_id in contact_ids:
            outcome = Outcome()
            self._unsettled.append(_Unsettled(None, None, outcome, False))
            self._submit({("id", contact_id)}, [outcome], lambda contact_id=contact_id, outcome=outcome: self._targets.delete(contact_id, outcome))
            yield from self._settle()
        yield from self.flush()

    def flush(self) -> Iterator[str]:
        """Everything so far written or rejected, and settled; raises the first failure in input order."""
        self._send_batches()
        self._pool.wait()
        yield from self._settle(everything=True)

    def abort(self, error: BaseException) -> Iterator[str]:
        """After a failure: skip what is queued, let what runs finish, and settle what got done (for the summary)."""
        self._pool.stop(error)
        self._send_batches()
        self._pool.wait()
        while self._unsettled:
            item = self._unsettled.popleft()
            if item.outcome.done and item.outcome.error is None:
                yield from self._report.settle(item.position, item.outcome, item.data)

    def _gather(self, keys: Set[Key], row: TagRow) -> None:
        hit: List[_TagBatch] = []
        for key in keys:
            batch = self._batch_of.get(key)
            if batch is not None and batch not in hit:
                hit.append(batch)
        if not hit:
            hit.append(_TagBatch())
            self._batches.append(hit[0])
        batch = hit[0]
        for other in hit[1:]:  # the row joins two contacts' rows (id of one, phone of the other): one batch
            batch.keys |= other.keys
            batch.rows.extend(other.rows)
            self._batches.remove(other)
        batch.keys |= keys
        batch.rows.append((next(self._order), row))
        for key in batch.keys:
            self._batch_of[key] = batch

    def _send_batches(self, keys: Optional[Set[Key]] = None) -> None:
        """The pending tag batches that share a key with `keys`, or all of them."""
        for batch in list(self._batches):
            if keys is not None and batch.keys.isdisjoint(keys):
                continue
            self._batches.remove(batch)
            for key in batch.keys:
                if self._batch_of.get(key) is batch:
                    del self._batch_of[key]
            rows = [row for _, row in sorted(batch.rows, key=lambda pair: pair[0])]
            self._submit(batch.keys, [row.outcome for row in rows], lambda rows=rows: self._targets.write_tags(rows))

    def _submit(self, keys: Set[Key], outcomes: List[Outcome], work: Callable[[], None], creates: bool = False) -> None:
        def job(skip: bool) -> None:
            try:
                if skip:
                    for outcome in outcomes:
                        outcome.skipped = True
                else:
                    work()
            except BaseException as error:
                outcomes[0].error = error
                raise
            finally:
                if creates:
                    with self._pool.lock:  # the pool notifies waiters when the job returns
                        self._creating -= 1
                for outcome in outcomes:
                    outcome.finish()

        if creates:
            with self._pool.lock:
                self._creating += 1
        self._pool.submit(keys, job)

    def _settle(self, everything: bool = False) -> Iterator[str]:
        while self._unsettled:
            head = self._unsettled[0]
            if not head.outcome.done:
                if not everything and len(self._unsettled) <= self._max_ahead:
                    return
                if self._batches:
                    self._send_batches()
                head.outcome.wait()
            self._unsettled.popleft()
            if head.outcome.error is not None:
                raise head.outcome.error
            if head.outcome.rejected is not None and head.overwrite:
                self.overwrite_rejections += 1
            yield from self._report.settle(head.position, head.outcome, head.data)
