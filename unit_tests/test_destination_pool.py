"""LanePool routing and failure, and the Account index under concurrent writes during a rescan."""

import threading
import time

import pytest

from destination_contacts.account import Account
from destination_contacts.pool import LanePool


def recorder(log, name, delay=0.0, fail=False):
    def job(skip):
        log.append((name, "skipped" if skip else threading.current_thread().name))
        if not skip:
            time.sleep(delay)
            if fail:
                raise RuntimeError(name)
    return job


def test_jobs_sharing_a_key_run_in_order_in_one_lane_and_others_spread():
    pool = LanePool(3)
    log = []
    pool.submit({("phone", "a")}, recorder(log, "a1", 0.05))
    pool.submit({("phone", "b")}, recorder(log, "b1", 0.05))
    pool.submit({("id", "x"), ("phone", "a")}, recorder(log, "a2"))  # shares a key with a1
    pool.submit({("id", "x")}, recorder(log, "a3"))  # shares a key with a2 only
    assert pool.wait(5)
    pool.close()
    lanes = dict(log)
    assert lanes["a1"] == lanes["a2"] == lanes["a3"] != lanes["b1"]
    assert [name for name, _ in log if name.startswith("a")] == ["a1", "a2", "a3"]


def test_a_job_joining_two_busy_lanes_waits_for_both():
    pool = LanePool(2)
    log = []
    pool.submit({"a"}, recorder(log, "a", 0.1))
    pool.submit({"b"}, recorder(log, "b", 0.1))
    pool.submit({"a", "b"}, recorder(log, "ab"))
    assert pool.wait(5)
    pool.close()
    assert log[-1][0] == "ab" and {name for name, _ in log[:2]} == {"a", "b"}


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
    with pytest.raises(ValueError):
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
