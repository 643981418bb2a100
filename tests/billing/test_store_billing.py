"""Billing from the store: kept peaks equal the peaks of the file itself, a correction makes exactly its
month stale and recomputed, and monthly totals agree with the export's totals (a second method)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kwartier.cli import app
from tests.capture.samples import ANONYMISED_EAN, ENGLISH_ELECTRICITY

runner = CliRunner()


def _run(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def sample(samples_dir: Path) -> Path:
    return samples_dir / "mijn-fluvius" / ENGLISH_ELECTRICITY


def test_kept_peaks_equal_the_peaks_of_the_file_and_follow_a_correction(tmp_path: Path, sample: Path) -> None:
    home = str(tmp_path / "home")
    _run("ingest", str(sample), "--home", home)
    first = _run("billing-refresh", "--home", home)
    assert first["recomputed"] == ["2023-10", "2023-11", "2023-12"]
    kept = _run("peaks", "--ean", ANONYMISED_EAN, "--home", home)
    from_file = _run("peaks", str(sample))
    for month in kept["access_points"][0]["months"]:
        assert month.pop("stale") is False
    assert kept["access_points"] == from_file["access_points"]
    assert _run("billing-refresh", "--home", home)["recomputed"] == []

    # a corrected export raises 2023-11-04 18:45 from 1.097 to 2.000 kWh: 8 kW
    lines = sample.read_text(encoding="utf-8-sig").splitlines()
    corrected = tmp_path / "corrected.csv"
    target = "04/11/2023;18:45:00;04/11/2023;19:00:00;"
    fixed = [
        line.replace(";1,097;", ";2,000;") if line.startswith(target) and "Offtake" in line else line
        for line in lines
    ]
    assert fixed != lines
    corrected.write_text(
        "\n".join(fixed[:1] + [f for f, o in zip(fixed, lines, strict=True) if f != o]) + "\n"
    )
    _run("ingest", str(corrected), "--home", home)
    stale = _run("peaks", "--ean", ANONYMISED_EAN, "--home", home)["access_points"][0]["months"]
    assert [m["stale"] for m in stale] == [False, True, False]
    second = _run("billing-refresh", "--home", home)
    assert second["recomputed"] == ["2023-11"]
    # only the correction's file is scanned; the peak candidates of November's first file are kept
    assert (first["files_scanned"], second["files_scanned"], second["files_kept"]) == (3, 1, 1)
    assert second["billing_months"] == ["2023-11", "2023-12"]
    months = _run("peaks", "--ean", ANONYMISED_EAN, "--home", home)["access_points"][0]["months"]
    november, december = months[1], months[2]
    assert (november["peak_kw"], november["peak_start"]) == (8.0, "2023-11-04T18:45:00+01:00")
    assert november["billing_peak_kw"] == 6.084  # (4.168 + 8.000) / 2
    assert december["billing_peak_kw"] == 5.479  # (4.168 + 8.000 + 4.268) / 3 = 5.4786…


def test_monthly_totals_agree_with_the_export(tmp_path: Path, sample: Path) -> None:
    home = str(tmp_path / "home")
    _run("ingest", str(sample), "--home", home)
    statement = _run("billing", ANONYMISED_EAN, "--from", "2023-10-01", "--to", "2024-01-01", "--home", home)
    result = runner.invoke(
        app,
        [
            "export",
            ANONYMISED_EAN,
            "--from",
            "2023-10-01",
            "--to",
            "2024-01-01",
            "--granularity",
            "month",
            "--format",
            "json",
            "--home",
            home,
        ],
    )
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)
    totals = {
        (row["start"][:7], row["channel"], row["tariff"]): (row["value"], row["quarters"])
        for row in exported["rows"]
    }
    billed = {
        (month["month"], channel, tariff): (figures["kwh"], figures["quarters"])
        for month in statement["months"]
        for channel in ("offtake", "injection")
        for tariff, figures in month.get(channel, {}).items()
    }
    assert billed == totals
    assert statement["meter"] is None and "net_metering" not in statement
    assert [p["month"] for p in statement["peaks"]] == ["2023-10", "2023-11", "2023-12"]


def test_a_lowered_peak_quarter_is_followed_through_compaction(tmp_path: Path, sample: Path) -> None:
    # the corrected version is lower than the stored one: only the current version may count, before and
    # after compaction puts the superseded version in the history file; second method: the corrected file
    home = str(tmp_path / "home")
    _run("ingest", str(sample), "--home", home)
    _run("billing-refresh", "--home", home)
    november = _run("peaks", "--ean", ANONYMISED_EAN, "--home", home)["access_points"][0]["months"][1]
    day, clock = november["peak_start"][:10], november["peak_start"][11:19]
    target = f"{day[8:10]}/{day[5:7]}/{day[:4]};{clock};"
    lines = sample.read_text(encoding="utf-8-sig").splitlines()
    fixed = [_lowered(line) if line.startswith(target) and "Offtake" in line else line for line in lines]
    changed = [f for f, o in zip(fixed, lines, strict=True) if f != o]
    assert len(changed) == 1, changed
    whole = tmp_path / "whole.csv"
    whole.write_text("\n".join(fixed) + "\n")
    correction = tmp_path / "correction.csv"
    correction.write_text("\n".join([fixed[0], *changed]) + "\n")
    _run("ingest", str(correction), "--home", home)
    expected = _run("peaks", str(whole))["access_points"]
    # 2023-11-05 18:15 has the same 1.097 kWh: the peak moves there
    assert expected[0]["months"][1]["peak_start"] == "2023-11-05T18:15:00+01:00" != november["peak_start"]
    for compacted in (False, True):
        if compacted:
            _run("store", "compact", "--home", home)
        _run("billing-refresh", "--home", home)
        kept = _run("peaks", "--ean", ANONYMISED_EAN, "--home", home)["access_points"]
        for month in kept[0]["months"]:
            assert month.pop("stale") is False
        assert kept == expected


def _lowered(line: str) -> str:
    """The export line with its volume set to 0.001 kWh."""
    fields = line.split(";")
    fields[8] = "0,001"
    return ";".join(fields)
