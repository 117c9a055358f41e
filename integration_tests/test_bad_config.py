"""Every kind of bad config gets a clear config error from `check` (a FAILED status) and from `read` / `write` (a
config_error trace and a failed exit), without a traceback on stderr or the key in any output. A field the spec does
not know is no bad config: it is ignored with a warning on every verb (saved configs outlive connector versions)."""

import pytest

from integration_tests.connector import (
    API_KEY,
    A,
    assert_no_leak,
    full_summary,
    record,
    run_connector,
    source_catalog,
    source_config,
    stdin,
    write,
)
from integration_tests.connector import destination_catalog as catalog

KEY = "k-3c9e1d77"
SHARED = {
    "missing key": ({}, "'api_key' is a required property"),
    "empty key": ({"api_key": ""}, "'' should be non-empty"),
    "key not a string": ({"api_key": 31415926}, "is not of type 'string'"),
    "plain http to a remote host": ({"api_key": KEY, "base_url": "http://api.whautomate.com"}, "uses plain http to a remote host"),
    "malformed URL": ({"api_key": KEY, "base_url": "api.whautomate.com/v1"}, "'api.whautomate.com/v1' does not match"),
    "unknown host": ({"api_key": KEY, "base_url": "https://contacts.nonexistent.invalid"}, "does not resolve"),
    "requests_per_minute 0": ({"api_key": KEY, "requests_per_minute": 0}, "0 is less than the minimum of 1"),
    "requests_per_minute a string": ({"api_key": KEY, "requests_per_minute": "100"}, "'100' is not of type 'integer'"),
    "host that is not the API": ({"api_key": KEY, "base_url": "WEB_PAGE"}, "not like the Contacts API"),
}
SOURCE_ONLY = {
    "page_size 0": ({"api_key": KEY, "page_size": 0}, "0 is less than the minimum of 1"),
    "page_size huge": ({"api_key": KEY, "page_size": 10**6}, "1000000 is greater than the maximum of 1000"),
    "start_date not a date": ({"api_key": KEY, "start_date": "last tuesday"}, "'last tuesday' does not match"),
}
DESTINATION_ONLY = {
    "tag_mode unknown": ({"api_key": KEY, "tag_mode": "replace"}, "'replace' is not one of ['add', 'sync']"),
    "default_region unknown": ({"api_key": KEY, "default_region": "XX"}, "default_region 'XX'"),
}
CASES = [("source-contacts", name, *case) for name, case in {**SHARED, **SOURCE_ONLY}.items()] + [
    ("destination-contacts", name, *case) for name, case in {**SHARED, **DESTINATION_ONLY}.items()
]


def with_host(config, web_page_host):
    return {**config, "base_url": web_page_host} if config.get("base_url") == "WEB_PAGE" else config


@pytest.mark.parametrize("script, name, config, complaint", CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_check_fails_with_a_clear_status(script, name, config, complaint, web_page_host, tmp_path):
    run = run_connector(script, "check", tmp_path, with_host(config, web_page_host))
    assert run.status["status"] == "FAILED" and complaint in run.status["message"]
    assert run.returncode == 0
    assert "Traceback" not in run.stderr
    assert_no_leak(run, KEY)


@pytest.mark.parametrize("script, name, config, complaint", CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_sync_fails_at_once_as_a_config_error(script, name, config, complaint, web_page_host, tmp_path):
    config = with_host(config, web_page_host)
    if script == "source-contacts":
        run = run_connector(script, "read", tmp_path, config, source_catalog("contacts"))
    else:
        run = run_connector(
            script, "write", tmp_path, config, catalog(("contacts", "append_dedup")), stdin=stdin(record({"name": "Zoë", "phoneNumber": A}))
        )
    assert run.returncode != 0
    assert [error["failure_type"] for error in run.errors][:1] == ["config_error"]
    assert complaint in run.errors[0]["message"]
    assert "Traceback" not in run.stderr
    assert_no_leak(run, KEY)


@pytest.mark.parametrize("script", ["source-contacts", "destination-contacts"])
def test_an_unknown_config_field_is_ignored_with_a_warning_on_every_verb(script, sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=3)
    config = source_config(api, apikey=API_KEY, injected_by_the_platform={"x": 1})
    warning = "Ignoring config fields this connector does not know: 'apikey' (did you mean 'api_key'?), 'injected_by_the_platform'."
    verbs = {"check": {}, "discover": {}}
    if script == "source-contacts":
        verbs["read"] = {"catalog": source_catalog("contacts")}
    for verb, extra in verbs.items():
        run = run_connector(script, verb, tmp_path, config, **extra)
        assert run.returncode == 0, (verb, run.stdout)
        assert run.warnings == [warning], verb
        if verb == "check":
            assert run.status == {"status": "SUCCEEDED"}
    if script == "destination-contacts":
        run = write(
            api,
            tmp_path,
            [("contacts", "append_dedup")],
            record({"name": "Zoë", "phoneNumber": A}),
            apikey=API_KEY,
            injected_by_the_platform={"x": 1},
        )
        assert run.returncode == 0 and full_summary(run)["created"] == 1
        assert run.warnings == [warning]
