import sys
from typing import List, Optional

from airbyte_cdk.entrypoint import launch

from contacts_api.clock import SYSTEM_CLOCK, Clock
from source_contacts.source import SourceContacts


def run(args: Optional[List[str]] = None, clock: Clock = SYSTEM_CLOCK) -> None:
    launch(SourceContacts(clock), sys.argv[1:] if args is None else args)
