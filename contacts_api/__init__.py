"""What both Contacts connectors share: config rules, the HTTP client and its error mapping."""
