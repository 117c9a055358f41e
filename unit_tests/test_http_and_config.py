import dataclasses
import gc
import json
import logging
import socket
import weakref
from importlib import resources

import pendulum
import pytest
import requests
import urllib3
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.call_rate import CallRateLimitHit
from airbyte_cdk.sources.streams.http.error_handlers import ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from contacts_api.config import checked_base_url, parse_config
from contacts_api.http import (
    ContactsApi,
    ContactsErrorHandler,
    RateBudget,
    RetryAfterBackoff,
    path_segment,
    retry_after_seconds,
    without_lone_surrogates,
)
from contacts_api.spec import connector_spec
from destination_contacts.destination import DestinationConfig
from integration_tests.connector import VirtualClock
from source_contacts.source import SourceConfig

HOST = "https://api.whautomate.com"


def response(status, body=b"", headers=None):
    r = requests.Response()
    r.status_code, r._content, r.headers = status, body, requests.structures.CaseInsensitiveDict(headers or {})
    r.reason = "reason"
    return r


@pytest.mark.parametrize(
    "status, action, failure_type, message",
    [
        (200, ResponseAction.SUCCESS, None, None),
        (401, ResponseAction.FAIL, FailureType.config_error, "The Contacts API rejected the API key (HTTP 401: Invalid API key)."),
        (403, ResponseAction.FAIL, FailureType.config_error, "The Contacts API rejected the API key (HTTP 403: Invalid API key)."),
        (429, ResponseAction.RATE_LIMITED, FailureType.transient_error, "The Contacts API rate limit was reached (HTTP 429)."),
        (503, ResponseAction.RETRY, FailureType.transient_error, "The Contacts API had a server error (HTTP 503)."),
        (422, ResponseAction.FAIL, FailureType.system_error, "The Contacts API answered HTTP 422: Invalid API key"),
        (302, ResponseAction.FAIL, FailureType.config_error, "The Contacts API answered HTTP 302 without a usable redirect."),
    ],
)
def test_every_status_is_classified_once(status, action, failure_type, message):
    resolution = ContactsErrorHandler("secret-key", HOST).interpret_response(response(status, b'{"message": "Invalid API key"}'))
    assert resolution.response_action == action and resolution.failure_type == failure_type
    assert resolution.error_message is None if message is None else resolution.error_message.startswith(message)


@pytest.mark.parametrize("body", [b'{"message": "no such key: secret-key"}', b"<pre>x-api-key: secret-key</pre>"])
def test_error_messages_never_carry_the_key(body):
    resolution = ContactsErrorHandler("secret-key", HOST).interpret_response(response(400, body))
    assert "secret-key" not in resolution.error_message and "****" in resolution.error_message


def test_dropped_connections_and_timeouts_are_retried_and_named():
    handler = ContactsErrorHandler("k", HOST)
    assert handler.interpret_response(requests.ConnectionError("reset")).response_action == ResponseAction.RETRY
    timeout = handler.interpret_response(requests.ReadTimeout("read timed out"))
    assert (timeout.response_action, timeout.error_message) == (
        ResponseAction.RETRY,
        "https://api.whautomate.com did not answer within 60 s.",
    )


@pytest.mark.parametrize(
    "headers, seconds",
    [
        ({"Retry-After": "12"}, 12.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({}, 60.0),
        ({"Retry-After": "soon"}, 60.0),
        ({"Retry-After": "-3"}, 60.0),
        # The HTTP-date form, read against the server's own Date header: 49 s.
        ({"Retry-After": "Fri, 27 Nov 2026 04:00:49 GMT", "Date": "Fri, 27 Nov 2026 04:00:00 GMT"}, 49.0),
        ({"Retry-After": "Fri, 27 Nov 2026 03:59:00 GMT", "Date": "Fri, 27 Nov 2026 04:00:00 GMT"}, 0.0),  # already past
    ],
)
def test_429_waits_what_retry_after_says_in_either_form(headers, seconds):
    assert RetryAfterBackoff(VirtualClock()).backoff_time(response(429, headers=headers), attempt_count=1) == seconds


def test_an_http_date_without_a_date_header_is_read_against_our_clock():
    clock = VirtualClock()
    until = clock.now().add(seconds=90).format("ddd, DD MMM YYYY HH:mm:ss") + " GMT"
    assert retry_after_seconds(response(429, headers={"Retry-After": until}), clock) == 90


def test_server_errors_back_off_exponentially_and_capped():
    assert [RetryAfterBackoff().backoff_time(response(502), attempt_count=n) for n in (1, 2, 3, 6, 9)] == [2, 4, 8, 60, 60]


def test_budget_waits_on_its_clock_past_the_limit_and_says_so(caplog):
    clock = VirtualClock()
    budget = RateBudget(3, clock, window_seconds=10)
    request = requests.Request("GET", "http://127.0.0.1/v1/contacts").prepare()
    with caplog.at_level(logging.INFO, logger="airbyte"):
        for _ in range(4):
            budget.acquire_call(request)
    assert clock.sleeps == [10]  # the fourth call waited for the first to leave the window
    assert budget.requests == 4
    assert "waiting 10.0 s for the rate limit (3 requests per 10 s)" in caplog.text


def test_after_a_429_the_budget_takes_the_servers_word_and_goes_on_at_the_steady_rate():
    """The server counted calls the budget never saw (a check just before): its Retry-After is waited once, then the
    calls come one per window/limit, neither in a burst that earns another 429 nor after a wait of the budget's own."""
    clock = VirtualClock()
    budget = RateBudget(100, clock, window_seconds=60)
    request = requests.Request("GET", "http://127.0.0.1/v1/contacts").prepare()
    budget.acquire_call(request)
    budget.update_from_response(request, response(429, headers={"Retry-After": "49"}))
    times = []
    for _ in range(4):
        budget.acquire_call(request)
        times.append(clock.monotonic())
    assert clock.sleeps[0] == 49
    assert [round(later - earlier, 3) for earlier, later in zip(times, times[1:])] == [0.6, 0.6, 0.6]


def test_a_429_that_asks_for_no_wait_gets_none():
    clock = VirtualClock()
    budget = RateBudget(100, clock, window_seconds=60)
    request = requests.Request("GET", "http://127.0.0.1/v1/contacts").prepare()
    budget.acquire_call(request)
    budget.update_from_response(request, response(429, headers={"Retry-After": "0"}))
    budget.acquire_call(request)
    assert clock.sleeps == []


def test_budget_keeps_no_request_alive_yet_counts_every_call():
    budget = RateBudget(50, VirtualClock())
    sent = [requests.Request("POST", "http://127.0.0.1/v1/contacts", json={"name": "x" * 1000}).prepare() for _ in range(50)]
    for request in sent:
        budget.acquire_call(request, block=False)
    alive = [weakref.ref(request) for request in sent]
    del sent, request
    gc.collect()
    assert [ref for ref in alive if ref() is not None] == []
    with pytest.raises(CallRateLimitHit):
        budget.acquire_call(requests.Request("GET", "http://127.0.0.1/v1/contacts").prepare(), block=False)


@pytest.mark.parametrize(
    "given, expected",
    [
        ("https://api.whautomate.com/", "https://api.whautomate.com"),
        ("https://api.in.whautomate.com", "https://api.in.whautomate.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_accepted_hosts(given, expected):
    assert checked_base_url(given) == expected


@pytest.mark.parametrize(
    "given, complaint",
    [
        ("http://api.whautomate.com", "plain http to a remote host"),
        ("http://10.0.0.5", "plain http to a remote host"),
        ("ftp://api.whautomate.com", "not a valid http(s) URL"),
        ("api.whautomate.com", "not a valid http(s) URL"),
        ("https://user:pw@api.whautomate.com", "without credentials"),
    ],
)
def test_refused_hosts(given, complaint):
    with pytest.raises(AirbyteTracedException, match=complaint.replace("(", r"\(").replace(")", r"\)")) as error:
        checked_base_url(given)
    assert error.value.failure_type == FailureType.config_error


@pytest.mark.parametrize("contact_id", ["a/b", "x?y", "x#y", "100%", "with space", "ünï", "a.b", "..."])
def test_ids_stay_inside_their_path_segment(contact_id):
    encoded = path_segment(contact_id)
    assert requests.utils.unquote(encoded) == contact_id and not set("/?# ") & set(encoded)


@pytest.mark.parametrize("contact_id", [".", ".."])
def test_dot_segments_are_never_a_path(contact_id):
    # requests re-decodes %2E, so these would reach the server as /v1/contacts/.. (that is, /v1/).
    with pytest.raises(ValueError, match="cannot be a contact id"):
        path_segment(contact_id)


def test_halves_of_surrogate_pairs_become_replacement_characters_and_the_rest_stays():
    parsed = json.loads('[{"name": "Zo\\u00eb \\ud83d", "notes": "\\ud83d\\ude80 ok", "tags": ["\\udc00x"]}]')
    assert without_lone_surrogates(parsed) == [{"name": "Zoë \ufffd", "notes": "🚀 ok", "tags": ["\ufffdx"]}]


@pytest.mark.parametrize("schema", ["contacts.json", "contact_tags.json"])
def test_schemas_never_break_on_new_or_missing_fields(schema):
    document = json.loads(resources.files("source_contacts").joinpath("schemas", schema).read_text())

    def check(node):
        assert "null" in node["type"], node
        assert node.get("additionalProperties", True) is not False
        for child in node.get("properties", {}).values():
            check(child)

    check(document)


@pytest.mark.parametrize("package, config_class", [("source_contacts", SourceConfig), ("destination_contacts", DestinationConfig)])
def test_the_typed_config_has_a_field_for_each_spec_property_and_takes_the_specs_defaults(package, config_class):
    spec = connector_spec(package)
    properties = spec.connectionSpecification["properties"]
    assert {field.name for field in dataclasses.fields(config_class)} == set(properties)
    config = parse_config(config_class, spec, {"api_key": "k"})
    assert {name: getattr(config, name) for name, field in properties.items() if "default" in field} == {
        name: field["default"] for name, field in properties.items() if "default" in field
    }


def test_an_unknown_config_field_is_ignored_with_a_warning_and_a_suggestion(caplog):
    spec = connector_spec("source_contacts")
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        config = parse_config(SourceConfig, spec, {"api_key": "k", "pagesize": 5, "_limit": 5, "added_by_the_platform": True})
    assert config.page_size is None  # no default: the walk asks for the largest page the API serves
    assert [record.message for record in caplog.records] == [
        "Ignoring config fields this connector does not know: 'pagesize' (did you mean 'page_size'?), 'added_by_the_platform'."
    ]


def test_a_bad_value_of_a_known_field_still_fails_as_a_config_error():
    with pytest.raises(AirbyteTracedException) as error:
        parse_config(SourceConfig, connector_spec("source_contacts"), {"api_key": "k", "page_size": 0})
    assert error.value.failure_type == FailureType.config_error


def connection_error(reason):
    """What requests raises when urllib3 gave up on a connection, built offline: the pool's MaxRetryError wrapped."""
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "https://nonexistent.invalid/v1/contacts", reason=reason))


def test_a_host_that_does_not_resolve_fails_at_once_as_a_config_error():
    conn = urllib3.connection.HTTPSConnection("nonexistent.invalid", 443)
    name_error = urllib3.exceptions.NameResolutionError(
        "nonexistent.invalid", conn, socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    )
    name_error.__cause__ = socket.gaierror(socket.EAI_NONAME, "Name or service not known")  # as urllib3 raises it: `from` the gaierror
    resolution = ContactsErrorHandler("k", HOST).interpret_response(connection_error(name_error))
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.FAIL, FailureType.config_error)
    assert "does not resolve" in resolution.error_message
    # Any other refused connection is transient: retried, not a config error.
    refused = connection_error(urllib3.exceptions.NewConnectionError(conn, "Connection refused"))
    resolution = ContactsErrorHandler("k", HOST).interpret_response(refused)
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.RETRY, FailureType.transient_error)


class Scripted(requests.adapters.BaseAdapter):
    """A transport in place of the network: answers each request with the next scripted (status, headers), then
    with `then` (by default 200, an empty page) for good; remembers the URLs it was sent."""

    def __init__(self, answers=(), then=(200, {})):
        super().__init__()
        self.answers, self.then, self.sent = list(answers), then, []

    def send(self, request, **kwargs):
        self.sent.append(request.url)
        status, headers = self.answers.pop(0) if self.answers else self.then
        answer = response(status, b"[]" if status == 200 else b"{}", headers={"Content-Type": "application/json", **headers})
        answer.url, answer.request = request.url, request
        return answer

    def close(self):
        pass


def api_over(transport, clock, api_key="k"):
    """The real client, its https requests answered by `transport`."""
    api = ContactsApi(parse_config(SourceConfig, connector_spec("source_contacts"), {"api_key": api_key, "base_url": HOST}), clock)
    api._session.mount("https://", transport)
    return api


def test_a_redirect_from_https_to_plain_http_is_refused_naming_the_target():
    """The https half of issue 12 §5, which needs a TLS server the connector trusts: the real client over a transport
    that redirects, since the sandbox speaks plain http."""
    transport = Scripted(then=(301, {"Location": "http://api.whautomate.com/v1/contacts?limit=1&page=1"}))
    api = api_over(transport, VirtualClock(), api_key="secret-key")
    with pytest.raises(AirbyteTracedException) as error:
        api.list({"limit": 1, "page": 1})
    assert error.value.message == (
        "The Contacts API redirected GET /v1/contacts to http://api.whautomate.com/v1/contacts?limit=1&page=1 (HTTP 301), from https to "
        "plain "
        "http, where the key would travel unencrypted; the API key is only sent to the host of base_url, so the redirect was not followed. "
        "An API should not do that: tell its provider."
    )
    assert error.value.failure_type == FailureType.config_error
    assert transport.sent == [f"{HOST}/v1/contacts?limit=1&page=1"]  # nothing followed the redirect


@pytest.mark.parametrize("headers", [{}, {"Date": "not a date"}, {"Date": "Fri, 27 Nov 2026 04:00:00 GMT"}])
def test_a_page_is_timed_by_the_servers_date_header_else_by_our_clock_on_receipt(headers):
    clock = VirtualClock()
    api = api_over(Scripted(then=(200, headers)), clock)
    clock.sleep(3600)  # our clock is an hour on from where it started: the page is timed now, not then
    before = clock.now()
    page, served = api.list({"limit": 1, "page": 1})
    if "GMT" in headers.get("Date", ""):
        assert served == pendulum.datetime(2026, 11, 27, 4)
    else:
        assert before <= served <= clock.now()
    assert page == []


def test_429s_spend_no_try_and_lengthen_no_backoff_of_the_server_errors_after_them():
    """Five 429s, then five 503s: the 503s are tries 1 to 5 of the 6 allowed, backed off 2, 4, 8, 16, 32 s."""
    clock = VirtualClock()
    transport = Scripted([(429, {"Retry-After": "1"})] * 5 + [(503, {})] * 5)
    api = api_over(transport, clock)
    assert api.list({"limit": 1, "page": 1})[0] == []
    assert len(transport.sent) == 11
    backoffs = [round(seconds) for seconds in clock.sleeps if seconds > 1.5]
    assert backoffs == [2, 4, 8, 16, 32]
