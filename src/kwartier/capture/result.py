"""What a format reader hands to the ingest: Arrow tables in the captured schemas, and what it refused."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from kwartier.capture.quarantine import Rejection
from kwartier.schema import CAPTURED_PEAKS, CAPTURED_READINGS, CAPTURED_REGISTERS


@dataclass
class CaptureResult:
    """The content of one input file: interval values, register indexes, monthly peaks, rejections."""

    file: str
    format: str
    readings: pa.Table = field(default_factory=CAPTURED_READINGS.empty_table)
    registers: pa.Table = field(default_factory=CAPTURED_REGISTERS.empty_table)
    peaks: pa.Table = field(default_factory=CAPTURED_PEAKS.empty_table)
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
