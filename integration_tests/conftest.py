import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integration_tests import connector
from integration_tests import object_store as object_store_server
from integration_tests.connector import API_KEY, VirtualClock
from integration_tests.sandbox import SandboxAPI


@pytest.fixture(autouse=True)
def clock():
    """The test's own virtual time, shared by the connector runs and the sandboxes of the test: a wait the connector
    sleeps moves it on at once, and the sandbox's rate window sees the time pass."""
    connector.current_clock = VirtualClock()
    yield connector.current_clock
    connector.current_clock = None


@pytest.fixture
def sandbox_factory(clock):
    """Starts sandboxes on free loopback ports and stops them after the test, on the test's clock (their latency
    too: a test of a slow server waits no real seconds). `cls`: a SandboxAPI subclass."""
    started = []

    def start(cls=SandboxAPI, **options) -> SandboxAPI:
        api = cls(**{"api_key": API_KEY, "clock": clock.monotonic, "elapse": clock.elapse, **options}).start()
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()


# --- hosts that answer HTTP, but not as the Contacts API -------------------------------------------------------


class NotTheApi(BaseHTTPRequestHandler):
    status, content_type, body = 200, "text/html", b"<html><body>Welcome</body></html>"

    def do_GET(self):
        body = self.body
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class RejectsTheFilter(NotTheApi):
    status, content_type, body = 422, "application/json", b'{"message": "locationId is not a valid id"}'


def serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def web_page_host():
    """The address of a web page: HTTP 200 with HTML to any GET."""
    yield from serve(NotTheApi)


@pytest.fixture(scope="session")
def filter_rejecting_host():
    """The address of a host that answers any GET with a 422 and a JSON message, as the API does a bad filter."""
    yield from serve(RejectsTheFilter)


@pytest.fixture(scope="session")
def object_store():
    """A loopback S3-compatible server (integration_tests/object_store.py), one for the whole session."""
    yield from object_store_server.serve()
