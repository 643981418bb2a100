"""What the source says of a value, mapped from the vocabularies of the input formats.

Mijn Fluvius exports (seed samples): ``Gevalideerd`` / ``Validated`` → validated; ``Uitgelezen`` /
``Read`` → read (measured, not yet validated); ``Geschat`` / ``Estimated`` → estimated by the source.
``Geen verbruik`` / ``No consumption`` comes with an empty volume: the value is missing, never zero.
"""

from __future__ import annotations

from enum import StrEnum


class SourceStatus(StrEnum):
    """Status a source gives a value."""

    READ = "read"
    VALIDATED = "validated"
    ESTIMATED = "estimated"
