"""One walk of the contact list shared by every stream of a sync."""

import json
import tempfile
from typing import IO, Iterator, Optional

import pendulum
from airbyte_cdk.models import AirbyteMessage

from contacts_api.paging import Page
from source_contacts.walk import CheckedWalk


class SharedPages:
    """One walk through the API per sync, however many selected streams are built from it: the first stream to
    read walks the API and, when other streams will read after it, spools each page to a temporary file for them."""

    def __init__(self, walk: CheckedWalk, readers: int = 1) -> None:
        self._walk = walk
        self._readers_left = readers
        self._spool: Optional[IO[str]] = None

    @property
    def began(self) -> Optional[pendulum.DateTime]:
        return self._walk.began

    @property
    def complete(self) -> bool:
        """False when the list moved while it was read and contacts may be missing."""
        return self._walk.complete

    def trace(self) -> Optional[AirbyteMessage]:
        """What the walk has to report, to the first stream that asks."""
        return self._walk.trace()

    def pages(self) -> Iterator[Page]:
        self._readers_left -= 1
        if self._spool is not None:
            yield from self._replay()
            return
        spool = tempfile.TemporaryFile("w+", encoding="utf-8") if self._readers_left > 0 else None
        for page in self._walk.pages():
            if spool:
                spool.write(json.dumps(page, ensure_ascii=False) + "\n")
            yield page
        # Only a finished walk is shared; a walk cut short leaves the next stream to walk the API itself.
        self._spool = spool

    def _replay(self) -> Iterator[Page]:
        spool = self._spool
        spool.seek(0)
        for line in spool:
            yield json.loads(line)
        if self._readers_left <= 0:
            spool.close()
            self._spool = None
