"""ReadAhead: pages fetched on threads, answered in any order, delivered in page order, never more held than its width."""

import threading
import time

import pytest

from contacts_api.paging import ReadAhead


class Server:
    """Answers page n once the test releases it: the order of answers is the test's."""

    def __init__(self, pages: int):
        self.released = {number: threading.Event() for number in range(1, pages + 2)}
        self.sent = []
        self.most_in_flight = self._in_flight = 0
        self.answered = threading.Event()  # an empty page was answered
        self._lock = threading.Lock()

    def fetch(self, number: int):
        """Pages 1 to `pages`, then an empty one; none is asked twice or past `pages` + 3."""
        with self._lock:
            assert number not in self.sent and number <= len(self.released) + 2
            self.sent.append(number)
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
        assert self.released.get(number, self.released[len(self.released)]).wait(10)
        with self._lock:
            self._in_flight -= 1
        if number == 13:
            raise RuntimeError("page 13 failed")
        page = [{"id": str(number)}] if number < len(self.released) else []
        if not page:
            self.answered.set()
        return page


def test_pages_answered_out_of_order_are_delivered_in_order_and_no_more_are_held_than_the_width():
    server = Server(8)
    pages = ReadAhead(server.fetch, lambda: 3).pages(1)
    for number in (3, 2):  # answered before page 1
        server.released[number].set()
    server.released[1].set()
    assert [next(pages) for _ in range(3)] == [[{"id": "1"}], [{"id": "2"}], [{"id": "3"}]]
    for event in server.released.values():
        event.set()
    rest = [next(pages) for _ in range(6)]
    pages.close()  # the consumer saw the empty page: the end
    assert rest == [[{"id": str(number)}] for number in range(4, 9)] + [[]] and server.most_in_flight <= 3
    assert sorted(server.sent) == list(range(1, len(server.sent) + 1)) and len(server.sent) <= 9 + 2  # each page once


def test_a_page_goes_only_when_the_gate_allows_it_and_the_gate_is_asked_again_on_a_poke():
    server = Server(4)
    allowed = {"up_to": 2}
    ahead = ReadAhead(server.fetch, lambda: 4, lambda number: number <= allowed["up_to"])
    for event in server.released.values():
        event.set()
    pages = ahead.pages(1)
    assert [next(pages), next(pages)] == [[{"id": "1"}], [{"id": "2"}]] and server.sent == [1, 2]
    waiting = threading.Thread(target=lambda: allowed.update(third=next(pages)))
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive() and server.sent == [1, 2]  # page 3 waits for the gate
    allowed["up_to"] = 3
    ahead.poke()
    waiting.join(10)
    assert allowed["third"] == [{"id": "3"}] and server.sent == [1, 2, 3]
    pages.close()


def test_a_failed_page_raises_where_it_would_have_been_delivered_and_nothing_is_sent_after_the_walk_closes():
    server = Server(20)
    for event in server.released.values():
        event.set()
    pages = ReadAhead(server.fetch, lambda: 4).pages(10)
    assert [next(pages)[0]["id"] for _ in range(3)] == ["10", "11", "12"]
    with pytest.raises(RuntimeError, match="page 13 failed"):
        next(pages)
    sent = list(server.sent)
    assert sent == sorted(sent) and max(sent) <= 16  # four held at most: 13 and what went out while it was awaited
    assert server.sent == sent  # the generator's end waited for what was in flight and sent nothing more


def test_no_page_is_sent_after_one_answered_empty_though_pages_before_it_are_still_awaited():
    server = Server(2)  # page 3 is empty: the end
    pages = ReadAhead(server.fetch, lambda: 3).pages(1)
    server.released[1].set()
    assert next(pages) == [{"id": "1"}]  # pages 1 to 3 went out
    server.released[3].set()
    assert server.answered.wait(10)
    time.sleep(0.1)  # for the answer's callback, on the fetching thread
    server.released[2].set()  # a slot is free now, but page 4 would be past the end
    assert [next(pages), next(pages)] == [[{"id": "2"}], []]
    pages.close()
    assert sorted(server.sent) == [1, 2, 3]
