"""The real sample files go through the whole ingest, with totals checked by an independent reading."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from kwartier.capture.ingest import ingest_paths, ingestor
from kwartier.config import Settings, load_settings
from kwartier.domain.timegrid import market_day_bounds
from kwartier.store.store import MeterStore
from tests.capture.samples import ANONYMISED_EAN, ENGLISH_ELECTRICITY, ENGLISH_GAS, P1_TELEGRAM_ALT

RECORDED = datetime(2026, 11, 20, 3, tzinfo=UTC)
REGISTERS = {
    "Offtake Day": ("offtake", "day"),
    "Offtake Night": ("offtake", "night"),
    "Injection Day": ("injection", "day"),
    "Injection Night": ("injection", "night"),
}


@pytest.fixture
def empty_home(tmp_path: Path) -> Settings:
    return load_settings(tmp_path / "home")


def independent_totals(path: Path) -> dict[tuple[str, str], int]:
    """Wh per register from a plain DuckDB read of the CSV (decimal comma replaced, empty = missing)."""
    rows = (
        duckdb.connect()
        .sql(
            f"""SELECT column07 AS register, column09 AS unit,
                   sum(CAST(replace(column08, ',', '.') AS DECIMAL(18, 3)) * 1000)::BIGINT AS wh
            FROM read_csv('{path}', delim = ';', header = false, skip = 1, all_varchar = true)
            WHERE column08 IS NOT NULL AND column08 <> '' GROUP BY ALL"""
        )
        .fetchall()
    )
    totals: dict[tuple[str, str], int] = {}
    for register, unit, wh in rows:
        key = REGISTERS.get(register, ("gas_volume" if unit == "m³" else "gas_energy", "total"))
        totals[key] = int(wh)
    return totals


def stored_totals(settings: Settings) -> dict[tuple[str, str], int]:
    store = MeterStore.open(settings.store_dir)
    con = duckdb.connect()
    rows = store.current_readings(con).aggregate("channel, tariff, sum(value)::BIGINT").fetchall()
    return {(channel, tariff): int(total) for channel, tariff, total in rows}


@pytest.mark.parametrize("name", [ENGLISH_ELECTRICITY, ENGLISH_GAS])
def test_mijn_fluvius_totals_match_an_independent_reading(
    empty_home: Settings, samples_dir: Path, name: str
) -> None:
    path = samples_dir / "mijn-fluvius" / name
    [report] = ingest_paths(empty_home, [path], recorded_at=RECORDED)
    assert report.status == "committed" and report.quarantined == 0
    assert any(ANONYMISED_EAN in warning for warning in report.warnings)
    assert stored_totals(empty_home) == independent_totals(path)


def test_the_autumn_dst_day_keeps_its_100_quarters(empty_home: Settings, samples_dir: Path) -> None:
    ingest_paths(empty_home, [samples_dir / "mijn-fluvius" / ENGLISH_ELECTRICITY], recorded_at=RECORDED)
    with ingestor(empty_home) as worker:
        ap = worker.pseudonymiser.of(ANONYMISED_EAN)
    start, end = market_day_bounds(date(2023, 10, 29))
    day = MeterStore.open(empty_home.store_dir).read_access_point(ap, start, end)
    offtake = [row for row in day.to_pylist() if row["channel"] == "offtake"]
    assert len(offtake) == 100
    assert end - start == timedelta(hours=25)
    # hand check: the first 02:00-02:15 of the sample (summer time) is 0,276 kWh, the second 0,261 kWh
    by_start = {row["start"]: row["value"] for row in offtake}
    assert by_start[datetime(2023, 10, 29, 0, 0, tzinfo=UTC)] == 276
    assert by_start[datetime(2023, 10, 29, 1, 0, tzinfo=UTC)] == 261


def test_p1_telegram_registers_and_peaks(empty_home: Settings, samples_dir: Path) -> None:
    ean = "541448820052377134"
    [report] = ingest_paths(empty_home, [samples_dir / "p1" / P1_TELEGRAM_ALT], recorded_at=RECORDED, ean=ean)
    assert report.registers == 4
    assert report.peaks == 4  # the current month (1.6.0) and three buffered months with a value
    store = MeterStore.open(empty_home.store_dir)
    peaks = duckdb.connect().sql(f"SELECT month, peak_w FROM ({store.scan_sql('peaks')}) ORDER BY month")
    assert peaks.fetchall()[-1][1] == 3064
