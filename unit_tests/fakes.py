"""A stand-in for the read side of ContactsApi (list, get, search), for the unit tests of what walks and matches:
pages as scripted, every call recorded."""

from typing import Any, Dict, List, Mapping, Optional, Tuple

import pendulum
from airbyte_cdk.models import FailureType

from contacts_api.errors import failure
from contacts_api.http import Refused

SERVED = pendulum.datetime(2026, 11, 27, 4)  # when every scripted page is served


class ListingApi:
    """`refuse_above`: a larger limit is answered 400 with `refusal` (formatted with the maximum)."""

    def __init__(
        self, pages: List[List[dict]], phone_search: bool = True, refuse_above: Optional[int] = None, refusal: str = "", width: int = 1
    ):
        self.pages = pages
        self.width = width  # pages in flight, as ContactsApi.pages_in_flight would say for a server of some latency
        self.phone_search = phone_search
        self.refuse_above, self.refusal = refuse_above, refusal
        self.calls: List[Tuple[str, Any]] = []

    def list(self, params: Mapping[str, Any], refusals: Tuple[int, ...] = ()) -> Tuple[List[dict], pendulum.DateTime]:
        self.calls.append(("list", dict(params)))
        if self.refuse_above is not None and int(params["limit"]) > self.refuse_above:
            message = self.refusal.format(self.refuse_above)
            error = failure(f"The Contacts API answered HTTP 400: {message}", FailureType.system_error)
            if 400 in refusals:
                raise Refused(message, error)
            raise error
        index = int(params["page"]) - 1
        return (self.pages[index] if index < len(self.pages) else []), SERVED.add(minutes=len(self.calls) - 1)

    def pages_in_flight(self) -> int:
        return self.width

    def requests_free(self) -> int:
        return 100

    def get(self, contact_id: str) -> Optional[dict]:
        self.calls.append(("get", contact_id))
        return next((contact for contact in self._all() if contact["id"] == contact_id), None)

    def search(self, text: str, limit: int) -> List[dict]:
        """As the sandbox searches: the text within the name, or within the phone number as stored."""
        self.calls.append(("search", text))
        return [
            c
            for c in self._all()
            if text.casefold() in c.get("name", "").casefold() or (self.phone_search and text in c.get("phoneNumber", ""))
        ][:limit]

    def _all(self) -> List[Dict[str, Any]]:
        return [contact for page in self.pages for contact in page]
