"""Interval values and monthly peaks read straight from files, for billing figures without an ingest.

Any household can check its capacity tariff from its own export (issue "Billing data"): a Mijn Fluvius
export, a head-end interval CSV or a P1 telegram. The values are keyed by EAN and never stored.

Rules:
- a value the source marks as estimated (``Geschat`` / ``Estimated`` / ``estimated``) has status
  ``estimated``, every other value ``measured``; an empty volume is missing, never zero;
- when several files hold the same quarter of the same register, the file given last wins (a newer
  export corrects an older one);
- a P1 telegram's 0-0:98.1.0 buffer keys each monthly peak by the first day of the *next* month: the
  reader files it under the month before (:mod:`kwartier.capture.p1`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from kwartier.capture.detect import InputFormat, detect_format
from kwartier.capture.headend_file import read_headend_intervals
from kwartier.capture.mijn_fluvius import read_mijn_fluvius
from kwartier.capture.p1 import read_p1
from kwartier.capture.quarantine import InputFormatError, Rejection
from kwartier.domain.channels import ReadingStatus
from kwartier.domain.source_status import SourceStatus
from kwartier.schema import (
    CHANNEL,
    EAN,
    MINUTES,
    MONTH,
    PEAK_START,
    PEAK_W,
    SOURCE_STATUS,
    START,
    STATUS,
    TARIFF,
    UTC_MICROS,
    VALUE,
)

FILE_READINGS: Final = pa.schema(
    [
        pa.field(EAN, pa.string()),
        pa.field(CHANNEL, pa.string()),
        pa.field(TARIFF, pa.string()),
        pa.field(START, UTC_MICROS),
        pa.field(MINUTES, pa.int16()),
        pa.field(VALUE, pa.int64()),
        pa.field(STATUS, pa.string()),
    ]
)
FILE_PEAKS: Final = pa.schema(
    [
        pa.field(EAN, pa.string()),
        pa.field(MONTH, pa.date32()),
        pa.field(PEAK_START, UTC_MICROS),
        pa.field(PEAK_W, pa.int64()),
    ]
)
_KEY: Final = [EAN, CHANNEL, TARIFF, START, MINUTES]


@dataclass
class FileContent:
    """What billing can use from a set of files, and what it could not read."""

    readings: pa.Table = field(default_factory=FILE_READINGS.empty_table)
    peaks: pa.Table = field(default_factory=FILE_PEAKS.empty_table)
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_files(paths: list[Path], moment: datetime) -> FileContent:
    """Read ``paths`` (format detected from content) as known at ``moment``.

    Raises :class:`InputFormatError` for a file that cannot be read at all, and for a head-end register
    file (indexes hold no quarter hours).
    """
    readings: list[pa.Table] = []
    peaks: list[pa.Table] = []
    content = FileContent()
    for path in paths:
        fmt = detect_format(path)
        if fmt is InputFormat.HEADEND_REGISTERS:
            raise InputFormatError(
                str(path), "a register file holds indexes, not quarter-hour values", line=1
            )
        if fmt is InputFormat.HEADEND_INTERVALS:
            table, rejections = read_headend_intervals(path, moment)
            readings.append(_with_status(table))
            content.rejections.extend(rejections)
            continue
        result = read_mijn_fluvius(path) if fmt is InputFormat.MIJN_FLUVIUS else read_p1(path)
        readings.append(_with_status(result.readings))
        peaks.append(result.peaks.select(FILE_PEAKS.names).cast(FILE_PEAKS))
        content.rejections.extend(result.rejections)
        content.warnings.extend(result.warnings)
    if readings:
        content.readings = _last_file_wins(pa.concat_tables(readings))
    if peaks:
        content.peaks = pa.concat_tables(peaks)
    return content


def _with_status(table: pa.Table) -> pa.Table:
    """The captured rows in :data:`FILE_READINGS`: ``source_status`` becomes measured or estimated."""
    estimated = pc.equal(table.column(SOURCE_STATUS), SourceStatus.ESTIMATED.value)
    status = pc.if_else(estimated, ReadingStatus.ESTIMATED.value, ReadingStatus.MEASURED.value)
    columns = [table.column(name).cast(FILE_READINGS.field(name).type) for name in [*_KEY, VALUE]]
    return pa.Table.from_arrays([*columns, status.cast(pa.string())], schema=FILE_READINGS)


def _last_file_wins(table: pa.Table) -> pa.Table:
    """One row per register and quarter: the last in file order."""
    grouped = table.group_by(_KEY, use_threads=False).aggregate([(VALUE, "last"), (STATUS, "last")])
    return grouped.rename_columns({f"{VALUE}_last": VALUE, f"{STATUS}_last": STATUS}).select(
        FILE_READINGS.names
    )
