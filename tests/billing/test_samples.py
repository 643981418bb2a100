"""Peaks of the real samples: from the Mijn Fluvius CSVs (checked against a plain second reading of the
file) and from the P1 telegrams' 0-0:98.1.0 buffers (checked against the telegram text)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from kwartier.cli import app
from tests.capture.samples import DUTCH_ELECTRICITY, ENGLISH_ELECTRICITY, P1_TELEGRAM, P1_TELEGRAM_ALT

runner = CliRunner()


def _peaks_json(*files: Path) -> dict[str, list[dict[str, object]]]:
    result = runner.invoke(app, ["peaks", *map(str, files), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    return {point["ean"]: point["months"] for point in document["access_points"]}


def _second_reading(path: Path) -> dict[str, tuple[int, str]]:
    """Monthly peak [W] and its local start per month, read with the csv module alone.

    A quarter is keyed by its local start and by how often that start was seen before for the register
    (the autumn DST hour comes twice); day and night offtake of the same quarter are added.
    """
    energy: dict[tuple[str, str, int], int] = defaultdict(int)
    seen: dict[tuple[str, str, str], int] = defaultdict(int)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    for row in rows[1:]:
        day, clock, register, volume = row[0], row[1], row[7], row[8]
        occurrence = seen[(day, clock, register)]
        seen[(day, clock, register)] += 1
        if not volume or register not in ("Offtake Day", "Offtake Night", "Afname Dag", "Afname Nacht"):
            continue
        whole, fraction = volume.split(",")
        energy[(day, clock, occurrence)] += int(whole) * 1000 + int(fraction.ljust(3, "0"))
    best: dict[str, tuple[int, str]] = {}
    for (day, clock, occurrence), wh in sorted(energy.items(), key=lambda item: _order(item[0])):
        month = f"{day[6:10]}-{day[3:5]}"
        if month not in best or wh * 4 > best[month][0]:
            best[month] = (wh * 4, f"{day[6:10]}-{day[3:5]}-{day[0:2]}T{clock}#{occurrence}")
    return best


def _order(key: tuple[str, str, int]) -> tuple[str, int, str]:
    day, clock, occurrence = key
    return (f"{day[6:10]}{day[3:5]}{day[0:2]}", occurrence if clock.startswith("02:") else 0, clock)


def test_english_export_peaks_match_a_second_reading_and_the_published_shape(samples_dir: Path) -> None:
    path = samples_dir / "mijn-fluvius" / ENGLISH_ELECTRICITY
    months = _peaks_json(path)["123456879123456789"]
    expected = _second_reading(path)
    assert [m["month"] for m in months] == sorted(expected)
    for month in months:
        watts, start = expected[str(month["month"])]
        assert month["peak_kw"] == watts / 1000
        assert str(month["peak_start"])[:19] == start.split("#")[0].replace("/", "-")
    november = next(m for m in months if m["month"] == "2023-11")
    assert november == {
        "month": "2023-11",
        "peak_kw": 4.388,
        "peak_start": "2023-11-04T18:45:00+01:00",
        "billing_peak_kw": 4.278,  # (max(4.168, 2.5) + 4.388) / 2
        "estimated": False,
        "months_in_billing_peak": 2,
        "quarters": 2880,
        "estimated_quarters": 0,
    }


def test_dutch_export_peak_is_below_the_floor(samples_dir: Path) -> None:
    path = samples_dir / "mijn-fluvius" / DUTCH_ELECTRICITY
    months = _peaks_json(path)["123456879123456789"]
    expected = _second_reading(path)
    assert {m["month"]: m["peak_kw"] for m in months} == {k: v[0] / 1000 for k, v in expected.items()}
    assert all(m["billing_peak_kw"] == 2.5 for m in months if float(str(m["peak_kw"])) < 2.5)


def test_p1_buffer_peaks_belong_to_the_month_before_their_key(samples_dir: Path) -> None:
    # telegram: 1-0:1.6.0(200509134558S)(02.589*kW) and 0-0:98.1.0 keyed 2020-05-01, -04-01, -03-01
    months = _peaks_json(samples_dir / "p1" / P1_TELEGRAM)["1SAG3101021605"]
    assert [(m["month"], m["peak_kw"], m["peak_start"]) for m in months] == [
        ("2020-02", 4.318, "2020-02-10T03:54:21+01:00"),
        ("2020-03", 5.98, "2020-03-05T12:21:39+01:00"),
        ("2020-04", 3.695, "2020-04-23T19:25:38+02:00"),
        ("2020-05", 2.589, "2020-05-09T13:45:58+02:00"),
    ]
    # May 2020: (4.318 + 5.980 + 3.695 + 2.589) / 4 = 4.1455 → 4.146 (half up at the W)
    assert [m["billing_peak_kw"] for m in months] == [4.318, 5.149, 4.664, 4.146]


def test_p1_alt_telegram_has_a_month_below_the_floor(samples_dir: Path) -> None:
    months = _peaks_json(samples_dir / "p1" / P1_TELEGRAM_ALT)["1SAG3100721326"]
    assert [(m["month"], m["peak_kw"]) for m in months] == [
        ("2023-08", 1.862),
        ("2023-09", 4.229),
        ("2023-10", 4.927),
        ("2023-11", 3.064),
    ]
    # (2.5 + 4.229 + 4.927 + 3.064) / 4 = 3.680: August counts at the 2.5 kW floor
    assert months[-1]["billing_peak_kw"] == 3.68
    assert date.fromisoformat(f"{months[0]['month']}-01") == date(2023, 8, 1)
