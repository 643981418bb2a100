"""DuckDB, Polars and Spark read the same committed rows, with nothing downloaded at run time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import polars as pl
import pytest

from kwartier.store.store import MeterStore

from .conftest import T0, commit_table, quarters, readings


@pytest.fixture
def filled(store: MeterStore, aps: list[str]) -> MeterStore:
    commit_table(store, "b1", readings(aps, quarters(T0, 8), batch="b1", recorded_at=T0, value=3))
    commit_table(store, "b2", readings(aps[:3], quarters(T0, 4), batch="b2", recorded_at=T0, value=1000))
    return store


def _expected(aps: list[str]) -> tuple[int, int]:
    """(rows, sum of value) by hand: 12 aps × 8 quarters × (3..10) plus 3 aps × 4 quarters × (1000..1003)."""
    return 12 * 8 + 3 * 4, 12 * sum(range(3, 11)) + 3 * sum(range(1000, 1004))


def test_duckdb_and_polars_read_the_same_rows(filled: MeterStore, aps: list[str]) -> None:
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false")
    by_duckdb = filled.relation(con, "readings").aggregate("count(*), sum(value)").fetchall()[0]
    paths = [str(p) for p in filled.files("readings")]
    by_polars = (
        pl.scan_parquet(paths, hive_partitioning=False).select(pl.len(), pl.col("value").sum()).collect()
    )
    assert tuple(by_duckdb) == _expected(aps)
    assert tuple(by_polars.row(0)) == _expected(aps)
    frame = pl.scan_parquet(paths, hive_partitioning=False).collect()
    assert frame.columns == filled.relation(con, "readings").columns
    assert frame["start"].dtype == pl.Datetime("us", "UTC")
    assert frame["start"].min() == datetime(2026, 1, 31, 23, 0, tzinfo=UTC)


@pytest.mark.spark
def test_spark_reads_the_same_rows(filled: MeterStore, aps: list[str], spark: Any) -> None:
    frame = spark.read.parquet(*[str(p) for p in filled.files("readings")])
    row = frame.selectExpr("count(*) AS n", "sum(value) AS total").collect()[0]
    assert (row["n"], row["total"]) == _expected(aps)
    assert "month" not in frame.columns and "bucket" not in frame.columns
