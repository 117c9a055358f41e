import pytest

from integration_tests.connector import API_KEY
from integration_tests.sandbox import SandboxAPI


@pytest.fixture
def sandbox_factory():
    """Starts sandboxes on free loopback ports and stops them after the test."""
    started = []

    def start(**options) -> SandboxAPI:
        api = SandboxAPI(api_key=API_KEY, **options).start()
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()

