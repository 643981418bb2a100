"""Where each row of the meter-data store lives, and how a leaf file is written.

Rules (design.md "meter-data store"):
- four datasets, each with its schema of :mod:`kwartier.schema`: ``readings``, ``registers``, ``peaks``
  and ``findings``;
- hive layout ``<dataset>/month=YYYY-MM/bucket=BB/<file>.parquet``: ``month`` is the Europe/Brussels
  calendar month of the row's time column (``start``, ``read_at``, ``month``, ``day``) and ``bucket``
  is :func:`~kwartier.store.pseudonym.bucket_of` of its ``ap``; the files themselves hold exactly the
  schema columns (no ``month``/``bucket`` column);
- inside a file the rows are sorted by access point, then channel, tariff and time, then version
  (``recorded_at``, ``batch``), so that row-group statistics on ``ap`` let a reader skip everything
  but one access point, and runs of equal values compress to almost nothing (zstd; the time column
  delta-encoded).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kwartier.domain.timegrid import BRUSSELS
from kwartier.schema import (
    AP,
    BATCH,
    CHANNEL,
    DAY,
    MINUTES,
    MONTH,
    READ_AT,
    RECORDED_AT,
    RULE,
    START,
    STORED_FINDINGS,
    STORED_PEAKS,
    STORED_READINGS,
    STORED_REGISTERS,
    TARIFF,
)
from kwartier.store.pseudonym import BUCKET_PREFIX_CHARS, bucket_of

# the partition columns a writer adds (hive directory names); never stored inside a file
PARTITION_MONTH: Final = "month"
PARTITION_BUCKET: Final = "bucket"

ROW_GROUP_ROWS: Final = 8_192
"""Rows of a row group, at least: whole access points are packed up to the size of
:func:`row_group_rows`."""
MAX_ROW_GROUPS: Final = 2_048
"""Row groups of a file, at most: a larger leaf gets larger row groups (see :func:`row_group_rows`)."""
ZSTD_LEVEL: Final = 6
_UTC = dt.UTC
_EPOCH_DAY = dt.date(1970, 1, 1)
_LEAF = re.compile(r"^month=(\d{4}-\d{2})$")
_BUCKET = re.compile(r"^bucket=(\d+)$")


@dataclass(frozen=True)
class Dataset:
    """A dataset of the store: its schema, the column its month comes from, and its sort order."""

    name: str
    schema: pa.Schema
    time_column: str
    sort_keys: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        """The schema's column names, in order."""
        return list(self.schema.names)


READINGS: Final = Dataset(
    "readings", STORED_READINGS, START, (AP, CHANNEL, TARIFF, START, MINUTES, RECORDED_AT, BATCH)
)
REGISTERS: Final = Dataset(
    "registers", STORED_REGISTERS, READ_AT, (AP, CHANNEL, TARIFF, READ_AT, RECORDED_AT, BATCH)
)
PEAKS: Final = Dataset("peaks", STORED_PEAKS, MONTH, (AP, MONTH, RECORDED_AT, BATCH))
FINDINGS: Final = Dataset("findings", STORED_FINDINGS, DAY, (AP, CHANNEL, DAY, RULE, RECORDED_AT, BATCH))
DATASETS: Final = {d.name: d for d in (READINGS, REGISTERS, PEAKS, FINDINGS)}


def dataset(name: str) -> Dataset:
    """The dataset called ``name``; ``KeyError`` with the known names otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"no dataset {name!r}; the store has {sorted(DATASETS)}") from None


def month_label(day: dt.date) -> str:
    """'YYYY-MM' of a calendar date."""
    return f"{day.year:04d}-{day.month:02d}"


def month_of_instant(instant: dt.datetime) -> str:
    """'YYYY-MM' of the Europe/Brussels calendar month that contains the aware ``instant``."""
    if instant.tzinfo is None:
        raise ValueError("a naive datetime has no month: give a time zone")
    return month_label(instant.astimezone(BRUSSELS).date())


def months_overlapping(start: dt.datetime, end: dt.datetime) -> set[str]:
    """Labels of the Brussels calendar months that overlap the instants [start, end)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("a naive datetime has no month: give a time zone")
    if end <= start:
        return set()
    first = start.astimezone(BRUSSELS).date().replace(day=1)
    last = (end - dt.timedelta(microseconds=1)).astimezone(BRUSSELS).date()
    return {month_label(m) for m in _month_firsts(first, last)}


def leaf_dir(dataset_name: str, month: str, bucket: int, buckets: int) -> str:
    """Relative directory of a leaf: ``<dataset>/month=YYYY-MM/bucket=BB`` (bucket zero-padded)."""
    width = max(2, len(str(buckets - 1)))
    return f"{dataset_name}/month={month}/bucket={bucket:0{width}d}"


def parse_leaf(file: Path) -> tuple[str, int]:
    """(month, bucket) from the two hive directories above ``file``; ``ValueError`` when not hive."""
    month_match = _LEAF.match(file.parent.parent.name)
    bucket_match = _BUCKET.match(file.parent.name)
    if month_match is None or bucket_match is None:
        raise ValueError(f"{file} is not in a month=YYYY-MM/bucket=N directory")
    return month_match.group(1), int(bucket_match.group(1))


def month_sql(ds: Dataset, value: str | None = None) -> str:
    """DuckDB expression of the partition month ('YYYY-MM', Brussels) of a row of ``ds``, or of
    ``value``: an SQL expression of the time column's type (or text that casts to it)."""
    column = ds.time_column if value is None else f"CAST({value} AS {time_type_sql(ds)})"
    if pa.types.is_timestamp(ds.schema.field(ds.time_column).type):
        return f"strftime(timezone('Europe/Brussels', {column}), '%Y-%m')"
    return f"strftime({column}, '%Y-%m')"


def time_type_sql(ds: Dataset) -> str:
    """DuckDB type of the time column of ``ds``: TIMESTAMPTZ (an instant) or DATE (a day or month)."""
    return "TIMESTAMPTZ" if pa.types.is_timestamp(ds.schema.field(ds.time_column).type) else "DATE"


def month_between_sql(column: str, first: dt.datetime, last: dt.datetime) -> str:
    """DuckDB expression of the partition month ('YYYY-MM', Brussels) of the instant in ``column``, for
    instants known to lie in [``first``, ``last``]: the same label as :func:`month_sql`, found by
    comparing with the UTC instants where the months between begin instead of converting each row to
    local time (a month begins at local midnight, which no Brussels clock change skips)."""
    labels = sorted(months_overlapping(first, last + dt.timedelta(microseconds=1)))
    branches = []
    for earlier, label in itertools.pairwise(labels):
        year, month = (int(part) for part in label.split("-"))
        begins = dt.datetime(year, month, 1, tzinfo=BRUSSELS).astimezone(_UTC)
        branches.append(f"WHEN {column} < TIMESTAMPTZ '{begins.isoformat()}' THEN '{earlier}'")
    if not branches:
        return f"'{labels[-1]}'"
    return f"CASE {' '.join(branches)} ELSE '{labels[-1]}' END"


def bucket_sql(buckets: int, column: str = AP) -> str:
    """DuckDB expression of :func:`~kwartier.store.pseudonym.bucket_of` of the pseudonym in ``column``
    (the row's ``ap`` by default)."""
    return f"(('0x' || substr({column}, 1, {BUCKET_PREFIX_CHARS}))::INTEGER % {int(buckets)})"


def partition_sql(ds: Dataset, buckets: int) -> str:
    """Select-list items a DuckDB writer appends to the schema columns: ``… AS month, … AS bucket``."""
    return f"{month_sql(ds)} AS {PARTITION_MONTH}, {bucket_sql(buckets)} AS {PARTITION_BUCKET}"


def conform(table: pa.Table, ds: Dataset) -> pa.Table:
    """``table`` with exactly the columns of ``ds`` in schema order, cast to the schema's types.

    Raises ``ValueError`` naming the missing columns, or a null in a non-nullable column.
    """
    missing = [name for name in ds.columns if name not in table.column_names]
    if missing:
        raise ValueError(f"{ds.name}: the table lacks the columns {missing}")
    for field in ds.schema:
        if not field.nullable and table.column(field.name).null_count:
            raise ValueError(f"{ds.name}: column {field.name!r} holds nulls")
    return table.select(ds.columns).cast(ds.schema)


def partition_keys(table: pa.Table, ds: Dataset, buckets: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per row of a conformed ``table``: (month index, bucket), and the month labels indexed.

    The month of an instant is found by binary search among the UTC starts of the Brussels months
    spanned by the column; the month of a date is its calendar month.
    """
    column = table.column(ds.time_column)
    if len(column) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), []
    if pa.types.is_timestamp(column.type):
        values = column.cast(pa.int64()).to_numpy()
        lo = _from_micros(int(values.min())).astimezone(BRUSSELS).date()
        hi = _from_micros(int(values.max())).astimezone(BRUSSELS).date()
        firsts = list(_month_firsts(lo.replace(day=1), hi))
        bounds = np.array([_micros(dt.datetime.combine(m, dt.time(), BRUSSELS)) for m in firsts], np.int64)
    else:
        values = column.cast(pa.int32()).to_numpy().astype(np.int64)
        lo = _EPOCH_DAY + dt.timedelta(days=int(values.min()))
        hi = _EPOCH_DAY + dt.timedelta(days=int(values.max()))
        firsts = list(_month_firsts(lo.replace(day=1), hi))
        bounds = np.array([(m - _EPOCH_DAY).days for m in firsts], np.int64)
    months = np.searchsorted(bounds, values, side="right") - 1
    encoded = pc.dictionary_encode(table.column(AP)).combine_chunks()
    bucket_per_ap = np.array([bucket_of(a, buckets) for a in encoded.dictionary.to_pylist()], np.int64)
    bucket_rows = bucket_per_ap[encoded.indices.to_numpy()]
    return months.astype(np.int64), bucket_rows, [month_label(m) for m in firsts]


def split_into_leaves(table: pa.Table, ds: Dataset, buckets: int) -> Iterator[tuple[str, int, pa.Table]]:
    """(month, bucket, rows sorted by ``ds.sort_keys``) for each leaf a conformed ``table`` touches.

    String columns of the yielded tables may be dictionary-encoded; :func:`write_leaf_file` takes them.
    """
    months, bucket_rows, labels = partition_keys(table, ds, buckets)
    if not labels:
        return
    encoded = _encode_strings(table)
    order = _sort_order(encoded, ds, leading=(months, bucket_rows))
    ordered = encoded.take(pa.array(order))
    leaf_key = (months * buckets + bucket_rows)[order]
    edges = [0, *(np.flatnonzero(np.diff(leaf_key)) + 1).tolist(), len(leaf_key)]
    for lo, hi in itertools.pairwise(edges):
        key = int(leaf_key[lo])
        yield labels[key // buckets], key % buckets, ordered.slice(lo, hi - lo)


def sort_rows(table: pa.Table, ds: Dataset) -> pa.Table:
    """Rows of ``table`` in the store's order for ``ds`` (all keys ascending; strings may be dictionaries)."""
    encoded = _encode_strings(table)
    return encoded.take(pa.array(_sort_order(encoded, ds, leading=())))


def sorted_by(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    """Rows of ``table`` ordered by ``columns`` ascending (strings by code point), stable; ``table``
    itself when it is in that order already (a store read usually is: the check costs less than Arrow's
    sort of text keys)."""
    order = np.lexsort([order_key(table.column(name)) for name in reversed(columns)])
    if bool((order == np.arange(len(order))).all()):
        return table
    return table.take(pa.array(order))


def _encode_strings(table: pa.Table) -> pa.Table:
    """``table`` in one chunk with its string columns dictionary-encoded (cheap to reorder)."""
    columns = [
        pc.dictionary_encode(column).combine_chunks() if pa.types.is_string(column.type) else column
        for column in table.columns
    ]
    return pa.table(columns, names=table.column_names).combine_chunks()


def _sort_order(table: pa.Table, ds: Dataset, leading: tuple[np.ndarray, ...]) -> np.ndarray:
    """Row order by the ``leading`` integer keys, then ``ds.sort_keys`` (strings by code point)."""
    keys = [*leading, *(order_key(table.column(name)) for name in ds.sort_keys)]
    return np.lexsort(keys[::-1])


def order_key(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Integers (int64) that order like the non-null values of ``column``; strings by code point."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_string(column.type):
        column = pc.dictionary_encode(column)
    if pa.types.is_dictionary(column.type):
        values = np.array(column.dictionary.to_pylist(), dtype=object)
        ranks = np.empty(len(values), np.int64)
        ranks[np.argsort(values, kind="stable")] = np.arange(len(values))
        key: np.ndarray = ranks[column.indices.to_numpy()]
        return key
    integer = pa.int32() if pa.types.is_date32(column.type) else pa.int64()
    return np.asarray(column.cast(integer).to_numpy(), dtype=np.int64)


def write_leaf_file(table: pa.Table, ds: Dataset, path: Path) -> None:
    """Write sorted rows of one leaf as Parquet: zstd, time columns delta-encoded, row groups of whole
    access points of :func:`row_group_rows` rows."""
    delta = [f.name for f in ds.schema if f.name == ds.time_column and pa.types.is_timestamp(f.type)]
    rows = table.set_column(0, AP, table.column(AP).cast(pa.string()))  # only this leaf's pseudonyms
    size = row_group_rows(rows.num_rows)
    with pq.ParquetWriter(
        path,
        ds.schema,
        compression="zstd",
        compression_level=ZSTD_LEVEL,
        use_dictionary=[name for name in ds.columns if name not in delta],
        column_encoding=dict.fromkeys(delta, "DELTA_BINARY_PACKED"),
        write_statistics=True,
        store_schema=False,  # readers see the Parquet types, not the dictionaries used while sorting
        sorting_columns=[pq.SortingColumn(ds.columns.index(key)) for key in ds.sort_keys],
    ) as writer:
        for lo, hi in _row_groups(rows.column(AP), size):
            writer.write_table(rows.slice(lo, hi - lo).cast(ds.schema), row_group_size=size)


def row_group_rows(rows: int) -> int:
    """Rows per row group of a file of ``rows`` rows: :data:`ROW_GROUP_ROWS`, or more where the file
    would otherwise have more than :data:`MAX_ROW_GROUPS` row groups.

    Small row groups let a one-access-point read decode little more than that access point's rows; but
    a reader pays per row group too: DuckDB about 55 µs per row group even for one column, and a reader
    that opens the file parses every row group's footer entry. Measured on one leaf of 15,625 access
    points (46.6 M rows, a month of a million access points in 64 buckets): with 8,192-row groups (7,813
    groups) ``monthly_peaks`` took 2.5 s and a first read of one access point 67 ms (its footer); with
    the bound (2,233 groups of whole access points up to 22,736 rows) 1.5 s and 24 ms, while a read with
    the footer known took 3.3 ms instead of 2.3 ms. Whole access points are packed, so a file may have
    a few more groups than the bound. A leaf of up to 16.8 M rows keeps 8,192-row groups (the 20,000
    access-point-years of the read benchmark have about 0.9 M rows per leaf).
    """
    return max(ROW_GROUP_ROWS, -(-rows // MAX_ROW_GROUPS))


def _row_groups(aps: pa.ChunkedArray, size: int) -> Iterator[tuple[int, int]]:
    """[lo, hi) row ranges of the row groups: whole access points packed up to ``size`` rows.

    An access point never shares a row group with part of another, so that the ``ap`` statistics of
    a row group name exactly the access points in it (one with more rows gets several groups).
    """
    encoded = pc.dictionary_encode(aps).combine_chunks().indices.to_numpy()
    runs = [0, *(np.flatnonzero(np.diff(encoded)) + 1).tolist(), len(encoded)]
    lo = 0
    for run_start, run_end in itertools.pairwise(runs):
        if run_start > lo and run_end - lo > size:
            yield lo, run_start
            lo = run_start
    if runs[-1] > lo:
        yield lo, runs[-1]


def _month_firsts(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    """First days of the months from the month of ``first`` to the month of ``last``, inclusive."""
    month = first.replace(day=1)
    while month <= last:
        yield month
        month = (month + dt.timedelta(days=32)).replace(day=1)


def _micros(instant: dt.datetime) -> int:
    delta = instant.astimezone(_UTC) - dt.datetime(1970, 1, 1, tzinfo=_UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(micros: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=_UTC) + dt.timedelta(microseconds=micros)
