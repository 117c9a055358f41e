"""A bounded pool of lanes: work for one contact runs in order in one lane, work for different contacts runs at once.

Each lane is one worker thread with its own queue. A job names the keys of the contact(s) it touches (its id,
its E.164 phone); the first job with a key picks the least busy lane, and every later job sharing any of its keys
goes to the same lane, so changes to one contact never overtake each other. A lane forgets its keys when its
queue runs empty: everything for them is done, so the next job may start anywhere. A job whose keys sit in two
busy lanes (a record that joins two contacts, e.g. an id whose contact has another phone) waits until both are
idle. The shared APIBudget paces all lanes together; the pool only keeps enough requests in flight to use it.

A job that raises stops the pool: queued jobs are skipped (`job(skip=True)`), the ones running finish."""

import queue
import threading
from typing import Callable, Dict, Hashable, Iterable, List, Optional, Set

Job = Callable[[bool], None]  # called once, with skip=True when the pool stopped before it could run


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
        self._threads = [threading.Thread(target=self._work, args=(lane,), name=f"contacts-lane-{lane}", daemon=True) for lane in range(workers)]
        for thread in self._threads:
            thread.start()

    @property
    def workers(self) -> int:
        return len(self._queues)

    def submit(self, keys: Iterable[Hashable], job: Job) -> None:
        keys = set(keys)
        with self._changed:
            lanes = {self._lane_of[key] for key in keys if key in self._lane_of}
            if len(lanes) > 1:
                self._changed.wait_for(lambda: all(self._pending[lane] == 0 for lane in lanes))
                lanes = {self._lane_of[key] for key in keys if key in self._lane_of}  # empty now: idle lanes forget
            lane = lanes.pop() if lanes else min(range(self.workers), key=lambda index: self._pending[index])
            for key in keys:
                self._lane_of[key] = lane
            self._keys[lane].update(keys)
            self._pending[lane] += 1
        self._queues[lane].put(job)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Until every job submitted so far has run (or been skipped). False if the timeout came first."""
        with self._changed:
            return self._changed.wait_for(lambda: not any(self._pending), timeout)

    @property
    def lock(self) -> threading.Condition:
        """Held while the pool's bookkeeping changes; what a job changes under it is seen by `wait_until`."""
        return self._changed

    def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Until `predicate` (read under the lock) holds, checked again each time a job finishes."""
        with self._changed:
            self._changed.wait_for(predicate)

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
