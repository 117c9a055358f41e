"""Issue 12 §5: the API key goes only to the host of base_url. The real CLIs against a sandbox that redirects every
request elsewhere: the redirect is not followed, the failure names its target, and the target never hears from the
connector. (https to http needs a TLS server the connector trusts; unit_tests/test_http_and_config.py covers it
through the same client.)"""

import pytest

from integration_tests.connector import assert_no_leak, record, run_connector, source_catalog, source_config, write


def refusal(target, verb_path="GET /v1/contacts", why="to another host than base_url's"):
    origin = "/".join(target.split("/")[:3])
    return (
        f"The Contacts API redirected {verb_path} to {target} (HTTP 307), {why}; the API key is only sent to the host of base_url, "
        f"so the redirect was not followed. If the API has moved, set base_url to {origin}."
    )


@pytest.mark.parametrize("script, verb", [("source-contacts", "check"), ("source-contacts", "read"), ("destination-contacts", "check")])
def test_a_redirect_to_another_host_is_refused_naming_it_and_the_key_never_goes_there(sandbox_factory, tmp_path, script, verb):
    elsewhere = sandbox_factory(contacts=5)
    api = sandbox_factory(contacts=5, redirect_to=elsewhere.url)
    catalog = source_catalog("contacts") if verb == "read" else None
    run = run_connector(script, verb, tmp_path, source_config(api), catalog)
    page = "limit=1&page=1" if verb == "check" else "limit=1000&page=1"
    message = refusal(f"{elsewhere.url}/v1/contacts?{page}")
    if verb == "check":
        assert run.status == {"status": "FAILED", "message": message}
    else:
        assert (run.returncode, run.errors[0]["failure_type"], run.errors[0]["message"]) == (1, "config_error", message)
    assert len(api.requests) == 1 and elsewhere.requests == []
    assert_no_leak(run)


def test_a_redirect_to_another_scheme_on_the_same_host_is_refused_too(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=5)
    api.faults.redirect_to = api.url.replace("http://", "https://")
    run = run_connector("source-contacts", "read", tmp_path, source_config(api), source_catalog("contacts"))
    assert run.errors[0]["message"] == refusal(f"{api.faults.redirect_to}/v1/contacts?limit=1000&page=1")
    assert len(api.requests) == 1


def test_the_destination_refuses_a_redirected_write(sandbox_factory, tmp_path):
    elsewhere = sandbox_factory()
    api = sandbox_factory(redirect_to=elsewhere.url)
    run = write(api, tmp_path, [("contacts", "append")], record({"name": "Zoë", "phoneNumber": "+971501234567"}))
    assert run.returncode == 1
    assert run.errors[0]["message"] == refusal(f"{elsewhere.url}/v1/contacts", verb_path="POST /v1/contacts")
    assert [(r.method, r.path) for r in api.requests] == [("POST", "/v1/contacts")] and elsewhere.requests == []
