"""Partition layout: Brussels months, buckets, sorted files, and the DuckDB expressions a writer uses."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from kwartier.store import layout
from kwartier.store.pseudonym import bucket_of
from kwartier.store.store import MeterStore

from .conftest import commit_table, quarters, readings

# last quarter of January and first of February in Brussels (UTC+1): 2026-01-31T22:45Z and 23:00Z
EDGE = [datetime(2026, 1, 31, 22, 45, tzinfo=UTC), datetime(2026, 1, 31, 23, 0, tzinfo=UTC)]


def test_month_follows_brussels_calendar_not_utc() -> None:
    assert layout.month_of_instant(EDGE[0]) == "2026-01"
    assert layout.month_of_instant(EDGE[1]) == "2026-02"  # still January in UTC
    summer = datetime(2026, 6, 30, 22, 0, tzinfo=UTC)  # 2026-07-01 00:00 CEST
    assert layout.month_of_instant(summer) == "2026-07"
    assert layout.months_overlapping(EDGE[0], EDGE[1]) == {"2026-01"}
    assert layout.months_overlapping(EDGE[0], summer) == {f"2026-0{m}" for m in range(1, 7)}


def test_python_and_duckdb_partition_expressions_agree(aps: list[str]) -> None:
    starts = [*EDGE, datetime(2026, 3, 31, 21, 45, tzinfo=UTC), datetime(2026, 3, 31, 22, 0, tzinfo=UTC)]
    table = readings(aps, starts, batch="b", recorded_at=EDGE[1])
    months, buckets, labels = layout.partition_keys(table, layout.READINGS, 8)
    python = [(labels[m], int(b)) for m, b in zip(months, buckets, strict=True)]
    con = duckdb.connect()
    con.register("t", table)
    sql = con.sql(f"SELECT {layout.partition_sql(layout.READINGS, 8)} FROM t").fetchall()
    assert python == [(m, int(b)) for m, b in sql]
    assert {m for m, _ in python} == {"2026-01", "2026-02", "2026-03", "2026-04"}
    assert [b for _, b in python] == [bucket_of(ap, 8) for ap in table.column("ap").to_pylist()]


def test_date_datasets_partition_by_calendar_month() -> None:
    table = pa.table(
        {"day": pa.array([dt.date(2026, 1, 31), dt.date(2026, 2, 1)], pa.date32()), "ap": ["0001", "0002"]}
    )
    months, buckets, labels = layout.partition_keys(table, layout.FINDINGS, 64)
    assert [labels[m] for m in months] == ["2026-01", "2026-02"]
    assert buckets.tolist() == [1, 2]


def test_files_land_in_hive_leaves_sorted_and_schema_exact(store: MeterStore, aps: list[str]) -> None:
    starts = quarters(EDGE[0], 3)
    table = readings(
        aps[::-1], starts[::-1], batch="b1", recorded_at=EDGE[1], channels=("offtake", "injection")
    )
    commit_table(store, "b1", table)
    files = store.files("readings")
    assert files
    for path in files:
        relative = path.relative_to(store.root)
        assert relative.parts[0] == "readings"
        month, bucket = layout.parse_leaf(path)
        assert relative.parts[1:3] == (f"month={month}", f"bucket={bucket:02d}")
        assert path.name.startswith("b1-")
        content = pq.read_table(path)
        assert content.schema.names == layout.READINGS.columns  # no month/bucket column inside
        assert {bucket_of(ap, store.buckets) for ap in content.column("ap").to_pylist()} == {bucket}
        assert {layout.month_of_instant(s) for s in content.column("start").to_pylist()} == {month}
        keys = list(zip(*(content.column(k).to_pylist() for k in layout.READINGS.sort_keys), strict=True))
        assert keys == sorted(keys)
    assert sum(pq.read_metadata(p).num_rows for p in files) == table.num_rows


def test_sorted_by_orders_like_arrow_and_keeps_a_sorted_table() -> None:
    table = pa.table(
        {
            "channel": ["offtake", "injection", "offtake", "injection", "offtake"],
            "tariff": ["night", "day", "day", "day", "day"],
            "start": [3, 2, 1, 1, 1],
            "value": [10, 20, 30, 40, 50],  # the last two rows tie: a stable sort keeps their order
        }
    )
    keys = ("channel", "tariff", "start")
    expected = table.sort_by([(key, "ascending") for key in keys])
    ordered = layout.sorted_by(table, keys)
    assert ordered.equals(expected)
    assert layout.sorted_by(ordered, keys) is ordered
