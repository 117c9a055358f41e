"""airbyte-cdk's standard destination suite, from destination_contacts/acceptance-test-config.yml, against the sandbox API."""

import pytest
from airbyte_cdk.test.standard_tests import DestinationTestSuiteBase

from destination_contacts.destination import DestinationContacts
from integration_tests.standard_suites import ROOT, AgainstTheSandbox, sandbox_on_reserved_port

sandbox = pytest.fixture(scope="module", autouse=True)(sandbox_on_reserved_port)


class TestDestinationContactsStandardSuite(AgainstTheSandbox, DestinationTestSuiteBase):
    connector = DestinationContacts
    connector_name = "destination-contacts"
    # The destination's metadata.yaml and acceptance-test-config.yml sit beside its package.
    connector_root = ROOT / "destination_contacts"
