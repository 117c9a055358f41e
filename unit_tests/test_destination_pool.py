"""LanePool routing and failure, and the Account index under concurrent writes during a rescan."""

import threading
import time

import pytest

from destination_contacts.account import Account
from destination_contacts.pool import LanePool


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
        ("a1", "start"), ("a1", "end"), ("a2", "start"), ("a2", "end"), ("a3", "start"), ("a3", "end")]


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


def test_writes_during_a_rescan_win_over_the_scanned_pages():
    started, release = threading.Event(), threading.Event()
    stale = [{"id": "c1", "name": "Old", "phoneNumber": "+971501234567", "tags": ["a"]},
             {"id": "c2", "name": "Gone", "phoneNumber": "+971501234568", "tags": []}]

    def scan():
        yield stale[:1]
        started.set()
        release.wait(5)
        yield stale[1:]

    account = Account(scan, None)
    loader = threading.Thread(target=account.load)
    loader.start()
    assert started.wait(5)
    account.remember({"id": "c1", "name": "New", "phoneNumber": "+971501234569"})  # a PUT answered meanwhile
    account.forget("c2")  # a DELETE answered meanwhile
    release.set()
    loader.join(5)
    assert account.find("c1", None, load=False)["name"] == "New"
    assert account.find(None, "+971501234569", load=False)["id"] == "c1"
    assert account.find(None, "+971501234567", load=False) is None
    assert account.find("c2", None, load=False) is None and list(account.unseen_ids()) == ["c1"]


def test_reading_ahead_is_bounded_and_sends_pending_tag_rows_early():
    from destination_contacts.dispatch import Dispatcher
    from destination_contacts.report import Position, Report
    from destination_contacts.targets import Targets
    from destination_contacts.writer import ApiWriter
    from unit_tests.test_destination_recovery import ScriptedApi

    api = ScriptedApi([{"id": "c1", "name": "Zoë", "phoneNumber": "+971501234567", "tags": []}])
    account = Account(api.pages, None)
    report = Report(None, 0, False)
    pool = LanePool(2)
    dispatcher = Dispatcher(Targets({"tag_mode": "add", "dry_run": False}, api, account, ApiWriter(api, account)), report, pool, max_ahead=3)
    for n in range(1, 8):
        list(dispatcher.write("contact_tags", "append", {"contact_id": "c1", "tag": f"t{n}"}, Position("tags", n, n)))
    list(dispatcher.flush())
    pool.close()
    # Past 3 unsettled rows the pending batch goes out: rows 1-4 in one call, then 5-7 at the flush.
    assert api.calls == [("add_tags", "c1", ["t1", "t2", "t3", "t4"]), ("add_tags", "c1", ["t5", "t6", "t7"])]
    assert report.counts["updated"] == 7 and report.counts["tags_added"] == 7
