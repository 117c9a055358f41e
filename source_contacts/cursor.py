"""Incremental reads on `updatedAt`, filtered here since the API has no "updated since" filter."""

from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Mapping, Optional

CURSOR_FIELD = "updatedAt"


def parse_time(value: Any) -> Optional[datetime]:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def format_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _walk_began(server_time: Optional[str]) -> datetime:
    """By the server's clock (its Date header, to the second) where it said, else by ours."""
    try:
        return parsedate_to_datetime(server_time) - timedelta(seconds=1)
    except (TypeError, ValueError):
        return datetime.now(timezone.utc)


class UpdatedAtCursor:
    """Emits contacts updated at or after the lower bound, and those without updatedAt.

    The API's sort order is unknown, so the bound never moves during a sync: a sync cut short must not skip later
    pages' older updates. When the walk ends, the next bound is the newest updatedAt seen, but never later than when
    the walk began by the server's clock, so a contact changed during the walk is read again next time.
    """

    def __init__(self, state_value: Optional[str], start_date: Optional[str]) -> None:
        self.lower_bound = parse_time(state_value) or parse_time(start_date)
        self._newest_seen: Optional[datetime] = None

    def accepts(self, contact: Mapping[str, Any]) -> bool:
        updated = parse_time(contact.get(CURSOR_FIELD))
        if updated is None:
            return True
        if self._newest_seen is None or updated > self._newest_seen:
            self._newest_seen = updated
        return self.lower_bound is None or updated >= self.lower_bound

    def close(self, server_time: Optional[str]) -> None:
        """Moves the bound once the whole list was read."""
        if self._newest_seen is None:
            return
        newest = min(self._newest_seen, _walk_began(server_time))
        if self.lower_bound is None or newest > self.lower_bound:
            self.lower_bound = newest

    def state(self) -> dict:
        return {CURSOR_FIELD: format_time(self.lower_bound)} if self.lower_bound else {}
