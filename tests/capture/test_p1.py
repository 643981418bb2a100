"""P1 telegrams of Fluvius meters: registers, capacity-tariff peaks, CRC, EAN and M-Bus devices."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from kwartier.capture.p1 import read_p1
from kwartier.capture.quarantine import InputFormatError
from kwartier.domain.ean import InvalidEanError, with_check_digit
from tests.capture.samples import P1_TELEGRAM, P1_TELEGRAM_ALT


def _crc16_arc(text: str) -> int:
    """CRC-16/ARC (polynomial 0x8005 reflected, initial value 0), bit by bit: the P1 telegram checksum."""
    crc = 0
    for byte in text.encode("ascii"):
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def telegram(samples_dir: Path) -> str:
    return (samples_dir / "p1" / P1_TELEGRAM).read_bytes().decode("ascii")


@pytest.fixture
def telegram_alt(samples_dir: Path) -> str:
    return (samples_dir / "p1" / P1_TELEGRAM_ALT).read_bytes().decode("ascii")


def _with_crc(text: str) -> str:
    """A telegram whose content was changed, with its CRC recomputed."""
    content = text[: text.rindex("!") + 1]
    return f"{content}{_crc16_arc(content):04X}\r\n"


def _file(tmp_path: Path, *telegrams: str) -> Path:
    path = tmp_path / "p1.txt"
    path.write_bytes("".join(telegrams).encode("ascii"))
    return path


def test_sample_crcs_are_right(telegram: str, telegram_alt: str) -> None:
    for text, crc in ((telegram, 0x3AD7), (telegram_alt, 0xC4B0)):
        assert text.count("\r\n") == text.count("\n")
        assert _crc16_arc(text[: text.rindex("!") + 1]) == crc


def test_registers_of_the_first_telegram(samples_dir: Path) -> None:
    result = read_p1(samples_dir / "p1" / P1_TELEGRAM)
    assert result.format == "p1"
    assert result.rejections == []
    rows = result.registers.to_pylist()
    # 1-0:1.8.1(000000.034*kWh) … on lines 6-9; 0-0:1.0.0(200512135409S) = 13:54:09 UTC+2
    assert [(r["line"], r["channel"], r["tariff"], r["index_value"]) for r in rows] == [
        (6, "offtake", "day", 34),
        (7, "offtake", "night", 15758),
        (8, "injection", "day", 0),
        (9, "injection", "night", 11),
    ]
    assert {r["read_at"] for r in rows} == {_utc("2020-05-12 11:54:09")}
    assert {r["source_status"] for r in rows} == {"read"}
    # 0-0:96.1.1(3153414733313031303231363035) is ASCII "1SAG3101021605"; no EAN given: keyed by it
    assert {(r["ean"], r["meter"]) for r in rows} == {("1SAG3101021605", "1SAG3101021605")}
    assert "no EAN given" in result.warnings[0]
    assert "1SAG3101021605" in result.warnings[0]


def test_registers_of_the_second_telegram_with_an_ean(samples_dir: Path) -> None:
    ean = with_check_digit("54144882005237713")
    result = read_p1(samples_dir / "p1" / P1_TELEGRAM_ALT, ean=ean)
    rows = result.registers.to_pylist()
    assert [r["index_value"] for r in rows] == [301548, 270014, 5, 0]
    # 0-0:1.0.0(231102121548W) = 12:15:48 UTC+1
    assert {r["read_at"] for r in rows} == {_utc("2023-11-02 11:15:48")}
    assert {(r["ean"], r["meter"]) for r in rows} == {(ean, "1SAG3100721326")}
    assert not any("no EAN given" in warning for warning in result.warnings)
    with pytest.raises(InvalidEanError):
        read_p1(samples_dir / "p1" / P1_TELEGRAM_ALT, ean="541448820052377130")


def test_peaks_of_the_first_telegram(samples_dir: Path) -> None:
    peaks = read_p1(samples_dir / "p1" / P1_TELEGRAM).peaks.to_pylist()
    # 98.1.0 entries, keyed by the first day of the next month, worked out by hand; the peak time
    # is Brussels wall-clock: 2020-02-10 03:54:21 winter = 02:54:21 UTC; 2020-03-05 12:21:39 is winter
    # time whatever its "S" flag says (the flag only picks the pass of the repeated autumn hour)
    assert [(p["month"], p["peak_w"], p["peak_start"], p["line"]) for p in peaks] == [
        (date(2020, 2, 1), 4318, _utc("2020-02-10 02:54:21"), 12),
        (date(2020, 3, 1), 5980, _utc("2020-03-05 11:21:39"), 12),
        (date(2020, 4, 1), 3695, _utc("2020-04-23 17:25:38"), 12),  # 19:25:38 summer time
        (date(2020, 5, 1), 2589, _utc("2020-05-09 11:45:58"), 11),  # 1-0:1.6.0(200509134558S)(02.589*kW)
    ]


def test_peaks_of_the_second_telegram_skip_the_empty_entry(samples_dir: Path) -> None:
    peaks = read_p1(samples_dir / "p1" / P1_TELEGRAM_ALT).peaks.to_pylist()
    # (230801000000S)(632525252525W)(00.000*kW) would be July 2023: no value, skipped
    assert [(p["month"], p["peak_w"], p["peak_start"]) for p in peaks] == [
        (date(2023, 8, 1), 1862, _utc("2023-08-31 16:15:00")),  # 18:15 summer time
        (date(2023, 9, 1), 4229, _utc("2023-09-10 16:30:00")),
        (date(2023, 10, 1), 4927, _utc("2023-10-16 11:00:00")),  # 13:00 summer time
        (date(2023, 11, 1), 3064, _utc("2023-11-02 10:45:00")),  # 1.6.0: 11:45 winter time
    ]


def test_mbus_values_are_warnings_not_registers(samples_dir: Path) -> None:
    result = read_p1(samples_dir / "p1" / P1_TELEGRAM_ALT)
    assert set(result.registers["channel"].to_pylist()) == {"offtake", "injection"}
    # 0-1:96.1.1(37464C4F32313233303838303237) = 7FLO2123088027, device type 3 (gas)
    gas = [w for w in result.warnings if "7FLO2123088027" in w]
    assert len(gas) == 1
    assert "gas meter" in gas[0]
    assert "92.287" in gas[0]
    # 0-2: device type 7 (water), 3853455430303030393631313733 = 8SET0000961173
    assert any("water meter 8SET0000961173" in w and "8.579" in w for w in result.warnings)


def test_a_corrupted_digit_fails_the_crc(tmp_path: Path, telegram: str, telegram_alt: str) -> None:
    corrupted = telegram.replace("1-0:1.8.2(000015.758*kWh)", "1-0:1.8.2(000015.759*kWh)")
    assert corrupted != telegram
    with pytest.raises(InputFormatError, match="CRC"):
        read_p1(_file(tmp_path, corrupted))
    # with a valid telegram after it: the corrupted one is rejected, the other kept
    result = read_p1(_file(tmp_path, corrupted, telegram_alt))
    assert [(r.line, r.field, r.code) for r in result.rejections] == [(39, "CRC", "CRC")]  # the "!3AD7" line
    assert "3AD7" in result.rejections[0].reason
    assert set(result.registers["read_at"].to_pylist()) == {_utc("2023-11-02 11:15:48")}


def test_lf_line_ends_fail_the_crc(tmp_path: Path, telegram: str) -> None:
    with pytest.raises(InputFormatError, match="CRC"):
        read_p1(_file(tmp_path, telegram.replace("\r\n", "\n")))


def test_several_telegrams_keep_one_peak_per_month(tmp_path: Path, telegram_alt: str) -> None:
    # a later telegram of the same meter: the running peak of November grew, and a 1.6.0 naming
    # October as well as the buffer does, with a lower value than the buffer's
    later = telegram_alt.replace("0-0:1.0.0(231102121548W)", "0-0:1.0.0(231102123000W)")
    later = later.replace("1-0:1.6.0(231102114500W)(03.064*kW)", "1-0:1.6.0(231102120000W)(03.500*kW)")
    october = telegram_alt.replace("0-0:1.0.0(231102121548W)", "0-0:1.0.0(231102124500W)")
    october = october.replace("1-0:1.6.0(231102114500W)(03.064*kW)", "1-0:1.6.0(231016130000S)(04.000*kW)")
    result = read_p1(_file(tmp_path, telegram_alt, _with_crc(later), _with_crc(october), telegram_alt))
    assert result.rejections == []
    peaks = {p["month"]: (p["peak_w"], p["peak_start"]) for p in result.peaks.to_pylist()}
    assert len(result.peaks) == len(peaks) == 4
    assert peaks[date(2023, 11, 1)] == (3500, _utc("2023-11-02 11:00:00"))
    assert peaks[date(2023, 10, 1)] == (4927, _utc("2023-10-16 11:00:00"))
    # three distinct telegram times, the repeated telegram adds nothing: 3 × 4 registers
    assert result.registers.num_rows == 12


def test_incomplete_telegram_and_stray_text_are_rejected(
    tmp_path: Path, telegram: str, telegram_alt: str
) -> None:
    truncated = telegram[: telegram.index("0-0:98.1.0")]
    result = read_p1(_file(tmp_path, "garbage\r\nmore\r\n", truncated, telegram_alt))
    assert [(r.line, r.field) for r in result.rejections] == [(1, "telegram"), (3, "telegram")]
    assert "2 line(s) outside a telegram" in result.rejections[0].reason
    assert result.registers.num_rows == 4
    with pytest.raises(InputFormatError, match="no valid P1 telegram"):
        read_p1(_file(tmp_path, "not a telegram\r\n"))
