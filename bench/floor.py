"""The least any ingest of a head-end day must do, timed on this machine: is the ingest bar reachable?

``python -m bench.floor [--access-points 1000000] [--json]``

Issue "Measurement data chain" asks ≥ 2,000,000 readings/s and at most 4× DuckDB's bare ``read_csv`` for a
head-end export → validated → stored. Whatever else it checks, an ingest must at least read every field
of every row, give each its type, keep one row per interval (duplicates inside a delivery are a fault the
issue names; conflicting copies must be found) and write the rows to Parquet. This benchmark times that
skeleton alone, on the file and machine of ``bench.run``, in DuckDB, in Polars, and in Polars in two
passes over buckets (as the ingest bounds its memory):

- ``read_csv``: DuckDB's bare scan of every field as text (``bench.run``'s baseline);
- ``typed``: the file read with its columns' types (rows that do not fit are skipped, not reported);
- ``deduplicated``: typed, grouped by interval (EAN, channel, tariff, start, minutes: lowest and highest
  value, strongest status) and written to one Parquet file (zstd), unsorted;
- ``sorted``: the same, sorted by EAN, channel, tariff and start, as the store's files are.

In buckets (no ``typed`` line): the typed rows are first spread over 64 Parquet buckets by EAN, then two
buckets at a time are grouped and written, one file per two buckets.

No check, registry join, pseudonym, quarantine or batch bookkeeping: a real ingest costs more than each
line. When a line is above the bar's time, no ingest on that engine and machine can meet the bar.
DuckDB runs with the ingest's memory limit (3 GB); Polars with its streaming engine and no limit. Each
engine runs in a process of its own, whose peak resident memory is reported (the ingest's bar: 4 GiB).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from bench.run import OUT, baseline_read_csv, first_delivery
from kwartier.capture.headend import INTERVAL_HEADER

BAR_READINGS_PER_SECOND = 2_000_000
BAR_RATIO = 4
KEY = ["ean", "channel", "tariff", "start", "minutes"]
ORDER = ["ean", "channel", "tariff", "start"]
BUCKETS = 64
GROUP_BUCKETS = 2
DUCKDB_TYPES = {
    "ean": "UBIGINT",
    "meter": "VARCHAR",
    "channel": "VARCHAR",
    "tariff": "VARCHAR",
    "start": "TIMESTAMPTZ",
    "minutes": "SMALLINT",
    "value": "BIGINT",
    "unit": "VARCHAR",
    "status": "VARCHAR",
}


def _seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def duckdb_floor(file: Path, scratch: Path) -> dict[str, float]:
    """Seconds of the typed read, and of the deduplicated write unsorted and sorted, in DuckDB."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET memory_limit = '3GB'")
    con.execute(f"SET temp_directory = '{scratch / 'duckdb'}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    columns = ", ".join(f"'{name}': '{kind}'" for name, kind in DUCKDB_TYPES.items())
    source = (
        f"read_csv('{file}', header = true, columns = {{{columns}}}, auto_detect = false, "
        "ignore_errors = true)"
    )
    grouped = (
        f"SELECT {', '.join(KEY)}, min(value) AS low, max(value) AS high, max(status) AS status "
        f"FROM {source} GROUP BY ALL"
    )
    target = scratch / "duckdb.parquet"
    return {
        "typed": _seconds(
            lambda: con.execute(f"SELECT count(*), max(ean), max(start), max(value) FROM {source}")
        ),
        "deduplicated": _seconds(
            lambda: con.execute(f"COPY ({grouped}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
        ),
        "sorted": _seconds(
            lambda: con.execute(
                f"COPY ({grouped} ORDER BY {', '.join(ORDER)}) TO '{target}' "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
        ),
    }


def _polars_typed(file: Path) -> pl.LazyFrame:
    """The file's rows with their types, lazily (a field that does not fit its type is null)."""
    text = dict.fromkeys(INTERVAL_HEADER.split(","), pl.String)
    return pl.scan_csv(file, schema=text).with_columns(
        pl.col("ean").cast(pl.UInt64, strict=False),
        pl.col("start").str.to_datetime("%Y-%m-%dT%H:%M:%S%z", strict=False),
        pl.col("minutes").cast(pl.Int16, strict=False),
        pl.col("value").cast(pl.Int64, strict=False),
        pl.col("channel").cast(pl.Categorical),
        pl.col("tariff").cast(pl.Categorical),
    )


def _polars_grouped(rows: pl.LazyFrame) -> pl.LazyFrame:
    """One row per interval: lowest and highest value, strongest status."""
    return rows.group_by(KEY).agg(
        pl.col("value").min().alias("low"), pl.col("value").max().alias("high"), pl.col("status").max()
    )


def polars_floor(file: Path, scratch: Path) -> dict[str, float]:
    """The same three lines in Polars (lazy scan, streaming sink), the whole file in one grouping."""
    typed = _polars_typed(file)
    grouped = _polars_grouped(typed)
    target = scratch / "polars.parquet"
    return {
        "typed": _seconds(
            lambda: typed.select(
                pl.len(), pl.col("ean").max(), pl.col("start").max(), pl.col("value").max()
            ).collect(engine="streaming")
        ),
        "deduplicated": _seconds(lambda: grouped.sink_parquet(target, compression="zstd")),
        "sorted": _seconds(lambda: grouped.sort(ORDER).sink_parquet(target, compression="zstd")),
    }


def polars_bucketed_floor(file: Path, scratch: Path) -> dict[str, float]:
    """Polars in two passes, as the ingest bounds its memory: the typed rows spread over
    :data:`BUCKETS` Parquet buckets by EAN, then :data:`GROUP_BUCKETS` buckets at a time grouped and
    written, unsorted and sorted (each line includes the spreading)."""
    buckets = scratch / "buckets"
    spread = _seconds(
        lambda: (
            _polars_typed(file)
            .with_columns(bucket=pl.col("ean") % BUCKETS)
            .sink_parquet(
                pl.PartitionBy(buckets, key="bucket", include_key=False), compression="lz4", mkdir=True
            )
        )
    )

    def groups(sort: bool) -> None:
        for first in range(0, BUCKETS, GROUP_BUCKETS):
            files = [
                part
                for bucket in range(first, first + GROUP_BUCKETS)
                for part in (buckets / f"bucket={bucket}").glob("*.parquet")
            ]
            if files:
                grouped = _polars_grouped(pl.scan_parquet(files))
                (grouped.sort(ORDER) if sort else grouped).sink_parquet(
                    scratch / f"group-{first}.parquet", compression="zstd"
                )

    return {
        "deduplicated": spread + _seconds(lambda: groups(False)),
        "sorted": spread + _seconds(lambda: groups(True)),
    }


def _in_child(floor: Callable[[Path, Path], dict[str, float]], file: Path, scratch: Path) -> dict[str, float]:
    """``floor`` in this (child) process, with the process's peak resident memory in MiB."""
    seconds = floor(file, scratch)
    return {**seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child(floor: Callable[[Path, Path], dict[str, float]], file: Path, scratch: Path) -> dict[str, float]:
    """Run ``floor`` in a fresh process of its own, so that its peak memory is its own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_in_child, floor, file, scratch).result()


def run(access_points: int) -> dict[str, Any]:
    """Time the skeleton on the first head-end delivery of the simulated day of ``access_points``."""
    _, file, first = first_delivery(access_points)
    readings = int(first["lines"])
    scratch = OUT / "floor"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        read_csv = baseline_read_csv(file)
        engines = {
            "duckdb": _child(duckdb_floor, file, scratch),
            "polars": _child(polars_floor, file, scratch),
            "polars in buckets": _child(polars_bucketed_floor, file, scratch),
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    bar = min(readings / BAR_READINGS_PER_SECOND, BAR_RATIO * read_csv)
    return {
        "file": str(file),
        "readings": readings,
        "read_csv_seconds": round(read_csv, 2),
        "bar_seconds": round(bar, 2),
        "peak_mib": {engine: round(lines.pop("peak_mib")) for engine, lines in engines.items()},
        "engines": {
            engine: {
                line: {
                    "seconds": round(seconds, 2),
                    "readings_per_second": round(readings / seconds),
                    "ratio_to_read_csv": round(seconds / read_csv, 2),
                    "within_bar": seconds <= bar,
                }
                for line, seconds in lines.items()
            }
            for engine, lines in engines.items()
        },
    }


def main() -> None:
    """Print the skeleton's times against the bar (a table, or JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--access-points", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    result = run(arguments.access_points)
    if arguments.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{result['readings']:,} readings; DuckDB read_csv {result['read_csv_seconds']} s; the bar allows "
        f"{result['bar_seconds']} s (≥ {BAR_READINGS_PER_SECOND:,} readings/s and ≤ {BAR_RATIO}× read_csv)"
    )
    for engine, lines in result["engines"].items():
        print(f"{engine}: peak resident memory {result['peak_mib'][engine]:,} MiB")
        for line, figures in lines.items():
            verdict = "within the bar" if figures["within_bar"] else "over the bar"
            print(
                f"{engine:17s} {line:13s} {figures['seconds']:7.2f} s  {figures['readings_per_second']:>11,} "
                f"readings/s  {figures['ratio_to_read_csv']:5.2f}× read_csv  {verdict}"
            )


if __name__ == "__main__":
    main()
