"""Simulated regions shared by the simulator tests (each is generated once per test session)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from kwartier.simulate.config import FaultRates, RegionConfig
from kwartier.simulate.simulator import RegionSummary, simulate_region

NO_FAULTS = FaultRates(
    non_communicating_electricity=0.0,
    non_communicating_gas=0.0,
    short_gaps=0.0,
    outage_start=0.0,
    late_2_days=0.0,
    late_5_days=0.0,
    corrected=0.0,
    spike=0.0,
    glitch=0.0,
    duplicate=0.0,
    malformed=0.0,
)
TEXT = pa.string()


@dataclass(frozen=True)
class Simulated:
    """A simulated region on disk."""

    config: RegionConfig
    out: Path
    summary: RegionSummary

    def intervals(self, pattern: str = "intervals_*.csv", *, as_text: bool = False) -> pa.Table:
        """All interval lines of the matching files, with a ``file`` column."""
        tables = []
        for path in sorted((self.out / "headend").glob(pattern)):
            types = {"ean": TEXT, "start": TEXT, "value": TEXT if as_text else pa.int64()}
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
            tables.append(table.append_column("file", pa.array([path.name] * table.num_rows)))
        return pa.concat_tables(tables)

    def registers(self) -> pa.Table:
        """All register lines."""
        paths = sorted((self.out / "headend").glob("registers_*.csv"))
        options = pacsv.ConvertOptions(column_types={"ean": TEXT, "read_at": TEXT, "index": pa.int64()})
        return pa.concat_tables([pacsv.read_csv(path, convert_options=options) for path in paths])

    def master(self, name: str) -> pa.Table:
        """One master-data file, every column as text."""
        path = self.out / "master" / f"{name}.csv"
        header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
        options = pacsv.ConvertOptions(column_types=dict.fromkeys(header, TEXT))
        return pacsv.read_csv(path, convert_options=options)


@pytest.fixture(scope="session")
def clean_dst(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """No faults, three days around the autumn DST change (2026-10-25 has 25 hours)."""
    config = RegionConfig(seed=7, access_points=300, start=date(2026, 10, 24), days=3, faults=NO_FAULTS)
    out = tmp_path_factory.mktemp("clean_dst")
    return Simulated(config, out, simulate_region(config, out))


@pytest.fixture(scope="session")
def clean_winter(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """No faults, a winter week in November."""
    config = RegionConfig(seed=11, access_points=600, start=date(2026, 11, 16), days=7, faults=NO_FAULTS)
    out = tmp_path_factory.mktemp("clean_winter")
    return Simulated(config, out, simulate_region(config, out))


@pytest.fixture(scope="session")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """Default fault rates on a medium region: 2,500 access points × 5 days."""
    config = RegionConfig(seed=3, access_points=2_500, start=date(2026, 11, 2), days=5)
    out = tmp_path_factory.mktemp("faulty")
    return Simulated(config, out, simulate_region(config, out))
