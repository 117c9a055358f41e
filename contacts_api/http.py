"""The one client of the Contacts API, used by both connectors: x-api-key auth, the account's rate budget, retries on
the injected clock, and every answer classified once (what is retried, what fails and why, what is a record's own
problem).

Built from airbyte-cdk parts: LimiterSession applies the APIBudget to every request, ContactsErrorHandler and
RetryAfterBackoff are the CDK's ErrorHandler and BackoffStrategy. The retry loop is ours, not HttpClient's: the CDK's
sleeps wall-clock time inside `backoff` decorators (no clock to inject), adds a second to every Retry-After, retries a
429 without end and reports any run of them as "API rate limit exceeded"; ours waits exactly what the API asked on the
injected clock, refuses waits past max_retry_wait_seconds, caps the tries, and names the real cause when it gives up.
"""

import collections
import logging
import math
import socket
import threading
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Collection, Deque, Mapping, Optional, Tuple, TypeVar, Union
from urllib.parse import quote, urlsplit

import pendulum
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.call_rate import APIBudget, BaseCallRatePolicy, CallRateLimitHit, LimiterSession
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler, ErrorResolution, ResponseAction
from airbyte_cdk.sources.streams.http.requests_native_auth.abstract_token import AbstractHeaderAuthenticator
from requests.adapters import HTTPAdapter

from contacts_api.clock import SYSTEM_CLOCK, Clock
from contacts_api.config import ApiConfig
from contacts_api.errors import failure, masked, server_message

logger = logging.getLogger("airbyte")

CONTACTS_PATH = "/v1/contacts"
# (connect, read) seconds: a list page of 1,000 contacts arrives well within a minute; a server that accepts the
# connection and never answers must end the request, not hold the sync.
TIMEOUT = (10, 60)
MAX_TRIES = 6  # one request and 5 retries: 2 + 4 + 8 + 16 + 32 s of backoff
MAX_TIMEOUT_TRIES = 3  # a server that did not answer in TIMEOUT is not worth minutes more
MAX_RATE_LIMITED_TRIES = 10  # 429s in a row on one request: something else is spending the key's quota
MAX_BACKOFF_SECONDS = 60
RATE_LIMIT_FALLBACK_SECONDS = 60  # a 429 without a usable Retry-After: the longest window the vendor publishes
MAX_REDIRECTS = 5
# The server's minute starts when a request arrives, ours when it leaves: a second of slack keeps network jitter
# from turning the last request of a window into a 429 (which costs a whole Retry-After), for 1.6 % of throughput.
RATE_WINDOW_SECONDS = 61.0
# Pages of a walk in flight at most: at 100 requests/min even a server taking 3 s a page needs 5 in flight to keep up
# with the limit, and 16 also lets the first minute's hundred go out in seconds. Each holds a page in memory.
MAX_PAGES_IN_FLIGHT = 16
# Connections kept per host: the walk's pages in flight, the last-page search beside them, the destination's lanes.
CONNECTIONS = 32
# Pages in flight per page the rate allows while an answer is awaited: 6 sends a minute's 100 in about 10 s.
BURST = 6
LATENCY_WEIGHT = 0.3  # of each answer's time in the moving average: a server that slows down is followed in a few pages

Parsed = TypeVar("Parsed")


class BrokenBody(Exception):
    """A 200 whose body is not what the endpoint answers (a proxy's HTML page, JSON cut short): retried like a 503."""

    def __init__(self, expected: str, response: requests.Response):
        super().__init__(expected)
        self.expected = expected
        self.start = response.text[:200]

    def described(self, api_key: str) -> str:
        """What came instead, for a message: the start of the body, quoted with the key masked."""
        return f"a body that starts {masked(self.start, api_key)!r}" if self.start.strip() else "an empty body"


# Answers about one record, not about the sync (413: a record too large for the API, e.g. a huge notes field).
RECORD_STATUSES = {400: "invalid", 404: "gone", 409: "conflict", 413: "invalid", 422: "invalid"}


class Refused(Exception):
    """A list answer with a status the caller handles itself (the walk tries a smaller limit after a 400/422);
    `error` is the failure it would have been."""

    def __init__(self, message: str, error: Exception):
        super().__init__(message)
        self.message = message
        self.error = error


class RecordProblem(Exception):
    """A write the API refused for the record's sake; the destination rejects the record or recovers (409, 404).
    `after_unsure`: the refusal answered a retry of a write whose earlier answer said nothing (a body that was not the
    API's), so the earlier try may be what it refers to (a 404 to a DELETE: that try deleted the contact)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.after_unsure = False


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


class MovingWindow(BaseCallRatePolicy):
    """At most `limit` calls in any `window` seconds of the clock, every request alike (no matchers). Keeps the send
    times of the last `limit` calls, never the requests themselves."""

    def __init__(self, limit: int, window: float, clock: Clock):
        super().__init__(matchers=[])
        self._limit = limit
        self._window = window
        self._clock = clock
        self._sent: Deque[float] = collections.deque(maxlen=limit)
        self._lock = threading.Lock()

    def free(self) -> int:
        """Calls this budget would let through at once."""
        with self._lock:
            now = self._clock.monotonic()
            return self._limit - sum(1 for sent in self._sent if sent > now - self._window)

    def try_acquire(self, request: Any, weight: int) -> None:
        with self._lock:
            now = self._clock.monotonic()
            wait = self._sent[0] + self._window - now if len(self._sent) == self._limit else 0.0
            if wait > 0:
                raise CallRateLimitHit(
                    error="rate budget spent", item=None, weight=weight, rate=str(self), time_to_wait=timedelta(seconds=wait)
                )
            self._sent.append(now)

    def update(self, available_calls: Optional[int], call_reset_ts: Any) -> None:
        """Not used: the API sends no remaining-calls headers; a 429 comes through `rate_limited`."""

    def rate_limited(self, retry_after: float) -> None:
        """The server's window is full until `retry_after` from now. Its word and this budget's record are merged:
        each call this budget sent keeps its time, but none leaves the window before the server said; the calls the
        server counted that this budget never saw (`check` just before a read, another client of the key) fill the
        rest, leaving one per window/limit from then on. A read right after `check` so waits what Retry-After asked
        (its own calls then leave together, as they do from the server's window) with no wait of ours on top;
        against another client's calls it goes on at the steady rate, without a burst that would earn another 429."""
        with self._lock:
            now = self._clock.monotonic()
            earliest = now + retry_after - self._window  # a call sent then leaves the window when the server said
            ours = [max(sent, earliest) for sent in self._sent if sent > now - self._window]
            spacing = self._window / self._limit
            unseen = [earliest + spacing * index for index in range(self._limit - len(ours))]
            self._sent.clear()
            self._sent.extend(sorted(ours + unseen))

    def __str__(self) -> str:
        return f"{self._limit} requests per {self._window:g} s"


class RateBudget(APIBudget):
    """The CDK's APIBudget over one MovingWindow, waiting on the injected clock, and saying so when a wait is long
    enough to notice (the CDK logs waits at debug level only). Counts the requests it let through, and keeps when it
    let through each thread's last (the time its answer took is measured from there, the wait excluded)."""

    def __init__(self, requests_per_minute: int, clock: Clock = SYSTEM_CLOCK, window_seconds: float = RATE_WINDOW_SECONDS):
        self.window = MovingWindow(requests_per_minute, window_seconds, clock)
        super().__init__(policies=[self.window])
        self._clock = clock
        self._count_lock = threading.Lock()
        self._admitted = threading.local()
        self._waiting = threading.Lock()
        self.requests = 0
        self.requests_per_second = requests_per_minute / window_seconds

    def since_admitted(self) -> float:
        """Seconds since this thread's last request left."""
        return self._clock.monotonic() - self._admitted.at

    def acquire_call(self, request: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        # One caller waits for the window at a time, the others for it: one log line a wait, not one a page in flight.
        with self._waiting:
            while True:
                try:
                    self.window.try_acquire(request, weight=1)
                    break
                except CallRateLimitHit as hit:
                    if not block:
                        raise
                    seconds = hit.time_to_wait.total_seconds()
                    (logger.info if seconds >= 1 else logger.debug)(f"waiting {seconds:.1f} s for the rate limit ({self.window})")
                    self._clock.sleep(seconds)
        self._admitted.at = self._clock.monotonic()
        with self._count_lock:
            self.requests += 1

    def update_from_response(self, request: Any, response: Any) -> None:
        if isinstance(response, requests.Response) and response.status_code == 429:
            self.window.rate_limited(rate_limit_wait(response, self._clock))


def retry_after_seconds(response: requests.Response, clock: Clock) -> Optional[float]:
    """Retry-After in either of its forms (RFC 9110): seconds, or an HTTP date, read against the server's own Date
    header when it sent one (so a skewed local clock does not stretch or cut the wait)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    except ValueError:
        pass
    until = http_date(value)
    if until is None:
        return None
    reference = http_date(response.headers.get("Date", "")) or clock.now()
    return max(0.0, (until - reference).total_seconds())


def rate_limit_wait(response: requests.Response, clock: Clock) -> float:
    """How long a 429 asks to wait: its Retry-After (0 included), else the longest window the vendor publishes."""
    seconds = retry_after_seconds(response, clock)
    return RATE_LIMIT_FALLBACK_SECONDS if seconds is None else seconds


def http_date(value: str) -> Optional[pendulum.DateTime]:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return pendulum.instance(parsed) if parsed.tzinfo else None


class RetryAfterBackoff(BackoffStrategy):
    """429: what Retry-After says (60 s without one); 5xx, drops and broken bodies: exponential, capped."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK):
        self._clock = clock

    def backoff_time(
        self, response_or_exception: Optional[Union[requests.Response, requests.RequestException]], attempt_count: int
    ) -> Optional[float]:
        if isinstance(response_or_exception, requests.Response) and response_or_exception.status_code == 429:
            return rate_limit_wait(response_or_exception, self._clock)
        return float(min(2**attempt_count, MAX_BACKOFF_SECONDS))


def _caused_by(error: BaseException, kind: type) -> bool:
    """Whether `kind` is anywhere in the chain under a requests error (requests wraps urllib3, which wraps socket)."""
    seen = set()
    stack = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return True
        stack.extend(
            [
                current.__cause__,
                current.__context__,
                getattr(current, "reason", None),
                *[arg for arg in current.args if isinstance(arg, BaseException)],
            ]
        )
    return False


class ContactsErrorHandler(ErrorHandler):
    """Every answer classified once: success, retry (5xx, 408, drops, timeouts), rate limited (429), or a failure with
    its real cause (401/403 a key problem, a name that does not resolve, TLS, another 4xx with the server's words)."""

    def __init__(self, api_key: str, host: str):
        self._api_key = api_key
        self._host = host

    @property
    def max_retries(self) -> Optional[int]:
        return MAX_TRIES - 1

    @property
    def max_time(self) -> Optional[int]:
        return None

    def interpret_response(self, response_or_exception: Optional[Union[requests.Response, Exception]] = None) -> ErrorResolution:
        error = response_or_exception
        if isinstance(error, requests.exceptions.SSLError):
            return ErrorResolution(
                ResponseAction.FAIL,
                FailureType.config_error,
                f"The TLS connection to the host of base_url failed ({_short(error, self._api_key)}). Check base_url.",
            )
        if isinstance(error, requests.ConnectionError) and _caused_by(error, socket.gaierror):
            # Retrying a name that does not resolve would only stretch a typo in base_url into minutes of backoff.
            return ErrorResolution(
                ResponseAction.FAIL,
                FailureType.config_error,
                "The host of base_url does not resolve (no such name in DNS). Check base_url.",
            )
        if isinstance(error, requests.Timeout):
            what = "accept the connection" if isinstance(error, requests.ConnectTimeout) else "answer"
            seconds = TIMEOUT[0] if isinstance(error, requests.ConnectTimeout) else TIMEOUT[1]
            return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, f"{self._host} did not {what} within {seconds} s.")
        if isinstance(error, requests.ConnectionError) and _caused_by(error, ConnectionRefusedError):
            return ErrorResolution(
                ResponseAction.RETRY,
                FailureType.transient_error,
                f"{self._host} refused the connection (nothing listens there, or a firewall said no).",
            )
        if isinstance(error, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
            return ErrorResolution(
                ResponseAction.RETRY,
                FailureType.transient_error,
                f"The connection to {self._host} broke before the answer was complete ({type(error).__name__}).",
            )
        if not isinstance(error, requests.Response):
            return ErrorResolution(
                ResponseAction.FAIL, FailureType.system_error, f"The request to the Contacts API failed: {_short(error, self._api_key)}"
            )
        status = error.status_code
        if status < 300:
            return ErrorResolution(ResponseAction.SUCCESS)
        if status < 400:
            return ErrorResolution(
                ResponseAction.FAIL, FailureType.config_error, f"The Contacts API answered HTTP {status} without a usable redirect."
            )
        if status == 429:
            return ErrorResolution(
                ResponseAction.RATE_LIMITED, FailureType.transient_error, "The Contacts API rate limit was reached (HTTP 429)."
            )
        if status >= 500 or status == 408:
            return ErrorResolution(
                ResponseAction.RETRY, FailureType.transient_error, f"The Contacts API had a server error (HTTP {status})."
            )
        message = server_message(error, self._api_key)
        if status in (401, 403):
            return ErrorResolution(
                ResponseAction.FAIL,
                FailureType.config_error,
                f"The Contacts API rejected the API key (HTTP {status}: {message}). Check the key (Integrations → REST API) and that "
                "base_url is your account's host.",
            )
        return ErrorResolution(ResponseAction.FAIL, FailureType.system_error, f"The Contacts API answered HTTP {status}: {message}")


def _short(error: BaseException, api_key: str) -> str:
    return masked(str(error)[:300], api_key)


def _origin(url: str) -> tuple:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


class ContactsApi:
    """The endpoints of the Contacts API. Thread-safe: the destination's lanes share one client and one budget."""

    def __init__(self, config: ApiConfig, clock: Clock = SYSTEM_CLOCK, retries: bool = True):
        self._root = config.base_url + CONTACTS_PATH
        self._api_key = config.api_key
        self._max_wait = config.max_retry_wait_seconds
        self._clock = clock
        self._retries = retries
        self.budget = RateBudget(config.requests_per_minute, clock)
        self._session = LimiterSession(api_budget=self.budget)
        for scheme in ("https://", "http://"):  # requests keeps 10 connections a host: pages in flight would reopen theirs
            self._session.mount(scheme, HTTPAdapter(pool_connections=1, pool_maxsize=CONNECTIONS))
        self._session.auth = ApiKeyAuthenticator(config.api_key)
        self._errors = ContactsErrorHandler(config.api_key, config.base_url)
        self._backoff = RetryAfterBackoff(clock)
        self._timeout = tuple(seconds * clock.timeout_scale for seconds in TIMEOUT)
        # Until the API has answered well once, a body that is not the API's means base_url is wrong; after, it is a
        # proxy or a bad moment of the server's.
        self.answered_well = False
        self.latency: Optional[float] = None  # seconds an answer takes, a moving average; None until the first

    def pages_in_flight(self) -> int:
        """How many list pages a walk keeps in flight: what the rate budget can send while one answer is awaited
        (Little's law: latency × rate), BURST times over so that the first minute's calls go out in seconds, as on a
        fast server; 1 until an answer has been timed, at most MAX_PAGES_IN_FLIGHT. A fast server gets 1: pages
        one after another, as before."""
        if self.latency is None:
            return 1
        return max(1, min(MAX_PAGES_IN_FLIGHT, math.ceil(BURST * self.latency * self.budget.requests_per_second)))

    def requests_free(self) -> int:
        """Requests the rate budget would let through at once."""
        return self.budget.window.free()

    def _timed(self) -> None:
        sample = self.budget.since_admitted()
        self.latency = sample if self.latency is None else self.latency + LATENCY_WEIGHT * (sample - self.latency)

    # --- endpoints ---------------------------------------------------------------------------------------------

    def list(self, params: Mapping[str, Any], refusals: Collection[int] = ()) -> Tuple[list, pendulum.DateTime]:
        """One page of `GET /v1/contacts`: the contacts, and when they were served: by the server's Date header (to
        the second) where it sent one, else by our clock on receipt. An answer with one of the `refusals` statuses
        raises Refused."""
        return self.send("GET", self.url(), params=params, passes=refusals, parse=self._page_or_refused)

    def _page_or_refused(self, response: requests.Response) -> Tuple[list, pendulum.DateTime]:
        if response.status_code >= 400:
            resolution = self._errors.interpret_response(response)
            raise Refused(server_message(response, self._api_key), failure(resolution.error_message, resolution.failure_type))
        return contacts_page(response), http_date(response.headers.get("Date", "")) or self._clock.now()

    def get(self, contact_id: str) -> Optional[dict]:
        """The contact, or None when the API says there is none (404)."""
        return self.send("GET", self.url(contact_id), passes=(404,), parse=_contact_or_none)

    def search(self, text: str, limit: int) -> list:
        """The first page of a `searchText` query."""
        page, _ = self.list({"limit": limit, "page": 1, "searchText": text})
        return page

    def create(self, body: Mapping[str, Any], created: Callable[[], Optional[dict]]) -> dict:
        """The new contact, as the API answered. A POST is not safe to repeat: after an answer that says nothing of
        whether it created the contact, `created` finds out (the contact as it now exists, or None), and only a None
        sends the POST again."""
        return self._write("POST", (), body, contact_with_id, settle=created)

    def update(self, contact_id: str, body: Mapping[str, Any]) -> dict:
        return self._write("PUT", (contact_id,), body, contact_with_id)

    def add_tags(self, contact_id: str, tags: Collection[str]) -> dict:
        return self._write("POST", (contact_id, "tags", "add"), {"tags": list(tags)}, tags_answer)

    def remove_tags(self, contact_id: str, tags: Collection[str]) -> dict:
        return self._write("POST", (contact_id, "tags", "remove"), {"tags": list(tags)}, tags_answer)

    def delete(self, contact_id: str) -> None:
        self._write("DELETE", (contact_id,), None, deleted_answer)

    def _write(
        self,
        method: str,
        segments: tuple,
        body: Optional[Mapping[str, Any]],
        answer: Callable[[requests.Response], dict],
        settle: Optional[Callable[[], Optional[dict]]] = None,
    ) -> dict:
        """The endpoint's answer (`answer` raises BrokenBody for a 2xx that is not it: retried, the write being
        idempotent, or settled first). A 400/404/409/413/422 is the record's own problem: RecordProblem, not a failure."""

        def parsed(response: requests.Response) -> dict:
            if response.status_code in RECORD_STATUSES:
                raise RecordProblem(
                    RECORD_STATUSES[response.status_code], f"HTTP {response.status_code}: {server_message(response, self._api_key)}"
                )
            return answer(response)

        return self.send(method, self.url(*segments), json=body, passes=RECORD_STATUSES, parse=parsed, settle=settle)

    def send(
        self,
        method: str,
        url: str,
        params: Optional[Mapping[str, Any]] = None,
        json: Any = None,
        passes: Collection[int] = (),
        parse: Optional[Callable[[requests.Response], Parsed]] = None,
        settle: Optional[Callable[[], Optional[Parsed]]] = None,
    ) -> Union[Parsed, requests.Response]:
        """The request, retried as its answers say. `passes`: statuses handed back to the caller (a record's own
        problem, such as 409), not failures. `parse`: turns the answer into a value, raising BrokenBody for one that
        is not what the endpoint answers. `settle`, for a request not safe to repeat: after such an answer, finds out
        what the request did (its value, or None: it did nothing, and may be sent again)."""
        request = self._session.prepare_request(requests.Request(method, url, params=params, json=json))
        # `failures` counts the answers that were not a 429: a rate limit is the server's pace, not a fault, so it
        # neither spends a try nor lengthens the backoff of a later 5xx.
        sent = failures = timeouts = rate_limited = redirects = 0
        unsure = False  # an earlier answer was a 2xx that said nothing
        while True:
            try:
                answer: Union[requests.Response, requests.RequestException] = self._session.send(
                    request, timeout=self._timeout, allow_redirects=False
                )
            except requests.RequestException as error:
                answer = error
            else:
                self._timed()
            if isinstance(answer, requests.Response) and answer.is_redirect:
                redirects += 1
                request = self._redirected(request, answer, redirects)
                continue
            sent += 1
            if isinstance(answer, requests.Response) and answer.status_code in passes:
                try:
                    return parse(answer) if parse else answer
                except RecordProblem as problem:
                    problem.after_unsure = unsure
                    raise
            resolution = self._errors.interpret_response(answer)
            if resolution.response_action == ResponseAction.SUCCESS:
                if parse is None:
                    self.answered_well = True
                    return answer
                try:
                    value = parse(answer)
                except BrokenBody as broken:
                    unsure = True
                    done = settle() if settle else None  # its own requests say whether base_url is the API's
                    if done is not None:
                        return done
                    if settle is None and not self.answered_well:
                        host = "{0.scheme}://{0.netloc}".format(urlsplit(answer.url))
                        raise failure(
                            f"{host} answered, but not like the Contacts API (HTTP {answer.status_code} with "
                            f"{broken.described(self._api_key)}, not {broken.expected}). "
                            "Check base_url.",
                            FailureType.config_error,
                        ) from None
                    resolution = ErrorResolution(
                        ResponseAction.RETRY,
                        FailureType.transient_error,
                        f"The Contacts API answered HTTP {answer.status_code} with {broken.described(self._api_key)}, not "
                        f"{broken.expected}" + (", and a look-up since found the write not done." if settle else "."),
                    )
                else:
                    self.answered_well = True
                    return value
            if resolution.response_action == ResponseAction.FAIL or not self._retries:
                raise failure(resolution.error_message, resolution.failure_type, detail=f"{method} {request.path_url}")
            timeouts += isinstance(answer, requests.Timeout)
            rate_limited = rate_limited + 1 if resolution.response_action == ResponseAction.RATE_LIMITED else 0
            failures += not rate_limited
            wait = self._backoff.backoff_time(answer, failures)
            if not rate_limited:
                wait = min(wait, self._max_wait)
            if rate_limited == 0 and (failures >= MAX_TRIES or timeouts >= MAX_TIMEOUT_TRIES):
                raise failure(
                    f"{resolution.error_message} Gave up after {failures} tries of {method} {_described(request)}.", resolution.failure_type
                )
            if rate_limited >= MAX_RATE_LIMITED_TRIES:
                raise failure(
                    f"The Contacts API refused {rate_limited} tries in a row with HTTP 429: something else is spending this key's rate "
                    "limit, or requests_per_minute is set above the account's limit.",
                    FailureType.transient_error,
                )
            if rate_limited and wait > self._max_wait:
                raise failure(
                    f"The Contacts API asked to wait {_duration(wait)} before the next request (HTTP 429, Retry-After), longer than "
                    "max_retry_wait_seconds "
                    f"({_duration(self._max_wait)}). A wait that long usually means the account's daily quota (144,000 requests/day) is "
                    "spent; "
                    "the next sync can go on after it resets.",
                    FailureType.transient_error,
                )
            logger.info(f"{resolution.error_message} Retrying {method} {_described(request)} in {wait:g} s (try {sent + 1}).")
            if resolution.response_action != ResponseAction.RATE_LIMITED:
                self._clock.sleep(wait)
            # After a 429 the budget holds this request and every other lane until the server's window reopens.

    def url(self, *segments: str) -> str:
        """`base_url` + `/v1/contacts` + the segments, each percent-encoded so that an id can never leave its path."""
        return "/".join([self._root, *(path_segment(segment) for segment in segments)])

    def _redirected(self, request: requests.PreparedRequest, response: requests.Response, redirects: int) -> requests.PreparedRequest:
        """Redirects on the same scheme and host are followed; the key never goes anywhere else (requests keeps
        custom headers such as x-api-key across hosts: it strips only Authorization)."""
        target = requests.compat.urljoin(request.url, response.headers.get("Location", ""))
        if _origin(target) == _origin(request.url) and redirects > MAX_REDIRECTS:
            raise failure(
                f"The Contacts API redirected {request.method} {urlsplit(request.url).path} more than {MAX_REDIRECTS} times, last to "
                f"{masked(target, self._api_key)}: a redirect loop. Check base_url.",
                FailureType.config_error,
            )
        if _origin(target) != _origin(request.url):
            if urlsplit(request.url).scheme == "https" and urlsplit(target).scheme == "http":
                where, advice = (
                    "from https to plain http, where the key would travel unencrypted",
                    "An API should not do that: tell its provider.",
                )
            else:
                where, advice = (
                    "to another host than base_url's",
                    f"If the API has moved, set base_url to {'{0.scheme}://{0.netloc}'.format(urlsplit(target))}.",
                )
            raise failure(
                f"The Contacts API redirected {request.method} {urlsplit(request.url).path} to {masked(target, self._api_key)} (HTTP "
                f"{response.status_code}), "
                f"{where}; the API key is only sent to the host of base_url, so the redirect was not followed. {advice}",
                FailureType.config_error,
            )
        followed = request.copy()
        followed.prepare_url(target, None)
        return followed


def path_segment(value: str) -> str:
    if value in (".", ".."):
        # requests re-decodes %2E when it prepares a URL, so these would reach the server as dot segments and climb
        # out of /v1/contacts. No contact id is a dot segment.
        raise ValueError(f"'{value}' cannot be a contact id")
    return quote(value, safe="")


def contacts_page(response: requests.Response) -> list:
    """The page a list answer holds: a JSON array of contact objects, anything else a BrokenBody."""
    page = _json(response, "a JSON array of contacts")
    if not isinstance(page, list) or not all(isinstance(contact, dict) for contact in page):
        raise BrokenBody("a JSON array of contacts", response)
    return page


def contact_object(response: requests.Response) -> dict:
    contact = _json(response, "a contact object")
    if not isinstance(contact, dict):
        raise BrokenBody("a contact object", response)
    return contact


def _write_answer(expected: str, fits: Callable[[dict], bool]) -> Callable[[requests.Response], dict]:
    """A parser of one write endpoint's answer (contacts-api.md): a JSON object that `fits`, else a BrokenBody."""

    def parse(response: requests.Response) -> dict:
        answer = _json(response, expected)
        if not isinstance(answer, dict) or not fits(answer):
            raise BrokenBody(expected, response)
        return answer

    return parse


contact_with_id = _write_answer("the contact with its id", lambda answer: isinstance(answer.get("id"), str))  # create, update
tags_answer = _write_answer('the contact\'s {"id", "tags"}', lambda answer: isinstance(answer.get("id"), str))
deleted_answer = _write_answer('{"success": true}', lambda answer: answer.get("success") is True)


def _contact_or_none(response: requests.Response) -> Optional[dict]:
    return None if response.status_code == 404 else contact_object(response)


def _json(response: requests.Response, expected: str) -> Any:
    try:
        value = response.json()
    except ValueError:
        raise BrokenBody(expected, response) from None
    return without_lone_surrogates(value) if "\\ud" in response.text.lower() else value


def without_lone_surrogates(value: Any) -> Any:
    """Servers that cut a string mid-emoji send half a surrogate pair (`\\ud83d`), which no UTF-8 output can carry:
    such halves become U+FFFD, everything else stays as it was."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {without_lone_surrogates(key): without_lone_surrogates(item) for key, item in value.items()}
    return value


def _described(request: requests.PreparedRequest) -> str:
    parts = urlsplit(request.url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
