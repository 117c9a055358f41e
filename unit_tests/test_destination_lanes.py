"""The lanes (lanes.py): routing by key, order within a lane, failure, and the bound on reading ahead."""

import threading
import time

import pytest

from destination_contacts.lanes import LanePool, Lanes
from destination_contacts.modes import ADD_TAG, CONTACT_TAGS, Route
from destination_contacts.report import Position, Report

ADD_TAG_ROUTE = Route((None, "tags"), CONTACT_TAGS, "append", ADD_TAG)


def recorder(log, name, delay=0.0, fail=False):
    """Logs (name, lane thread) when the job starts, or (name, "skipped"); then (name, "end") once it has run."""

    def job(skip):
        log.append((name, "skipped" if skip else threading.current_thread().name))
        if not skip:
            time.sleep(delay)
            log.append((name, "end"))
            if fail:
                raise RuntimeError(name)

    return job


def lanes_of(log):
    return {name: lane for name, lane in log if lane != "end"}


def test_jobs_sharing_a_key_run_in_order_in_one_lane_and_others_spread():
    pool = LanePool(3)
    log = []
    pool.submit({("phone", "a")}, recorder(log, "a1", 0.05))
    pool.submit({("phone", "b")}, recorder(log, "b1", 0.05))
    pool.submit({("id", "x"), ("phone", "a")}, recorder(log, "a2"))  # shares a key with a1
    pool.submit({("id", "x")}, recorder(log, "a3"))  # shares a key with a2 only
    assert pool.wait(5)
    pool.close()
    lanes = lanes_of(log)
    assert lanes["a1"] == lanes["a2"] == lanes["a3"] != lanes["b1"]
    # One after the other: each a-job starts only once the one before it ended.
    assert [(name, "end" if lane == "end" else "start") for name, lane in log if name.startswith("a")] == [
        ("a1", "start"),
        ("a1", "end"),
        ("a2", "start"),
        ("a2", "end"),
        ("a3", "start"),
        ("a3", "end"),
    ]


@pytest.mark.parametrize("a_delay, b_delay", [(0.05, 0.2), (0.2, 0.05)], ids=["b-ends-last", "a-ends-last"])
def test_a_job_joining_two_busy_lanes_waits_for_both(a_delay, b_delay):
    # Both orders: a pool that waited for only one of the two lanes (whichever it picks) starts "ab" while the
    # slower job still runs, in one of the two cases.
    pool = LanePool(2)
    log = []
    pool.submit({"a"}, recorder(log, "a", a_delay))
    pool.submit({"b"}, recorder(log, "b", b_delay))
    pool.submit({"a", "b"}, recorder(log, "ab"))
    assert pool.wait(5)
    pool.close()
    lanes = lanes_of(log)
    assert lanes["a"] != lanes["b"]  # both lanes were busy when "ab" came
    started = log.index(("ab", lanes["ab"]))
    assert log.index(("a", "end")) < started and log.index(("b", "end")) < started, log


def test_an_idle_lane_forgets_its_keys_and_a_failure_skips_the_rest():
    pool = LanePool(2)
    log = []
    pool.submit({"a"}, recorder(log, "a"))
    assert pool.wait(5)
    assert pool._lane_of == {}
    pool.submit({"b"}, recorder(log, "b", 0.05, fail=True))
    pool.submit({"b"}, recorder(log, "b2"))
    assert pool.wait(5)
    pool.close()
    assert isinstance(pool.failure, RuntimeError) and log[-1] == ("b2", "skipped")


def test_a_pool_needs_at_least_one_worker():
    with pytest.raises(ValueError, match="at least one worker"):
        LanePool(0)


def test_reading_ahead_is_bounded_and_sends_pending_tag_rows_early():
    batches = []

    def write_tags(rows):
        batches.append([row.record for row in rows])
        for row in rows:
            row.outcome.count("updated")

    pool = LanePool(2)
    report = Report(None, 0, False)
    lanes = Lanes(pool, report, write_tags, max_ahead=3)
    for n in range(1, 8):
        list(lanes.gather(Position((None, "tags"), n, n), {}, [("id", "c1")], f"t{n}", ADD_TAG_ROUTE))
    list(lanes.flush())
    pool.close()
    # Past 3 unsettled rows the pending batch goes out: rows 1-4 in one call, then 5-7 at the flush.
    assert batches == [["t1", "t2", "t3", "t4"], ["t5", "t6", "t7"]]
    assert report.counts["updated"] == 7
