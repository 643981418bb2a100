"""Scenario folders of billing: ``given_<situation>/when/*`` → ``then/*.csv``, computed on one engine.

``when/readings.csv``: ``ean,channel,tariff,start,minutes,value_wh,status`` (start ISO-8601 with offset);
``when/reported_peaks.csv``: ``ean,month,peak_start,peak_w`` (monthly peaks a meter reported);
``when/period.json``: ``{"from", "to", "net_metering_until"}`` for the consumption outputs.
Each ``then/<output>.csv`` names an output: ``peaks``, ``daily``, ``monthly`` or ``net_metering``.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from kwartier.billing.capacity import BILLING_PEAK_W, ESTIMATED, ESTIMATED_QUARTERS, MONTHS_COUNTED, QUARTERS
from kwartier.billing.consumption import (
    ENERGY_WH,
    INJECTION_WH,
    NET_OFFTAKE_WH,
    OFFTAKE_WH,
    daily_consumption,
    monthly_consumption,
    net_metering,
)
from kwartier.billing.months import month_of_index
from kwartier.billing.peak_report import peak_report
from kwartier.billing.sources import FILE_PEAKS, FILE_READINGS
from kwartier.domain.timegrid import BRUSSELS
from kwartier.engine import load, to_arrow
from kwartier.schema import CHANNEL, DAY, EAN, MONTH, PEAK_START, PEAK_W, TARIFF

SCENARIOS = Path(__file__).parent / "scenarios"
Rows = list[dict[str, str]]


def read_csv(path: Path) -> tuple[list[str], Rows]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def when_readings(folder: Path) -> pa.Table:
    path = folder / "when" / "readings.csv"
    if not path.exists():
        return FILE_READINGS.empty_table()
    _, rows = read_csv(path)
    return pa.table(
        {
            EAN: [r["ean"] for r in rows],
            CHANNEL: [r["channel"] for r in rows],
            TARIFF: [r["tariff"] for r in rows],
            "start": [datetime.fromisoformat(r["start"]) for r in rows],
            "minutes": [int(r["minutes"]) for r in rows],
            "value": [int(r["value_wh"]) for r in rows],
            "status": [r["status"] for r in rows],
        },
        schema=FILE_READINGS,
    )


def when_reported(folder: Path) -> pa.Table | None:
    path = folder / "when" / "reported_peaks.csv"
    if not path.exists():
        return None
    _, rows = read_csv(path)
    return pa.table(
        {
            EAN: [r["ean"] for r in rows],
            MONTH: [date.fromisoformat(r["month"]) for r in rows],
            PEAK_START: [datetime.fromisoformat(r["peak_start"]) if r["peak_start"] else None for r in rows],
            PEAK_W: [int(r["peak_w"]) for r in rows],
        },
        schema=FILE_PEAKS,
    )


def kwh(wh: int) -> str:
    return f"{Decimal(wh) / 1000:.3f}"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def peaks_rows(backend: Any, folder: Path) -> Rows:
    report = peak_report(backend, EAN, when_readings(folder), when_reported(folder))
    return [
        {
            "ean": row[EAN],
            "month": row[MONTH].strftime("%Y-%m"),
            "peak_kw": kwh(row[PEAK_W]),
            "peak_start": row[PEAK_START].astimezone(BRUSSELS).isoformat() if row[PEAK_START] else "",
            "estimated": str(row[ESTIMATED]).lower(),
            "quarters": _text(row[QUARTERS]),
            "estimated_quarters": _text(row[ESTIMATED_QUARTERS]),
            "billing_peak_kw": kwh(row[BILLING_PEAK_W]),
            "months_counted": str(row[MONTHS_COUNTED]),
        }
        for row in report.to_pylist()
    ]


def consumption_rows(backend: Any, folder: Path, output: str) -> Rows:
    period = json.loads((folder / "when" / "period.json").read_text())
    first, end = date.fromisoformat(period["from"]), date.fromisoformat(period["to"])
    days = [date.fromordinal(n) for n in range(first.toordinal(), end.toordinal())]
    daily = daily_consumption(backend, load(backend, when_readings(folder)), EAN, days)
    if output == "net_metering":
        cutoff = date.fromisoformat(period["net_metering_until"])
        return [
            {
                "ean": row[EAN],
                "tariff": row[TARIFF],
                "offtake_kwh": kwh(row[OFFTAKE_WH]),
                "injection_kwh": kwh(row[INJECTION_WH]),
                "net_offtake_kwh": kwh(row[NET_OFFTAKE_WH]),
                "netted_injection_kwh": kwh(row["netted_injection_wh"]),
            }
            for row in to_arrow(net_metering(daily, EAN, cutoff)).to_pylist()
        ]
    table = to_arrow(daily if output == "daily" else monthly_consumption(daily, EAN))
    period_column = "day" if output == "daily" else "month"
    return [
        {
            "ean": row[EAN],
            period_column: row[DAY].isoformat()
            if output == "daily"
            else month_of_index(row["month_index"]).strftime("%Y-%m"),
            "channel": row[CHANNEL],
            "tariff": row[TARIFF],
            "energy_kwh": kwh(row[ENERGY_WH]),
            "quarters": str(row[QUARTERS]),
            "estimated_quarters": str(row[ESTIMATED_QUARTERS]),
        }
        for row in table.to_pylist()
    ]


def computed(backend: Any, folder: Path, output: str) -> Rows:
    """The rows of ``output`` for the scenario in ``folder``, as text in the columns of its then-file."""
    if output == "peaks":
        return peaks_rows(backend, folder)
    return consumption_rows(backend, folder, output)


def canonical(header: list[str], rows: Rows) -> list[tuple[str, ...]]:
    """Rows as tuples in header order, sorted: an order-insensitive, all-column comparison."""
    return sorted(tuple(row[name] for name in header) for row in rows)
