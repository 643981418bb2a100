"""kwartier: the data management of an electricity and gas distribution grid operator, per quarter hour."""

__version__ = "0.1.0"
