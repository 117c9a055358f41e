import sys

from airbyte_cdk.entrypoint import launch

from source_contacts.source import SourceContacts


def run() -> None:
    launch(SourceContacts(), sys.argv[1:])
