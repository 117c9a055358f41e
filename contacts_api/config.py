"""Config rules both connectors apply before any request: which host, and only over https."""

import ipaddress
from typing import Any, Mapping
from urllib.parse import urlsplit

from contacts_api.errors import config_error

EXAMPLE_BASE_URL = "https://api.whautomate.com"



def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url(config: Mapping[str, Any]) -> str:
    """The API root without a trailing slash; plain http only to this machine, so a key never crosses a network in clear."""
    url = config["base_url"].strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise config_error(f"base_url '{url}' is not a valid http(s) URL, e.g. {EXAMPLE_BASE_URL}.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise config_error(f"base_url '{url}' must be a bare host such as {EXAMPLE_BASE_URL}, without credentials, query or fragment.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise config_error(
            f"base_url '{url}' uses plain http to a remote host; the API key would travel unencrypted. Use https://{parts.netloc}."
        )
    return url
