"""Kept daily totals of electricity: per access point, channel, tariff period and market day, computed once
per data version so that the portal and the API serve daily and monthly values without re-reading and
re-summing every quarter hour (issue 6: 300 requests/s of daily data).

Rules:
- the totals are those of :func:`kwartier.exposure.export.aggregate` at granularity day, of the current
  readings as known when computed: the same value, quarters, estimated count and status (tested equal);
  electricity only (offtake and injection; a gas day runs across the store's months, gas is summed live);
- they live in ``<home>/daily/month=YYYY-MM/daily.parquet`` with its ``source.json`` (data version: the
  SHA-256 of the store files of the month, :func:`kwartier.billing.billing_data.data_version`), keyed by
  the pseudonym ``ap`` and sorted by it, in small row groups, so one access point's month is one row group;
- a reader uses a month only when its kept data version equals the store's current one; otherwise it
  gets None and sums live (the answer is the same, only slower). ``kwartier daily-refresh`` (and the demo)
  recompute the months whose version changed; the write is atomic, ``source.json`` last.
"""

from __future__ import annotations

import bisect
import functools
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kwartier.billing.billing_data import data_version
from kwartier.billing.months import month_bounds
from kwartier.config import Settings
from kwartier.domain.channels import Channel, ReadingStatus
from kwartier.exposure.export import END, ESTIMATED, QUARTERS, TOTALS, TotalStatus
from kwartier.schema import AP, CHANNEL, START, TARIFF, UTC_MICROS, VALUE
from kwartier.store.manifest import read_json, write_json_atomic
from kwartier.store.store import MeterStore

FILE: Final = "daily.parquet"
SOURCE: Final = "source.json"
ROW_GROUP_ROWS: Final = 4_096
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
        if (folder / SOURCE).exists() and read_json(folder / SOURCE).get("data_version") == version:
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


def _write(folder: Path, table: pa.Table, source: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SOURCE).unlink(missing_ok=True)  # stale until the new source is written
    temporary = folder / f".{FILE}.tmp"
    pq.write_table(table, temporary, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    temporary.replace(folder / FILE)
    write_json_atomic(folder / SOURCE, {"version": 1, **source})


def kept_days(
    settings: Settings, store: MeterStore, ap: str, start: datetime, end: datetime
) -> pa.Table | None:
    """The kept daily totals of ``ap`` for the market days starting in [start, end) (schema ``TOTALS``),
    None when a month of the range is not kept at the store's current data version."""
    parts = []
    for month in _months(start, end):
        folder = daily_dir(settings) / f"month={month}"
        if not _is_current(folder / SOURCE, store, month):
            return None
        parts.append(_rows_of(folder / FILE, ap))
    rows = pa.concat_tables(parts) if parts else KEPT.empty_table()
    keep = pc.and_(
        pc.greater_equal(rows[START], pa.scalar(start, UTC_MICROS)),
        pc.less(rows[START], pa.scalar(end, UTC_MICROS)),
    )
    rows = rows.filter(keep).sort_by([(CHANNEL, "ascending"), (TARIFF, "ascending"), (START, "ascending")])
    return with_status(rows.drop_columns([AP]))


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
    return bool(read_json(source).get("data_version") == data_version(store, month))


def _rows_of(path: Path, ap: str) -> pa.Table:
    """The rows of ``ap`` in a kept month file: only the row groups whose statistics can hold it (the
    file's footer and its ``ap`` ranges are read once per version of the file)."""
    status = path.stat()
    metadata, lows, highs = _footer(path, status.st_mtime_ns, status.st_size)
    groups = []
    group = bisect.bisect_left(highs, ap)  # the file is sorted by ap: earlier groups end before it
    while group < len(lows) and lows[group] <= ap:
        groups.append(group)
        group += 1
    if not groups:
        return KEPT.empty_table()
    with pa.OSFile(str(path)) as source:  # a local file: no file-system resolution of the path
        rows = pq.ParquetFile(source, metadata=metadata).read_row_groups(groups).cast(KEPT)
    return rows.filter(pc.equal(rows[AP], ap))


@functools.lru_cache(maxsize=256)
def _footer(path: Path, mtime_ns: int, size: int) -> tuple[pq.FileMetaData, list[str], list[str]]:
    """The footer of a kept file and the ``ap`` range of each row group (the file is replaced, never
    changed in place, so its modification time and size name one version)."""
    metadata = pq.ParquetFile(path).metadata
    lows, highs = [], []
    for i in range(metadata.num_row_groups):
        stats = metadata.row_group(i).column(0).statistics
        lows.append(stats.min if stats is not None and stats.has_min_max else "")
        highs.append(stats.max if stats is not None and stats.has_min_max else "\uffff")
    return metadata, lows, highs
