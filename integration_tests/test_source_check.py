"""source-contacts check: one request, and a message that says what is wrong."""

import socket

import pytest

from integration_tests.connector import API_KEY, assert_no_leak, run_connector, source_config
from integration_tests.connector import source_catalog as catalog

BOTH_CONNECTORS = pytest.mark.parametrize("script", ["source-contacts", "destination-contacts"])


@BOTH_CONNECTORS
def test_check_succeeds_with_one_request(script, sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=5)
    run = run_connector(script, "check", tmp_path, source_config(api))
    assert run.status == {"status": "SUCCEEDED"}
    assert [(r.method, r.path, r.query) for r in api.requests] == [("GET", "/v1/contacts", {"limit": "1", "page": "1"})]


@BOTH_CONNECTORS
def test_check_names_a_rejected_key(script, sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=5, echo_headers_in_errors=True)
    run = run_connector(script, "check", tmp_path, source_config(api, api_key="not-the-key"))
    assert run.status["status"] == "FAILED"
    assert "rejected the API key (HTTP 401" in run.status["message"]
    assert len(api.requests) == 1
    assert_no_leak(run, "not-the-key")


def test_check_names_an_unreachable_host(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = run_connector("source-contacts", "check", tmp_path, {"api_key": API_KEY, "base_url": f"http://127.0.0.1:{port}"})
    assert run.status["status"] == "FAILED"
    assert run.status["message"] == f"http://127.0.0.1:{port} refused the connection (nothing listens there, or a firewall said no)."


def test_check_names_a_host_that_is_not_the_api(web_page_host, tmp_path):
    run = run_connector("source-contacts", "check", tmp_path, {"api_key": API_KEY, "base_url": web_page_host})
    assert run.status["status"] == "FAILED"
    assert "answered, but not like the Contacts API" in run.status["message"]


def test_check_refuses_plain_http_to_a_remote_host_before_any_request(tmp_path):
    run = run_connector("source-contacts", "check", tmp_path, {"api_key": API_KEY, "base_url": "http://api.whautomate.com"})
    assert run.status == {
        "status": "FAILED",
        "message": "base_url 'http://api.whautomate.com' uses plain http to a remote host; the API key "
        "would travel unencrypted. Use https://api.whautomate.com.",
    }
    assert run.returncode == 0 and run.errors == []


def test_other_4xx_fail_at_once_with_the_status_and_the_servers_message(filter_rejecting_host, tmp_path):
    config = {"api_key": API_KEY, "base_url": filter_rejecting_host, "location_id": "nope"}
    run = run_connector("source-contacts", "read", tmp_path, config, catalog("contacts"))
    assert run.returncode != 0
    assert "The Contacts API answered HTTP 422: locationId is not a valid id" in [error["message"] for error in run.errors]
