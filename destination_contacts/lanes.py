"""The write step's concurrency: records of one contact run in order in one lane, records of different contacts run
at once, and outcomes are settled into the Report on the main thread in input order.

- A lane is one worker thread with its own queue. A job names the keys of the contact(s) it touches (id, E.164
  phone); the first job with a key picks the least busy lane, and every later job sharing a key goes to the same
  lane. A lane forgets its keys when its queue runs empty. A job whose keys sit in two busy lanes (a record that
  joins two contacts) waits until both are idle. The shared rate budget paces all lanes together; the lanes only
  keep enough requests in flight to use it.
- `contacts` records go to their lane at once. `contact_tags` rows wait, gathered per contact, until the next state
  message, the end of the input, or a `contacts` record of the same contact (which must not overtake them): the rows
  of one contact then cost one tags/add and one tags/remove call at most.
- `flush` returns once everything before it is written or rejected, and settled: a state may then be echoed.
- The main thread reads at most MAX_AHEAD records past the oldest unsettled one, so memory stays flat however long
  the input runs without a state message (pending tag rows are sent early when that limit is reached).
- A job that raises (401, a server that keeps failing) stops the lanes: queued jobs are skipped, running ones
  finish, and the failure is raised in input order, after the records before it are counted."""

import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Callable, Deque, Dict, Hashable, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from destination_contacts.modes import Route
from destination_contacts.report import Outcome, Position, Rejected, Report
from destination_contacts.writer import TagRow

MAX_AHEAD = 1000

Key = Tuple[str, str]
Job = Callable[[bool], None]  # called once, with skip=True when the lanes stopped before it could run


class LanePool:
    def __init__(self, workers: int):
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        self._queues: List["queue.SimpleQueue[Optional[Job]]"] = [queue.SimpleQueue() for _ in range(workers)]
        self._pending = [0] * workers  # queued or running, per lane
        self._keys: List[Set[Hashable]] = [set() for _ in range(workers)]
        self._lane_of: Dict[Hashable, int] = {}
        self._changed = threading.Condition()
        self.failure: Optional[BaseException] = None
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, args=(lane,), name=f"contacts-lane-{lane}", daemon=True) for lane in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, keys: Iterable[Hashable], job: Job) -> None:
        keys = set(keys)
        with self._changed:
            lanes = {self._lane_of[key] for key in keys if key in self._lane_of}
            if len(lanes) > 1:
                self._changed.wait_for(lambda: all(self._pending[lane] == 0 for lane in lanes))
                lanes = {self._lane_of[key] for key in keys if key in self._lane_of}  # empty now: idle lanes forget
            lane = lanes.pop() if lanes else min(range(len(self._queues)), key=lambda index: self._pending[index])
            for key in keys:
                self._lane_of[key] = lane
            self._keys[lane].update(keys)
            self._pending[lane] += 1
        self._queues[lane].put(job)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Until every job submitted so far has run (or been skipped). False if the timeout came first."""
        with self._changed:
            return self._changed.wait_for(lambda: not any(self._pending), timeout)

    def stop(self, error: BaseException) -> None:
        """From outside: skip every job not yet started."""
        with self._changed:
            if self.failure is None:
                self.failure = error

    def close(self) -> None:
        """Skips whatever is still queued (nothing, after a `wait`), and ends the threads."""
        self._closed = True
        for jobs in self._queues:
            jobs.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self, lane: int) -> None:
        jobs = self._queues[lane]
        while True:
            job = jobs.get()
            if job is None:
                return
            try:
                job(self.failure is not None or self._closed)
            except BaseException as error:  # noqa: B036 - the main thread re-raises it, in input order
                with self._changed:
                    if self.failure is None:
                        self.failure = error
            finally:
                with self._changed:
                    self._pending[lane] -= 1
                    if self._pending[lane] == 0:
                        for key in self._keys[lane]:
                            if self._lane_of.get(key) == lane:
                                del self._lane_of[key]
                        self._keys[lane].clear()
                    self._changed.notify_all()


@dataclass
class _TagBatch:
    keys: Set[Key] = field(default_factory=set)
    rows: List[Tuple[int, TagRow]] = field(default_factory=list)  # (input order, row)


@dataclass(frozen=True)
class _Unsettled:
    position: Optional[Position]  # None: the sync's own work (a mirror sync's deletes)
    data: Any
    outcome: Outcome
    mirror: bool


class Lanes:
    def __init__(self, pool: LanePool, report: Report, write_tags: Callable[[Sequence[TagRow]], None], max_ahead: int = MAX_AHEAD):
        self._pool = pool
        self._report = report
        self._write_tags = write_tags
        self._max_ahead = max_ahead
        self._unsettled: Deque[_Unsettled] = deque()
        self._batches: List[_TagBatch] = []  # pending, oldest first
        self._batch_of: Dict[Key, _TagBatch] = {}
        self._order = count()
        self.mirror_rejections = 0
        self._creating = 0  # jobs queued or running that may create a contact
        self._creates_done = threading.Condition()

    def write(
        self,
        position: Optional[Position],
        data: Any,
        keys: Iterable[Key],
        work: Callable[[Outcome], None],
        mirror: bool,
        creates: bool = False,
    ) -> Iterator[str]:
        """One `contacts` record (or a sync's own delete, position None): `work` runs in its lane. Yields the log
        lines of the records settled meanwhile. `creates`: the record may create a contact."""
        yield from self._raise_failure()
        outcome = self._track(position, data, mirror)
        keys = set(keys)
        self._send_batches(keys)  # earlier tag rows of this contact go first
        self._submit(keys, [outcome], lambda: work(outcome), creates)
        yield from self._settle()

    def wait_for_creates(self) -> None:
        """Until no job that may create a contact is queued or running: a record naming an id nobody knows may name
        one this sync is creating (a sequential sync would have created it first)."""
        with self._creates_done:
            self._creates_done.wait_for(lambda: self._creating == 0)

    @property
    def creating(self) -> bool:
        return self._creating > 0

    def gather(self, position: Position, data: Any, keys: Iterable[Key], record: Any, route: Route) -> Iterator[str]:
        """One `contact_tags` row, held with the other rows of its contact."""
        yield from self._raise_failure()
        row = TagRow(record, route, self._track(position, data, False))
        keys = set(keys)
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
        yield from self._settle()

    def reject(self, position: Position, data: Any, rejected: Rejected, mirror: bool) -> Iterator[str]:
        """A record turned away before it reaches a lane (not a record, unknown stream, bad field): settled in its turn."""
        yield from self._raise_failure()
        outcome = self._track(position, data, mirror)
        outcome.rejected = rejected
        outcome.finish()
        yield from self._settle()

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

    def _raise_failure(self) -> Iterator[str]:
        if self._pool.failure is not None:
            yield from self.flush()  # raises the failure at its place in the input

    def _track(self, position: Optional[Position], data: Any, mirror: bool) -> Outcome:
        outcome = Outcome()
        self._unsettled.append(_Unsettled(position, data, outcome, mirror))
        return outcome

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
            self._submit(batch.keys, [row.outcome for row in rows], lambda rows=rows: self._write_tags(rows))

    def _submit(self, keys: Set[Key], outcomes: List[Outcome], work: Callable[[], None], creates: bool = False) -> None:
        def job(skip: bool) -> None:
            try:
                if not skip:  # skipped: the sync failed first; the outcome is settled empty, counting nothing
                    work()
            except BaseException as error:
                outcomes[0].error = error
                raise
            finally:
                if creates:
                    with self._creates_done:
                        self._creating -= 1
                        self._creates_done.notify_all()
                for outcome in outcomes:
                    outcome.finish()

        if creates:
            with self._creates_done:
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
            if head.outcome.rejected is not None and head.mirror:
                self.mirror_rejections += 1
            yield from self._report.settle(head.position, head.outcome, head.data)
