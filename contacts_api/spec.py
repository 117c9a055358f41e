"""Connector specs are files: the connection fields both connectors share, plus each one's own fields."""

import json
from importlib import resources

from airbyte_cdk.models import ConnectorSpecification, ConnectorSpecificationSerializer


def load_json(package: str, name: str) -> dict:
    return json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))


def connector_spec(package: str) -> ConnectorSpecification:
    """`<package>/spec.json` with the shared connection properties (contacts_api/connection.json) merged in first."""
    spec = load_json(package, "spec.json")
    connection = spec["connectionSpecification"]
    connection["properties"] = {**load_json("contacts_api", "connection.json"), **connection["properties"]}
    return ConnectorSpecificationSerializer.load(spec)
