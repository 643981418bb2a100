"""Benchmark of energy sharing (issue 5; see bench/README.md): the optimal key for a community.

``python -m bench.sharing`` builds a synthetic community in DuckDB (default 1,000 participants over the
365 days of 2025 = 35,040,000 participant-quarters; every third participant has PV, everyone consumes;
equal shares) and times :func:`kwartier.sharing.allocation.allocate` with the OPTIMAL key, materialised
into a table, on DuckDB (memory limit of :mod:`kwartier.engine`). The baseline, measured in the same run
on the same table, is DuckDB's bare scan and aggregate (Σ offtake and injection per participant). The
PySpark local-mode figure is measured on a smaller community (``--spark-participants`` over
``--spark-days``, default 100 over 365 days) because Spark local mode on two cores is far slower;
``--spark-participants 0`` skips it, ``--participants 0`` skips DuckDB.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from typing import Any

import pyarrow as pa

from kwartier.config import EngineName
from kwartier.engine import connect, load
from kwartier.registry.sharing_groups import AllocationKey
from kwartier.sharing.allocation import INJECTION_WH, OFFTAKE_WH, PARTICIPANT, SHARED_WH, START, allocate

QUARTERS_2025 = 365 * 96
EPOCH_2025 = 1_735_689_600  # 2025-01-01T00:00:00Z


def community_sql(participants: int, quarters: int) -> str:
    """SQL of a synthetic community: PV on every third participant (a daylight arch up to 1.5 kWh per
    quarter, scaled per participant and day), offtake 50-450 Wh per quarter; equal shares in ppm."""
    return f"""
        SELECT 'p' || lpad(p::VARCHAR, 5, '0') AS {PARTICIPANT},
               to_timestamp({EPOCH_2025} + q * 900) AS {START},
               CAST(1000000 // {participants} + CASE WHEN p = 0 THEN 1000000 % {participants} ELSE 0 END
                    AS BIGINT) AS share_ppm,
               CAST(50 + hash(p, q) % 400 AS BIGINT) AS {OFFTAKE_WH},
               CAST(CASE WHEN p % 3 = 0 AND q % 96 BETWEEN 28 AND 68
                    THEN round(1500 * sin(pi() * (q % 96 - 28) / 40) * (0.4 + (hash(p, q // 96) % 60) / 100))
                    ELSE 0 END AS BIGINT) AS {INJECTION_WH}
        FROM range({participants}) AS ps(p), range({quarters}) AS qs(q)
    """


def bench_duckdb(participants: int, quarters: int) -> dict[str, Any]:
    """Optimal key on DuckDB vs. DuckDB's bare scan/aggregate of the same table."""
    backend = connect(EngineName.DUCKDB)
    backend.raw_sql(f"CREATE TABLE community AS {community_sql(participants, quarters)}")
    rows = participants * quarters
    started = time.perf_counter()
    backend.raw_sql(
        f"SELECT {PARTICIPANT}, sum({OFFTAKE_WH}), sum({INJECTION_WH}) FROM community GROUP BY {PARTICIPANT}"
    ).fetchall()
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    backend.create_table("result", allocate(backend.table("community"), AllocationKey.OPTIMAL))
    seconds = time.perf_counter() - started
    shared, injection = backend.raw_sql(
        f"SELECT sum({SHARED_WH}), sum({INJECTION_WH}) FROM result"
    ).fetchone()
    gc.collect()  # OPTIMAL's cached round tables drop themselves on collection: while still connected
    backend.disconnect()
    return {
        "engine": "duckdb",
        "participants": participants,
        "participant_quarters": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "baseline_scan_seconds": round(baseline, 3),
        "ratio_to_baseline": round(seconds / baseline, 1),
        "shared_share_of_injection": round(shared / injection, 4),
    }


def bench_spark(participants: int, quarters: int) -> dict[str, Any]:
    """The same calculation on PySpark local mode (a smaller community)."""
    source = connect(EngineName.DUCKDB)
    table: pa.Table = source.con.sql(community_sql(participants, quarters)).to_arrow_table()
    source.disconnect()
    backend = connect(EngineName.SPARK)
    spark_table = load(backend, table)
    started = time.perf_counter()
    shared = allocate(spark_table, AllocationKey.OPTIMAL)[SHARED_WH].sum().execute()
    seconds = time.perf_counter() - started
    rows = participants * quarters
    return {
        "engine": "pyspark-local",
        "participants": participants,
        "participant_quarters": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "shared_wh": int(shared),
    }


def main() -> None:
    """Run the benchmark; print each result as soon as it is measured (JSON lines or a short line)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--spark-participants", type=int, default=100)
    parser.add_argument("--spark-days", type=int, default=365)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.participants:
        _show(bench_duckdb(args.participants, args.days * 96), as_json=args.json)
    if args.spark_participants:
        _show(bench_spark(args.spark_participants, args.spark_days * 96), as_json=args.json)


def _show(result: dict[str, Any], *, as_json: bool) -> None:
    print(json.dumps(result) if as_json else " ".join(f"{k}={v}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
