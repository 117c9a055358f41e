import sys
from typing import List, Optional

from contacts_api.clock import SYSTEM_CLOCK, Clock
from destination_contacts.destination import DestinationContacts


def run(args: Optional[List[str]] = None, clock: Clock = SYSTEM_CLOCK) -> None:
    DestinationContacts(clock).run(sys.argv[1:] if args is None else args)
