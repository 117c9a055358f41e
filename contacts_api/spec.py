"""Connector specs are files: the connection fields both connectors share, plus each one's own fields."""

import json
from importlib import resources
from typing import Any, Mapping

from airbyte_cdk.models import ConnectorSpecification, ConnectorSpecificationSerializer


def _load(package: str, name: str) -> dict:
    return json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))


def connector_spec(package: str) -> ConnectorSpecification:
    """`<package>/spec.json` with the shared connection properties (contacts_api/connection.json) merged in first."""
    spec = _load(package, "spec.json")
    connection = spec["connectionSpecification"]
    connection["properties"] = {**_load("contacts_api", "connection.json"), **connection["properties"]}
    return ConnectorSpecificationSerializer.load(spec)


def with_defaults(spec: ConnectorSpecification, config: Mapping[str, Any]) -> dict:
    """The config as the user gave it, with the spec's defaults for what they left out: defaults live in the spec alone."""
    properties = spec.connectionSpecification["properties"]
    defaults = {name: field["default"] for name, field in properties.items() if "default" in field}
    return {**defaults, **{name: value for name, value in config.items() if value is not None}}
