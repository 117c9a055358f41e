"""The tests' VirtualClock: sleeps that move it at once, and, once a sandbox takes its time, a schedule on which
overlapping waits take as long as the longest, as they would in real time."""

import threading

from integration_tests.connector import VirtualClock


def test_sleeps_move_the_clock_at_once_by_what_was_asked():
    clock = VirtualClock()
    clock.sleep(61)
    clock.sleep(0.5)
    assert clock.monotonic() == VirtualClock.START + 61.5 and clock.sleeps == [61, 0.5]


def test_waits_that_overlap_take_as_long_as_the_longest_and_each_ends_at_its_moment():
    clock = VirtualClock()
    ended = {}

    def wait(name, seconds):
        clock.elapse(seconds)
        ended[name] = clock.monotonic() - VirtualClock.START

    threads = [threading.Thread(target=wait, args=item) for item in (("a", 3), ("b", 1), ("c", 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert ended == {"a": 3, "b": 1, "c": 2}  # not 6: the three overlapped
    clock.sleep(5)  # a sleep now waits its turn on the schedule too, and moves the clock by what it asked
    assert clock.monotonic() == VirtualClock.START + 8
