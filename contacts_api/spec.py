"""Connector specs are files: the connection fields both connectors share, plus each one's own fields."""

import difflib
import json
from importlib import resources
from typing import Any, Mapping

from airbyte_cdk.models import ConnectorSpecification, ConnectorSpecificationSerializer

from contacts_api.errors import config_error


def _load(package: str, name: str) -> dict:
    return json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))


def connector_spec(package: str) -> ConnectorSpecification:
    """`<package>/spec.json` with the shared connection properties (contacts_api/connection.json) merged in first."""
    spec = _load(package, "spec.json")
    connection = spec["connectionSpecification"]
    connection["properties"] = {**_load("contacts_api", "connection.json"), **connection["properties"]}
    return ConnectorSpecificationSerializer.load(spec)


def with_defaults(spec: ConnectorSpecification, config: Mapping[str, Any]) -> dict:
    """The config as the user gave it, with the spec's defaults for what they left out: defaults live in the spec alone.
    A field the spec does not know is most likely a typo that would silently fall back to a default, so it is refused."""
    properties = spec.connectionSpecification["properties"]
    # Keys starting with "_" are the CDK's internal flags (_limit, _page_size).
    unknown = [name for name in config if name not in properties and not name.startswith("_")]
    if unknown:
        hints = [f"'{name}'" + "".join(f" (did you mean '{match}'?)" for match in difflib.get_close_matches(name, properties, n=1)) for name in unknown]
        raise config_error(f"Unknown config field {', '.join(hints)}. Known fields: {', '.join(properties)}.")
    defaults = {name: field["default"] for name, field in properties.items() if "default" in field}
    return {**defaults, **{name: value for name, value in config.items() if value is not None}}
