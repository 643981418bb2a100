"""Every billing scenario folder, compared exactly (all columns, any order) on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from kwartier.config import EngineName
from kwartier.engine import connect
from tests.billing.scenario import SCENARIOS, canonical, computed, read_csv

CASES = sorted((folder, then) for folder in SCENARIOS.iterdir() for then in (folder / "then").glob("*.csv"))


@pytest.mark.parametrize(("folder", "then"), CASES, ids=[f"{f.name}/{t.stem}" for f, t in CASES])
def test_scenario(folder: Path, then: Path) -> None:
    header, expected = read_csv(then)
    rows = computed(connect(EngineName.DUCKDB), folder, then.stem)
    assert all(set(row) == set(header) for row in rows), "the then-file must name every column computed"
    assert canonical(header, rows) == canonical(header, expected)


def test_every_scenario_has_an_expectation() -> None:
    folders = sorted(SCENARIOS.iterdir())
    assert len(folders) >= 9
    assert all(list((folder / "then").glob("*.csv")) for folder in folders)
