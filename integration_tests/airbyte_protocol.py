"""The Airbyte protocol's JSON schema (integration_tests/protocol/, v0.18.0) as validators: the judge of every message
the connectors print in the tests, and of the catalogs the platform harness writes."""

import functools
import json
from pathlib import Path
from typing import Any, List

import yaml
from jsonschema import Draft7Validator

SCHEMA = Path(__file__).parent / "protocol" / "airbyte_protocol.yaml"


@functools.cache
def _validator(definition: str) -> Draft7Validator:
    document = json.loads(json.dumps(yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))))
    return Draft7Validator({"definitions": document["definitions"], "allOf": [{"$ref": f"#/definitions/{definition}"}]})


def problems(instance: Any, definition: str = "AirbyteMessage") -> List[str]:
    """Where `instance` breaks the protocol's schema for `definition`, one line each; empty when it does not."""
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}" for error in _validator(definition).iter_errors(instance)
    ]
