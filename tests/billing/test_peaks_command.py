"""``kwartier peaks FILE``: a head-end interval CSV with bad rows, several files at once, and the errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kwartier.cli import app
from kwartier.domain.ean import with_check_digit

runner = CliRunner()
FIRST = with_check_digit("54144880000000001")
SECOND = with_check_digit("54144880000000002")


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("ean,meter,channel,tariff,start,minutes,value,unit,status\n" + "\n".join(lines) + "\n")
    return path


def test_headend_file_gives_peaks_and_names_the_rows_it_refused(tmp_path: Path) -> None:
    file = _write(
        tmp_path / "headend.csv",
        [
            f"{FIRST},M1,offtake,night,2026-10-25T02:15:00+02:00,15,500,Wh,read",
            f"{FIRST},M1,offtake,night,2026-10-25T02:15:00+01:00,15,0.5,kWh,read",
            f"{FIRST},M1,injection,night,2026-10-25T12:00:00+01:00,15,3000,Wh,read",
            f"{SECOND},M2,offtake,day,2026-10-26T18:00:00+01:00,15,1250,Wh,estimated",
            "123456789012345678,M3,offtake,day,2026-10-26T18:00:00+01:00,15,9999,Wh,read",
            f"{SECOND},M2,offtake,day,2026-10-26 18:15,15,9999,Wh,read",
        ],
    )
    result = runner.invoke(app, ["peaks", str(file), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["rejected_rows"] == 2
    assert "headend.csv:6: ean:" in result.stderr and "headend.csv:7: start:" in result.stderr
    months = {point["ean"]: point["months"] for point in document["access_points"]}
    assert months[FIRST] == [
        {
            "month": "2026-10",
            "peak_kw": 2.0,
            "peak_start": "2026-10-25T02:15:00+02:00",
            "billing_peak_kw": 2.5,
            "estimated": False,
            "months_in_billing_peak": 1,
            "quarters": 2,
            "estimated_quarters": 0,
        }
    ]
    assert months[SECOND][0]["peak_kw"] == 5.0 and months[SECOND][0]["estimated"] is True


def test_a_later_file_corrects_an_earlier_one(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.csv", [f"{FIRST},M1,offtake,day,2026-11-02T18:00:00+01:00,15,1000,Wh,read"])
    second = _write(
        tmp_path / "b.csv", [f"{FIRST},M1,offtake,day,2026-11-02T18:00:00+01:00,15,750,Wh,validated"]
    )
    result = runner.invoke(app, ["peaks", str(first), str(second), "--json"])
    assert json.loads(result.stdout)["access_points"][0]["months"][0]["peak_kw"] == 3.0


def test_files_without_quarter_hours_fail(tmp_path: Path) -> None:
    registers = tmp_path / "registers.csv"
    registers.write_text(
        "ean,meter,channel,tariff,read_at,index,unit,status\n"
        f"{FIRST},M1,offtake,day,2026-11-03T00:00:00+01:00,1234567,Wh,read\n"
    )
    refused = runner.invoke(app, ["peaks", str(registers)])
    assert refused.exit_code == 1 and "register file" in refused.stderr
    unknown = tmp_path / "junk.txt"
    unknown.write_text("hello\n")
    assert runner.invoke(app, ["peaks", str(unknown)]).exit_code == 1
    assert runner.invoke(app, ["peaks"]).exit_code == 1  # neither files nor --ean
    empty = _write(tmp_path / "empty.csv", [])
    assert runner.invoke(app, ["peaks", str(empty)]).exit_code == 1
