"""A year of realistic household data: bytes on disk per reading, and one access point's year read fast.

Scale: 100 access points (40 with solar panels), one year of quarter hours, one bucket, so each
month file holds 100 access points, about a third of a month file of the production store (20,000
access points in 64 buckets: ~312 per file). Targets: <= 2 bytes per reading; one access point's
year in <= 50 ms (CPU time asserted with slack for loaded CI machines; the figures are printed).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore

from .profiles import household_readings

YEAR_START = datetime(2024, 12, 31, 23, 0, tzinfo=UTC)  # 2025-01-01 00:00 Brussels
YEAR_END = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
QUARTERS_2025 = 365 * 96  # 2025 has both DST days: 92 + 100 = 2 × 96


@pytest.fixture(scope="module")
def year_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[MeterStore, list[str], int]:
    pseudonymiser = Pseudonymiser(bytes(range(32)), "bench")
    aps = [pseudonymiser.of(f"5414488200{i:08d}") for i in range(100)]
    table = household_readings(aps, YEAR_START, YEAR_END, batch="y2025", recorded_at=YEAR_END)
    store = MeterStore(Path(tmp_path_factory.mktemp("year")) / "store", buckets=1)
    staged = store.stage("y2025")
    staged.write_table("readings", table)
    store.commit(staged, {})
    return store, aps, table.num_rows


def test_bytes_per_reading(year_store: tuple[MeterStore, list[str], int]) -> None:
    store, _, rows = year_store
    assert rows == QUARTERS_2025 * (100 + 40)  # offtake for all, injection for the 40 solar homes
    files = store.files("readings")
    assert len(files) == 12
    assert sum(pq.read_metadata(p).num_rows for p in files) == rows
    per_reading = sum(p.stat().st_size for p in files) / rows
    print(f"\nbytes on disk per reading: {per_reading:.2f}")
    assert per_reading <= 2.0


def test_one_access_point_year_read(year_store: tuple[MeterStore, list[str], int]) -> None:
    store, aps, _ = year_store
    reader = MeterStore(store.root)
    timings, cpu = [], []
    for ap in aps[:25]:
        began, began_cpu = time.perf_counter(), time.process_time()
        table = reader.read_access_point(ap, YEAR_START, YEAR_END)
        timings.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
        channels = 2 if aps.index(ap) % 5 < 2 else 1
        assert table.num_rows == QUARTERS_2025 * channels
    median, median_cpu = statistics.median(timings) * 1000, statistics.median(cpu) * 1000
    print(f"\none access point, one year: median {median:.1f} ms wall, {median_cpu:.1f} ms CPU")
    assert median_cpu <= 100  # CPU time: wall time depends on what else the machine runs
