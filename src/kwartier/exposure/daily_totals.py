"""Kept daily totals of electricity: per access point, channel, tariff period and market day, computed once
per data version so that the portal and the API serve daily and monthly values without re-reading and
re-summing every quarter hour (issue 6: 300 requests/s of daily data).

Rules:
- the totals are those of :func:`kwartier.exposure.export.aggregate` at granularity day, of the current
  readings as known when computed: the same value, quarters, estimated count and status (tested equal);
  electricity only (offtake and injection; a gas day runs across the store's months, gas is summed live);
- they live in ``<home>/daily/month=YYYY-MM/daily.arrow`` with its ``source.json`` (data version: the
  SHA-256 of the store files of the month, :func:`kwartier.billing.billing_data.data_version`, and the
  format version :data:`FORMAT`);
- the file is made for point lookups: an Arrow IPC file with one record batch per access point, its rows
  sorted by channel, tariff and start, in the order of the pseudonyms ``ap``, which its footer lists
  (:data:`APS_KEY`, one per line). A reader keeps the file memory-mapped with the list as a sorted NumPy
  array, so one access point's month is a binary search and one batch read without a copy: 0.01 ms,
  against 1.6 ms to decode a Parquet row group of 4,096 rows. The price is disk: about 4.4 kB per access
  point and month (a household without PV), 53 kB per year, about the size of the meter store's year of
  quarter hours; compressed buffers would halve it (LZ4 2.4 kB, zstd 1.9 kB) but cost 0.1–0.2 ms per
  read, and under 50 concurrent clients a tenth of the server's time;
- a reader uses a month only when its kept data version and format equal the store's current data
  version and :data:`FORMAT`; otherwise it gets None and sums live (the answer is the same, only slower).
  ``kwartier daily-refresh`` (and the demo) recompute the months whose version changed; the write is
  atomic, ``source.json`` last.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kwartier.billing.billing_data import data_version
from kwartier.billing.months import month_bounds
from kwartier.config import Settings
from kwartier.domain.channels import Channel, ReadingStatus
from kwartier.exposure.export import END, ESTIMATED, QUARTERS, TOTALS, TotalStatus
from kwartier.schema import AP, CHANNEL, START, TARIFF, UTC_MICROS, VALUE
from kwartier.store.manifest import read_json, write_json_atomic
from kwartier.store.store import MeterStore

FILE: Final = "daily.arrow"
SOURCE: Final = "source.json"
FORMAT: Final = 2
"""Version of the kept file's layout (1: Parquet row groups of 4,096 rows; 2: a record batch per access
point); a month kept in another format is recomputed by the next refresh and summed live until then."""
APS_KEY: Final = b"kwartier.aps"
DAY: Final = "day"
KEPT: Final = pa.schema(
    [
        pa.field(AP, pa.string(), nullable=False),
        pa.field(CHANNEL, pa.string(), nullable=False),
        pa.field(TARIFF, pa.string(), nullable=False),
        pa.field(START, UTC_MICROS, nullable=False),
        pa.field(END, UTC_MICROS, nullable=False),
        pa.field(VALUE, pa.int64(), nullable=False),
        pa.field(QUARTERS, pa.int64(), nullable=False),
        pa.field(ESTIMATED, pa.int64(), nullable=False),
    ]
)
_ELECTRICITY: Final = (Channel.OFFTAKE.value, Channel.INJECTION.value)


@dataclass(frozen=True)
class DailyReport:
    """What a refresh did."""

    recomputed: list[str]
    current: list[str]
    rows: int

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON."""
        return {"recomputed": self.recomputed, "current": self.current, "rows": self.rows}


def daily_dir(settings: Settings) -> Path:
    """The folder of the kept daily totals of a data home."""
    return settings.home / "daily"


def refresh_daily(
    settings: Settings, months: list[str] | None = None, *, moment: datetime | None = None
) -> DailyReport:
    """Recompute the kept daily totals of the months (default: every month of the store) whose data version
    changed (DuckDB on the store files; memory limited)."""
    now = moment or datetime.now(UTC)
    store = MeterStore.open(settings.store_dir)
    recomputed, current, rows = [], [], 0
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET memory_limit = '4GB'")
    for month in months or store.months("readings"):
        version = data_version(store, month)
        folder = daily_dir(settings) / f"month={month}"
        if (folder / SOURCE).exists() and _kept_at(read_json(folder / SOURCE), version):
            current.append(month)
            continue
        table = _month_totals(con, store, month, now)
        _write(
            folder, table, {"data_version": version, "computed_at": now.isoformat(), "rows": table.num_rows}
        )
        recomputed.append(month)
        rows += table.num_rows
    con.close()
    return DailyReport(recomputed, current, rows)


def _month_totals(con: duckdb.DuckDBPyConnection, store: MeterStore, month: str, now: datetime) -> pa.Table:
    start, end = month_bounds(date.fromisoformat(f"{month}-01"))
    store.current_readings(con, start=start, end=end, as_of=now).create_view("current_month", replace=True)
    channels = ", ".join(f"'{c}'" for c in _ELECTRICITY)
    table = con.sql(
        f"""
        WITH days AS (
            SELECT {AP}, {CHANNEL}, {TARIFF}, CAST(timezone('Europe/Brussels', {START}) AS DATE) AS {DAY},
                   sum({VALUE})::BIGINT AS {VALUE}, count(*)::BIGINT AS {QUARTERS},
                   count(*) FILTER (WHERE status = '{ReadingStatus.ESTIMATED.value}')::BIGINT AS {ESTIMATED}
            FROM current_month WHERE {CHANNEL} IN ({channels})
            GROUP BY ALL
        )
        SELECT {AP}, {CHANNEL}, {TARIFF},
               timezone('Europe/Brussels', CAST({DAY} AS TIMESTAMP)) AS {START},
               timezone('Europe/Brussels', CAST({DAY} + INTERVAL 1 DAY AS TIMESTAMP)) AS {END},
               {VALUE}, {QUARTERS}, {ESTIMATED}
        FROM days ORDER BY {AP}, {CHANNEL}, {TARIFF}, {START}
        """
    ).to_arrow_table()
    return table.cast(KEPT)


def _kept_at(source: dict[str, Any], version: str) -> bool:
    """Whether a kept month's source record names data ``version`` in the current :data:`FORMAT`."""
    return source.get("format") == FORMAT and source.get("data_version") == version


def _write(folder: Path, table: pa.Table, source: dict[str, Any]) -> None:
    """Write ``table`` (schema ``KEPT``, sorted by ap, channel, tariff, start) as the kept file of a month
    (module rules), then its source record."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SOURCE).unlink(missing_ok=True)  # stale until the new source is written
    (folder / "daily.parquet").unlink(missing_ok=True)  # the file of format 1
    temporary = folder / f".{FILE}.tmp"
    aps = table[AP].combine_chunks()
    rows = with_status(table.drop_columns([AP])).combine_chunks()
    firsts = [0, *(np.flatnonzero(_changes(aps)) + 1).tolist()] if len(aps) else []
    bounds = [*firsts, len(aps)]
    listed = "\n".join(aps.take(pa.array(firsts, pa.int64())).to_pylist()).encode("ascii")
    with (
        pa.OSFile(str(temporary), "wb") as sink,
        pa.ipc.new_file(sink, TOTALS, metadata={APS_KEY: listed}) as writer,
    ):
        for first, end in itertools.pairwise(bounds):
            writer.write_table(rows.slice(first, end - first))
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    temporary.replace(folder / FILE)
    write_json_atomic(folder / SOURCE, {"version": 1, "format": FORMAT, **source})


def _changes(aps: pa.Array) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Whether row ``i + 1`` holds another access point than row ``i``."""
    changed: np.ndarray[Any, np.dtype[np.bool_]] = pc.not_equal(
        aps.slice(1), aps.slice(0, len(aps) - 1)
    ).to_numpy(zero_copy_only=False)
    return changed


def kept_days(
    settings: Settings, store: MeterStore, ap: str, start: datetime, end: datetime
) -> pa.Table | None:
    """The kept daily totals of ``ap`` for the market days starting in [start, end) (schema ``TOTALS``,
    sorted by channel, tariff and start), None when a month of the range is not kept at the store's
    current data version."""
    parts = []
    for month in _months(start, end):
        folder = daily_dir(settings) / f"month={month}"
        if not _is_current(folder / SOURCE, store, month):
            return None
        rows = _rows_of(folder / FILE, ap)
        first, last = month_bounds(date.fromisoformat(f"{month}-01"))
        if start > first or end < last:  # a part of the month
            keep = pc.and_(
                pc.greater_equal(rows[START], pa.scalar(start, UTC_MICROS)),
                pc.less(rows[START], pa.scalar(end, UTC_MICROS)),
            )
            rows = rows.filter(keep)
        parts.append(rows)
    if len(parts) == 1:
        return parts[0]
    rows = pa.concat_tables(parts) if parts else TOTALS.empty_table()
    return rows.sort_by([(CHANNEL, "ascending"), (TARIFF, "ascending"), (START, "ascending")])


def with_status(totals: pa.Table) -> pa.Table:
    """``totals`` (channel … estimated) with the status of :class:`TotalStatus` (schema ``TOTALS``)."""
    estimates, quarters = totals[ESTIMATED], totals[QUARTERS]
    status = pc.if_else(
        pc.equal(estimates, 0),
        TotalStatus.MEASURED.value,
        pc.if_else(
            pc.equal(estimates, quarters), TotalStatus.ESTIMATED.value, TotalStatus.PARTLY_ESTIMATED.value
        ),
    )
    return totals.append_column("status", status).cast(TOTALS)


def _months(start: datetime, end: datetime) -> list[str]:
    """The local months ('YYYY-MM') of the market days starting in [start, end)."""
    from kwartier.domain.timegrid import BRUSSELS  # noqa: PLC0415

    first = start.astimezone(BRUSSELS).date().replace(day=1)
    last = (end - timedelta(microseconds=1)).astimezone(BRUSSELS).date()
    months = []
    while first <= last:
        months.append(f"{first:%Y-%m}")
        first = (first + timedelta(days=32)).replace(day=1)
    return months


def _is_current(source: Path, store: MeterStore, month: str) -> bool:
    """Whether the kept month whose source record is ``source`` was made from the store's current data."""
    try:
        status = source.stat()
    except FileNotFoundError:
        return False
    return _made_from(source, status.st_mtime_ns, status.st_size, store, store.generation, month)


@functools.lru_cache(maxsize=1024)
def _made_from(
    source: Path, mtime_ns: int, size: int, store: MeterStore, generation: int, month: str
) -> bool:
    """:func:`_is_current` for one version of the source record and one generation of the store's files
    (both are in the key: the answer is reused until either changes)."""
    return _kept_at(read_json(source), data_version(store, month))


class KeptMonth:
    """One version of a kept month file, memory-mapped, with its access points as a sorted array."""

    def __init__(self, path: Path) -> None:
        self._reader = pa.ipc.open_file(pa.memory_map(str(path)))
        listed = self._reader.metadata[APS_KEY] if self._reader.metadata else b""
        self.aps = np.array(listed.split(b"\n") if listed else [], dtype=bytes)
        self._lock = threading.Lock()  # one batch read at a time on the shared reader

    def rows_of(self, ap: str) -> pa.Table:
        """The rows of ``ap`` (schema ``TOTALS``), none when the month holds no value of it."""
        key = ap.encode("ascii")
        found = int(np.searchsorted(self.aps, key))
        if found == len(self.aps) or self.aps[found] != key:
            return TOTALS.empty_table()
        with self._lock:
            batch = self._reader.get_batch(found)  # views of the mapped file: no copy
        return pa.Table.from_batches([batch])


_OPEN: dict[Path, tuple[int, int, KeptMonth]] = {}
_OPENING = threading.Lock()


def _rows_of(path: Path, ap: str) -> pa.Table:
    """The rows of ``ap`` in a kept month file (the file is opened once per version: it is replaced,
    never changed in place, so its modification time and size name one version)."""
    status = path.stat()
    version = (status.st_mtime_ns, status.st_size)
    known = _OPEN.get(path)
    if known is None or known[:2] != version:
        with _OPENING:
            known = _OPEN.get(path)
            if known is None or known[:2] != version:
                known = (*version, KeptMonth(path))
                _OPEN[path] = known
    return known[2].rows_of(ap)
