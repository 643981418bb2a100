"""Which reader a file needs, decided from its first bytes (never from its name)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from kwartier.capture.headend import INTERVAL_HEADER, REGISTER_HEADER
from kwartier.capture.quarantine import InputFormatError

BOM = "\ufeff"
MIJN_FLUVIUS_FIRST_FIELDS = ("Van datum", "Van (datum)", "From (date)")


class InputFormat(StrEnum):
    """The input formats kwartier reads."""

    HEADEND_INTERVALS = "headend-intervals"
    HEADEND_REGISTERS = "headend-registers"
    MIJN_FLUVIUS = "mijn-fluvius"
    P1 = "p1"


def detect_format(path: Path) -> InputFormat:
    """The format of ``path`` from its header line; raises :class:`InputFormatError` when unknown."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    text = head.decode("utf-8", errors="replace").removeprefix(BOM)
    first_line = text.splitlines()[0].strip() if text.strip() else ""
    if first_line == INTERVAL_HEADER:
        return InputFormat.HEADEND_INTERVALS
    if first_line == REGISTER_HEADER:
        return InputFormat.HEADEND_REGISTERS
    if first_line.split(";")[0] in MIJN_FLUVIUS_FIRST_FIELDS:
        return InputFormat.MIJN_FLUVIUS
    if first_line.startswith("/") and "!" in text:
        return InputFormat.P1
    raise InputFormatError(
        str(path),
        f"unknown format: the first line {first_line[:60]!r} is no head-end, Mijn Fluvius or P1 header",
        line=1,
    )
