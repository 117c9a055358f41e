"""What airbyte-cdk's standard suites need to run against the sandbox, for both connectors.

The suites collect their scenarios (one per config of acceptance-test-config.yml) before any fixture runs, but the
committed configs must not fix the sandbox's port. So a free port is reserved here at import, every scenario's
base_url is pointed at it, and each suite module starts the sandbox on it (`sandbox_on_reserved_port`)."""

import socket
from pathlib import Path

import pytest

from integration_tests import containers
from integration_tests.connector import API_KEY
from integration_tests.sandbox import SandboxAPI

ROOT = Path(__file__).resolve().parent.parent

with socket.socket() as _probe:
    _probe.bind(("127.0.0.1", 0))
    SANDBOX_PORT = _probe.getsockname()[1]
SANDBOX_URL = f"http://127.0.0.1:{SANDBOX_PORT}"


def sandbox_on_reserved_port():
    # 50 contacts on pages of 20 (config.json): several pages, and tagged contacts for contact_tags.
    api = SandboxAPI(contacts=50, seed=1, api_key=API_KEY, port=SANDBOX_PORT).start()
    yield api
    api.stop()


class AgainstTheSandbox:
    """Mixed into a standard suite class: a fixed name and root (a clone may sit in any folder), configs aimed at the sandbox."""

    connector_name: str
    connector_root: Path

    @classmethod
    def get_connector_root_dir(cls) -> Path:
        return cls.connector_root

    @classmethod
    def get_scenarios(cls):
        return [
            scenario.model_copy(
                update={
                    "config_dict": {
                        **scenario.get_config_dict(connector_root=cls.connector_root, empty_if_missing=False),
                        "base_url": SANDBOX_URL,
                    }
                }
            )
            for scenario in super().get_scenarios()
        ]

    @pytest.fixture(autouse=True)
    def _image_tests_on_the_engine_at_hand(self, request, monkeypatch):
        # The suite's image tests shell out to `docker`: point it at the engine that builds the images (podman's
        # Docker-compatible API here), or skip them saying why. See integration_tests/containers.py.
        if request.node.get_closest_marker("image_tests"):
            env, problem = containers.docker_api()
            if problem:
                pytest.skip(f"airbyte-cdk image tests: {problem}")
            for name, value in env.items():
                monkeypatch.setenv(name, value)

    @pytest.fixture
    def connector_image_override(self, request):
        # The suite would build with `docker buildx` from Airbyte's repo templates (absent here, fetched from GitHub
        # otherwise); the image under test is the one this repo's Dockerfile builds, as Airbyte would run it.
        override = request.config.getoption("--connector-image")
        if override or not request.node.get_closest_marker("image_tests"):
            return override
        return containers.build_image(self.connector_name)

    @pytest.fixture
    def read_from_streams(self, request):
        # Only the image read test asks for it, and the suite reads nothing there unless --read-from-streams is
        # given: read the suggested streams of metadata.yaml unless told otherwise.
        value = request.config.getoption("--read-from-streams")
        if value is None or value.lower() in ("true", "suggested", "default"):
            return "default"
        if value.lower() in ("false", "none"):
            return "none"
        return "all" if value.lower() == "all" else value.split(",")
