"""Head-end delivery files (docs/formats.md: ``headend-intervals``, ``headend-registers``) and the manifest.

Deliveries are numbered by their date, as days after the first simulated day; the delivery of date T
arrives at 03:00 local time on T (``intervals_<T>_1.csv`` and ``registers_<T>.csv``) and carries, when on
time, electricity market day T−1 and gas day T−2 (a gas day ends at 06:00, after the 03:00 delivery).
Corrected re-deliveries arrive at 04:00 local time in ``intervals_<T>_2.csv``. Files are written with
pyarrow's CSV writer, one table per chunk of access points, so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from kwartier.domain.timegrid import BRUSSELS
from kwartier.simulate.arrays import IntArray
from kwartier.simulate.faults import FaultCounts

INTERVAL_COLUMNS = ("ean", "meter", "channel", "tariff", "start", "minutes", "value", "unit", "status")
REGISTER_COLUMNS = ("ean", "meter", "channel", "tariff", "read_at", "index", "unit", "status")
DAILY_SEQUENCE = 1
CORRECTION_SEQUENCE = 2
DELIVERY_TIME = {DAILY_SEQUENCE: time(3, 0), CORRECTION_SEQUENCE: time(4, 0)}


def interval_table(
    ean: pa.Array,
    meter: pa.Array,
    rows: IntArray,
    channel: str,
    tariff: pa.Array,
    start: pa.Array,
    minutes: int,
    values: IntArray,
    unit: str,
    status: str,
) -> pa.Table:
    """Lines of ``headend-intervals``: ``rows`` index ``ean``/``meter``; ``tariff``/``start`` are per line."""
    size = len(rows)
    indices = pa.array(rows)
    return pa.table(
        [
            ean.take(indices),
            meter.take(indices),
            pa.repeat(channel, size),
            tariff,
            start,
            pa.repeat(pa.scalar(minutes, pa.int64()), size),
            pa.array(values, pa.int64()),
            pa.repeat(unit, size),
            pa.repeat(status, size),
        ],
        names=list(INTERVAL_COLUMNS),
    )


def register_table(
    ean: pa.Array,
    meter: pa.Array,
    rows: IntArray,
    channel: str,
    tariff: str,
    read_at: pa.Array,
    index: IntArray,
    unit: str,
) -> pa.Table:
    """Lines of ``headend-registers``."""
    size = len(rows)
    indices = pa.array(rows)
    return pa.table(
        [
            ean.take(indices),
            meter.take(indices),
            pa.repeat(channel, size),
            pa.repeat(tariff, size),
            read_at,
            pa.array(index, pa.int64()),
            pa.repeat(unit, size),
            pa.repeat("read", size),
        ],
        names=list(REGISTER_COLUMNS),
    )


@dataclass
class _OpenFile:
    name: str
    kind: str
    delivery: int
    sequence: int
    sink: pa.NativeFile
    writer: pacsv.CSVWriter | None = None
    lines: int = 0
    market_days: set[int] = field(default_factory=set)
    gas_days: set[int] = field(default_factory=set)
    template: dict[str, object] | None = None


@dataclass(frozen=True)
class DeliveredFile:
    """One file of the manifest."""

    file: str
    kind: str
    delivered_at: str
    market_days: list[str]
    gas_days: list[str]
    lines: int


class Deliveries:
    """The open delivery files of a run, by (kind, delivery, sequence)."""

    def __init__(self, out: Path, first_day: date) -> None:
        self.folder = out / "headend"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.first_day = first_day
        self._files: dict[tuple[str, int, int], _OpenFile] = {}

    def _open(self, kind: str, delivery: int, sequence: int) -> _OpenFile:
        key = (kind, delivery, sequence)
        if key not in self._files:
            day = (self.first_day + timedelta(days=delivery)).isoformat()
            name = f"intervals_{day}_{sequence}.csv" if kind == "intervals" else f"registers_{day}.csv"
            sink = pa.OSFile(str(self.folder / name), "wb")
            columns = INTERVAL_COLUMNS if kind == "intervals" else REGISTER_COLUMNS
            sink.write((",".join(columns) + "\n").encode())
            self._files[key] = _OpenFile(name, kind, delivery, sequence, sink)
        return self._files[key]

    def write(
        self,
        kind: str,
        delivery: int,
        sequence: int,
        table: pa.Table,
        market_days: set[int],
        gas_days: set[int],
    ) -> None:
        """Append ``table`` to a delivery file; the days are the period days its lines cover."""
        if table.num_rows == 0:
            return
        handle = self._open(kind, delivery, sequence)
        if handle.writer is None:
            options = pacsv.WriteOptions(include_header=False, quoting_style="none")
            handle.writer = pacsv.CSVWriter(handle.sink, table.schema, write_options=options)
            handle.template = table.slice(0, 1).to_pylist()[0]
        handle.writer.write_table(table)
        handle.lines += table.num_rows
        handle.market_days |= market_days
        handle.gas_days |= gas_days

    def add_malformed(self, rng: np.random.Generator, rate: float, counts: FaultCounts) -> None:
        """Append malformed lines to interval files: about ``rate`` × the lines of each file."""
        for handle in self._interval_files():
            template = handle.template
            if template is None:
                continue
            for _ in range(int(rng.binomial(handle.lines, rate))):
                line = {key: str(value) for key, value in template.items()}
                fault = int(rng.integers(0, 3))
                if fault == 0:
                    line["ean"] = line["ean"][:-1] + str((int(line["ean"][-1]) + 1) % 10)
                    counts.malformed_invalid_ean += 1
                elif fault == 1:
                    line["start"] = line["start"][:14] + "07" + line["start"][16:]
                    counts.malformed_off_grid_start += 1
                else:
                    line["value"] = line["value"] + "x"
                    counts.malformed_non_numeric_value += 1
                handle.sink.write((",".join(line[c] for c in INTERVAL_COLUMNS) + "\n").encode())
                handle.lines += 1

    def _interval_files(self) -> list[_OpenFile]:
        return [self._files[key] for key in sorted(self._files) if key[0] == "intervals"]

    def close(self) -> list[DeliveredFile]:
        """Close every file; the manifest entries in delivery order."""
        delivered = []
        for key in sorted(self._files, key=lambda k: (k[1], k[2], k[0])):
            handle = self._files[key]
            if handle.writer is not None:
                handle.writer.close()
            handle.sink.close()
            when = datetime.combine(
                self.first_day + timedelta(days=handle.delivery),
                DELIVERY_TIME[handle.sequence],
                tzinfo=BRUSSELS,
            )
            delivered.append(
                DeliveredFile(
                    file=f"headend/{handle.name}",
                    kind=handle.kind,
                    delivered_at=when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                    market_days=[
                        (self.first_day + timedelta(days=d)).isoformat() for d in sorted(handle.market_days)
                    ],
                    gas_days=[
                        (self.first_day + timedelta(days=d)).isoformat() for d in sorted(handle.gas_days)
                    ],
                    lines=handle.lines,
                )
            )
        return delivered
