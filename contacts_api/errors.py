"""How both connectors fail and quote the API: one traced-error shape, one way to quote a server with the key masked."""

from typing import Optional

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import JsonErrorMessageParser
from airbyte_cdk.utils.traced_exception import AirbyteTracedException


def failure(message: str, failure_type: FailureType, detail: Optional[str] = None) -> AirbyteTracedException:
    """A failure whose message the user reads as is; `detail` goes to the internal message only."""
    return AirbyteTracedException(message=message, internal_message=f"{message} {detail}" if detail else message, failure_type=failure_type)


def config_error(message: str) -> AirbyteTracedException:
    return failure(message, FailureType.config_error)


def server_message(response: requests.Response, api_key: str) -> str:
    """What the server said, short, with the key masked: error bodies may echo request headers."""
    message = JsonErrorMessageParser().parse_response_error_message(response)
    return masked((message or response.text or response.reason or "no message").strip()[:300], api_key)


def masked(text: str, api_key: str) -> str:
    return text.replace(api_key, "****") if api_key else text
