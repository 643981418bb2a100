"""One calculation, two engines: estimation and the day rules give identical rows on DuckDB and PySpark."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from kwartier.domain.channels import Channel, TariffPeriod
from kwartier.domain.timegrid import gas_day_bounds, local_midnight_utc
from kwartier.engine import load, to_arrow
from kwartier.estimation.estimate import estimate
from kwartier.validation.day_rules import completeness_findings, register_delta_findings
from tests.estimation.builders import expected, grid, readings, registers, series, slots

DAYS = [date(2024, 10, 26), date(2024, 10, 27)]  # Saturday; Sunday with 100 quarters (gas: 25 hours)
GAS = Channel.GAS_VOLUME


def scenario() -> dict[str, pa.Table]:
    """Random but seeded readings with short, long, cross-midnight and whole-day gaps, and registers."""
    generator = random.Random(2024_10_27)
    rows: list[dict[str, Any]] = []
    history = [DAYS[0] - timedelta(days=back) for back in range(1, 29)]
    for ap, channel in [("A", Channel.OFFTAKE), ("B", Channel.OFFTAKE), ("C", Channel.OFFTAKE), ("G", GAS)]:
        for day in history + DAYS + [DAYS[-1] + timedelta(days=1)]:
            starts = slots(day, channel)
            keep = 0.9 if day in DAYS else 0.6  # history with holes: like days with and without values
            values = [generator.randrange(0, 900) if generator.random() < keep else None for _ in starts]
            if day in DAYS:
                length = generator.choice((3, 9, 12))
                first = generator.randrange(0, len(starts) - length)
                values[first : first + length] = [None] * length
            rows += series(ap, channel, starts, values)
    rows += series("D", Channel.OFFTAKE, slots(DAYS[0]), [generator.randrange(0, 50) for _ in slots(DAYS[0])])
    rows += series(
        "E", Channel.INJECTION, slots(DAYS[1]), [generator.randrange(0, 2000) for _ in slots(DAYS[1])]
    )
    wanted = [(ap, Channel.OFFTAKE, day) for ap in "ABCDN" for day in DAYS]
    wanted += [("G", GAS, day) for day in DAYS] + [
        ("E", Channel.INJECTION, DAYS[1]),
        ("I", Channel.INJECTION, DAYS[1]),
    ]
    day_of = {
        (c.value, start): d
        for d in DAYS
        for c in (Channel.OFFTAKE, Channel.INJECTION, GAS)
        for start in slots(d, c)
    }
    day_sums: dict[tuple[str, str, date], int] = {}
    for row in rows:
        row_day = day_of.get((row["channel"], row["start"]))
        if row_day is not None:
            key = (row["ap"], row["tariff"], row_day)
            day_sums[key] = day_sums.get(key, 0) + row["value"]
    index: list[tuple[str, Channel, TariffPeriod, datetime, int]] = []
    for ap, tariff in [("A", TariffPeriod.NIGHT), ("B", TariffPeriod.NIGHT), ("C", TariffPeriod.NIGHT)]:
        opening = 1_000_000
        for day in DAYS:
            closing = opening + day_sums.get((ap, tariff.value, day), 0) + generator.randrange(-500, 5_000)
            index.append((ap, Channel.OFFTAKE, tariff, local_midnight_utc(day), opening))
            index.append((ap, Channel.OFFTAKE, tariff, local_midnight_utc(day + timedelta(days=1)), closing))
            opening = closing
    for day in DAYS:
        gas_start, gas_end = gas_day_bounds(day)
        total = day_sums.get(("G", "total", day), 0)
        index += [
            ("G", GAS, TariffPeriod.TOTAL, gas_start, 0),
            ("G", GAS, TariffPeriod.TOTAL, gas_end, total + 700),
        ]
    # complete days (Saturday and Sunday: night tariff only), so V05 checks them: D is 1000 Wh off, E agrees
    for ap, channel, day, off in [
        ("D", Channel.OFFTAKE, DAYS[0], 1_000),
        ("E", Channel.INJECTION, DAYS[1], 0),
    ]:
        closing = 50_000 + day_sums[(ap, TariffPeriod.NIGHT.value, day)] + off
        index.append((ap, channel, TariffPeriod.NIGHT, local_midnight_utc(day), 50_000))
        index.append((ap, channel, TariffPeriod.NIGHT, local_midnight_utc(day + timedelta(days=1)), closing))
    return {
        "current": readings(rows),
        "expected": expected(wanted),
        "grid": grid(DAYS),
        "registers": registers(index),
    }


def run_all(backend: Any, tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The three calculations on ``backend``, sorted on all columns."""
    inputs = {name: load(backend, table) for name, table in tables.items()}
    current, wanted, slot_grid, index = (inputs[k] for k in ("current", "expected", "grid", "registers"))
    results = {
        "estimate": estimate(current, wanted, slot_grid, index),
        "completeness": completeness_findings(current, wanted, slot_grid),
        "register_delta": register_delta_findings(current, index, slot_grid),
    }
    return {name: to_arrow(expr, sort_by=list(expr.columns)) for name, expr in results.items()}


@pytest.mark.spark
def test_duckdb_and_spark_give_identical_results(duckdb_backend: Any, spark_backend: Any) -> None:
    tables = scenario()
    on_duckdb = run_all(duckdb_backend, tables)
    on_spark = run_all(spark_backend, tables)
    for name, result in on_duckdb.items():
        assert result.num_rows > 0, name
        assert on_spark[name].equals(result), name
    assert on_duckdb["register_delta"].column("ap").to_pylist() == ["D"]
    methods = set(on_duckdb["estimate"].column("method").to_pylist())
    assert {"E1-INTERPOLATION", "E2-LIKE-DAY", "E3-PROFILE"} <= {m.removesuffix("+INDEX") for m in methods}
    assert any(m.endswith("+INDEX") for m in methods)
