"""Benchmark of the capacity-tariff peaks (issue "Billing data"), see bench/README.md.

``python -m bench.billing [--access-points N] [--spark-access-points N] [--json]`` measures, for one month
of quarter-hour offtake of N access points (October 2026: 2,980 quarters, with the DST change), the
monthly peaks and the billing peaks (with 11 earlier months of kept monthly peaks) on DuckDB, and on local
PySpark for a subset; the baseline is DuckDB's bare scan of the same Parquet files, measured in the same
run. The data is generated once per size into ``bench/out/billing-<N>/`` and kept.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from kwartier.billing.billing_data import month_backend
from kwartier.billing.capacity import (
    billing_peaks,
    decode_peaks,
    monthly_peaks,
    peak_candidates,
    peaks_from_candidates,
)
from kwartier.billing.months import QUARTER_SECONDS, month_bounds, month_index, quarter_index
from kwartier.config import EngineName
from kwartier.engine import DUCKDB_MEMORY_LIMIT, connect, load, local_spark_session, to_arrow
from kwartier.store import layout

OUT = Path(__file__).resolve().parent / "out"
MONTH = date(2026, 10, 1)
CHUNK = 15_625  # access points per Parquet file: one leaf of a month of a million in 64 buckets
OTHER_CLOCK_SHARE = 1_000  # one access point in this many registers day and night on its own clock
CORRECTED_SHARE = 200  # one access point in this many has a day corrected after the month's compaction
DATA_FORMAT = "3"  # written into the marker ``done``: data of another format is generated anew
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)  # the moment of the billing refresh
_AP = "printf('%08x', a) || md5(a::VARCHAR)[:8]"  # 16 hex digits that sort like the access point number


def generate(access_points: int) -> tuple[list[Path], Path]:
    """Parquet files of one month of offtake quarters (columns of the store's readings) and a file of
    11 earlier monthly peaks per access point; generated once per size.

    Per :data:`CHUNK` access points, ``month-NNN.parquet`` is what compaction leaves of a leaf of the
    month: the current versions, written by the store's own writer (sorted, its row groups; the history
    file is not read for current values), and ``correction-NNN.parquet`` a batch committed after it: one
    access point in :data:`CORRECTED_SHARE` gets one day re-delivered with other values, a second version
    of 96 quarters.
    """
    folder = OUT / f"billing-{access_points}"
    done = folder / "done"
    if not done.exists() or done.read_text() != DATA_FORMAT:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        start, end = month_bounds(MONTH)
        first, quarters = quarter_index(start), quarter_index(end) - quarter_index(start)
        change = quarter_index(datetime(2026, 10, 25, 1, tzinfo=UTC))
        con = duckdb.connect()
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'; SET TimeZone = 'UTC'")
        local = f"q + CASE WHEN q < {change} THEN 8 ELSE 4 END"
        day = f"(({local}) - 384) % 672 < 480 AND ({local}) % 96 BETWEEN 28 AND 87"
        tariff = f"CASE WHEN a % {OTHER_CLOCK_SHARE} = 0 OR {day} THEN 'day' ELSE 'night' END"

        def write(aps: str, quarters: str, value: str, status: str, version: str, to: str) -> None:
            """Write the offtake quarters ``q`` of ``quarters`` for the access points ``a`` of ``aps`` as
            the store writes a leaf: sorted, with the store's writer and row groups."""
            rows = con.sql(
                f"""WITH aps AS ({aps}), quarters AS (SELECT a, ap, {quarters} AS q FROM aps)
                SELECT ap, 'offtake' AS channel, {tariff} AS tariff,
                       make_timestamptz(q * {QUARTER_SECONDS * 1_000_000}) AS start, 15::SMALLINT AS minutes,
                       ({value})::BIGINT AS value, {status} AS status, NULL::VARCHAR AS rule,
                       NULL::VARCHAR AS method, {version}
                FROM quarters ORDER BY ap, tariff, start"""
            ).to_arrow_table()
            layout.write_leaf_file(layout.conform(rows, layout.READINGS), layout.READINGS, folder / to)

        for chunk in range(0, access_points, CHUNK):
            size = min(CHUNK, access_points - chunk)
            aps = f"SELECT a, {_AP} AS ap FROM range({chunk}, {chunk + size}) t(a)"
            write(
                aps,
                f"unnest(range({first}, {first + quarters}))",
                f"hash(a * 7919 + q) % (CASE WHEN {day} THEN 700 ELSE 400 END)",
                "CASE WHEN hash(a * 31 + q) % 2000 = 0 THEN 'estimated' ELSE 'measured' END",
                "'bench' AS batch, TIMESTAMPTZ '2026-11-02 03:00:00+00' AS recorded_at",
                f"month-{chunk // CHUNK:03d}.parquet",
            )
            write(
                f"{aps} WHERE a % {CORRECTED_SHARE} = 7",
                f"{first} + 96 * (a % 30) + unnest(range(96))",
                "hash(a * 104729 + q) % 500",
                "'measured'",
                "'bench-correction' AS batch, TIMESTAMPTZ '2026-11-20 04:00:00+00' AS recorded_at",
                f"correction-{chunk // CHUNK:03d}.parquet",
            )
        con.execute(
            f"""COPY (SELECT {_AP} AS ap, {month_index(MONTH)} - m AS month_index,
                       (hash(a * 13 + m) % 9000)::BIGINT AS peak_w
                FROM range({access_points}) t(a), range(1, 12) s(m))
                TO '{folder}/history.parquet' (FORMAT parquet, COMPRESSION zstd)"""
        )
        con.close()
        done.write_text(DATA_FORMAT)
    files = sorted(folder.glob("month-*.parquet")) + sorted(folder.glob("correction-*.parquet"))
    return files, folder / "history.parquet"


def _listed(files: list[Path]) -> str:
    return "[" + ", ".join(f"'{f}'" for f in files) + "]"


def baseline_scan(files: list[Path]) -> float:
    """Seconds DuckDB needs for a bare scan of the files: every row's access point and value."""
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    started = time.perf_counter()
    con.execute(f"SELECT count(DISTINCT ap), sum(value) FROM read_parquet({_listed(files)})").fetchall()
    return time.perf_counter() - started


def billed(backend: Any, monthly: pa.Table, history: Any) -> int:
    """Billing peaks of the month over the kept history and the month's peaks; their number."""
    kept = history.union(load(backend, monthly.select(["ap", "month_index", "peak_w"])))
    return int(to_arrow(billing_peaks(kept, "ap", [MONTH])).num_rows)


def run_peaks(backend: Any, readings: Any, history: Any) -> tuple[pa.Table, int]:
    """Monthly peaks of the month in one pass over every file, and the number of billing peaks."""
    monthly = decode_peaks(monthly_peaks(backend, readings, "ap", [MONTH], as_of=AS_OF))
    return monthly, billed(backend, monthly, history)


def candidates(backend: Any, files: list[Path]) -> list[tuple[Any, pa.Table]]:
    """Per file its rows and peak candidates, as ``kwartier billing-refresh`` keeps them: every file holds
    one version per value (a compaction's current file, a batch's file)."""
    parts = []
    for file in files:
        rows = backend.read_parquet(file)
        parts.append((rows, peak_candidates(backend, rows, "ap", [MONTH], spans=True, one_version=True)))
    return parts


def combined_peaks(
    backend: Any, kept: list[tuple[Any, pa.Table]], corrections: list[Path], history: Any
) -> tuple[pa.Table, int]:
    """The month's peaks from the ``kept`` parts and the correction files' candidates, and the number of
    billing peaks."""
    parts = kept + candidates(backend, corrections)
    peaks = decode_peaks(peaks_from_candidates(backend, parts, "ap", [MONTH], as_of=AS_OF))
    return peaks, billed(backend, peaks, history)


def bench_duckdb(files: list[Path], history: Path) -> dict[str, Any]:
    """The month three ways, each on its own backend as ``kwartier billing-refresh`` opens one per month
    (:func:`~kwartier.billing.billing_data.month_backend`): one pass over every file; each file's
    candidates, combined (a refresh that kept nothing); and the refresh after the correction batch, the
    month files' candidates kept from the run before (their views opened again, as a new refresh does)."""
    with month_backend() as backend:
        backend.raw_sql(f"CREATE TEMP VIEW readings AS SELECT * FROM read_parquet({_listed(files)})")
        readings, kept_history = backend.table("readings"), backend.read_parquet(history)
        started = time.perf_counter()
        peaks, billing = run_peaks(backend, readings, kept_history)
        one_pass = time.perf_counter() - started
    month_files = [f for f in files if f.name.startswith("month-")]
    corrections = [f for f in files if f not in month_files]
    with month_backend() as backend:
        kept_history = backend.read_parquet(history)
        started = time.perf_counter()
        month_parts = candidates(backend, month_files)
        combined, combined_billing = combined_peaks(backend, month_parts, corrections, kept_history)
        from_nothing = time.perf_counter() - started
    with month_backend() as backend:
        kept_history = backend.read_parquet(history)
        started = time.perf_counter()
        kept = [
            (backend.read_parquet(file), part)
            for file, (_, part) in zip(month_files, month_parts, strict=True)
        ]
        after, after_billing = combined_peaks(backend, kept, corrections, kept_history)
        after_batch = time.perf_counter() - started
    order = [("ap", "ascending")]
    expected = peaks.sort_by(order)
    assert combined.sort_by(order).equals(expected) and after.sort_by(order).equals(expected)
    assert combined_billing == after_billing == billing
    return {
        "seconds": one_pass,
        "from_candidates_seconds": from_nothing,
        "after_batch_seconds": after_batch,
        "monthly_peaks": peaks.num_rows,
        "billing_peaks": billing,
    }


def bench_spark(files: list[Path], history: Path, access_points: int) -> dict[str, Any]:
    backend = connect(EngineName.SPARK, spark_session=local_spark_session())
    parts = [backend.read_parquet(str(f)) for f in files]
    readings = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    kept = backend.read_parquet(str(history))
    started = time.perf_counter()
    peaks, billing = run_peaks(backend, readings, kept.semi_join(readings.select("ap").distinct(), "ap"))
    return {
        "seconds": time.perf_counter() - started,
        "monthly_peaks": peaks.num_rows,
        "billing_peaks": billing,
        "access_points": access_points,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--access-points", type=int, default=1_000_000)
    parser.add_argument("--spark-access-points", type=int, default=4 * CHUNK, help="0 skips PySpark")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    files, history = generate(args.access_points)
    generated = time.perf_counter() - started
    rows = int(
        duckdb.connect().execute(f"SELECT count(*) FROM read_parquet({_listed(files)})").fetchall()[0][0]
    )
    scan = baseline_scan(files)
    duck = bench_duckdb(files, history)
    result: dict[str, Any] = {
        "access_points": args.access_points,
        "quarter_rows": rows,
        "generate_seconds": round(generated, 1),
        "baseline_scan_seconds": round(scan, 2),
        "duckdb_seconds": round(duck["seconds"], 2),
        "duckdb_rows_per_second": round(rows / duck["seconds"]),
        "duckdb_vs_bare_scan": round(duck["seconds"] / scan, 2),
        "duckdb_from_file_candidates_seconds": round(duck["from_candidates_seconds"], 2),
        "duckdb_after_correction_batch_seconds": round(duck["after_batch_seconds"], 2),
        "monthly_peaks": duck["monthly_peaks"],
        "billing_peaks": duck["billing_peaks"],
        "bar_seconds": 60,
    }
    if args.spark_access_points:
        chunks = max(1, args.spark_access_points // CHUNK)
        subset = [f for f in files if int(f.stem.split("-")[1]) < chunks]
        spark = bench_spark(subset, history, min(args.access_points, chunks * CHUNK))
        result["spark_access_points"] = spark["access_points"]
        result["spark_seconds"] = round(spark["seconds"], 2)
        result["spark_rows_per_second"] = round(
            spark["access_points"] * rows / args.access_points / spark["seconds"]
        )
    if args.json:
        print(json.dumps(result, indent=2))
        return
    width = max(map(len, result))
    for name, value in result.items():
        print(
            f"{name:<{width}}  {value:,}" if isinstance(value, int | float) else f"{name:<{width}}  {value}"
        )


if __name__ == "__main__":
    main()
