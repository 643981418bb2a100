"""Scenario tests: every ``scenarios/given_<situation>/when/{group.json,readings.csv}`` is run through
``kwartier sharing compute`` and its RESULT.csv must equal ``then/result.csv`` exactly: same header, same
rows in any order, every column. Conservation is asserted on every result, and ``then/totals.json`` (when
present) must equal the ``--json`` document."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kwartier.cli import app

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("given_*"))


def _rows(path: Path) -> tuple[list[str], Counter[tuple[str, ...]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, Counter(tuple(row) for row in reader)


def _assert_conserved(path: Path) -> None:
    per_quarter: dict[str, Decimal] = defaultdict(Decimal)
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            assert Decimal(row["shared_kwh"]) + Decimal(row["net_offtake_kwh"]) == Decimal(row["offtake_kwh"])
            per_quarter[row["start"]] += (
                Decimal(row["shared_kwh"]) + Decimal(row["net_injection_kwh"]) - Decimal(row["injection_kwh"])
            )
    assert set(per_quarter.values()) == {Decimal("0.000")}


def test_every_scenario_has_inputs_and_expectations() -> None:
    assert len(SCENARIOS) >= 10
    for scenario in SCENARIOS:
        assert (scenario / "when" / "group.json").is_file(), scenario
        assert (scenario / "when" / "readings.csv").is_file(), scenario
        assert (scenario / "then" / "result.csv").is_file(), scenario


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.csv"
    arguments = ["sharing", "compute", "--group", str(scenario / "when" / "group.json")]
    arguments += ["--readings", str(scenario / "when" / "readings.csv"), "--out", str(out), "--json"]
    run = CliRunner().invoke(app, arguments)
    assert run.exit_code == 0, run.output
    expected_header, expected = _rows(scenario / "then" / "result.csv")
    header, actual = _rows(out)
    assert header == expected_header
    assert actual == expected, {"missing": expected - actual, "unexpected": actual - expected}
    _assert_conserved(out)
    _assert_conserved(scenario / "then" / "result.csv")
    totals = scenario / "then" / "totals.json"
    if totals.is_file():
        assert json.loads(run.stdout) == json.loads(totals.read_text(encoding="utf-8"))
