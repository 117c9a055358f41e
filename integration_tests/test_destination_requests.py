"""destination-contacts write into big sandbox accounts: requests follow the work, not the account (issue 14).

The floor of a sync is the writes its records need plus the cheaper of one walk of the account (a page of 100
contacts at a time, and the page that ends the list) and one look-up per record (GET by id, or a search by phone).
Each test counts every request the sandbox received, by kind, exactly, and holds it against that floor. The sandboxes
serve at most 100 contacts a page (`max_limit`), as the issue's accounts do: a server that serves 1,000 makes the walk
ten times cheaper, and the same rule buys it sooner (benchmarks/RESULTS-destination.md has both)."""

from collections import Counter

from integration_tests.connector import as_set, counts, full_summary, record, seed, summary, write, writes
from integration_tests.sandbox import SandboxAPI

UPSERT = [("contacts", "append_dedup")]
FAST = {"requests_per_minute": 10_000}  # the spec's maximum: the sandbox sets no limit, so the budget never waits
CAP = {"max_limit": 100}  # the most the sandbox serves per page


def walk(contacts):
    """Requests of one walk of an account: its full pages, then the one that ends the list (short or empty)."""
    return contacts // 100 + 1


def kinds(api):
    """The requests the sandbox received, by kind."""

    def kind(request):
        if request.method == "GET":
            if request.path != "/v1/contacts":
                return "get"
            return "search" if "searchText" in request.query else "page"
        return f"{request.method} {request.path.rsplit('/', 1)[-1]}" if "/tags/" in request.path else request.method

    return Counter(kind(request) for request in api.requests)


def changed(contact, by="id"):
    """A record for `contact` that moves it to another stage, naming it by id or by phone only."""
    data = {
        "name": contact["name"],
        "phoneNumber": contact["phoneNumber"],
        "stage": "Customer" if contact.get("stage") != "Customer" else "Lead",
    }
    return record({**data, "id": contact["id"]} if by == "id" else data)


def unchanged(contact):
    return record({key: contact[key] for key in ("id", "name", "phoneNumber", "stage") if key in contact})


def new(n):
    # UK numbers: no run of their digits is in the sandbox's +9715 numbers, so a search cannot hit one by chance.
    return record({"name": f"New {n}", "phoneNumber": f"+447700900{n:03d}"})


def assert_summary_counts_the_requests(run, api):
    """The summary's figure is what the API received, and its share of the vendor's 144,000 requests a day."""
    received = len(api.requests)
    assert (full_summary(run)["requests"], full_summary(run)["share_of_daily_quota"]) == (received, f"{received / 144_000:.2%}")


# --- issue point 1: within twice the floor; large inputs at the floor -------------------------------------------


def test_seven_records_into_20k_contacts_cost_a_page_and_a_look_up_each(sandbox_factory, tmp_path):
    api = sandbox_factory(**CAP, contacts=20_000, seed=1)
    contacts = api.snapshot()
    # 7 pages are bought for the 7 records read ahead, none known; the contacts are far past them, so each is looked up.
    run = write(
        api,
        tmp_path,
        UPSERT,
        changed(contacts[9_000], by="phone"),
        changed(contacts[12_000], by="phone"),
        changed(contacts[15_000]),
        changed(contacts[18_000]),
        changed(contacts[19_000]),
        new(1),
        unchanged(contacts[17_000]),
        **FAST,
    )
    assert run.returncode == 0, run.stderr
    assert summary(run) == counts(created=1, updated=5, unchanged=1)
    # 3 searches (2 hits, then a miss the hits vouch for: no probe) and 4 GETs.
    assert kinds(api) == {"page": 7, "search": 3, "get": 4, "PUT": 5, "POST": 1}
    floor = 6 + min(walk(20_000), 7)  # 6 writes: the unchanged record needs none
    assert len(api.requests) == 20 <= 2 * floor
    assert not any(contacts[17_000]["id"] in path for _, path, _ in writes(api))
    assert_summary_counts_the_requests(run, api)


def test_seventy_records_into_20k_contacts_stay_within_twice_the_floor(sandbox_factory, tmp_path):
    api = sandbox_factory(**CAP, contacts=20_000, seed=1)
    existing = api.snapshot()[7_000::200]  # none on pages 1 to 70, which the sync reads
    run = write(
        api,
        tmp_path,
        UPSERT,
        *[changed(contact, by="id" if n % 2 else "phone") for n, contact in enumerate(existing[:50])],
        *[new(n) for n in range(10)],
        *[unchanged(contact) for contact in existing[50:60]],
        **FAST,
    )
    assert run.returncode == 0, run.stderr
    assert summary(run) == counts(created=10, updated=50, unchanged=10)
    assert kinds(api) == {"page": 70, "search": 25 + 10, "get": 25 + 10, "PUT": 50, "POST": 10}
    floor = 60 + min(walk(20_000), 70)
    assert len(api.requests) == 200 <= 2 * floor
    assert_summary_counts_the_requests(run, api)


def test_seven_hundred_records_into_2k_contacts_buy_the_walk_at_once(sandbox_factory, tmp_path):
    """The worst order for a walk paid page by page: the account's last contacts first, so no page before the 20th
    shows a record. The first record is read with the next 699, none of them known: the walk costs less than their
    look-ups, and is bought at once."""
    api = sandbox_factory(**CAP, contacts=2_000, seed=1)
    last_first = api.snapshot()[::-1]
    run = write(
        api,
        tmp_path,
        UPSERT,
        *[changed(contact) for contact in last_first[:500]],
        *[unchanged(contact) for contact in last_first[500:600]],
        *[new(n) for n in range(100)],
        **FAST,
    )
    assert run.returncode == 0, run.stderr
    assert summary(run) == counts(created=100, updated=500, unchanged=100)
    assert kinds(api) == {"page": 21, "PUT": 500, "POST": 100}
    floor = 600 + min(walk(2_000), 700)
    assert len(api.requests) == floor == 621
    assert_summary_counts_the_requests(run, api)


# --- issue point 3: a search that does not find phone numbers --------------------------------------------------------


def test_a_server_whose_search_ignores_phones_gets_the_walk_said_once_and_nothing_created_twice(sandbox_factory, tmp_path):
    api = sandbox_factory(**CAP, contacts=2_000, seed=1, search_phones=False)
    contacts = api.snapshot()
    messages = [
        changed(contacts[1_500], by="phone"),
        new(1),
        changed(contacts[300], by="phone"),
        unchanged(contacts[1_999]),
        changed(contacts[50], by="phone"),
    ]
    run = write(api, tmp_path, UPSERT, *messages, **FAST)
    assert run.returncode == 0, run.stderr
    assert summary(run) == counts(created=1, updated=3, unchanged=1)
    # Pages 1 to 5 for the 5 records read ahead, the first record's search, the probe (contact 0's number: not found
    # either), then the rest of the walk, from which every record is matched.
    assert kinds(api) == {"page": walk(2_000), "search": 2, "PUT": 3, "POST": 1}
    assert sum("searchText does not find contacts by phone number" in line for line in run.logs) == 1
    as_set(api.snapshot())  # no phone twice
    assert len(api.contacts) == 2_001
    assert_summary_counts_the_requests(run, api)


# --- a number stored with spaces, which a search for its digits cannot find ------------------------------------------

SPACED, SPACED_E164 = "+971 50 999 1234", "+971509991234"


class NoDuplicateCheck(SandboxAPI):
    """A server that creates a second contact with a phone number it already holds, instead of answering 409."""

    def _check_phone_free(self, phone, own_id):
        pass


def test_a_number_stored_with_spaces_is_updated_after_the_409_not_created_twice(sandbox_factory, tmp_path):
    api = sandbox_factory(**CAP, contacts=2_000, seed=1)
    first = api.snapshot()[0]["phoneNumber"]
    [spaced] = seed(api, {"name": "Spaced", "phoneNumber": SPACED})  # the account's last contact, on page 21
    run = write(api, tmp_path, UPSERT, record({"name": "Spaced", "phoneNumber": SPACED_E164, "stage": "Lead"}), **FAST)
    assert run.returncode == 0, run.stderr
    assert [(r.method, r.query.get("searchText") or r.query.get("page"), r.status) for r in api.requests] == [
        ("GET", "1", 200),
        ("GET", "509991234", 200),
        ("GET", first[4:], 200),  # the probe: the first contact's number (without +971) is found, so the miss is believed
        ("POST", None, 409),  # the API knows the number in another spelling
        ("GET", "509991234", 200),  # the search still misses it (our own lost POST would be found here)
        *[("GET", str(page), 200) for page in range(2, 23)],  # the rest of the walk finds it, to the empty page 22
        ("PUT", None, 200),
    ]
    assert api.requests[-1].path == f"/v1/contacts/{spaced}" and api.requests[-1].body == {
        "name": "Spaced",
        "phoneNumber": SPACED,
        "stage": "Lead",
    }
    assert summary(run) == counts(updated=1)
    assert len(api.contacts) == 2_001


def test_a_number_written_like_the_numbers_the_pages_show_is_searched_that_way_and_needs_no_409(sandbox_factory, tmp_path):
    api = sandbox_factory(**CAP, cls=NoDuplicateCheck)
    seed(
        api,
        {"name": "Example", "phoneNumber": "+971 50 111 2222"},  # page 1: this account writes numbers with spaces
        *({"name": f"Contact {n}", "phoneNumber": f"+97155{n:07d}"} for n in range(150)),
    )
    [spaced] = seed(api, {"name": "Spaced", "phoneNumber": SPACED})  # page 2
    run = write(api, tmp_path, UPSERT, record({"name": "Spaced", "phoneNumber": SPACED_E164, "stage": "Lead"}), **FAST)
    assert run.returncode == 0, run.stderr
    assert [(r.method, r.query.get("searchText") or r.query.get("page")) for r in api.requests] == [
        ("GET", "1"),
        ("GET", "509991234"),
        ("GET", SPACED),
        ("PUT", None),
    ]
    assert api.requests[-1].path == f"/v1/contacts/{spaced}"
    assert summary(run) == counts(updated=1)
    assert [c["phoneNumber"] for c in api.contacts.values()].count(SPACED) == 1 and len(api.contacts) == 152


# --- issue point 5: the summary's request figure -----------------------------------------------------------------


def test_the_summary_counts_every_request_the_api_received_retries_included(sandbox_factory, tmp_path):
    api = sandbox_factory(**CAP, contacts=2_000, seed=1, error_rate=0.1, drop_rate=0.05, fault_seed=3)
    contacts = api.snapshot()
    run = write(api, tmp_path, UPSERT, *[changed(contacts[n]) for n in range(1_000, 1_070)], **FAST)
    assert run.returncode == 0, run.stderr
    assert summary(run) == counts(updated=70)
    retried = sum(1 for r in api.requests if r.status is None or r.status >= 500)
    # The walk (21 pages: the 70 records read ahead outnumber it), 70 PUTs, and the retries.
    assert retried > 0 and len(api.requests) == walk(2_000) + 70 + retried
    assert_summary_counts_the_requests(run, api)
