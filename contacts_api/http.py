"""The HTTP pieces both connectors share, built from airbyte-cdk parts: auth, rate budget, retries and error mapping."""

import logging
import threading
import time
from datetime import timedelta
from typing import Any, Mapping, Optional, Union
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from urllib3.exceptions import NameResolutionError
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.call_rate import (
    APIBudget,
    CallRateLimitHit,
    MovingWindowCallRatePolicy,
    Rate,
)
from airbyte_cdk.sources.streams.http.error_handlers import (
    BackoffStrategy,
    ErrorResolution,
    HttpStatusErrorHandler,
    ResponseAction,
)
from airbyte_cdk.sources.streams.http.http_client import HttpClient
from airbyte_cdk.sources.streams.http.requests_native_auth.abstract_token import AbstractHeaderAuthenticator

from contacts_api.config import base_url
from contacts_api.errors import server_message

# Connect fast, but allow a slow page; a hung connection must end in a retry, not a stuck sync.
REQUEST_TIMEOUT = (10, 120)
MAX_RETRIES = 8
MAX_BACKOFF_SECONDS = 60
# A 429 without Retry-After: wait out the longest window the vendor publishes (per minute).
RATE_LIMIT_FALLBACK_SECONDS = 60

logger = logging.getLogger("airbyte")

CONTACTS_PATH = "/v1/contacts"


class ApiKeyAuthenticator(AbstractHeaderAuthenticator):
    """`x-api-key: <key>`, with no scheme prefix (the CDK's TokenAuthenticator would add one)."""

    def __init__(self, api_key: str):
        self._api_key = api_key

    @property
    def auth_header(self) -> str:
        return "x-api-key"

    @property
    def token(self) -> str:
        return self._api_key


class LoggedAPIBudget(APIBudget):
    """The CDK's APIBudget, saying out loud when it makes the sync wait (the CDK only logs that at debug level), and
    holding every request back while a 429's Retry-After runs: the server counts the account, not the connection,
    so the destination's other lanes must wait it out too, not only the request that got the 429."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._not_before = 0.0  # time.monotonic()
        self._pause_lock = threading.Lock()

    def update_from_response(self, request: Any, response: Any) -> None:
        super().update_from_response(request, response)
        if isinstance(response, requests.Response) and response.status_code == 429:
            with self._pause_lock:
                self._not_before = max(self._not_before, time.monotonic() + retry_after_seconds(response))

    def acquire_call(self, request: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        pause = self._not_before - time.monotonic()
        if pause > 0 and block:
            time.sleep(pause)
        try:
            super().acquire_call(request, block=False)
        except CallRateLimitHit as hit:
            if not block:
                raise
            logger.info(f"waiting {hit.time_to_wait.total_seconds():.1f} s for the rate limit")
            super().acquire_call(request, block=True, timeout=timeout)


# The server's minute starts when a request arrives, ours when it leaves: a second of slack keeps network jitter
# from turning the last request of a window into a 429 (which costs a whole Retry-After), for 1.6 % of throughput.
RATE_WINDOW = timedelta(seconds=61)


def rate_budget(requests_per_minute: int, interval: timedelta = RATE_WINDOW) -> APIBudget:
    """One moving window over every request to the API, as the vendor counts them per account."""
    return LoggedAPIBudget(policies=[EveryCallWindow(Rate(limit=requests_per_minute, interval=interval))])


class EveryCallWindow(MovingWindowCallRatePolicy):
    """The CDK's moving window over every request (no matchers), keeping a name per call instead of the request:
    pyrate-limiter holds what it is given for up to three windows (it clears its bucket every two), and a
    PreparedRequest with its body and cookie jar is ~2.5 KB, so at 10,000 requests/minute the requests it held came
    to ~75 MB and grew with the length of the sync."""

    def __init__(self, rate: Rate):
        super().__init__(rates=[rate], matchers=[])

    def try_acquire(self, request: Any, weight: int) -> None:
        super().try_acquire("call", weight)


def retry_after_seconds(response: requests.Response) -> float:
    retry_after = response.headers.get("Retry-After", "")
    return float(retry_after) if retry_after.replace(".", "", 1).isdigit() else RATE_LIMIT_FALLBACK_SECONDS


class RetryAfterBackoff(BackoffStrategy):
    """429: exactly what Retry-After says; 5xx and dropped connections: exponential, capped."""

    def backoff_time(
        self, response_or_exception: Optional[Union[requests.Response, requests.RequestException]], attempt_count: int
    ) -> Optional[float]:
        if isinstance(response_or_exception, requests.Response) and response_or_exception.status_code == 429:
            retry_after = response_or_exception.headers.get("Retry-After", "")
            seconds = retry_after_seconds(response_or_exception)
            logger.info(f"waiting {seconds:g} s for the rate limit (HTTP 429, Retry-After: {retry_after or 'none'})")
            return seconds
        return float(min(2**attempt_count, MAX_BACKOFF_SECONDS))


def _unresolvable_host(error: Any) -> bool:
    cause = error.args[0] if isinstance(error, requests.ConnectionError) and error.args else None
    return isinstance(getattr(cause, "reason", None), NameResolutionError)


class ContactsErrorHandler(HttpStatusErrorHandler):
    """Every API answer classified once: retry, rate limited, config error, or fail with the server's message."""

    def __init__(self, api_key: str):
        super().__init__(logger=logger, max_retries=MAX_RETRIES)
        self._api_key = api_key

    def interpret_response(self, response_or_exception: Optional[Union[requests.Response, Exception]] = None) -> ErrorResolution:
        if _unresolvable_host(response_or_exception):
            # Retrying a name that does not resolve would only stretch a typo in base_url into minutes of backoff.
            return ErrorResolution(ResponseAction.FAIL, FailureType.config_error, "The host of base_url does not resolve (no such name in DNS). Check base_url.")
        if isinstance(response_or_exception, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)):
            return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, f"Connection to the Contacts API failed: {type(response_or_exception).__name__}")
        if not isinstance(response_or_exception, requests.Response):
            return super().interpret_response(response_or_exception)
        status = response_or_exception.status_code
        if status < 400:
            return ErrorResolution(ResponseAction.SUCCESS)
        if status == 429:
            return ErrorResolution(ResponseAction.RATE_LIMITED, FailureType.transient_error, "The Contacts API rate limit was reached (HTTP 429).")
        if status >= 500 or status == 408:
            return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, f"The Contacts API had a server error (HTTP {status}).")
        message = server_message(response_or_exception, self._api_key)
        if status in (401, 403):
            return ErrorResolution(
                ResponseAction.FAIL,
                FailureType.config_error,
                f"The Contacts API rejected the API key (HTTP {status}: {message}). Check the key (Integrations → REST API) and that base_url is your account's host.",
            )
        return ErrorResolution(ResponseAction.FAIL, FailureType.system_error, f"The Contacts API answered HTTP {status}: {message}")


class ContactsHttpClient(HttpClient):
    """The CDK's HttpClient, keeping an id's path segment as `url` encoded it: requests re-decodes %2E (an unreserved
    character) when it prepares a URL, which would turn the id "." or ".." back into a dot segment that servers and
    proxies resolve (`/v1/contacts/..` is `/v1/`)."""

    def _create_prepared_request(self, *args: Any, **kwargs: Any) -> requests.PreparedRequest:
        prepared = super()._create_prepared_request(*args, **kwargs)
        prepared.url = _keep_dot_segments_encoded(prepared.url)
        return prepared


def _keep_dot_segments_encoded(prepared_url: str) -> str:
    parts = urlsplit(prepared_url)
    head, marker, rest = parts.path.partition(CONTACTS_PATH + "/")
    if not marker:
        return prepared_url
    segments = [segment.replace(".", "%2E") if segment in (".", "..") else segment for segment in rest.split("/")]
    return urlunsplit(parts._replace(path=head + marker + "/".join(segments)))


def http_client(
    name: str, config: Mapping[str, Any], api_budget: Optional[APIBudget] = None, retries: bool = True, error_handler: Optional[ContactsErrorHandler] = None
) -> HttpClient:
    """The one way either connector talks to the API; `retries=False` for `check`, which answers from one request."""
    return ContactsHttpClient(
        name=name,
        logger=logger,
        error_handler=error_handler or ContactsErrorHandler(config["api_key"]),
        api_budget=api_budget or rate_budget(config["requests_per_minute"]),
        authenticator=ApiKeyAuthenticator(config["api_key"]),
        backoff_strategy=RetryAfterBackoff(),
        request_timeout=REQUEST_TIMEOUT,
        disable_retries=not retries,
    )


def url(config: Mapping[str, Any], *segments: str) -> str:
    """`base_url` + `/v1/contacts` + the given segments, each percent-encoded so an id can never leave its path."""
    return "/".join([base_url(config) + CONTACTS_PATH, *(_path_segment(segment) for segment in segments)])


def _path_segment(value: str) -> str:
    # quote() leaves "." alone, and "/v1/contacts/.." would climb out of the contacts path.
    return quote(value, safe="").replace(".", "%2E")
