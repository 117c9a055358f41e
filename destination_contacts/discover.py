"""`discover` for a destination: Airbyte's data-activation protocol asks destinations for a DESTINATION_CATALOG
(objects, sync modes, schemas, matching keys). The Python CDK's Destination has no such verb yet, so the
destination adds it here and in its argument parsing; the objects are data (objects.json)."""

import argparse
import json
from importlib import resources
from typing import Any, List, Mapping

from airbyte_protocol_dataclasses.models import AirbyteMessage, DestinationCatalog, DestinationOperation, DestinationSyncMode, Type
from serpyco_rs import Serializer

from destination_contacts.targets import MODES


# The CDK's own AirbyteMessage has no destination_catalog field; the protocol package's has.
_serializer = Serializer(AirbyteMessage, omit_none=True)


def destination_catalog() -> Mapping[str, Any]:
    """The DESTINATION_CATALOG message, as the JSON object to print."""
    objects = json.loads(resources.files("destination_contacts").joinpath("objects.json").read_text(encoding="utf-8"))
    operations = [
        DestinationOperation(object_name=name, sync_mode=DestinationSyncMode(mode), json_schema=spec["json_schema"], matching_keys=spec["matching_keys"])
        for name, spec in objects.items()
        for mode in MODES[name]
    ]
    return _serializer.dump(AirbyteMessage(type=Type.DESTINATION_CATALOG, destination_catalog=DestinationCatalog(operations=operations)))


def parse_discover_args(args: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="destination-contacts discover")
    parser.add_argument("command", choices=["discover"])
    parser.add_argument("--config", required=True, help="path to the JSON configuration file")
    return parser.parse_args(args)
