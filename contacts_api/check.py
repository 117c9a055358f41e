"""`check` for both connectors: one request, telling apart a rejected key, an unreachable host and a host that is not the API."""

from typing import Any, Mapping, Optional, Tuple

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from contacts_api.config import base_url
from contacts_api.http import http_client, url
from contacts_api.paging import contacts_page


def check_connection(config: Mapping[str, Any]) -> Tuple[bool, Optional[str]]:
    """The first contact, without retries. `config` has its spec defaults applied."""
    host = base_url(config)
    try:
        _, response = http_client("check", config, retries=False).send_request("GET", url(config), request_kwargs={}, params={"limit": 1, "page": 1})
    except AirbyteTracedException as error:
        if error.failure_type == FailureType.config_error:
            return False, error.message
        return False, f"{host} is unreachable or is not the Contacts API: {error.message}"
    try:
        contacts_page(response)
    except AirbyteTracedException as error:
        return False, error.message
    return True, None
