"""How both connectors fail and read what the API said: one traced-error shape, one way to quote a server."""

from typing import Any, Optional

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import JsonErrorMessageParser
from airbyte_cdk.utils.traced_exception import AirbyteTracedException


def failure(message: str, failure_type: FailureType, detail: Optional[str] = None) -> AirbyteTracedException:
    """A failure whose message the user reads as is; `detail` goes to the internal message only."""
    return AirbyteTracedException(message=message, internal_message=f"{message} {detail}" if detail else message, failure_type=failure_type)


def config_error(message: str) -> AirbyteTracedException:
    return failure(message, FailureType.config_error)


def json_body(response: requests.Response) -> Any:
    """The answer as JSON, or None: the API's error bodies may or may not be JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def server_message(response: requests.Response, api_key: str) -> str:
    """What the server said, short, with the key masked: error bodies may echo request headers."""
    message = JsonErrorMessageParser().parse_response_error_message(response)
    text = (message or response.text or response.reason or "no message").strip()[:500]
    return text.replace(api_key, "****") if api_key else text
