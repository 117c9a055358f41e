import pytest
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_contacts.cursor import UpdatedAtCursor
from contacts_api.paging import PageNumberPaginator
from source_contacts.paging import SharedPages


def walk(page_sizes):
    paginator, tokens = PageNumberPaginator(), []
    for size in page_sizes:
        paginator.observe([{"id": f"{len(tokens)}-{i}"} for i in range(size)])
        token = paginator.next_page_token()
        tokens.append(token)
        if token is None:
            break
    return tokens


@pytest.mark.parametrize(
    "page_sizes, tokens",
    [
        ([100, 100, 0], [{"page": 2}, {"page": 3}, None]),  # a full last page costs one empty page
        ([40, 40, 7], [{"page": 2}, {"page": 3}, None]),  # silent cap at 40: the short page ends it
        ([0], [None]),
        ([37, 0], [{"page": 2}, None]),  # a short first page cannot be told from a cap: one more request
    ],
)
def test_pages_end_on_empty_or_short_page(page_sizes, tokens):
    assert walk(page_sizes) == tokens


def test_same_page_twice_stops_the_walk():
    paginator = PageNumberPaginator()
    page = [{"id": "a"}, {"id": "b"}]
    paginator.observe(page)
    paginator.next_page_token()
    with pytest.raises(AirbyteTracedException, match="same 2 contacts for page 2 as for page 1"):
        paginator.observe(page)


def test_shared_pages_walk_the_api_once_for_two_readers():
    walks = []

    def walk_api():
        walks.append(1)
        yield [{"id": "1"}]
        yield [{"id": "2", "name": "Zoë"}]

    shared = SharedPages(readers=2)
    assert list(shared.pages(walk_api)) == list(shared.pages(walk_api)) == [[{"id": "1"}], [{"id": "2", "name": "Zoë"}]]
    assert len(walks) == 1


def test_an_unfinished_walk_is_not_shared():
    shared = SharedPages(readers=2)
    first = shared.pages(lambda: iter([[{"id": "1"}], [{"id": "2"}]]))
    next(first)  # the first reader stops early
    assert list(shared.pages(lambda: iter([[{"id": "fresh"}]]))) == [[{"id": "fresh"}]]


def test_cursor_keeps_its_bound_during_the_walk_and_moves_at_the_end():
    cursor = UpdatedAtCursor("2026-01-01T00:00:00.000Z", None)
    assert cursor.accepts({"updatedAt": "2026-03-01T00:00:00Z"})
    assert not cursor.accepts({"updatedAt": "2025-12-31T23:59:59.999Z"})
    assert cursor.accepts({"updatedAt": None}) and cursor.accepts({})
    assert cursor.accepts({"updatedAt": "2026-01-01T00:00:00.000Z"})  # the bound itself is emitted again
    assert cursor.state() == {"updatedAt": "2026-01-01T00:00:00.000Z"}
    cursor.close("Fri, 27 Nov 2026 04:00:00 GMT")
    assert cursor.state() == {"updatedAt": "2026-03-01T00:00:00.000Z"}


def test_cursor_never_moves_past_the_start_of_the_walk():
    cursor = UpdatedAtCursor(None, None)
    cursor.accepts({"updatedAt": "2026-11-27T04:00:30Z"})  # changed while the walk went on
    cursor.close("Fri, 27 Nov 2026 04:00:00 GMT")
    assert cursor.state() == {"updatedAt": "2026-11-27T03:59:59.000Z"}


def test_start_date_is_the_first_bound_and_state_wins_over_it():
    assert UpdatedAtCursor(None, "2025-06-01T00:00:00Z").state() == {"updatedAt": "2025-06-01T00:00:00.000Z"}
    assert UpdatedAtCursor("2026-02-02T00:00:00Z", "2025-06-01T00:00:00Z").state() == {"updatedAt": "2026-02-02T00:00:00.000Z"}


def test_a_missing_or_garbled_date_header_falls_back_to_our_clock():
    for server_time in (None, "not a date"):
        cursor = UpdatedAtCursor(None, None)
        cursor.accepts({"updatedAt": "2026-01-01T00:00:00Z"})
        cursor.close(server_time)
        assert cursor.state() == {"updatedAt": "2026-01-01T00:00:00.000Z"}
