import gc
import json
import socket
import time
import weakref
from datetime import timedelta
from importlib import resources

import pytest
import requests
import urllib3
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.call_rate import CallRateLimitHit
from airbyte_cdk.sources.streams.http.error_handlers import ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from contacts_api.config import base_url
from contacts_api.http import ContactsErrorHandler, RetryAfterBackoff, rate_budget, url


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
    ],
)
def test_every_status_is_classified_once(status, action, failure_type, message):
    resolution = ContactsErrorHandler("secret-key").interpret_response(response(status, b'{"message": "Invalid API key"}'))
    assert resolution.response_action == action and resolution.failure_type == failure_type
    assert resolution.error_message is None if message is None else resolution.error_message.startswith(message)


@pytest.mark.parametrize("body", [b'{"message": "no such key: secret-key"}', b"<pre>x-api-key: secret-key</pre>"])
def test_error_messages_never_carry_the_key(body):
    resolution = ContactsErrorHandler("secret-key").interpret_response(response(400, body))
    assert "secret-key" not in resolution.error_message and "****" in resolution.error_message


def test_dropped_connections_are_retried():
    resolution = ContactsErrorHandler("k").interpret_response(requests.ConnectionError("reset"))
    assert resolution.response_action == ResponseAction.RETRY


@pytest.mark.parametrize("headers, seconds", [({"Retry-After": "12"}, 12.0), ({"Retry-After": "1.5"}, 1.5), ({}, 60.0), ({"Retry-After": "soon"}, 60.0)])
def test_429_waits_what_retry_after_says(headers, seconds):
    assert RetryAfterBackoff().backoff_time(response(429, headers=headers), attempt_count=1) == seconds


def test_server_errors_back_off_exponentially_and_capped():
    assert [RetryAfterBackoff().backoff_time(response(502), attempt_count=n) for n in (1, 2, 3, 6, 9)] == [2, 4, 8, 60, 60]


def test_budget_blocks_the_request_past_the_limit_and_says_so(caplog):
    budget = rate_budget(3, interval=timedelta(seconds=1))
    request = requests.Request("GET", "http://127.0.0.1/v1/contacts").prepare()
    started = time.monotonic()
    for _ in range(4):
        budget.acquire_call(request)
    assert 0.9 <= time.monotonic() - started < 2
    assert any("for the rate limit" in record.message for record in caplog.records)


def test_budget_keeps_no_request_alive_yet_counts_every_call():
    """pyrate-limiter holds what it is given for up to three windows: that must not be the requests and their bodies."""
    budget = rate_budget(50)
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
    assert base_url({"base_url": given}) == expected


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
        base_url({"base_url": given})
    assert error.value.failure_type == FailureType.config_error


@pytest.mark.parametrize("contact_id", ["a/b", "..", ".", "x?y", "x#y", "100%", "with space", "ünï"])
def test_ids_stay_inside_their_path(contact_id):
    built = url({"base_url": "https://api.whautomate.com"}, contact_id, "tags", "add")
    prefix, encoded, suffix = built.rsplit("/", 3)[0], built.rsplit("/", 3)[1], built.rsplit("/", 3)[2:]
    assert prefix == "https://api.whautomate.com/v1/contacts" and suffix == ["tags", "add"]
    assert requests.utils.unquote(encoded) == contact_id and not set("/?#. ") & set(encoded)


@pytest.mark.parametrize("schema", ["contacts.json", "contact_tags.json"])
def test_schemas_never_break_on_new_or_missing_fields(schema):
    document = json.loads(resources.files("source_contacts").joinpath("schemas", schema).read_text())

    def check(node):
        assert "null" in node["type"], node
        assert node.get("additionalProperties", True) is not False
        for child in node.get("properties", {}).values():
            check(child)

    check(document)


def test_an_unknown_config_field_is_refused_with_a_suggestion():
    from contacts_api.spec import connector_spec, with_defaults

    spec = connector_spec("source_contacts")
    with pytest.raises(AirbyteTracedException, match=r"Unknown config field 'apikey' \(did you mean 'api_key'\?\)") as error:
        with_defaults(spec, {"api_key": "k", "apikey": "k"})
    assert error.value.failure_type == FailureType.config_error
    assert with_defaults(spec, {"api_key": "k", "_limit": 5})["page_size"] == 100  # the CDK's internal flags pass


def connection_error(reason):
    """What requests raises when urllib3 gave up on a connection, built offline: the pool's MaxRetryError wrapped."""
    host = "nonexistent.invalid"
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, f"https://{host}/v1/contacts", reason=reason))


def test_a_host_that_does_not_resolve_fails_at_once_as_a_config_error():
    conn = urllib3.connection.HTTPSConnection("nonexistent.invalid", 443)
    error = connection_error(urllib3.exceptions.NameResolutionError("nonexistent.invalid", conn, socket.gaierror(socket.EAI_NONAME, "Name or service not known")))
    resolution = ContactsErrorHandler("k").interpret_response(error)
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.FAIL, FailureType.config_error)
    assert "does not resolve" in resolution.error_message
    # Any other refused connection is transient: retried, not a config error.
    refused = connection_error(urllib3.exceptions.NewConnectionError(conn, "Connection refused"))
    resolution = ContactsErrorHandler("k").interpret_response(refused)
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.RETRY, FailureType.transient_error)
