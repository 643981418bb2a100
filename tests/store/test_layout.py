"""Partition layout: Brussels months, buckets, sorted files, and the DuckDB expressions a writer uses."""

from __future__ import annotations

import datetime as dt
import itertools
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

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


def test_row_groups_bound_their_number_by_growing() -> None:
    smallest, most = layout.ROW_GROUP_ROWS, layout.MAX_ROW_GROUPS
    assert layout.row_group_rows(0) == smallest
    assert layout.row_group_rows(smallest * most) == smallest
    assert layout.row_group_rows(smallest * most + 1) == smallest + 1
    assert layout.row_group_rows(46_562_500) == 22_736  # a leaf of 15,625 access points' month: 2,048 groups


def test_a_leaf_file_packs_whole_access_points_into_its_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout, "ROW_GROUP_ROWS", 10)
    monkeypatch.setattr(layout, "MAX_ROW_GROUPS", 4)
    lengths = [3, 7, 2, 30, 4, 4, 1, 9, 5, 6, 8]  # 79 rows: groups of up to 20 rows, one access point of 30
    aps = [f"{n:016x}" for n, length in enumerate(lengths) for _ in range(length)]
    starts = [datetime(2026, 10, 1, tzinfo=UTC) + dt.timedelta(minutes=15 * i) for i in range(len(aps))]
    table = pa.table(
        {
            "ap": aps,
            "channel": ["offtake"] * len(aps),
            "tariff": ["day"] * len(aps),
            "start": pa.array(starts, pa.timestamp("us", tz="UTC")),
            "minutes": pa.array([15] * len(aps), pa.int16()),
            "value": pa.array(range(len(aps)), pa.int64()),
            "status": ["measured"] * len(aps),
            "rule": pa.nulls(len(aps), pa.string()),
            "method": pa.nulls(len(aps), pa.string()),
            "batch": ["b1"] * len(aps),
            "recorded_at": pa.array([starts[-1]] * len(aps), pa.timestamp("us", tz="UTC")),
        }
    )
    path = tmp_path / "leaf.parquet"
    layout.write_leaf_file(layout.conform(table, layout.READINGS), layout.READINGS, path)
    parquet = pq.ParquetFile(path)
    groups = [parquet.read_row_group(i).column("ap").to_pylist() for i in range(parquet.num_row_groups)]
    # 3+7+2; the access point of 30 rows alone, split by the size: 20 + 10; 4+4+1+9; 5+6+8
    assert [len(g) for g in groups] == [12, 20, 10, 18, 19]
    assert list(itertools.chain.from_iterable(groups)) == aps
    for before, after in itertools.pairwise(groups):
        assert before[-1] != after[0] or len(set(before + after)) == 1  # split only within one access point
