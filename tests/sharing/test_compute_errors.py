"""``kwartier sharing compute`` refuses malformed input with exit code 1 and a message naming the row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kwartier.cli import app

A, B, C = "541449000000000010", "541449000000000027", "541449000000000034"
Q1, Q2 = "2026-06-01T12:00:00+02:00", "2026-06-01T12:15:00+02:00"
GOOD_GROUP = {
    "id": "g",
    "form": "community",
    "key": "relative",
    "participants": [{"ean": A, "share": 0.5}, {"ean": B, "share": 0.5}],
}
HEADER = "ean,start,offtake_kwh,injection_kwh"
GOOD_ROWS = [
    f"{A},{Q1},0.000,1.000",
    f"{B},{Q1},0.500,0.000",
    f"{A},{Q2},0.000,1.000",
    f"{B},{Q2},2.000,0.000",
]


def _compute(tmp_path: Path, group: object, lines: list[str]) -> tuple[int, str, Path]:
    group_file, readings, out = tmp_path / "group.json", tmp_path / "readings.csv", tmp_path / "result.csv"
    group_file.write_text(json.dumps(group), encoding="utf-8")
    readings.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    arguments = [
        "sharing",
        "compute",
        "--group",
        str(group_file),
        "--readings",
        str(readings),
        "--out",
        str(out),
    ]
    run = CliRunner().invoke(app, arguments)
    return run.exit_code, " ".join(run.output.split()), out


def test_good_input_is_computed(tmp_path: Path) -> None:
    code, output, out = _compute(tmp_path, GOOD_GROUP, GOOD_ROWS)
    assert code == 0, output
    assert len(out.read_text(encoding="utf-8").splitlines()) == 5


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (GOOD_ROWS[:3], f"quarter {Q2} (line 4 and others) has no row for participant {B}"),
        ([*GOOD_ROWS[:3], f"{B},{Q2},-1.000,0.000"], "line 5: offtake_kwh -1.000 is negative"),
        ([*GOOD_ROWS, GOOD_ROWS[1]], f"line 6: duplicate of line 3 ({B} at"),
        ([*GOOD_ROWS, f"{C},{Q1},1.000,0.000"], f"line 6: EAN {C} is not in the group"),
        ([*GOOD_ROWS[:3], f"{B},{Q2},1.0005,0.000"], "line 5: offtake_kwh 1.0005 has more than 3 decimals"),
        (
            [*GOOD_ROWS[:3], f"{B},2026-06-01T12:15:00,1.000,0.000"],
            "line 5: start 2026-06-01T12:15:00 has no UTC",
        ),
        (
            [*GOOD_ROWS[:3], f"{B},2026-06-01T12:10:00+02:00,1,0"],
            "line 5: start 2026-06-01T12:10:00+02:00 does not",
        ),
    ],
    ids=["missing-quarter", "negative", "duplicate", "unknown-ean", "decimals", "no-offset", "off-grid"],
)
def test_bad_readings_are_refused_naming_the_row(tmp_path: Path, lines: list[str], message: str) -> None:
    code, output, out = _compute(tmp_path, GOOD_GROUP, lines)
    assert code == 1
    assert message in output
    assert not out.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"participants": [{"ean": A, "share": 0.5}, {"ean": B, "share": 0.4}]}, "shares sum to 0.9, not 1"),
        ({"participants": [{"ean": A, "share": 0.5}, {"ean": A, "share": 0.5}]}, f"{A} is listed twice"),
        ({"participants": [{"ean": A, "share": 1.5}, {"ean": B, "share": -0.5}]}, "not in [0, 1]"),
        (
            {"participants": [{"ean": A, "share": 0.1234567}, {"ean": B, "share": 0.8765433}]},
            "more than 6 decimals",
        ),
        ({"price_eur_per_kwh": 0.1}, "only a P2P sale has a price"),
        ({"form": "p2p"}, "a P2P sale has one buyer with share 1"),
        ({"participants": [{"ean": "541449000000000011", "share": 1}]}, "check digit"),
        ({"key": "best"}, "'best' is not a valid AllocationKey"),
    ],
    ids=["sum", "twice", "range", "decimals", "price", "p2p", "ean", "key"],
)
def test_bad_groups_are_refused(tmp_path: Path, change: dict[str, object], message: str) -> None:
    code, output, _ = _compute(tmp_path, {**GOOD_GROUP, **change}, GOOD_ROWS)
    assert code == 1
    assert message in output
