from destination_contacts.destination import DestinationContacts

__all__ = ["DestinationContacts"]
