"""The Mijn Fluvius reader on the four real exports and on synthetic files for the other cases."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from kwartier.capture.mijn_fluvius import read_mijn_fluvius
from kwartier.capture.quarantine import InputFormatError
from kwartier.capture.result import CaptureResult
from kwartier.domain.timegrid import gas_day_of, hours_in_gas_day, market_day_of, quarter_hours
from tests.capture.samples import (
    ANONYMISED_EAN,
    DUTCH_ELECTRICITY,
    DUTCH_GAS,
    ENGLISH_ELECTRICITY,
    ENGLISH_GAS,
    MIJN_FLUVIUS_SAMPLES,
)

# what the test expects each (Register, Unit) of the files to become: written out, not imported
EXPECTED_CHANNEL = {
    ("Offtake Day", "kWh"): ("offtake", "day"),
    ("Offtake Night", "kWh"): ("offtake", "night"),
    ("Injection Day", "kWh"): ("injection", "day"),
    ("Injection Night", "kWh"): ("injection", "night"),
    ("Afname Dag", "kWh"): ("offtake", "day"),
    ("Afname Nacht", "kWh"): ("offtake", "night"),
    ("Injectie Dag", "kWh"): ("injection", "day"),
    ("Injectie Nacht", "kWh"): ("injection", "night"),
    ("Offtake", "kWh"): ("gas_energy", "total"),
    ("Offtake", "m³"): ("gas_volume", "total"),
    ("Afname", "kWh"): ("gas_energy", "total"),
    ("Afname", "m³"): ("gas_volume", "total"),
}

ENGLISH_HEADER = (
    "From (date);From (time);Until (date);Until (time);EAN code;Meter;Meter type;Register;Volume;Unit;"
    "Validation status;Description"
)
EAN = "541448820052377134"


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _write(path: Path, header: str, rows: list[str], newline: str = "\r\n") -> Path:
    path.write_bytes(("\ufeff" + newline.join([header, *rows]) + newline).encode("utf-8"))
    return path


def _row(interval: str, register: str, volume: str, status: str) -> str:
    """An English electricity row; ``interval``: 'from date;from time;until date;until time'."""
    return f'{interval};="{EAN}";1SAG1100000001;Digital meter;{register};{volume};kWh;{status};'


def _dutch_row(interval: str, register: str, volume: str, unit: str, status: str, *, meter: str) -> str:
    return f'{interval};="{EAN}";{meter};Digitale Meter;{register};{volume};{unit};{status}'


def _by_line(result: CaptureResult) -> dict[int, dict[str, object]]:
    return {row["line"]: row for row in result.readings.to_pylist()}


@pytest.mark.parametrize("name", MIJN_FLUVIUS_SAMPLES)
def test_totals_and_counts_match_an_independent_read(
    name: str, mijn_fluvius_dir: Path, mijn_fluvius_results: dict[str, CaptureResult]
) -> None:
    # DuckDB reads the columns by position (Register 8th, Volume 9th, Unit 10th), decimal comma replaced
    expected = {
        EXPECTED_CHANNEL[register, unit]: (count, int(total * 1000))
        for register, unit, count, total in duckdb.execute(
            "select column07, column09, count(column08),"
            " sum(cast(replace(column08, ',', '.') as decimal(18, 3)))"
            " from read_csv($path, delim=';', header=false, skip=1, all_varchar=true, quote='')"
            " where column08 is not null group by all",
            {"path": str(mijn_fluvius_dir / name)},
        ).fetchall()
        if count
    }
    result = mijn_fluvius_results[name]
    got: dict[tuple[str, str], tuple[int, int]] = {}
    for row in result.readings.to_pylist():
        count, total = got.get((row["channel"], row["tariff"]), (0, 0))
        got[row["channel"], row["tariff"]] = (count + 1, total + row["value"])
    assert got == expected
    assert result.rejections == []
    assert result.format == "mijn-fluvius"
    assert result.file == str(mijn_fluvius_dir / name)


def test_row_counts_and_statuses(mijn_fluvius_results: dict[str, CaptureResult]) -> None:
    # counted with grep/awk on the files: rows with a non-empty Volume, per status
    statuses = {
        name: Counter(result.readings["source_status"].to_pylist())
        for name, result in mijn_fluvius_results.items()
    }
    assert statuses[ENGLISH_ELECTRICITY] == {"read": 13638}
    assert statuses[ENGLISH_GAS] == {"read": 3398}
    assert statuses[DUTCH_ELECTRICITY] == {"validated": 928, "estimated": 354}
    assert statuses[DUTCH_GAS] == {"validated": 94, "estimated": 20}


def test_one_warning_per_file_for_the_anonymised_ean(mijn_fluvius_results: dict[str, CaptureResult]) -> None:
    for name in (ENGLISH_ELECTRICITY, ENGLISH_GAS, DUTCH_ELECTRICITY):
        warnings = mijn_fluvius_results[name].warnings
        assert len(warnings) == 1
        assert ANONYMISED_EAN in warnings[0]
        assert set(mijn_fluvius_results[name].readings["ean"].to_pylist()) == {ANONYMISED_EAN}
    # the old Dutch gas file carries 123456789123456789, whose check digit is right
    assert mijn_fluvius_results[DUTCH_GAS].warnings == []


def test_autumn_dst_day_has_100_quarters_per_register(mijn_fluvius_results: dict[str, CaptureResult]) -> None:
    day = date(2023, 10, 29)
    rows = [
        r
        for r in mijn_fluvius_results[ENGLISH_ELECTRICITY].readings.to_pylist()
        if market_day_of(r["start"]) == day
    ]
    for channel in ("offtake", "injection"):
        starts = [r["start"] for r in rows if r["channel"] == channel]
        assert len(starts) == 100
        assert sorted(starts) == quarter_hours(day)
        assert len({s.replace(minute=0) for s in starts}) == 25
        assert {r["minutes"] for r in rows} == {15}
    by_line = _by_line(mijn_fluvius_results[ENGLISH_ELECTRICITY])
    # line 1362: the first "29/10/2023;02:00:00" is summer time 02:00+02:00; line 1364 the winter one
    assert by_line[1362]["start"] == _utc("2023-10-29 00:00")
    assert by_line[1362]["value"] == 276
    assert by_line[1364]["start"] == _utc("2023-10-29 01:00")
    assert by_line[1364]["value"] == 261
    # line 1374: the first pass's 02:45 row, whose until-time reads 02:00 (the second 02:00)
    assert by_line[1374]["start"] == _utc("2023-10-29 00:45")
    assert by_line[1374]["minutes"] == 15
    assert by_line[1376]["start"] == _utc("2023-10-29 01:45")


def test_autumn_dst_gas_day_has_25_hours(mijn_fluvius_results: dict[str, CaptureResult]) -> None:
    result = mijn_fluvius_results[ENGLISH_GAS]
    gas_day = date(2023, 10, 28)
    for channel in ("gas_volume", "gas_energy"):
        starts = [r["start"] for r in result.readings.to_pylist() if r["channel"] == channel]
        assert sum(gas_day_of(s) == gas_day for s in starts) == hours_in_gas_day(gas_day) == 25
        assert len(starts) == len(set(starts))
    by_line = _by_line(result)
    # line 330 "29/10/2023;02:00:00;29/10/2023;02:00:00" (summer pass), line 332 "02:00-03:00" (winter)
    assert (by_line[330]["start"], by_line[330]["minutes"]) == (_utc("2023-10-29 00:00"), 60)
    assert (by_line[332]["start"], by_line[332]["minutes"]) == (_utc("2023-10-29 01:00"), 60)


def test_gas_in_kwh_and_m3(mijn_fluvius_results: dict[str, CaptureResult]) -> None:
    english = _by_line(mijn_fluvius_results[ENGLISH_GAS])
    # "28/10/2023;23:00:00;…;0,096;m³" and "…;1,088;kWh": 23:00 summer time = 21:00 UTC
    assert english[324] | {"line": 0} == {
        "line": 0, "ean": ANONYMISED_EAN, "meter": "7MIT1234567890", "channel": "gas_volume",
        "tariff": "total", "start": _utc("2023-10-28 21:00"), "minutes": 60, "value": 96,
        "source_status": "read",
    }  # fmt: skip
    assert (english[325]["channel"], english[325]["value"]) == ("gas_energy", 1088)
    dutch = _by_line(mijn_fluvius_results[DUTCH_GAS])
    # "10-01-2022;07:00:00;…;5,445;kWh;Gevalideerd" and "0,495;m³": 07:00 winter time = 06:00 UTC
    assert (dutch[4]["channel"], dutch[4]["value"], dutch[4]["start"]) == (
        "gas_energy",
        5445,
        _utc("2022-01-10 06:00"),
    )
    assert (dutch[5]["channel"], dutch[5]["value"], dutch[5]["source_status"]) == (
        "gas_volume",
        495,
        "validated",
    )
    assert 2 not in dutch  # "Geen verbruik" with an empty volume: no row, not 0


def test_old_dutch_electricity(mijn_fluvius_results: dict[str, CaptureResult]) -> None:
    result = mijn_fluvius_results[DUTCH_ELECTRICITY]
    by_line = _by_line(result)
    # line 62: "12-10-2021;07:30:00;12-10-2021;07:45:00;…;Afname Dag;0,067;kWh;Gevalideerd" (LF lines)
    assert by_line[62] | {"line": 0} == {
        "line": 0, "ean": ANONYMISED_EAN, "meter": "1SAG12345678", "channel": "offtake", "tariff": "day",
        "start": _utc("2021-10-12 05:30"), "minutes": 15, "value": 67, "source_status": "validated",
    }  # fmt: skip
    # the autumn DST day 2021-10-31 only has "Geen verbruik" rows: nothing, and nothing rejected
    assert not any(market_day_of(s) == date(2021, 10, 31) for s in result.readings["start"].to_pylist())
    assert min(by_line) > 2  # the first rows are empty


def test_new_dutch_header_with_exclusive_night(tmp_path: Path) -> None:
    header = (
        "Van (datum);Van (tijdstip);Tot (datum);Tot (tijdstip);EAN-code;Meter;Metertype;Register;Volume;"
        "Eenheid;Validatiestatus;Omschrijving"
    )
    first, second = "04-11-2025;23:00:00;04-11-2025;23:15:00", "04-11-2025;23:15:00;04-11-2025;23:30:00"
    rows = [
        _dutch_row(first, "Afname Nacht", "0,120", "kWh", "Gevalideerd;", meter="1SAG1"),
        _dutch_row(first, "afname EXCLUSIEF nacht", "1,5", "kWh", "Uitgelezen;", meter="1SAG1"),
        _dutch_row(second, "Injectie Dag", "0,002", "kWh", "Geschat;", meter="1SAG1"),
        _dutch_row(second, "Afname Nacht", "", "kWh", "Geen verbruik;", meter="1SAG1"),
    ]
    result = read_mijn_fluvius(_write(tmp_path / "nieuw.csv", header, rows, newline="\n"))
    assert result.rejections == []
    assert result.warnings == []  # 541448820052377134 has a right check digit
    got = [
        (r["line"], r["channel"], r["tariff"], r["value"], r["source_status"])
        for r in result.readings.to_pylist()
    ]
    assert got == [
        (2, "offtake", "night", 120, "validated"),
        (3, "offtake", "excl_night", 1500, "read"),
        (4, "injection", "day", 2, "estimated"),
    ]
    assert result.readings["start"][0].as_py() == _utc("2025-11-04 22:00")


@pytest.mark.parametrize("ean_column", ["EAN", "EAN-code"])
def test_new_dutch_gas_header(tmp_path: Path, ean_column: str) -> None:
    header = (
        f"Van (datum);Van (tijdstip);Tot (datum);Tot (tijdstip);{ean_column};Meter;Metertype;Register;Volume;"
        "Eenheid;Validatiestatus;Calorische bovenwaarde;Omschrijving"
    )
    hour = "04-11-2025;06:00:00;04-11-2025;07:00:00"
    rows = [
        _dutch_row(hour, "Afname", "0,210", "m³", "Gevalideerd;;", meter="7FLO1"),
        _dutch_row(hour, "Afname", "2,331", "kWh", "Gevalideerd;;", meter="7FLO1"),
    ]
    result = read_mijn_fluvius(_write(tmp_path / "gas.csv", header, rows))
    got = [(r["channel"], r["minutes"], r["value"]) for r in result.readings.to_pylist()]
    assert got == [("gas_volume", 60, 210), ("gas_energy", 60, 2331)]


def test_broken_rows_are_rejected_and_the_rest_is_kept(tmp_path: Path) -> None:
    rows = [
        _row("04/11/2025;10:00:00;04/11/2025;10:15:00", "Offtake Day", "0,100", "Read"),
        _row("32/11/2025;10:15:00;04/11/2025;10:30:00", "Offtake Day", "0,100", "Read"),
        _row("04/11/2025;10:30:00;04/11/2025;10:45:00", "Offtake Day", "0,1x3", "Read"),
        _row("30/03/2025;02:00:00;30/03/2025;02:15:00", "Offtake Night", "0,100", "Read"),
        _row("04/11/2025;10:45:00;04/11/2025;11:00:00", "Offtake Peak", "0,100", "Read"),
        _row("04/11/2025;10:00:00;04/11/2025;10:15:00", "Offtake Day", "0,100", "Read"),
        _row("04/11/2025;11:00:00;04/11/2025;11:20:00", "Offtake Day", "0,100", "Read"),
        _row("04/11/2025;11:15:00;04/11/2025;11:30:00", "Offtake Day", "0,100", "Unknown"),
        "04/11/2025;11:30:00;04/11/2025",
        _row("04/11/2025;11:45:00;04/11/2025;12:00:00", "Injection Day", "0,250", "Validated"),
    ]
    path = _write(tmp_path / "broken.csv", ENGLISH_HEADER, rows)
    result = read_mijn_fluvius(path)
    assert [(r["line"], r["value"]) for r in result.readings.to_pylist()] == [(2, 100), (11, 250)]
    assert [(r.file, r.line, r.field) for r in result.rejections] == [
        (str(path), 3, "From (date)"),
        (str(path), 4, "Volume"),
        (str(path), 5, "From (time)"),  # 02:00 does not exist on the spring DST day
        (str(path), 6, "Register"),
        (str(path), 7, "From (time)"),  # the same interval as line 2 on a day without DST change
        (str(path), 8, "Until (time)"),  # 20 minutes
        (str(path), 9, "Validation status"),
        (str(path), 10, "row"),
    ]
    assert "0,1x3" in result.rejections[1].reason
    assert "line 2" in result.rejections[4].reason
    assert result.rejections[1].raw == rows[2]


def test_unrecognised_header_is_an_input_format_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "other.csv", "Datum;Tijd;Waarde", ["04/11/2025;10:00:00;0,100"])
    with pytest.raises(InputFormatError) as error:
        read_mijn_fluvius(path)
    assert (error.value.file, error.value.line) == (str(path), 1)
    assert "Datum;Tijd;Waarde" in error.value.reason
    # the English header with a column missing is not recognised either
    with pytest.raises(InputFormatError):
        read_mijn_fluvius(_write(tmp_path / "short.csv", ENGLISH_HEADER.replace("Volume;", ""), []))
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InputFormatError):
        read_mijn_fluvius(tmp_path / "empty.csv")
