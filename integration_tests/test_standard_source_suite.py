"""airbyte-cdk's standard source suite, from acceptance-test-config.yml, against the sandbox API."""

import pytest
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from integration_tests.standard_suites import ROOT, AgainstTheSandbox, sandbox_on_reserved_port
from source_contacts.source import SourceContacts

sandbox = pytest.fixture(scope="module", autouse=True)(sandbox_on_reserved_port)


class TestSourceContactsStandardSuite(AgainstTheSandbox, SourceTestSuiteBase):
    connector = SourceContacts
    connector_name = "source-contacts"
    connector_root = ROOT
