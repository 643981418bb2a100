"""One calculation, two engines: peaks, billing peaks, consumption and net metering give identical rows
on DuckDB and PySpark."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from kwartier.billing.consumption import daily_consumption, monthly_consumption, net_metering
from kwartier.billing.peak_report import peak_report
from kwartier.billing.sources import FILE_PEAKS, FILE_READINGS
from kwartier.domain.channels import tariff_period
from kwartier.engine import load, to_arrow

FIRST = datetime(2026, 9, 28, 22, tzinfo=UTC)  # three local months around the October DST change
QUARTERS = 96 * 66
DAYS = [date(2026, 9, 29) + timedelta(days=n) for n in range(64)]


def readings() -> pa.Table:
    """Seeded quarter hours of five access points: holes, estimates, injection, and for "C" day and
    night values in the same quarters (the summed stage of the peaks)."""
    generator = random.Random(2026_10_25)
    rows: list[dict[str, Any]] = []
    for ap in "ABCDE":
        for n in range(QUARTERS):
            if generator.random() < 0.1:
                continue
            start = FIRST + timedelta(minutes=15 * n)
            tariff = tariff_period(start).value
            status = "estimated" if generator.random() < 0.05 else "measured"
            rows.append(
                {
                    "ean": ap,
                    "channel": "offtake",
                    "tariff": tariff,
                    "start": start,
                    "minutes": 15,
                    "value": generator.randrange(0, 1200),
                    "status": status,
                }
            )
            if ap == "C" and generator.random() < 0.2:
                other = "night" if tariff == "day" else "day"
                rows.append(
                    {
                        "ean": ap,
                        "channel": "offtake",
                        "tariff": other,
                        "start": start,
                        "minutes": 15,
                        "value": generator.randrange(0, 600),
                        "status": "measured",
                    }
                )
            if ap in "AE":
                rows.append(
                    {
                        "ean": ap,
                        "channel": "injection",
                        "tariff": tariff,
                        "start": start,
                        "minutes": 15,
                        "value": generator.randrange(0, 1500),
                        "status": status,
                    }
                )
    return pa.Table.from_pylist(rows, schema=FILE_READINGS)


def versions(table: pa.Table) -> pa.Table:
    """``table`` as stored versions (batch "b1"), with later versions of some of its offtake values:
    lower corrections for "B" (batch "b2"), higher rejected ones for "D" (batch "b3")."""
    first = datetime(2026, 12, 2, tzinfo=UTC)
    rows = [{**row, "batch": "b1", "recorded_at": first} for row in table.to_pylist()]
    later: list[dict[str, Any]] = []
    for n, row in enumerate(rows):
        if row["channel"] != "offtake":
            continue
        if row["ean"] == "B" and n % 7 == 0:
            later.append(
                {**row, "value": row["value"] // 3, "batch": "b2", "recorded_at": first + timedelta(1)}
            )
        if row["ean"] == "D" and n % 11 == 0:
            later.append({**row, "value": 5_000, "status": "rejected", "batch": "b3", "recorded_at": first})
    schema = table.schema.append(pa.field("batch", pa.string())).append(
        pa.field("recorded_at", pa.timestamp("us", tz="UTC"))
    )
    return pa.Table.from_pylist(rows + later, schema=schema)


def current(stored: pa.Table) -> pa.Table:
    """The current versions of :func:`versions`, chosen in plain Python (a second method)."""
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in stored.to_pylist():
        if row["status"] == "rejected":
            continue
        key = (row["ean"], row["channel"], row["tariff"], row["start"], row["minutes"])
        if key not in latest or (row["recorded_at"], row["batch"]) > (
            latest[key]["recorded_at"],
            latest[key]["batch"],
        ):
            latest[key] = row
    return pa.Table.from_pylist(list(latest.values()), schema=stored.schema)


def reported() -> pa.Table:
    months = [date(2026, m, 1) for m in range(1, 9)]
    return pa.table(
        {
            "ean": ["F"] * len(months),
            "month": months,
            "peak_start": [None] * len(months),
            "peak_w": [1800 + 700 * i for i in range(len(months))],
        },
        schema=FILE_PEAKS,
    )


def run_all(backend: Any, table: pa.Table) -> dict[str, pa.Table]:
    daily = daily_consumption(backend, load(backend, table), "ean", DAYS)
    return {
        "peaks": peak_report(backend, "ean", table, reported()),
        "daily": to_arrow(daily, sort_by=["ean", "day", "channel", "tariff"]),
        "monthly": to_arrow(
            monthly_consumption(daily, "ean"), sort_by=["ean", "month_index", "channel", "tariff"]
        ),
        "net": to_arrow(net_metering(daily, "ean", date(2026, 10, 20)), sort_by=["ean", "tariff"]),
    }


@pytest.mark.spark
def test_duckdb_and_spark_give_identical_results(duckdb_backend: Any, spark_backend: Any) -> None:
    table = readings()
    on_duckdb = run_all(duckdb_backend, table)
    on_spark = run_all(spark_backend, table)
    assert on_duckdb["peaks"].num_rows == 5 * 4 + 8  # September to December, and F's reported months
    for name, result in on_duckdb.items():
        spark = on_spark[name].cast(result.schema)
        assert spark.equals(result), name


@pytest.mark.spark
def test_peaks_from_stored_versions_on_both_engines(duckdb_backend: Any, spark_backend: Any) -> None:
    stored = versions(readings())
    expected = peak_report(duckdb_backend, "ean", current(stored))
    for backend in (duckdb_backend, spark_backend):
        got = peak_report(backend, "ean", stored)
        assert got.cast(expected.schema).equals(expected), backend.name
