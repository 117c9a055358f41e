from collections import Counter

import pendulum
import pytest
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from contacts_api.paging import ContactWalk
from source_contacts.cursor import UpdatedAtCursor
from source_contacts.pages import SharedPages
from source_contacts.walk import CheckedWalk, EndSearch
from unit_tests.fakes import SERVED, ListingApi


def pages_of(*sizes):
    return [[{"id": f"{page}-{i}"} for i in range(size)] for page, size in enumerate(sizes)]


def calls(*pages_and_limits, **filters):
    return [("list", {"limit": limit, "page": page, **filters}) for page, limit in pages_and_limits]


@pytest.mark.parametrize(
    "page_sizes, page_size, unserved",
    [
        ([100, 100, 0], 100, 0),  # a full last page costs one empty page
        ([100, 99, 100, 40, 0], 100, 1),  # page 2 lacks one contact (not serialisable): the walk goes on, and counts it
        ([0], 100, 0),
        ([37, 0], 100, 0),  # a short first page cannot be told from a cap: one more request, at what it served
    ],
)
def test_the_walk_ends_on_an_empty_page_and_counts_what_short_pages_before_it_lacked(page_sizes, page_size, unserved):
    api = ListingApi(pages_of(*page_sizes))
    walk = ContactWalk(api, page_size, {"tags": "VIP"})
    assert list(walk.pages()) == api.pages
    limit_after_page_one = page_sizes[0] or page_size
    assert api.calls == calls((1, page_size), *((page, limit_after_page_one) for page in range(2, len(page_sizes) + 1)), tags="VIP")
    assert walk.finished and walk.unserved == unserved
    assert walk.began == SERVED  # the time of the first answer, though every later page was served a minute later


def test_without_page_size_the_walk_asks_for_1000_and_then_for_what_the_server_serves():
    api = ListingApi(pages_of(40, 40, 7, 0))
    assert [len(page) for page in ContactWalk(api).pages()] == [40, 40, 7, 0]
    assert api.calls == calls((1, 1000), (2, 40), (3, 40), (4, 40))


@pytest.mark.parametrize(
    "refusal, tried",
    [
        ("limit must be between 1 and {}", [1000, 100]),  # the maximum the server names
        ("page size too large", [1000, 500, 250, 100]),  # else smaller limits in turn
    ],
)
def test_a_refused_default_limit_gets_a_smaller_one(refusal, tried):
    api = ListingApi(pages_of(100, 0), refuse_above=100, refusal=refusal)
    assert [len(page) for page in ContactWalk(api).pages()] == [100, 0]
    assert api.calls == calls(*((1, limit) for limit in tried), (2, 100))


def test_a_refusal_that_a_smaller_limit_does_not_change_fails_with_the_servers_words_and_a_set_page_size_is_never_shrunk():
    api = ListingApi(pages_of(5), refuse_above=0, refusal="locationId is not a valid id")
    with pytest.raises(AirbyteTracedException, match="^The Contacts API answered HTTP 400: locationId is not a valid id$"):
        list(ContactWalk(api).pages())
    assert api.calls == calls((1, 1000), (1, 500))
    api = ListingApi(pages_of(5), refuse_above=100, refusal="limit must be between 1 and {}")
    with pytest.raises(AirbyteTracedException, match="limit must be between 1 and 100"):
        list(ContactWalk(api, 200).pages())
    assert api.calls == calls((1, 200))


def test_same_page_twice_stops_the_walk():
    page = [{"id": "a"}, {"id": "b"}]
    with pytest.raises(AirbyteTracedException, match="same 2 contacts for page 2 as for page 1"):
        list(ContactWalk(ListingApi([page, page]), 2).pages())


def searched(api, page_size=100):
    """The last-page search alone, to its end: (the last page's number, the pages it found non-empty)."""
    search = EndSearch(ContactWalk(api, page_size), api)
    search._thread.join()
    return search.low, sorted(search.found)


def test_the_sentinel_search_doubles_then_halves_the_page_number():
    api = ListingApi(pages_of(*[100] * 10, 0))
    assert searched(api) == (10, [1, 2, 4, 8, 10])
    assert [params["page"] for _, params in api.calls] == [1, 2, 4, 8, 16, 12, 10, 11]
    api = ListingApi(pages_of(100, 100, 100, 30))
    assert searched(api) == (4, [1, 2, 4])  # a short page is the last
    assert [params["page"] for _, params in api.calls] == [1, 2, 4]


def test_on_a_slow_server_the_search_doubles_four_page_numbers_at_once():
    api = ListingApi(pages_of(*[100] * 10, 0), width=3)
    assert searched(api) == (10, [1, 2, 4, 8, 10])
    pages = [params["page"] for _, params in api.calls]
    assert pages[0] == 1 and sorted(pages[1:5]) == [2, 4, 8, 16] and pages[5:] == [12, 10, 11]


@pytest.mark.parametrize("width", [1, 3, 16])
def test_pages_in_flight_change_neither_the_pages_nor_the_requests(width):
    """The same pages in the same order, and the requests of a sequential walk (the search's, then each page once)."""
    api = ListingApi(pages_of(*[100] * 10, 0), width=width)
    walk = CheckedWalk(api, 100, {})
    assert list(walk.pages()) == api.pages and walk.complete
    requested = Counter(params["page"] for _, params in api.calls)
    assert requested == Counter([1, 2, 4, 8, 16, 12, 10, 11, *range(1, 12)])


def test_shared_pages_walk_the_api_once_for_two_readers():
    api = ListingApi([[{"id": "1"}], [{"id": "2", "name": "Zoë"}], []])
    shared = SharedPages(CheckedWalk(api, 1, {}), readers=2)
    assert list(shared.pages()) == list(shared.pages()) == api.pages
    assert [params["page"] for _, params in api.calls] == [1, 2, 4, 3, 1, 2, 3]  # the sentinel search, then the walk


def test_an_unfinished_walk_is_not_shared():
    api = ListingApi([[{"id": "1"}], [{"id": "2"}], []])
    shared = SharedPages(CheckedWalk(api, 1, {}), readers=2)
    next(shared.pages())  # the first reader stops early
    assert list(shared.pages()) == api.pages  # the second walks the API itself
    assert len(api.calls) == 5 + 7


def test_cursor_keeps_its_bound_during_the_walk_and_moves_at_the_end():
    cursor = UpdatedAtCursor("2026-01-01T00:00:00.000Z", None)
    assert cursor.accepts({"updatedAt": "2026-03-01T00:00:00Z"})
    assert not cursor.accepts({"updatedAt": "2025-12-31T23:59:59.999Z"})
    assert cursor.accepts({"updatedAt": None}) and cursor.accepts({})
    assert cursor.accepts({"updatedAt": "2026-01-01T00:00:00.000Z"})  # the bound itself is emitted again
    assert cursor.accepts({"updatedAt": "2026-01-01T04:00:00+04:00"})  # the same instant in another zone
    assert cursor.state() == {"updatedAt": "2026-01-01T00:00:00.000Z"}
    cursor.close(SERVED)
    assert cursor.state() == {"updatedAt": "2026-03-01T00:00:00.000Z"}


def test_cursor_never_moves_past_the_start_of_the_walk():
    cursor = UpdatedAtCursor(None, None)
    cursor.accepts({"updatedAt": "2026-11-27T04:00:30Z"})  # changed while the walk went on
    cursor.close(pendulum.datetime(2026, 11, 27, 4))  # the first page was served then
    assert cursor.state() == {"updatedAt": "2026-11-27T03:59:59.000Z"}


def test_start_date_is_the_first_bound_and_state_wins_over_it():
    assert UpdatedAtCursor(None, "2025-06-01T00:00:00Z").state() == {"updatedAt": "2025-06-01T00:00:00.000Z"}
    assert UpdatedAtCursor("2026-02-02T00:00:00Z", "2025-06-01T00:00:00Z").state() == {"updatedAt": "2026-02-02T00:00:00.000Z"}
