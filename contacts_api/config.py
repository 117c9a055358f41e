"""The config, parsed once into a typed object: spec defaults filled in, unknown fields named in a warning, and the
rules both connectors apply before any request (which host, and only over https)."""

import dataclasses
import difflib
import ipaddress
import logging
from typing import Any, Mapping, Type, TypeVar
from urllib.parse import urlsplit

from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources.utils.schema_helpers import check_config_against_spec_or_exit

from contacts_api.errors import config_error

logger = logging.getLogger("airbyte")

EXAMPLE_BASE_URL = "https://api.whautomate.com"


@dataclasses.dataclass(frozen=True)
class ApiConfig:
    """The connection fields both connectors share (contacts_api/connection.json); each connector's config adds its own.
    Field names are the spec's property names, and the spec alone holds the defaults."""

    api_key: str
    base_url: str
    requests_per_minute: int
    max_retry_wait_seconds: int


Config = TypeVar("Config", bound=ApiConfig)


def parse_config(cls: Type[Config], spec: ConnectorSpecification, raw: Mapping[str, Any]) -> Config:
    """`raw` checked against the spec (as the CDK does before check, read and write; discover comes here too), with
    the spec's defaults for what it leaves out. A field the spec does not know is ignored with a warning: configs
    outlive connector versions and the platform may add fields of its own, so it must never fail a sync."""
    check_config_against_spec_or_exit(raw, spec)
    properties = spec.connectionSpecification["properties"]
    # Keys starting with "_" are the CDK's internal flags (_limit, _page_size).
    unknown = [name for name in raw if name not in properties and not name.startswith("_")]
    if unknown:
        hints = [
            "'" + name + "'" + "".join(f" (did you mean '{match}'?)" for match in difflib.get_close_matches(name, properties, n=1))
            for name in unknown
        ]
        logger.warning(f"Ignoring config field{'s' if len(unknown) > 1 else ''} this connector does not know: {', '.join(hints)}.")
    values = {name: field["default"] for name, field in properties.items() if "default" in field}
    values.update((name, value) for name, value in raw.items() if name in properties and value is not None)
    values["base_url"] = checked_base_url(values["base_url"])
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{name: values.get(name) for name in names})


def checked_base_url(given: str) -> str:
    """The API root without a trailing slash; plain http only to this machine, so a key never crosses a network in clear."""
    url = given.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise config_error(f"base_url '{url}' is not a valid http(s) URL, e.g. {EXAMPLE_BASE_URL}.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise config_error(f"base_url '{url}' must be a bare host such as {EXAMPLE_BASE_URL}, without credentials, query or fragment.")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise config_error(
            f"base_url '{url}' uses plain http to a remote host; the API key would travel unencrypted. Use https://{parts.netloc}."
        )
    return url


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
