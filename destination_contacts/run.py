import sys

from destination_contacts.destination import DestinationContacts


def run() -> None:
    DestinationContacts().run(sys.argv[1:])
