import pytest
import requests

from integration_tests.sandbox import DEFAULT_API_KEY


@pytest.fixture
def http():
    """A session that sends the sandbox's default key."""
    with requests.Session() as session:
        session.headers["x-api-key"] = DEFAULT_API_KEY
        yield session
