"""Rows that cannot be accepted, with the place and the reason, so that nothing valid is lost."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rejection:
    """One quarantined row: ``file`` line ``line`` (1-based), field ``field``, and why."""

    file: str
    line: int
    field: str
    reason: str
    code: str = "PARSE"
    raw: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.reason}"


class InputFormatError(ValueError):
    """A file that cannot be read at all (unknown format, wrong header, bad telegram CRC)."""

    def __init__(self, file: str, reason: str, line: int = 0) -> None:
        super().__init__(f"{file}:{line}: {reason}" if line else f"{file}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason
