"""Run the reference manifest as a connector CLI: run_reference.py read --config c.json --catalog cat.json"""

import sys
from pathlib import Path

from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

MANIFEST = Path(__file__).with_name("manifest.yaml")


def main(args: list[str]) -> None:
    parsed = AirbyteEntrypoint.parse_args(args)
    config_path = getattr(parsed, "config", None)
    catalog_path = getattr(parsed, "catalog", None)
    state_path = getattr(parsed, "state", None)
    # The concurrent declarative source needs config/catalog/state at construction time.
    source = YamlDeclarativeSource(
        str(MANIFEST),
        config=YamlDeclarativeSource.read_config(config_path) if config_path else None,
        catalog=YamlDeclarativeSource.read_catalog(catalog_path) if catalog_path else None,
        state=YamlDeclarativeSource.read_state(state_path) if state_path else None,
        config_path=config_path,
    )
    launch(source, args)


if __name__ == "__main__":
    main(sys.argv[1:])
