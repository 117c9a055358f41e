"""Issue 5 §1: the source under 5 % 5xx, 1 % dropped connections and 100 requests/minute loses and repeats nothing."""

from integration_tests.connector import assert_no_leak, run_connector, source_config
from integration_tests.connector import source_catalog as catalog


def test_source_under_faults_and_the_rate_limit_emits_every_contact_exactly_once(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=6000, error_rate=0.05, drop_rate=0.01, requests_per_minute=100, fault_seed=11)
    run = run_connector(
        "source-contacts", "read", tmp_path, source_config(api, requests_per_minute=100, page_size=100), catalog("contacts", "contact_tags")
    )
    assert run.returncode == 0, run.stderr
    contact_ids = [record["id"] for record in run.records["contacts"]]
    assert contact_ids == [contact["id"] for contact in api.snapshot()]  # every one, once, in order
    tag_rows = [(row["contact_id"], row["tag"]) for row in run.records["contact_tags"]]
    assert tag_rows == [(c["id"], tag) for c in api.snapshot() for tag in c.get("tags") or []]
    faults = [r for r in api.requests if r.status is None or r.status >= 500]
    assert faults, "the fault rates should have hit some of the 61 pages"
    assert api.early_requests == 0
    assert_no_leak(run)
