"""Benchmarks of the measurement data chain (see bench/README.md); prints a table or JSON."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from kwartier.capture.headend import INTERVAL_HEADER
from kwartier.config import load_settings
from kwartier.domain.ean import with_check_digit
from kwartier.domain.timegrid import local_midnight_utc
from kwartier.registry.database import open_registry, upgrade
from kwartier.registry.master_data import load_master_data
from kwartier.simulate.config import RegionConfig
from kwartier.simulate.simulator import simulate_region
from kwartier.store import layout
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore

OUT = Path(__file__).resolve().parent / "out"
YEAR = 2025


def simulate(access_points: int) -> tuple[Path, dict[str, Any]]:
    """A simulated region of ``access_points`` for one day (kept between runs of the same size)."""
    folder = OUT / f"region-{access_points}"
    manifest = folder / "manifest.json"
    if not manifest.exists():
        shutil.rmtree(folder, ignore_errors=True)
        simulate_region(RegionConfig(access_points=access_points, days=1), folder)
    return folder, json.loads(manifest.read_text())


def first_delivery(access_points: int) -> tuple[Path, Path, dict[str, Any]]:
    """The simulated region of ``access_points``, its first head-end interval file and that file's entry
    in the manifest (lines, delivery moment): the file the ingest benchmarks read."""
    region, manifest = simulate(access_points)
    first = next(f for f in manifest["files"] if f["kind"] == "intervals")
    return region, region / first["file"], first


def baseline_read_csv(file: Path) -> float:
    """Seconds DuckDB needs to read every field of ``file`` with its bare ``read_csv`` (as text)."""
    columns = INTERVAL_HEADER.split(",")
    spec = ", ".join(f"'{c}': 'VARCHAR'" for c in columns)
    aggregates = ", ".join(f"max({c})" for c in columns)
    con = duckdb.connect()
    started = time.perf_counter()
    con.execute(f"SELECT count(*), {aggregates} FROM read_csv('{file}', header = true, columns = {{{spec}}})")
    con.fetchall()
    return time.perf_counter() - started


def bench_ingest(access_points: int) -> dict[str, Any]:
    """Ingest of the first delivery of a simulated day, end to end, in a child process."""
    region, file, first = first_delivery(access_points)
    home = OUT / f"home-{access_points}"
    shutil.rmtree(home, ignore_errors=True)
    settings = load_settings(home)
    home.mkdir(parents=True)
    upgrade(settings.registry_url)
    started = time.perf_counter()
    with open_registry(settings.registry_url)() as session, session.begin():
        load_master_data(session, region / "master")
    registry_seconds = time.perf_counter() - started
    baseline = baseline_read_csv(file)
    child = subprocess.run(
        [sys.executable, "-m", "bench.ingest_child", str(home), str(file), first["delivered_at"]],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    result = json.loads(child.stdout)
    report = result["report"]
    readings = int(first["lines"])
    store = MeterStore.open(settings.store_dir)
    files = store.files("readings")
    listed = ", ".join(f"'{f}'" for f in files)
    stored_rows = int(
        duckdb.connect().execute(f"SELECT count(*) FROM read_parquet([{listed}])").fetchall()[0][0]
    )
    size = sum(f.stat().st_size for f in files)
    return {
        "file": str(file),
        "file_mib": round(file.stat().st_size / 2**20, 1),
        "readings": readings,
        "registry_load_seconds": round(registry_seconds, 1),
        "duckdb_read_csv_seconds": round(baseline, 2),
        "ingest_seconds": round(result["seconds"], 2),
        "readings_per_second": round(readings / result["seconds"]),
        "ratio_to_duckdb_read_csv": round(result["seconds"] / baseline, 2),
        "peak_memory_mib": round(result["peak_mib"]),
        "stored_rows": stored_rows,
        "bytes_per_reading": round(size / max(stored_rows, 1), 2),
        "accepted": report["accepted"],
        "rejected": report["rejected"],
        "quarantined": report["quarantined"],
        "duplicate": report["duplicate"],
    }


def year_store_home(access_points: int) -> Path:
    """Where the year store of ``access_points`` access-point-years is kept between runs."""
    return OUT / f"year-store-{access_points}"


def year_store(home: Path, access_points: int) -> tuple[MeterStore, list[str]]:
    """The year store in ``home``: built once (marker ``store-built``), then reused by every run."""
    marker = home / "store-built"
    if not marker.exists():
        build_year_store(home, access_points)
        marker.touch()
    settings = load_settings(home)
    pseudonymiser = Pseudonymiser.from_key_file(settings.pseudonym_key_file)
    return MeterStore.open(settings.store_dir), [pseudonymiser.of(bench_ean(n)) for n in range(access_points)]


def bench_ean(n: int) -> str:
    """The EAN-18 (valid GS1 check digit) of the ``n``-th access point of the year store."""
    return with_check_digit(f"54144882{n:09d}")


def build_year_store(home: Path, access_points: int) -> tuple[MeterStore, list[str]]:
    """A store of ``access_points`` × one year of quarter-hour offtake, one batch per month (final layout).

    The values are synthetic (a daily shape with noise): this part measures reading, not realism.
    """
    shutil.rmtree(home, ignore_errors=True)
    settings = load_settings(home)
    pseudonymiser = Pseudonymiser.from_key_file(settings.pseudonym_key_file)
    store = MeterStore.open(settings.store_dir)
    aps = [pseudonymiser.of(bench_ean(n)) for n in range(access_points)]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET memory_limit = '4GB'")
    con.execute("SET preserve_insertion_order = false")
    con.register("aps", pa.table({"ap": aps}))
    for month in range(1, 13):
        first = local_midnight_utc(date(YEAR, month, 1))
        last = local_midnight_utc(date(YEAR + month // 12, month % 12 + 1, 1))
        quarters = int((last - first) / timedelta(minutes=15))
        batch = f"bench-{YEAR}-{month:02d}"
        staged = store.stage(batch)
        con.execute(
            f"""COPY (
            SELECT ap, 'offtake' AS channel,
                   CASE WHEN isodow(timezone('Europe/Brussels', s)) <= 5
                         AND hour(timezone('Europe/Brussels', s)) BETWEEN 7 AND 21 THEN 'day' ELSE 'night' END
                       AS tariff,
                   s AS start, 15::SMALLINT AS minutes,
                   (60 + 40 * sin(q / 15.28) + (hash(ap, q) % 50))::BIGINT AS value,
                   'measured' AS status, NULL::VARCHAR AS rule, NULL::VARCHAR AS method,
                   '{batch}' AS batch, TIMESTAMPTZ '{last.isoformat()}' AS recorded_at,
                   {store.partition_sql("readings")}
            FROM aps, (SELECT q, TIMESTAMPTZ '{first.isoformat()}' + to_minutes(15 * q) AS s
                       FROM range({quarters}) r(q))
            ORDER BY ap, channel, tariff, start
            ) TO '{staged.dir("readings")}' (FORMAT parquet, PARTITION_BY (month, bucket),
                COMPRESSION zstd, ROW_GROUP_SIZE 8192)"""
        )
        sort_leaf_files(staged.dir("readings"))
        store.commit(staged, {"kind": "benchmark", "month": month})
    return store, aps


def sort_leaf_files(directory: Path) -> int:
    """Rewrite every readings file under ``directory`` in the store's final layout (sorted by access point,
    channel, tariff and time, row groups that never split an access point: ``layout.write_leaf_file``,
    what compaction writes). DuckDB's partitioned ``COPY`` writes its row groups from several threads, so
    their ``ap`` ranges overlap and a one-access-point read would decode many of them. Returns the files."""
    files = sorted(directory.rglob("*.parquet"))
    keys = [(key, "ascending") for key in layout.READINGS.sort_keys]
    for path in files:
        table = pq.read_table(path).select(layout.READINGS.columns).sort_by(keys)
        partial = path.with_suffix(".sorting")
        layout.write_leaf_file(table, layout.READINGS, partial)
        partial.replace(path)
    return len(files)


def bench_read(access_points: int, reads: int = 25) -> dict[str, Any]:
    """One access point's year read back from a store of ``access_points`` access-point-years: first in
    a fresh reader (each read opens files whose footers it has not read yet), then the same access points
    again (the steady state of a long-running reader such as the API server, which keeps footers)."""
    home = year_store_home(access_points)
    started = time.perf_counter()
    store, aps = year_store(home, access_points)
    build_seconds = time.perf_counter() - started
    start = local_midnight_utc(date(YEAR, 1, 1))
    end = local_midnight_utc(date(YEAR + 1, 1, 1))
    chooser = random.Random(7)
    store.read_access_point(aps[0], start, end)  # warm the file system cache and imports once
    picks = chooser.sample(aps, reads)
    rows = 0
    passes: dict[str, list[float]] = {"first": [], "again": []}
    for timings in passes.values():
        for ap in picks:
            begun = time.perf_counter()
            table = store.read_access_point(ap, start, end)
            timings.append(time.perf_counter() - begun)
            rows = table.num_rows
        timings.sort()
    size = sum(f.stat().st_size for f in store.files("readings"))
    return {
        "access_point_years": access_points,
        "store_readings": access_points * rows,
        "store_mib": round(size / 2**20),
        "build_seconds": round(build_seconds, 1),
        "rows_per_access_point_year": rows,
        "median_ms": round(statistics.median(passes["first"]) * 1000, 1),
        "p95_ms": round(_p95(passes["first"]) * 1000, 1),
        "again_median_ms": round(statistics.median(passes["again"]) * 1000, 1),
        "again_p95_ms": round(_p95(passes["again"]) * 1000, 1),
    }


def _p95(sorted_timings: list[float]) -> float:
    return sorted_timings[int(0.95 * (len(sorted_timings) - 1))]


def main() -> None:
    """Run the benchmarks and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--access-points", type=int, default=1_000_000)
    parser.add_argument("--store-access-points", type=int, default=20_000)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-read", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "at": datetime.now(UTC).isoformat()}}
    if not args.skip_ingest:
        results["ingest"] = bench_ingest(args.access_points)
    if not args.skip_read:
        results["read"] = bench_read(args.store_access_points)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    for section, figures in results.items():
        print(f"[{section}]")
        for key, value in figures.items():
            print(f"  {key:>28}: {value}")


if __name__ == "__main__":
    main()
