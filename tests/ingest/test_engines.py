"""The files the ingest writes read the same in DuckDB, Polars and Spark (issue "Measurement data chain"
§6). The ingest builds them from DuckDB ENUMs; each engine must see the words as text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import polars as pl
import pytest

from kwartier.capture.ingest import ingest_paths
from kwartier.config import Settings
from kwartier.engine import local_spark_session
from kwartier.store.store import MeterStore
from tests.ingest.conftest import Region

RECORDED = datetime(2026, 11, 20, 3, tzinfo=UTC)
WORDS = ["ap", "channel", "tariff", "status", "rule", "method", "batch"]
Row = tuple[Any, ...]


def ingested_files(home: Settings, region: Region) -> list[str]:
    [report] = ingest_paths(
        home, [region.folder / region.files("intervals")[0]["file"]], recorded_at=RECORDED
    )
    assert report.accepted > 0 and report.rejected > 0  # rule and status words of both kinds
    return [str(p) for p in MeterStore.open(home.store_dir).files("readings")]


def by_duckdb(files: list[str]) -> list[Row]:
    listed = ", ".join(f"'{f}'" for f in files)
    rows = duckdb.connect().execute(
        f"SELECT {', '.join(WORDS)}, epoch(start)::BIGINT, minutes, value FROM read_parquet([{listed}])"
    )
    return sorted(rows.fetchall(), key=repr)


@pytest.mark.spark
def test_duckdb_polars_and_spark_read_the_same_words(home: Settings, region: Region) -> None:
    files = ingested_files(home, region)
    expected = by_duckdb(files)
    assert {row[1] for row in expected} >= {"offtake", "injection"}
    frame = pl.scan_parquet(files, hive_partitioning=False).collect()
    assert all(frame[word].dtype == pl.String for word in WORDS)
    by_polars = frame.select(
        *WORDS, pl.col("start").dt.epoch("s"), pl.col("minutes").cast(pl.Int64), "value"
    ).rows()
    assert sorted(by_polars, key=repr) == expected
    spark = local_spark_session().read.parquet(*files)
    assert all(dict(spark.dtypes)[word] == "string" for word in WORDS)
    by_spark = [
        tuple(row)
        for row in spark.selectExpr(
            *WORDS, "CAST(unix_timestamp(start) AS BIGINT)", "minutes", "value"
        ).collect()
    ]
    assert sorted(by_spark, key=repr) == expected
