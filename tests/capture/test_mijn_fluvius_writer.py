"""Writing the Mijn Fluvius format: the real files come back line for line, and read back unchanged."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from kwartier.capture.mijn_fluvius import read_mijn_fluvius, write_mijn_fluvius
from kwartier.capture.result import CaptureResult
from kwartier.domain.channels import Energy
from tests.capture.samples import DUTCH_ELECTRICITY, DUTCH_GAS, ENGLISH_ELECTRICITY, ENGLISH_GAS

SAMPLES = [
    (ENGLISH_ELECTRICITY, Energy.ELECTRICITY, "en"),
    (ENGLISH_GAS, Energy.GAS, "en"),
    (DUTCH_ELECTRICITY, Energy.ELECTRICITY, "nl"),
    (DUTCH_GAS, Energy.GAS, "nl"),
]
COLUMNS = ["ean", "meter", "channel", "tariff", "start", "minutes", "value", "source_status"]
KEYS = [("channel", "ascending"), ("tariff", "ascending"), ("start", "ascending")]


def _write(readings: pa.Table, energy: Energy, language: str) -> str:
    out = io.StringIO(newline="")
    ean, meter = readings["ean"][0].as_py(), readings["meter"][0].as_py()
    write_mijn_fluvius(readings, ean, meter, energy, out, language=language)
    return out.getvalue()


@pytest.mark.parametrize(("name", "energy", "language"), SAMPLES)
def test_round_trip(
    name: str,
    energy: Energy,
    language: str,
    tmp_path: Path,
    mijn_fluvius_results: dict[str, CaptureResult],
) -> None:
    readings = mijn_fluvius_results[name].readings
    path = tmp_path / "written.csv"
    path.write_text(_write(readings, energy, language), encoding="utf-8", newline="")
    again = read_mijn_fluvius(path)
    assert again.rejections == []
    assert again.readings.select(COLUMNS).sort_by(KEYS).equals(readings.select(COLUMNS).sort_by(KEYS))
    assert again.readings.num_rows == readings.num_rows


@pytest.mark.parametrize(("name", "energy", "language"), SAMPLES)
def test_written_lines_are_those_of_the_real_file(
    name: str,
    energy: Energy,
    language: str,
    mijn_fluvius_dir: Path,
    mijn_fluvius_results: dict[str, CaptureResult],
) -> None:
    # the real file without its empty-volume rows, which carry no reading, must come back line for line:
    # same order (the DST passes interleaved), dates, EAN formula, decimals and words
    text = _write(mijn_fluvius_results[name].readings, energy, language)
    assert text.startswith("\ufeff")
    assert text.endswith("\r\n")
    written = text.removeprefix("\ufeff").split("\r\n")[:-1]
    original = (mijn_fluvius_dir / name).read_bytes().decode("utf-8-sig").replace("\r\n", "\n").split("\n")
    kept = [original[0]] + [line for line in original[1:] if line and line.split(";")[8]]
    if name == DUTCH_GAS:
        # the old Dutch gas file says "Definitief" / "Voorlopig" in its calorific column: not carried over
        kept = [";".join(line.split(";")[:11]) + ";" for line in kept[1:]]
        kept.insert(0, original[0])
    assert written == kept


def test_dst_passes_are_interleaved() -> None:
    # the autumn DST quarter 02:45 summer time (00:45 UTC) ends at the second 02:00 (01:00 UTC)
    starts = [datetime(2023, 10, 29, hour, minute, tzinfo=UTC) for hour in (0, 1) for minute in (30, 45)]
    readings = pa.table(
        {
            "channel": ["offtake"] * 4,
            "tariff": ["night"] * 4,
            "start": pa.array(starts, pa.timestamp("us", tz="UTC")),
            "minutes": pa.array([15] * 4, pa.int16()),
            "value": [1, 2, 3, -4],
            "source_status": ["read", "validated", "estimated", "read"],
        }
    )
    out = io.StringIO(newline="")
    write_mijn_fluvius(readings, "541448820052377134", "1SAG1", Energy.ELECTRICITY, out, language="nl")
    lines = [line.split(";") for line in out.getvalue().split("\r\n")[1:-1]]
    assert [(c[1], c[3], c[8], c[10]) for c in lines] == [
        ("02:30:00", "02:45:00", "0,001", "Uitgelezen"),  # 00:30 UTC, summer pass
        ("02:30:00", "02:45:00", "0,003", "Geschat"),  # 01:30 UTC, winter pass
        ("02:45:00", "02:00:00", "0,002", "Gevalideerd"),  # 00:45 UTC, ends at the winter 02:00
        ("02:45:00", "03:00:00", "-0,004", "Uitgelezen"),  # 01:45 UTC
    ]


def test_channel_of_another_energy_or_unknown_language_is_refused(
    mijn_fluvius_results: dict[str, CaptureResult],
) -> None:
    gas = mijn_fluvius_results[ENGLISH_GAS].readings
    with pytest.raises(ValueError, match="gas_volume"):
        write_mijn_fluvius(gas, "541448820052377134", "7MIT1", Energy.ELECTRICITY, io.StringIO())
    with pytest.raises(ValueError, match="language"):
        write_mijn_fluvius(gas, "541448820052377134", "7MIT1", Energy.GAS, io.StringIO(), language="fr")
