"""`check` for both connectors: one request, telling apart a rejected key, an unreachable host and a host that is not the API."""

from typing import Callable, Mapping

from airbyte_cdk.models import AirbyteConnectionStatus, Status
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from contacts_api.clock import Clock
from contacts_api.config import ApiConfig
from contacts_api.http import ContactsApi


def connection_status(parse: Callable[[Mapping], ApiConfig], raw_config: Mapping, clock: Clock) -> AirbyteConnectionStatus:
    """The first contact, without retries: `check` answers from one request. The reason is the user's sentence as
    is (the CDK's AbstractSource.check would show its repr, quotes and all)."""
    try:
        ContactsApi(parse(raw_config), clock, retries=False).list({"limit": 1, "page": 1})
    except AirbyteTracedException as error:
        return AirbyteConnectionStatus(status=Status.FAILED, message=error.message)
    return AirbyteConnectionStatus(status=Status.SUCCEEDED)
