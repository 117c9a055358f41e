"""Incremental reads on `updatedAt`, filtered here since the API has no "updated since" filter."""

from typing import Any, Mapping, Optional

import pendulum
from pendulum.parsing.exceptions import ParserError

CURSOR_FIELD = "updatedAt"


def parse_time(value: Any) -> Optional[pendulum.DateTime]:
    """An ISO-8601 time (UTC when it names no zone), or None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = pendulum.parse(value)
    except (ParserError, ValueError):
        return None
    return parsed if isinstance(parsed, pendulum.DateTime) else None


def format_time(value: pendulum.DateTime) -> str:
    return value.in_timezone("UTC").format("YYYY-MM-DDTHH:mm:ss.SSS") + "Z"


class UpdatedAtCursor:
    """Emits contacts updated at or after the lower bound, and those without updatedAt.

    The API's sort order is unknown, so the bound never moves during a sync: a sync cut short must not skip later
    pages' older updates. When the walk ends, the next bound is the newest updatedAt seen, but never later than when
    the walk began by the server's clock, so a contact changed during the walk is read again next time.
    """

    def __init__(self, state_value: Optional[str], start_date: Optional[str]) -> None:
        self.lower_bound = parse_time(state_value) or parse_time(start_date)
        self._newest_seen: Optional[pendulum.DateTime] = None

    def accepts(self, contact: Mapping[str, Any]) -> bool:
        updated = parse_time(contact.get(CURSOR_FIELD))
        if updated is None:
            return True
        if self._newest_seen is None or updated > self._newest_seen:
            self._newest_seen = updated
        return self.lower_bound is None or updated >= self.lower_bound

    def close(self, walk_began: pendulum.DateTime) -> None:
        """Moves the bound once the whole list was read; `walk_began` is when its first page was served."""
        if self._newest_seen is None:
            return
        # A second earlier: the server's Date header is to the second, and a contact updated in that second may
        # not be in the pages read.
        newest = min(self._newest_seen, walk_began.subtract(seconds=1))
        if self.lower_bound is None or newest > self.lower_bound:
            self.lower_bound = newest

    def state(self) -> dict:
        return {CURSOR_FIELD: format_time(self.lower_bound)} if self.lower_bound else {}
