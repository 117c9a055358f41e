"""The requests: the contact list and phone search (reads), and the write calls, through the shared HttpClient pieces."""

import logging
from typing import Any, Iterator, List, Mapping, Optional, Union

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.call_rate import APIBudget
from airbyte_cdk.sources.streams.http.error_handlers import ErrorResolution, ResponseAction

from contacts_api.errors import failure, json_body, server_message
from contacts_api.http import ContactsErrorHandler, http_client, url
from contacts_api.paging import PageNumberPaginator, contacts_page

logger = logging.getLogger("airbyte")

PAGE_SIZE = 100
# Answers about one record, not about the sync: the writer turns them into a rejection or a recovery (413: a record
# too large for the API, e.g. a huge notes field, is that record's problem, not a reason to fail the sync).
RECORD_STATUSES = {400: "invalid", 404: "gone", 409: "conflict", 413: "invalid", 422: "invalid"}


class RecordProblem(Exception):
    def __init__(self, kind: str, status: int, message: str):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.message = message


class WriteErrorHandler(ContactsErrorHandler):
    """The shared classification, except that a 400/404/409/422 comes back to the caller instead of failing the sync."""

    def interpret_response(self, response_or_exception: Optional[Union[requests.Response, Exception]] = None) -> ErrorResolution:
        if isinstance(response_or_exception, requests.Response) and response_or_exception.status_code in RECORD_STATUSES:
            return ErrorResolution(ResponseAction.IGNORE, None, f"HTTP {response_or_exception.status_code}: handled per record")
        return super().interpret_response(response_or_exception)


class ContactsApi:
    def __init__(self, config: Mapping[str, Any], api_budget: APIBudget):
        self._config = config
        self._reads = http_client("contacts", config, api_budget)
        self._writes = http_client("contacts", config, api_budget, error_handler=WriteErrorHandler(config["api_key"]))

    def pages(self) -> Iterator[List[Mapping[str, Any]]]:
        """Every contact, page by page, ending where the source's walk ends."""
        paginator = PageNumberPaginator()
        while True:
            page = self._list({"limit": PAGE_SIZE, "page": paginator.page})
            paginator.observe(page)
            yield page
            if paginator.next_page_token() is None:
                return

    def search(self, text: str) -> List[Mapping[str, Any]]:
        """The first page of a searchText query: a phone number matches few contacts."""
        return self._list({"limit": PAGE_SIZE, "page": 1, "searchText": text})

    def create(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        return self._write("POST", (), body)

    def update(self, contact_id: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        return self._write("PUT", (contact_id,), body)

    def add_tags(self, contact_id: str, tags: List[str]) -> Mapping[str, Any]:
        return self._write("POST", (contact_id, "tags", "add"), {"tags": list(tags)})

    def remove_tags(self, contact_id: str, tags: List[str]) -> Mapping[str, Any]:
        return self._write("POST", (contact_id, "tags", "remove"), {"tags": list(tags)})

    def delete(self, contact_id: str) -> None:
        self._write("DELETE", (contact_id,), None)

    def _list(self, params: Mapping[str, Any]) -> List[Mapping[str, Any]]:
        _, response = self._reads.send_request("GET", url(self._config), request_kwargs={}, params=params)
        return contacts_page(response)

    def _write(self, method: str, segments: tuple, body: Optional[Mapping[str, Any]]) -> Mapping[str, Any]:
        _, response = self._writes.send_request(method, url(self._config, *segments), request_kwargs={}, json=body)
        if response.status_code in RECORD_STATUSES:
            raise RecordProblem(RECORD_STATUSES[response.status_code], response.status_code, f"HTTP {response.status_code}: {server_message(response, self._config['api_key'])}")
        answer = json_body(response)
        if method != "DELETE" and (not isinstance(answer, dict) or not isinstance(answer.get("id"), str)):
            raise failure(f"{method} {response.request.path_url} answered HTTP {response.status_code} without a contact id in a JSON object", FailureType.system_error)
        return answer


