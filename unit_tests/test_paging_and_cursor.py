import pytest
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from contacts_api.paging import ContactWalk
from integration_tests.connector import VirtualClock
from source_contacts.cursor import UpdatedAtCursor
from source_contacts.pages import SharedPages
from unit_tests.fakes import ListingApi


def pages_of(*sizes):
    return [[{"id": f"{page}-{i}"} for i in range(size)] for page, size in enumerate(sizes)]


@pytest.mark.parametrize(
    "page_sizes, requested",
    [
        ([100, 100, 0], 3),  # a full last page costs one empty page
        ([40, 40, 7], 3),  # silent cap at 40: the short page ends it
        ([0], 1),
        ([37, 0], 2),  # a short first page cannot be told from a cap: one more request
    ],
)
def test_pages_end_on_empty_or_short_page(page_sizes, requested):
    api = ListingApi(pages_of(*page_sizes))
    walk = ContactWalk(api, 100, {"tags": "VIP"})
    assert list(walk.pages()) == api.pages[:requested]
    assert api.calls == [("list", {"limit": 100, "page": page, "tags": "VIP"}) for page in range(1, requested + 1)]
    assert walk.finished and walk.server_time == "Fri, 27 Nov 2026 04:00:00 GMT"


def test_same_page_twice_stops_the_walk():
    page = [{"id": "a"}, {"id": "b"}]
    with pytest.raises(AirbyteTracedException, match="same 2 contacts for page 2 as for page 1"):
        list(ContactWalk(ListingApi([page, page]), 2).pages())


def test_shared_pages_walk_the_api_once_for_two_readers():
    api = ListingApi([[{"id": "1"}], [{"id": "2", "name": "Zoë"}], []])
    shared = SharedPages(ContactWalk(api, 1), readers=2)
    assert list(shared.pages()) == list(shared.pages()) == api.pages
    assert len(api.calls) == 3


def test_an_unfinished_walk_is_not_shared():
    api = ListingApi([[{"id": "1"}], [{"id": "2"}], []])
    shared = SharedPages(ContactWalk(api, 1), readers=2)
    next(shared.pages())  # the first reader stops early
    assert list(shared.pages()) == api.pages  # the second walks the API itself
    assert len(api.calls) == 4


def test_cursor_keeps_its_bound_during_the_walk_and_moves_at_the_end():
    cursor = UpdatedAtCursor("2026-01-01T00:00:00.000Z", None)
    assert cursor.accepts({"updatedAt": "2026-03-01T00:00:00Z"})
    assert not cursor.accepts({"updatedAt": "2025-12-31T23:59:59.999Z"})
    assert cursor.accepts({"updatedAt": None}) and cursor.accepts({})
    assert cursor.accepts({"updatedAt": "2026-01-01T00:00:00.000Z"})  # the bound itself is emitted again
    assert cursor.accepts({"updatedAt": "2026-01-01T04:00:00+04:00"})  # the same instant in another zone
    assert cursor.state() == {"updatedAt": "2026-01-01T00:00:00.000Z"}
    cursor.close("Fri, 27 Nov 2026 04:00:00 GMT", VirtualClock())
    assert cursor.state() == {"updatedAt": "2026-03-01T00:00:00.000Z"}


def test_cursor_never_moves_past_the_start_of_the_walk():
    cursor = UpdatedAtCursor(None, None)
    cursor.accepts({"updatedAt": "2026-11-27T04:00:30Z"})  # changed while the walk went on
    cursor.close("Fri, 27 Nov 2026 04:00:00 GMT", VirtualClock())
    assert cursor.state() == {"updatedAt": "2026-11-27T03:59:59.000Z"}


def test_start_date_is_the_first_bound_and_state_wins_over_it():
    assert UpdatedAtCursor(None, "2025-06-01T00:00:00Z").state() == {"updatedAt": "2025-06-01T00:00:00.000Z"}
    assert UpdatedAtCursor("2026-02-02T00:00:00Z", "2025-06-01T00:00:00Z").state() == {"updatedAt": "2026-02-02T00:00:00.000Z"}


def test_a_missing_or_garbled_date_header_falls_back_to_our_clock():
    for server_time in (None, "not a date"):
        cursor = UpdatedAtCursor(None, None)
        cursor.accepts({"updatedAt": "2026-01-01T00:00:00Z"})
        cursor.close(server_time, VirtualClock())
        assert cursor.state() == {"updatedAt": "2026-01-01T00:00:00.000Z"}
